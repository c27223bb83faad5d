// Seccomp user notification end to end: a sandboxed program's denied call reaches whoever holds
// the listener, named with its arguments, and is answered there (fail it, or let it run); with no
// one listening, denied calls fail with ENOSYS and never run.
#include "sandbox/seccomp_notify.h"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/keyctl.h>

#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sandbox/launcher.h"
#include "sandbox/seccomp_filter.h"
#include "tests/sandbox/sandbox_test_util.h"

namespace corral::sandbox {
namespace {

using ::testing::HasSubstr;
using namespace testing;  // NOLINT: the helpers above

const std::string kHostile = std::string(CORRAL_TESTCASES_DIR) + "/tc_hostile";

class SeccompNotify : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (sandboxes)";
    if (!seccomp_notify_supported()) GTEST_SKIP() << "needs SECCOMP_RET_USER_NOTIF";
    box_.host_id_base = 0x7A200000;
  }
  void use_profile(const SeccompProfile& p) {
    auto f = SeccompFilter::build(p, true);
    ASSERT_TRUE(f.has_value()) << f.error().message;
    filter_ = f->program();
  }
  // Launches argv in the sandbox with the notify filter; returns the process and its output pipe.
  std::pair<Process, UniqueFd> launch(const std::string& exec, std::vector<std::string> args) {
    Pipe out = Pipe::make();
    LaunchSpec spec;
    spec.exec = exec;
    spec.args = std::move(args);
    spec.env = {"PATH=/usr/bin:/bin"};
    spec.stdout_fd = out.w.get();
    spec.stderr_fd = out.w.get();
    spec.seccomp = &filter_;
    spec.seccomp_listener = true;
    spec.sandbox = &box_;
    auto p = launcher_.launch(spec);
    EXPECT_TRUE(p.has_value()) << p.error().describe();
    if (!p) std::abort();
    return {std::move(*p), std::move(out.r)};
  }
  static std::optional<SeccompNotification> next(int listener) {
    pollfd p{listener, POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) return std::nullopt;
    auto n = seccomp_receive(listener);
    if (!n) return std::nullopt;
    return *n;
  }

  SandboxSpec box_;
  std::vector<sock_filter> filter_;
  DirectLauncher launcher_;
};

TEST_F(SeccompNotify, DeniedCallIsNamedWithItsArgumentsAndFailedByTheSupervisor) {
  use_profile(*builtin_seccomp_profile("default"));
  auto [proc, out] = launch(kHostile, {"keyctl"});
  UniqueFd listener = proc.take_seccomp_listener();
  ASSERT_TRUE(listener);
  auto n = next(listener.get());
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->syscall_name(), "keyctl");
  EXPECT_EQ(n->args[0], static_cast<uint64_t>(KEYCTL_JOIN_SESSION_KEYRING));
  EXPECT_THAT(n->describe(), ::testing::StartsWith("keyctl(0x1, 0x"));
  EXPECT_EQ(n->pid, proc.program_pid()) << "the pid is the host's view of the program";
  ASSERT_TRUE(seccomp_respond(listener.get(), n->id, SeccompReply::kErrno, EPERM).has_value());
  EXPECT_THAT(drain(out.get()), HasSubstr("blocked: keyctl: Operation not permitted"));
  auto st = proc.wait();
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->success());
}

TEST_F(SeccompNotify, TheSupervisorMayLetACallRun) {
  auto p = customize_profile(*builtin_seccomp_profile("default"), {}, {"uname"});
  ASSERT_TRUE(p.has_value());
  use_profile(*p);
  box_.hostname = "notified";
  auto [proc, out] = launch("/bin/uname", {"-n"});
  UniqueFd listener = proc.take_seccomp_listener();
  auto n = next(listener.get());
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->syscall_name(), "uname");
  ASSERT_TRUE(seccomp_respond(listener.get(), n->id, SeccompReply::kContinue, 0).has_value());
  EXPECT_EQ(drain(out.get()), "notified\n");
  EXPECT_TRUE(proc.wait()->success());
}

TEST_F(SeccompNotify, WithNobodyListeningDeniedCallsFailAndNeverRun) {
  use_profile(*builtin_seccomp_profile("default"));
  auto [proc, out] = launch(kHostile, {"keyctl"});
  proc.take_seccomp_listener().reset();  // the supervisor went away
  EXPECT_THAT(drain(out.get()), HasSubstr("blocked: keyctl: Function not implemented"));
  EXPECT_TRUE(proc.wait()->success());
}

TEST_F(SeccompNotify, AllowedCallsNeverWait) {
  use_profile(*builtin_seccomp_profile("default"));
  auto [proc, out] = launch("/bin/sh", {"-c", "echo fine"});
  UniqueFd listener = proc.take_seccomp_listener();
  EXPECT_EQ(drain(out.get()), "fine\n");
  EXPECT_TRUE(proc.wait()->success());
  pollfd p{listener.get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 1);
  EXPECT_NE(p.revents & POLLHUP, 0) << "no notification was pending, and the filter is gone";
}

}  // namespace
}  // namespace corral::sandbox
