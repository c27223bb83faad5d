// Process: pidfd-based signalling, non-blocking wait, group signals, move semantics, and the
// guarantee that dropping an unreaped Process leaves neither a process nor a zombie behind.
#include "sandbox/process.h"

#include <poll.h>
#include <signal.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sandbox/launcher.h"
#include "tests/sandbox/sandbox_test_util.h"

namespace corral::sandbox {
namespace {

using namespace testing;  // NOLINT: the helpers above

Process launch_sh(const std::string& script, int stdout_fd = -1, int stdin_fd = -1) {
  DirectLauncher launcher;
  LaunchSpec spec;
  spec.exec = "/bin/sh";
  spec.args = {"-c", script};
  spec.stdout_fd = stdout_fd;
  spec.stdin_fd = stdin_fd;
  auto p = launcher.launch(spec);
  if (!p) ADD_FAILURE() << p.error().describe();
  return std::move(*p);
}

TEST(Process, TryWaitIsNulloptWhileRunningAndTheStatusAfterExit) {
  // The child exits only once we close its stdin, so "still running" holds however slow we are.
  Pipe in = Pipe::make();
  Process q = launch_sh("read x; exit 5", -1, in.r.get());
  in.r.reset();
  pollfd pfd{q.pidfd(), POLLIN, 0};
  EXPECT_EQ(::poll(&pfd, 1, 0), 0) << "the pidfd is not readable while the child runs";
  auto early = q.try_wait();
  ASSERT_TRUE(early.has_value()) << early.error().describe();
  EXPECT_FALSE(early->has_value());
  EXPECT_FALSE(q.reaped());
  in.w.reset();
  ASSERT_EQ(::poll(&pfd, 1, 10000), 1) << "the pidfd becomes readable on exit";
  auto late = q.try_wait();
  ASSERT_TRUE(late.has_value());
  ASSERT_TRUE(late->has_value());
  EXPECT_EQ((*late)->code, 5);
  EXPECT_TRUE(q.reaped());
  EXPECT_FALSE(q.try_wait().has_value()) << "a reaped process cannot be waited for again";
}

TEST(Process, SignalReportsTheSignal) {
  Process p = launch_sh("exec sleep 30");
  ASSERT_TRUE(p.signal(SIGTERM).has_value());
  auto st = p.wait();
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->signaled);
  EXPECT_EQ(st->code, SIGTERM);
  EXPECT_EQ(st->describe(), "killed by signal 15 (SIGTERM)");
  EXPECT_FALSE(p.signal(SIGTERM).has_value()) << "no signals after reaping";
}

TEST(Process, GroupSignalReachesGrandchildren) {
  Pipe out = Pipe::make();
  Process p = launch_sh("sleep 30 & echo $!; wait", out.w.get());
  out.w.reset();
  std::string line = read_until(out.r.get(), "\n");
  pid_t grandchild = std::stoi(line);
  ASSERT_FALSE(gone(grandchild));
  ASSERT_TRUE(p.signal_group(SIGKILL).has_value());
  ASSERT_TRUE(p.wait().has_value());
  EXPECT_TRUE(wait_dead(grandchild));
}

TEST(Process, DroppingAnUnreapedProcessKillsItsGroupAndReaps) {
  Pipe out = Pipe::make();
  pid_t pid = 0, grandchild = 0;
  {
    Process p = launch_sh("sleep 30 & echo $!; exec sleep 30", out.w.get());
    out.w.reset();
    grandchild = std::stoi(read_until(out.r.get(), "\n"));
    pid = p.pid();
  }
  EXPECT_TRUE(gone(pid)) << "killed and reaped: not even a zombie";
  EXPECT_TRUE(wait_dead(grandchild));
}

TEST(Process, MoveTransfersOwnership) {
  Process a = launch_sh("exec sleep 30");
  pid_t pid = a.pid();
  Process b = std::move(a);
  EXPECT_EQ(b.pid(), pid);
  EXPECT_FALSE(gone(pid));
  // The moved-from handle is inert: it owns nothing, signals nothing and waits for nothing.
  EXPECT_EQ(a.pid(), -1);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_EQ(a.pidfd(), -1);
  EXPECT_FALSE(a.signal(SIGKILL).has_value());
  EXPECT_FALSE(a.signal_group(SIGKILL).has_value());
  EXPECT_FALSE(a.try_wait().has_value());
  { Process sink = std::move(a); }  // destroying a moved-from handle touches nothing
  EXPECT_FALSE(gone(pid));
  Process c = launch_sh("exec sleep 30");
  pid_t other = c.pid();
  c = std::move(b);  // the process c held is killed and reaped
  EXPECT_TRUE(gone(other));
  EXPECT_EQ(c.pid(), pid);
  ASSERT_TRUE(c.signal(SIGKILL).has_value());
  ASSERT_TRUE(c.wait().has_value());
}

}  // namespace
}  // namespace corral::sandbox
