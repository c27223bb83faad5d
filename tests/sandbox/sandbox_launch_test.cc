// The sandbox as the kernel sees it: namespaces, id maps, the root, privileges, init's signal
// forwarding and exit status, loopback-only network. Each test launches real sandboxes.
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

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
    LaunchSpec spec;
    spec.exec = "/bin/sh";
    spec.args = {"-c", script};
    spec.env = {"PATH=/usr/bin:/bin"};
    spec.sandbox = &box_;
    auto o = run_collect(launcher_, spec);
    return {o.out, o.status};
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
TEST_F(Sandboxed, ExitStatusIsTheProgramsNotTheInits) {
  EXPECT_EQ(sh("exit 7").second.code, 7);
  auto [out, st] = sh("kill -USR1 $$");
  EXPECT_TRUE(st.signaled) << out;
  EXPECT_EQ(st.code, SIGUSR1);
}

TEST_F(Sandboxed, SignalsToTheSandboxReachTheProgramsGroup) {
  Pipe out = Pipe::make();
  LaunchSpec spec;
  spec.exec = "/bin/sh";
  // A child of the program, in its process group, must get the signal too.
  spec.args = {"-c", "sleep 60 & echo started; wait"};
  spec.stdout_fd = out.w.get();
  spec.sandbox = &box_;
  auto p = launcher_.launch(spec);
  ASSERT_TRUE(p.has_value()) << p.error().describe();
  out.w.reset();
  EXPECT_EQ(read_until(out.r.get(), "started\n"), "started\n");
  ASSERT_TRUE(p->signal(SIGTERM).has_value());
  auto st = p->wait();
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->signaled);
  EXPECT_EQ(st->code, SIGTERM);
  EXPECT_EQ(drain(out.r.get()), "") << "every writer (sleep included) is gone";
}

// A running sandboxed program as the host sees it: mapped ids, no capabilities, no_new_privs,
// seccomp-free here (the filter is the launcher's other input), and namespaces of its own.
TEST_F(Sandboxed, HostViewOfARunningProgram) {
  Pipe out = Pipe::make();
  LaunchSpec spec;
  spec.exec = "/bin/sh";
  spec.args = {"-c", "echo ready; exec sleep 60"};
  spec.stdout_fd = out.w.get();
  spec.sandbox = &box_;
  auto p = launcher_.launch(spec);
  ASSERT_TRUE(p.has_value()) << p.error().describe();
  out.w.reset();
  ASSERT_EQ(read_until(out.r.get(), "ready\n"), "ready\n");
  // The init is the launched pid; the program is its only child.
  std::string children = read_proc(p->pid(), "task/" + std::to_string(p->pid()) + "/children");
  pid_t prog = std::atoi(children.c_str());
  ASSERT_GT(prog, 0) << children;
  std::string status = read_proc(prog, "status");
  std::string mapped = std::to_string(kBase + 1000);
  EXPECT_THAT(status, HasSubstr("Uid:\t" + mapped + "\t" + mapped + "\t" + mapped));
  EXPECT_THAT(status, HasSubstr("Gid:\t" + mapped + "\t" + mapped + "\t" + mapped));
  EXPECT_THAT(status, HasSubstr("CapEff:\t0000000000000000"));
  EXPECT_THAT(status, HasSubstr("CapBnd:\t0000000000000000"));
  EXPECT_THAT(status, HasSubstr("NoNewPrivs:\t1"));
  EXPECT_THAT(status, HasSubstr("NSpid:\t" + std::to_string(prog) + "\t2"));
  EXPECT_THAT(read_proc(prog, "uid_map"), HasSubstr("0 " + std::to_string(kBase) + "      65536"));
  for (const char* ns : {"user", "pid", "mnt", "net", "ipc", "uts", "cgroup"}) {
    char mine[64] = {}, theirs[64] = {};
    std::string self = std::string("/proc/self/ns/") + ns;
    std::string other = "/proc/" + std::to_string(prog) + "/ns/" + ns;
    ASSERT_GT(::readlink(self.c_str(), mine, sizeof mine - 1), 0);
    ASSERT_GT(::readlink(other.c_str(), theirs, sizeof theirs - 1), 0) << other;
    EXPECT_STRNE(mine, theirs) << ns << " namespace is shared with the host";
  }
  ASSERT_TRUE(p->signal(SIGKILL).has_value());
  (void)p->wait();
}

TEST_F(Sandboxed, HostNetworkOnlyWhenAskedFor) {
  char mine[64] = {};
  ASSERT_GT(::readlink("/proc/self/ns/net", mine, sizeof mine - 1), 0);
  box_.host_network = true;
  auto [out, st] = sh("readlink /proc/self/ns/net");
  EXPECT_TRUE(st.success()) << out;
  EXPECT_EQ(out, std::string(mine) + "\n") << "host_network shares the host's namespace";
  box_.host_network = false;
  std::tie(out, st) = sh("readlink /proc/self/ns/net; tail -n +3 /proc/net/dev | wc -l");
  EXPECT_NE(out.substr(0, out.find('\n')), mine);
  EXPECT_THAT(out, ::testing::EndsWith("\n1\n")) << "only loopback";
}

TEST_F(Sandboxed, LaunchErrorsNameTheStep) {
  box_.binds.push_back({"/nonexistent-corral-src", "/x", false});
  auto [out, st] = sh("true");
  EXPECT_THAT(out, HasSubstr("bind source /nonexistent-corral-src"));
  box_.binds.clear();
  box_.uid = 70000;
  std::tie(out, st) = sh("true");
  EXPECT_THAT(out, HasSubstr("outside its id range of 65536"));
}

// The parent is multi-threaded (corrald, the benchmark): threads come and go while sandboxes are
// cloned. The child must not use glibc calls that wait for the parent's other threads (setxid
// broadcasts): this once hung a child for good at its first setresuid.
TEST_F(Sandboxed, ConcurrentLaunchesFromABusyThreadedParent) {
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    while (!stop) std::thread([] {}).join();  // holds glibc's thread-stack lock now and then
  });
  std::atomic<int> ok{0};
  std::vector<std::thread> launchers;
  for (int t = 0; t < 3; ++t) {
    launchers.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        LaunchSpec spec;
        spec.exec = "/bin/true";
        spec.sandbox = &box_;
        auto p = launcher_.launch(spec);
        if (p && p->wait() && true) ok.fetch_add(1);
      }
    });
  }
  for (auto& th : launchers) th.join();
  stop = true;
  churn.join();
  EXPECT_EQ(ok.load(), 75);
}

}  // namespace
}  // namespace corral::sandbox
