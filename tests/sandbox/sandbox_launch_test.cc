// The sandbox as the kernel sees it: namespaces, id maps, the root, privileges, init's signal
// forwarding and exit status, loopback-only network. Each test launches real sandboxes.
#include <signal.h>
#include <sys/stat.h>

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sandbox/launcher.h"
#include "tests/sandbox/sandbox_test_util.h"

namespace corral::sandbox {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace testing;  // NOLINT: the helpers above

constexpr uid_t kBase = 0x7A000000;  // far above any host user; tests only

class Sandboxed : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (writes uid maps of other users)";
    box_.host_id_base = kBase;
    box_.hostname = "sbx-test";
  }
  // Runs /bin/sh -c script in the sandbox; returns stdout+stderr and the exit status.
  std::pair<std::string, ExitStatus> sh(const std::string& script) {
    Pipe out = Pipe::make();
    LaunchSpec spec;
    spec.exec = "/bin/sh";
    spec.args = {"-c", script};
    spec.env = {"PATH=/usr/bin:/bin"};
    spec.stdout_fd = out.w.get();
    spec.stderr_fd = out.w.get();
    spec.sandbox = &box_;
    auto p = launcher_.launch(spec);
    if (!p) return {"launch failed: " + p.error().describe(), ExitStatus{true, -1}};
    out.w.reset();
    std::string text = drain(out.r.get());
    auto st = p->wait();
    return {text, st ? *st : ExitStatus{true, -2}};
  }

  SandboxSpec box_;
  DirectLauncher launcher_;
};

TEST_F(Sandboxed, RunsAsItsMappedUserWithItsOwnHostname) {
  auto [out, st] = sh("id -u; id -g; id -G; hostname; cat /proc/self/uid_map /proc/self/gid_map");
  EXPECT_TRUE(st.success()) << out;
  EXPECT_EQ(out, "1000\n1000\n1000\nsbx-test\n" + std::string("         0 ") +
                     std::to_string(kBase) + "      65536\n         0 " + std::to_string(kBase) +
                     "      65536\n");
}

TEST_F(Sandboxed, SeesOnlyItsOwnProcessesWithItselfUnderInit) {
  auto [out, st] = sh("echo $$; ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '");
  EXPECT_TRUE(st.success()) << out;
  // PID 1 is the init, 2 the shell; ls and grep are 3+, and nothing from the host.
  EXPECT_THAT(out, ::testing::StartsWith("2\n1 2 "));
}
}  // namespace
}  // namespace corral::sandbox
