// Plugin lifecycle through a real corrald: autostart, list, stop, start, restart, logs, the
// restart policies, stop escalation to SIGKILL, and a graceful daemon shutdown.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>

#include "sandbox/seccomp_notify.h"
#include "tests/e2e/corrald_fixture.h"

namespace corral::e2e {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr const char* kSleeper = R"x(name = "sleeper"
exec = "/bin/sh"
args = ["-c", "echo sleeper up; exec sleep 600"]
[stop]
timeout_ms = 2000
)x";

class Lifecycle : public CorraldFixture {};

TEST_F(Lifecycle, AutostartListStopStart) {
  write_manifest("sleeper.toml", kSleeper);
  write_manifest("manual.toml",
                 "name = \"manual\"\nexec = \"/bin/sleep\"\nargs = [\"600\"]\nautostart = false\n");
  start_daemon();
  ASSERT_TRUE(wait_state("sleeper", v1::RUNNING));

  auto c = client();
  auto list = c.list();
  ASSERT_TRUE(list.has_value()) << list.error().describe();
  ASSERT_EQ(list->plugins_size(), 2);
  EXPECT_EQ(list->plugins(0).name(), "manual");
  EXPECT_EQ(list->plugins(0).state(), v1::STOPPED);
  EXPECT_EQ(list->plugins(0).pid(), 0);
  const auto& s = list->plugins(1);
  EXPECT_EQ(s.name(), "sleeper");
  EXPECT_EQ(s.state(), v1::RUNNING);
  ASSERT_GT(s.pid(), 0);
  EXPECT_TRUE(process_alive(s.pid()));
  EXPECT_EQ(s.exec(), "/bin/sh");
  EXPECT_EQ(s.restart_policy(), "on-failure");

  auto stopped = c.stop("sleeper", 0);
  ASSERT_TRUE(stopped.has_value()) << stopped.error().describe();
  EXPECT_EQ(stopped->state(), v1::STOPPED);
  EXPECT_EQ(stopped->pid(), 0);
  EXPECT_FALSE(process_alive(s.pid())) << "the plugin process must be gone when stop returns";
  EXPECT_TRUE(stopped->last_exit().signaled());
  EXPECT_EQ(stopped->last_exit().code(), SIGTERM);

  // Stopping again is a no-op.
  auto again = c.stop("sleeper", 0);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->state(), v1::STOPPED);

  auto started = c.start("manual");
  ASSERT_TRUE(started.has_value()) << started.error().describe();
  EXPECT_EQ(started->state(), v1::RUNNING);
  EXPECT_TRUE(process_alive(started->pid()));
}

TEST_F(Lifecycle, RestartGivesANewProcess) {
  write_manifest("sleeper.toml", kSleeper);
  start_daemon();
  ASSERT_TRUE(wait_state("sleeper", v1::RUNNING));
  auto c = client();
  pid_t before = status("sleeper").pid();
  auto r = c.restart("sleeper", 0);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->state(), v1::RUNNING);
  EXPECT_NE(r->pid(), before);
  EXPECT_FALSE(process_alive(before));
  EXPECT_TRUE(process_alive(r->pid()));
}

TEST_F(Lifecycle, OnFailureRestartsWithBackoffAndRecordsTheExit) {
  write_manifest("flaky.toml", R"x(name = "flaky"
exec = "/bin/sh"
args = ["-c", "echo attempt; exit 3"]
[restart]
policy = "on-failure"
delay_ms = 50
max_delay_ms = 200
)x");
  start_daemon();
  ASSERT_TRUE(wait_until([&] { return status("flaky").restarts() >= 3; }))
      << "restarts: " << status("flaky").restarts();
  auto info = status("flaky");
  EXPECT_FALSE(info.last_exit().signaled());
  EXPECT_EQ(info.last_exit().code(), 3);
  EXPECT_EQ(info.last_exit().description(), "exited with code 3");
  // Each run logged its line; corrald's own notes are interleaved.
  auto c = client();
  v1::Request req;
  req.mutable_logs()->set_name("flaky");
  req.mutable_logs()->set_tail(1000);
  auto resp = c.call(req);
  ASSERT_TRUE(resp.has_value());
  int attempts = 0;
  for (const auto& l : resp->logs().lines()) attempts += l.text() == "attempt";
  EXPECT_GE(attempts, 3);
}

TEST_F(Lifecycle, PolicyNoLeavesItExitedAndCleanExitIsNotAFailure) {
  write_manifest("once.toml", R"x(name = "once"
exec = "/bin/sh"
args = ["-c", "exit 7"]
[restart]
policy = "no"
)x");
  write_manifest("clean.toml", R"x(name = "clean"
exec = "/bin/true"
[restart]
policy = "on-failure"
delay_ms = 10
)x");
  start_daemon();
  ASSERT_TRUE(wait_state("once", v1::EXITED));
  ASSERT_TRUE(wait_state("clean", v1::EXITED));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(status("once").restarts(), 0u);
  EXPECT_EQ(status("once").last_exit().code(), 7);
  EXPECT_EQ(status("clean").restarts(), 0u);
}

TEST_F(Lifecycle, LaunchFailureIsReportedWithTheReason) {
  write_manifest("ghost.toml", R"x(name = "ghost"
exec = "/nonexistent/program"
autostart = false
[restart]
policy = "no"
)x");
  start_daemon();
  auto c = client();
  auto r = c.start("ghost");
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, HasSubstr("/nonexistent/program"));
  auto info = status("ghost");
  EXPECT_EQ(info.state(), v1::FAILED);
  EXPECT_THAT(info.last_error(), HasSubstr("/nonexistent/program"));
}

TEST_F(Lifecycle, StopEscalatesToSigkillAfterTheTimeout) {
  write_manifest("stubborn.toml", R"x(name = "stubborn"
exec = "/bin/sh"
args = ["-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"]
[stop]
timeout_ms = 300
)x");
  start_daemon();
  ASSERT_TRUE(wait_until([&] { return status("stubborn").log_lines() >= 2; }));
  pid_t pid = status("stubborn").pid();
  auto c = client();
  auto t0 = std::chrono::steady_clock::now();
  auto r = c.stop("stubborn", 0);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 5s);
  EXPECT_TRUE(r->last_exit().signaled());
  EXPECT_EQ(r->last_exit().code(), SIGKILL);
  EXPECT_FALSE(process_alive(pid));
}

TEST_F(Lifecycle, LogsTailAndFollow) {
  write_manifest("talker.toml", R"x(name = "talker"
exec = "/bin/sh"
args = ["-c", "i=0; while :; do echo line-$i; echo oops-$i >&2; i=$((i+1)); sleep 0.1; done"]
)x");
  start_daemon();
  ASSERT_TRUE(wait_until([&] { return status("talker").log_lines() >= 6; }));
  auto c = client();

  v1::Request tail;
  tail.mutable_logs()->set_name("talker");
  tail.mutable_logs()->set_tail(4);
  auto resp = c.call(tail);
  ASSERT_TRUE(resp.has_value());
  ASSERT_EQ(resp->status().code(), v1::OK);
  EXPECT_FALSE(resp->more());
  ASSERT_EQ(resp->logs().lines_size(), 4);
  bool saw_stderr = false;
  for (const auto& l : resp->logs().lines()) saw_stderr |= l.stream() == v1::STDERR;
  EXPECT_TRUE(saw_stderr);

  v1::Request follow;
  follow.mutable_logs()->set_name("talker");
  follow.mutable_logs()->set_tail(1);
  follow.mutable_logs()->set_follow(true);
  std::vector<uint64_t> seqs;
  auto streamed = c.stream(follow, [&](const v1::Response& r) {
    EXPECT_EQ(r.status().code(), v1::OK);
    for (const auto& l : r.logs().lines()) seqs.push_back(l.seq());
    return seqs.size() < 8;
  });
  ASSERT_TRUE(streamed.has_value()) << streamed.error().describe();
  ASSERT_GE(seqs.size(), 8u);
  for (size_t i = 1; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], seqs[i - 1] + 1);

  // The lines also reach the plugin's log file.
  struct stat st {};
  EXPECT_EQ(::stat((state_dir_ + "/logs/talker.log").c_str(), &st), 0);
  EXPECT_GT(st.st_size, 0);
}

TEST_F(Lifecycle, SigtermStopsEveryPluginAndExitsZero) {
  write_manifest("sleeper.toml", kSleeper);
  write_manifest("stubborn.toml", R"x(name = "stubborn"
exec = "/bin/sh"
args = ["-c", "trap '' TERM; while :; do sleep 0.05; done"]
[stop]
timeout_ms = 200
)x");
  start_daemon();
  ASSERT_TRUE(wait_state("sleeper", v1::RUNNING));
  ASSERT_TRUE(wait_state("stubborn", v1::RUNNING));
  pid_t a = status("sleeper").pid();
  pid_t b = status("stubborn").pid();
  int st = stop_daemon();
  ASSERT_TRUE(WIFEXITED(st)) << st;
  EXPECT_EQ(WEXITSTATUS(st), 0);
  EXPECT_FALSE(process_alive(a));
  EXPECT_FALSE(process_alive(b));
  struct stat sb {};
  EXPECT_NE(::stat(socket_.c_str(), &sb), 0) << "socket must be removed on exit";
  EXPECT_THAT(daemon_log(), HasSubstr("did not stop within 200 ms; sending SIGKILL"));
}

TEST_F(Lifecycle, GrandchildrenDieWithThePlugin) {
  write_manifest("forker.toml", R"x(name = "forker"
exec = "/bin/sh"
args = ["-c", "sleep 600 & echo child $!; wait"]
)x");
  start_daemon();
  pid_t child = pid_from_log("forker", "child ");
  ASSERT_GT(child, 0);
  ASSERT_TRUE(process_alive(child));
  auto c = client();
  ASSERT_TRUE(c.stop("forker", 0).has_value());
  EXPECT_TRUE(wait_until([&] { return !process_alive(child); }, 2s));
}

}  // namespace
}  // namespace corral::e2e

namespace corral::e2e {
namespace {

// corrald under a (fake) systemd: READY=1 once listening, WATCHDOG=1 pings at half the interval,
// STOPPING=1 on SIGTERM. The notify socket is a datagram socket this test owns.
// systemd (or an impatient operator) may signal again while corrald tears down: the signals must
// not land on a helper thread (the network-namespace pool's) with their default action.
TEST_F(Lifecycle, RepeatedSigtermDuringShutdownStillExitsZero) {
  write_manifest("sleeper.toml", kSleeper);  // sandboxed: the netns pool's thread exists
  start_daemon();
  ASSERT_TRUE(wait_state("sleeper", v1::RUNNING));
  std::this_thread::sleep_for(std::chrono::seconds(1));  // the pool's thread is refilling
  pid_t pid = daemon_pid_;
  int status = 0;
  for (int i = 0; i < 2000; ++i) {
    if (::kill(pid, SIGTERM) != 0) break;
    if (::waitpid(pid, &status, WNOHANG) == pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (::waitpid(pid, &status, 0) != pid && errno != ECHILD) FAIL() << std::strerror(errno);
  daemon_pid_ = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "status " << status << (WIFSIGNALED(status) ? " (killed by a signal)" : "");
}

TEST_F(Lifecycle, TalksToSystemdNotifySocket) {
  std::string path = dir_ + "/notify.sock";
  UniqueFd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  write_manifest("sleeper.toml", kSleeper);
  start_daemon({}, {"NOTIFY_SOCKET=" + path, "WATCHDOG_USEC=200000"});

  std::vector<std::string> messages;
  auto collect = [&](const std::string& want) {
    return wait_until([&] {
      char buf[512];
      ssize_t n;
      while ((n = ::recv(sock.get(), buf, sizeof buf, MSG_DONTWAIT)) > 0) {
        messages.emplace_back(buf, static_cast<size_t>(n));
      }
      int hits = 0;
      for (const auto& m : messages) hits += m.find(want) != std::string::npos;
      return hits >= (want == "WATCHDOG=1" ? 3 : 1);
    });
  };
  ASSERT_TRUE(collect("READY=1"));
  EXPECT_TRUE(collect("STATUS=supervising 1 plugin(s)"));
  EXPECT_TRUE(collect("WATCHDOG=1")) << "three pings at a 100 ms period";
  ASSERT_EQ(::kill(daemon_pid_, SIGTERM), 0);
  EXPECT_TRUE(collect("STOPPING=1"));
}

}  // namespace
}  // namespace corral::e2e

namespace corral::e2e {
namespace {

std::string slurp_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Each run of a plugin lives in its own cgroup with the manifest's [resources]: the kernel
// enforces them, the cgroup holds every process the plugin made, and it is gone after the run.
class Resources : public CorraldFixture {};

TEST_F(Resources, EachRunHasItsOwnCgroupWithTheManifestLimits) {
  write_manifest("capped.toml", R"x(name = "capped"
exec = "/bin/sh"
args = ["-c", "sleep 600 & exec sleep 600"]
[resources]
memory_max = "64M"
pids_max = 16
)x");
  start_daemon();
  ASSERT_TRUE(wait_state("capped", v1::RUNNING));
  ASSERT_TRUE(wait_until([&] { return !status("capped").cgroup().empty(); }));
  auto info = status("capped");
  std::string dir = info.cgroup();
  EXPECT_THAT(dir, HasSubstr("corral-e2e-"));
  EXPECT_THAT(slurp_file(dir + "/cgroup.procs"), HasSubstr(std::to_string(info.pid())));
  std::string self = slurp_file("/proc/" + std::to_string(info.pid()) + "/cgroup");
  EXPECT_THAT(self, HasSubstr("/capped\n"));
  // Where the memory limit lives: the v1 memory hierarchy if the host has one, else the node.
  size_t mem = self.find(":memory:");
  std::string limit_file = mem != std::string::npos
                               ? "/sys/fs/cgroup/memory" +
                                     self.substr(mem + 8, self.find('\n', mem) - mem - 8) +
                                     "/memory.limit_in_bytes"
                               : dir + "/memory.max";
  EXPECT_EQ(slurp_file(limit_file), "67108864\n") << limit_file;
  auto c = client();
  ASSERT_TRUE(c.stop("capped", 0).has_value());
  struct stat st {};
  EXPECT_NE(::stat(dir.c_str(), &st), 0) << dir << " must be removed after the run";
  EXPECT_TRUE(status("capped").cgroup().empty());
}

TEST_F(Resources, MemoryLimitOomKillsThePluginNotTheHost) {
  if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/python3";
  write_manifest("hog.toml", R"x(name = "hog"
exec = "/usr/bin/python3"
args = ["-c", "b = bytearray(512 << 20); print('survived')"]
[restart]
policy = "no"
[resources]
memory_max = "32M"
swap_max = 0
)x");
  start_daemon();
  ASSERT_TRUE(wait_state("hog", v1::EXITED));
  auto info = status("hog");
  EXPECT_TRUE(info.last_exit().signaled());
  EXPECT_EQ(info.last_exit().code(), SIGKILL) << info.last_exit().description();
  EXPECT_TRUE(process_alive(daemon_pid_));
}

TEST_F(Resources, ProcessesThatLeaveTheGroupDieWithThePlugin) {
  // setsid puts the grandchild in its own session and process group: only the cgroup holds it.
  write_manifest("escaper.toml", R"x(name = "escaper"
exec = "/bin/sh"
args = ["-c", "setsid sleep 600 & echo child $!; exec sleep 600"]
)x");
  start_daemon();
  pid_t child = pid_from_log("escaper", "child ");
  ASSERT_GT(child, 0);
  ASSERT_TRUE(process_alive(child));
  auto c = client();
  ASSERT_TRUE(c.stop("escaper", 0).has_value());
  EXPECT_TRUE(wait_until([&] { return !process_alive(child); }, 3s));
}

TEST_F(Resources, WithoutCgroupsALimitedPluginFailsClearly) {
  std::string conf = dir_ + "/nocg.toml";
  std::ofstream(conf) << "[cgroup]\nmode = \"none\"\n";
  write_manifest("capped.toml", R"x(name = "capped"
exec = "/bin/true"
[restart]
policy = "no"
[resources]
pids_max = 4
)x");
  write_manifest("free.toml", "name = \"free\"\nexec = \"/bin/sleep\"\nargs = [\"600\"]\n");
  start_daemon({"--config", conf});
  ASSERT_TRUE(wait_state("capped", v1::FAILED));
  EXPECT_THAT(status("capped").last_error(), HasSubstr("[resources] need cgroups"));
  EXPECT_TRUE(wait_state("free", v1::RUNNING));
  EXPECT_TRUE(status("free").cgroup().empty());
}

}  // namespace
}  // namespace corral::e2e

namespace corral::e2e {
namespace {

// Seccomp as the kernel sees it: the filter and no_new_privs on the running plugin, dangerous
// calls refused, manifest tweaks honoured, and "none" only when asked for in words.
class Seccomp : public CorraldFixture {
 protected:
  std::string proc_status(pid_t pid) {
    return slurp_file("/proc/" + std::to_string(pid) + "/status");
  }
};

TEST_F(Seccomp, DefaultProfileIsOnAndRefusesDangerousCalls) {
  if (::access("/usr/bin/unshare", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/unshare";
  write_manifest("sleeper.toml", kSleeper);
  write_manifest("escape.toml", R"x(name = "escape"
exec = "/usr/bin/unshare"
args = ["--user", "/bin/true"]
[restart]
policy = "no"
)x");
  start_daemon();
  ASSERT_TRUE(wait_state("sleeper", v1::RUNNING));
  auto info = status("sleeper");
  EXPECT_EQ(info.seccomp(), "default (errno)");
  std::string st = proc_status(info.pid());
  EXPECT_THAT(st, HasSubstr("Seccomp:\t2\n"));
  EXPECT_THAT(st, HasSubstr("NoNewPrivs:\t1\n"));
  ASSERT_TRUE(wait_state("escape", v1::EXITED));
  EXPECT_EQ(status("escape").last_exit().code(), 1);
  EXPECT_THAT(plugin_log("escape"), HasSubstr("Operation not permitted"));
  if (sandbox::seccomp_notify_supported()) {
    // corrald was told, and names the call with its arguments (CLONE_NEWUSER = 0x10000000).
    auto e = status("escape");
    EXPECT_GE(e.seccomp_violations(), 1u);
    EXPECT_THAT(e.last_violation(), HasSubstr("unshare(0x10000000, "));
    EXPECT_THAT(e.last_violation(), HasSubstr(": failed (EPERM)"));
    EXPECT_THAT(plugin_log("escape"), HasSubstr("seccomp: profile \"default\" denies unshare("));
  }
}

TEST_F(Seccomp, LogActionLetsTheCallRunAndRecordsIt) {
  if (!sandbox::seccomp_notify_supported()) GTEST_SKIP() << "needs SECCOMP_RET_USER_NOTIF";
  write_manifest("curious.toml", R"x(name = "curious"
exec = "/bin/uname"
args = ["-n"]
[restart]
policy = "no"
[sandbox]
seccomp_deny = ["uname"]
seccomp_action = "log"
)x");
  start_daemon();
  ASSERT_TRUE(wait_state("curious", v1::EXITED));
  auto e = status("curious");
  EXPECT_EQ(e.last_exit().code(), 0);
  EXPECT_THAT(plugin_log("curious"), HasSubstr("\ncurious\n")) << "uname ran: its hostname";
  EXPECT_THAT(e.last_violation(), HasSubstr("uname(0x"));
  EXPECT_THAT(e.last_violation(), HasSubstr("allowed (logged)"));
}

TEST_F(Seccomp, ManifestTweaksAndNone) {
  if (::access("/usr/bin/unshare", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/unshare";
  write_manifest("allowed.toml", R"x(name = "allowed"
exec = "/usr/bin/unshare"
args = ["--user", "/bin/true"]
[restart]
policy = "no"
[sandbox]
seccomp_allow = ["unshare"]
isolation = "none"
)x");
  write_manifest("bare.toml", R"x(name = "bare"
exec = "/bin/sleep"
args = ["600"]
[sandbox]
seccomp = "none"
)x");
  start_daemon();
  ASSERT_TRUE(wait_state("allowed", v1::EXITED));
  EXPECT_EQ(status("allowed").last_exit().code(), 0) << plugin_log("allowed");
  ASSERT_TRUE(wait_state("bare", v1::RUNNING));
  EXPECT_EQ(status("bare").seccomp(), "none");
  EXPECT_THAT(proc_status(status("bare").pid()), HasSubstr("Seccomp:\t0\n"));
}

TEST_F(Seccomp, StrictWithKillStopsAShellAtItsFirstForbiddenCall) {
  write_manifest("strict.toml", R"x(name = "strict"
exec = "/bin/sh"
args = ["-c", "echo never"]
[restart]
policy = "no"
[sandbox]
seccomp = "strict"
seccomp_action = "kill"
)x");
  start_daemon();
  ASSERT_TRUE(wait_state("strict", v1::EXITED));
  auto e = status("strict").last_exit();
  EXPECT_TRUE(e.signaled());
  EXPECT_THAT(plugin_log("strict"), ::testing::Not(HasSubstr("never")));
  if (sandbox::seccomp_notify_supported()) {
    // corrald killed it after naming the call; the kernel's SIGSYS would have named nothing.
    EXPECT_EQ(e.code(), SIGKILL) << e.description();
    EXPECT_THAT(status("strict").last_violation(), HasSubstr(": plugin killed"));
  } else {
    EXPECT_EQ(e.code(), SIGSYS) << e.description();
  }
}

}  // namespace
}  // namespace corral::e2e

namespace corral::e2e {
namespace {

// Plugins run sandboxed by default: their own namespaces and root, a mapped uid of their own per
// plugin, a persistent state directory, and the host's view of it in `corralctl status`.
class Sandbox : public CorraldFixture {};

TEST_F(Sandbox, PluginsAreSandboxedWithTheirOwnIdsAndStateDirectory) {
  write_manifest("one.toml", R"x(name = "one"
exec = "/bin/sh"
args = ["-c", "echo uid $(id -u) host $(hostname) state $STATE_DIRECTORY; echo hi >> $STATE_DIRECTORY/visits; cat $STATE_DIRECTORY/visits | wc -l; exec sleep 600"]
)x");
  write_manifest("two.toml", "name = \"two\"\nexec = \"/bin/sleep\"\nargs = [\"600\"]\n");
  start_daemon();
  ASSERT_TRUE(wait_state("one", v1::RUNNING));
  ASSERT_TRUE(wait_state("two", v1::RUNNING));
  ASSERT_TRUE(wait_until([&] { return plugin_log("one").find("\n1\n") != std::string::npos; }));
  EXPECT_THAT(plugin_log("one"), HasSubstr("uid 1000 host one state /state\n"));
  auto one = status("one");
  auto two = status("two");
  EXPECT_GT(one.init_pid(), 0);
  EXPECT_NE(one.pid(), one.init_pid());
  // Two plugins, two disjoint host id ranges (the default: 64 Ki ids each from 524288).
  std::string st1 = slurp_file("/proc/" + std::to_string(one.pid()) + "/status");
  std::string st2 = slurp_file("/proc/" + std::to_string(two.pid()) + "/status");
  EXPECT_THAT(st1, HasSubstr("Uid:\t525288\t"));
  EXPECT_THAT(st2, HasSubstr("Uid:\t590824\t"));
  EXPECT_THAT(one.sandbox(), HasSubstr("uid 1000 as host 525288, network none"));
  // The state directory is on the host, owned by the plugin's mapped uid, and survives restarts.
  std::string visits = state_dir_ + "/plugins/one/visits";
  struct stat sb {};
  ASSERT_EQ(::stat(visits.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_uid, 525288u);
  auto c = client();
  ASSERT_TRUE(c.restart("one", 2000).has_value());
  EXPECT_TRUE(wait_until([&] { return plugin_log("one").find("\n2\n") != std::string::npos; }))
      << plugin_log("one");
}

TEST_F(Sandbox, IsolationNoneRunsOnTheHostWhenSpelledOut) {
  write_manifest("bare.toml", R"x(name = "bare"
exec = "/bin/sh"
args = ["-c", "echo uid $(id -u); exec sleep 600"]
[sandbox]
isolation = "none"
)x");
  start_daemon();
  ASSERT_TRUE(wait_state("bare", v1::RUNNING));
  ASSERT_TRUE(wait_until([&] { return plugin_log("bare").find("uid 0") != std::string::npos; }));
  auto info = status("bare");
  EXPECT_EQ(info.init_pid(), 0);
  EXPECT_EQ(info.sandbox(), "none");
}

}  // namespace
}  // namespace corral::e2e

namespace corral::e2e {
namespace {

class StateVolumeE2e : public CorraldFixture {};

TEST_F(StateVolumeE2e, AFullStateVolumeStopsThePluginNotTheHost) {
  if (::access("/dev/loop-control", W_OK) != 0) GTEST_SKIP() << "needs /dev/loop-control";
  if (::access("/usr/sbin/mkfs.ext4", X_OK) != 0) GTEST_SKIP() << "needs mkfs.ext4";
  write_manifest("filler.toml", R"x(name = "filler"
exec = "/bin/sh"
args = ["-c", "cat $STATE_DIRECTORY/note 2>/dev/null; echo kept > $STATE_DIRECTORY/note; dd if=/dev/zero of=$STATE_DIRECTORY/fill bs=1M 2>&1 | grep -o 'No space left on device'; exec sleep 600"]
[sandbox]
state_size = "8M"
)x");
  start_daemon();
  ASSERT_TRUE(wait_until([&] {
    return plugin_log("filler").find("No space left on device") != std::string::npos;
  })) << plugin_log("filler");
  std::string image = state_dir_ + "/plugins/filler.img";
  struct stat sb {};
  ASSERT_EQ(::stat(image.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_size, 8 << 20);
  EXPECT_LE(sb.st_blocks * 512, 9 << 20) << "the host file is capped at the volume's size";
  auto c = client();
  ASSERT_TRUE(c.restart("filler", 2000).has_value());
  EXPECT_TRUE(wait_until([&] { return plugin_log("filler").find("kept\n") != std::string::npos; }))
      << "the volume persists across runs: " << plugin_log("filler");
}

}  // namespace
}  // namespace corral::e2e
