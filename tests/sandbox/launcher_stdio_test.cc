// DirectLauncher's fd shuffling at its edges: stdio fds that are already 0, 1 or 2 (even swapped),
// and a parent whose own 0/1 are closed so the launcher's internal pipes land on them. Each test
// rearranges this process's fds 0-2 only between launch calls and restores them before asserting.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sandbox/launcher.h"
#include "tests/sandbox/sandbox_test_util.h"

namespace corral::sandbox {
namespace {

using ::testing::HasSubstr;
using namespace testing;  // NOLINT: the helpers in sandbox_test_util.h

// Saves fds 0-2 on construction (as CLOEXEC copies) and puts them back on destruction.
class SavedStdio {
 public:
  SavedStdio() {
    for (int i = 0; i < 3; ++i)
      saved_[static_cast<size_t>(i)] = UniqueFd(::fcntl(i, F_DUPFD_CLOEXEC, 10));
  }
  ~SavedStdio() { restore(); }
  [[nodiscard]] bool ok() const {
    for (const auto& fd : saved_) {
      if (!fd) return false;
    }
    return true;
  }
  void restore() {
    for (int i = 0; i < 3; ++i) {
      auto& fd = saved_[static_cast<size_t>(i)];
      if (fd) (void)::dup2(fd.get(), i);
      fd.reset();
    }
  }

 private:
  std::array<UniqueFd, 3> saved_;
};

// True when this process has no child left to reap (every launched child was waited for).
bool no_children() {
  siginfo_t info{};
  return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD;
}

TEST(LauncherStdio, SwappedStdoutAndStderrLandWhereAsked) {
  Pipe out = Pipe::make();
  Pipe err = Pipe::make();
  ASSERT_TRUE(out.w && err.w);
  Result<Process> p = make_error(Code::kInternal, "not launched");
  {
    SavedStdio saved;
    ASSERT_TRUE(saved.ok());
    // This process's fd 1 is now the "err" pipe and fd 2 the "out" pipe; ask for them crossed.
    ASSERT_EQ(::dup2(err.w.get(), 1), 1);
    ASSERT_EQ(::dup2(out.w.get(), 2), 2);
    LaunchSpec spec;
    spec.exec = "/bin/sh";
    spec.args = {"-c", "echo to-stdout; echo to-stderr >&2"};
    spec.stdout_fd = 2;
    spec.stderr_fd = 1;
    p = DirectLauncher().launch(spec);
  }
  ASSERT_TRUE(p.has_value()) << p.error().describe();
  out.w.reset();
  err.w.reset();
  EXPECT_EQ(drain(out.r.get()), "to-stdout\n");
  EXPECT_EQ(drain(err.r.get()), "to-stderr\n");
  auto st = p->wait();
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->success()) << st->describe();
}

TEST(LauncherStdio, StdinFromFdZeroAndStdoutAlsoFromFdZero) {
  // The same low fd for two streams: fd 0 of this process is a pipe we write into.
  Pipe in = Pipe::make();
  Pipe out = Pipe::make();
  ASSERT_TRUE(in.r && out.w);
  ASSERT_EQ(::write(in.w.get(), "hello\n", 6), 6);
  in.w.reset();
  Result<Process> p = make_error(Code::kInternal, "not launched");
  {
    SavedStdio saved;
    ASSERT_TRUE(saved.ok());
    ASSERT_EQ(::dup2(in.r.get(), 0), 0);
    LaunchSpec spec;
    spec.exec = "/bin/sh";
    spec.args = {"-c", "read line; echo \"got $line\""};
    spec.stdin_fd = 0;
    spec.stdout_fd = out.w.get();
    p = DirectLauncher().launch(spec);
  }
  ASSERT_TRUE(p.has_value()) << p.error().describe();
  out.w.reset();
  EXPECT_EQ(drain(out.r.get()), "got hello\n");
  ASSERT_TRUE(p->wait().has_value());
}

TEST(LauncherStdio, ChildFailureIsReportedEvenWhenTheParentHasNoStdinOrStdout) {
  // With 0 and 1 closed here, the launcher's report pipe is created on fds 0 and 1; the child's
  // own dup2 onto 0/1 must not swallow its report.
  Result<Process> p = make_error(Code::kInternal, "not launched");
  {
    SavedStdio saved;
    ASSERT_TRUE(saved.ok());
    ::close(0);
    ::close(1);
    LaunchSpec spec;
    spec.exec = "/bin/true";
    spec.working_dir = "/nonexistent-dir";
    p = DirectLauncher().launch(spec);
  }
  ASSERT_FALSE(p.has_value()) << "the failed chdir was taken for a successful exec";
  EXPECT_EQ(p.error().errnum, ENOENT);
  EXPECT_THAT(p.error().describe(), HasSubstr("chdir to /nonexistent-dir failed"));
  EXPECT_TRUE(no_children()) << "the failed child was reaped";
}

TEST(LauncherStdio, ProgramRunsWhenTheParentHasNoStdinOrStdout) {
  Pipe out = Pipe::make();
  ASSERT_TRUE(out.w);
  Result<Process> p = make_error(Code::kInternal, "not launched");
  {
    SavedStdio saved;
    ASSERT_TRUE(saved.ok());
    ::close(0);
    ::close(1);
    LaunchSpec spec;
    spec.exec = "/bin/sh";
    spec.args = {"-c", "echo ok; ls /proc/self/fd"};
    spec.stdout_fd = out.w.get();
    p = DirectLauncher().launch(spec);
  }
  ASSERT_TRUE(p.has_value()) << p.error().describe();
  out.w.reset();
  // ls lists 0, 1, 2 and its own directory fd (3).
  EXPECT_EQ(drain(out.r.get()), "ok\n0\n1\n2\n3\n");
  auto st = p->wait();
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->success()) << st->describe();
}

TEST(LauncherStdio, BadStdioFdNamesTheStream) {
  LaunchSpec spec;
  spec.exec = "/bin/true";
  spec.stderr_fd = 1000;  // not open in this process
  auto p = DirectLauncher().launch(spec);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().errnum, EBADF);
  EXPECT_THAT(p.error().describe(), HasSubstr("setting up stderr from fd 1000 failed"));
  EXPECT_TRUE(no_children());
}

}  // namespace
}  // namespace corral::sandbox
