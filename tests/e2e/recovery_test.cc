// Recovery end to end: real misbehaving plugins in real sandboxes under a real corrald, checked
// for the breaker transitions and recovery actions (with causes) within time bounds: a crash
// loop (the breaker opens, Open grows, the intensity limit escalates), a hang its liveness probe
// catches, a slow starter not ready in time, a seccomp violator quarantined (frozen, as the
// kernel's freezer says) until a reset, memory and fd leaks caught by their trend before the
// limit, and the health/breakers/events commands.
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/files.h"
#include "sandbox/landlock.h"
#include "sandbox/seccomp_notify.h"
#include "tests/e2e/corrald_fixture.h"

namespace corral::e2e {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

class Recovery : public CorraldFixture {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (cgroups, sandboxes)";
    CorraldFixture::SetUp();
    extra_config_ = "\n[telemetry]\ninterval_ms = 100\n";
  }
  std::vector<v1::RecoveryEvent> events(const std::string& plugin) {
    auto c = client();
    v1::Request req;
    req.mutable_events()->set_plugin(plugin);
    req.mutable_events()->set_max(100000);
    auto resp = c.call(req);
    if (!resp || resp->status().code() != v1::OK) return {};
    return {resp->events().events().begin(), resp->events().events().end()};
  }
  // "type what: cause" of each event, one per line (for failure messages and substring checks).
  std::string event_text(const std::string& plugin) {
    std::string out;
    for (const auto& e : events(plugin)) out += e.type() + " " + e.what() + ": " + e.cause() + "\n";
    return out;
  }
  bool has_event(const std::string& plugin, const std::string& type, const std::string& what) {
    for (const auto& e : events(plugin)) {
      if (e.type() == type && e.what().find(what) != std::string::npos) return true;
    }
    return false;
  }
  v1::HealthReport health(const std::string& name) {
    auto c = client();
    auto h = c.health(name);
    EXPECT_TRUE(h.has_value()) << h.error().describe();
    return h ? *h : v1::HealthReport{};
  }
  // Whether the kernel's freezer holds pid's cgroup frozen (v1 freezer.state, v2 cgroup.events).
  static std::optional<bool> frozen(pid_t pid) { return cgroup_frozen(pid); }
};

TEST_F(Recovery, ACrashLoopOpensTheBreakerLongerEachTripThenEscalates) {
  write_manifest("crashy.toml", R"x(name = "crashy"
exec = "/bin/sh"
args = ["-c", "exit 3"]
[restart]
delay_ms = 10
max_delay_ms = 40
[recovery]
max_restarts = 8
restart_period_ms = 60000
[recovery.breaker]
consecutive_failures = 3
open_ms = 200
max_open_ms = 1000
)x");
  const auto t0 = std::chrono::steady_clock::now();
  start_daemon();
  ASSERT_TRUE(wait_state("crashy", v1::ESCALATED, 30s)) << event_text("crashy");
  const auto took = std::chrono::steady_clock::now() - t0;
  const std::string ev = event_text("crashy");
  // 3 failures trip it (open 200 ms), each failed trial doubles the Open time.
  EXPECT_THAT(ev, HasSubstr("transition closed -> open: exited with code 3 (3 failures in a row) "
                            "(open for 200 ms, trip 1)"));
  EXPECT_THAT(ev, HasSubstr("transition open -> half-open: open time over"));
  EXPECT_THAT(ev, HasSubstr("transition half-open -> open: trial failed: exited with code 3 "
                            "(open for 400 ms, trip 2)"));
  EXPECT_THAT(ev, HasSubstr("action restart (half-open trial) in 0 ms"));
  EXPECT_THAT(ev, HasSubstr("alert escalated: restart intensity: 8 restarts within 60000 ms"));
  // 2 quick restarts, then 6 trials after 200, 400, 800, 1000, 1000, 1000 ms and one more
  // hold of 1000 ms before the 9th restart escalates: 5.4 s of Open time (~7 s here; the
  // bound leaves room for a loaded CI and ASan).
  EXPECT_LT(took, 20s) << ev;
  auto info = status("crashy");
  EXPECT_EQ(info.recovery_phase(), "escalated");
  EXPECT_NE(info.breaker(), "closed");
  EXPECT_EQ(info.health(), 0u);
  EXPECT_EQ(info.restarts(), 8u);
  // Escalated: nothing restarts it, and start says why.
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(status("crashy").restarts(), 8u);
  auto c = client();
  auto s = c.start("crashy");
  ASSERT_FALSE(s.has_value());
  EXPECT_THAT(s.error().message, HasSubstr("escalated"));
  EXPECT_THAT(s.error().message, HasSubstr("corralctl reset crashy"));
  // A reset starts it again with a closed breaker.
  auto r = ctl({"reset", "crashy"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("breaker closed"));
  EXPECT_TRUE(wait_until([&] { return status("crashy").restarts() > 8u; }));
  EXPECT_THAT(event_text("crashy"), HasSubstr("signal operator: operator reset by uid 0"));
}

TEST_F(Recovery, AHangThatFailsItsLivenessProbeIsRestarted) {
  if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/python3";
  // Answers each probe for 1 s, then hangs (keeps the socket, accepts nothing).
  write_manifest("hang.toml", R"x(name = "hang"
exec = "/usr/bin/python3"
args = ["-c", """
import os, socket, time
p = '/state/health.sock'
try: os.unlink(p)
except FileNotFoundError: pass
s = socket.socket(socket.AF_UNIX); s.bind(p); s.listen(16)
print('listening', flush=True)
t0 = time.time()
while time.time() - t0 < 1.0:
    c, _ = s.accept(); c.sendall(b'ok\\n'); c.close()
print('hanging', flush=True)
time.sleep(600)
"""]
[stop]
timeout_ms = 500
[health.liveness]
socket = "health.sock"
period_ms = 100
timeout_ms = 100
failure_threshold = 3
initial_delay_ms = 200
)x");
  start_daemon();
  ASSERT_TRUE(wait_state("hang", v1::RUNNING));
  const pid_t first = status("hang").pid();
  ASSERT_TRUE(wait_until([&] { return plugin_log("hang").find("hanging") != std::string::npos; }))
      << plugin_log("hang");
  const auto hung = std::chrono::steady_clock::now();
  EXPECT_THAT(health("hang").liveness(), HasSubstr("ok (answered in"));
  ASSERT_TRUE(wait_until([&] { return has_event("hang", "signal", "liveness"); }, 5s))
      << event_text("hang");
  const auto caught = std::chrono::steady_clock::now() - hung;
  // 3 failures 100 ms apart, each timing out after 100 ms (or refused once the backlog fills).
  EXPECT_LT(caught, 2s);
  EXPECT_THAT(event_text("hang"), HasSubstr("(3 failures in a row)"));
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = status("hang");
        return s.state() == v1::RUNNING && s.pid() != first;
      },
      5s))
      << event_text("hang");
  EXPECT_FALSE(process_alive(first));
  EXPECT_THAT(event_text("hang"), HasSubstr("action restart in"));
  std::cout << "hang caught " << std::chrono::duration<double, std::milli>(caught).count()
            << " ms after it stopped answering\n";
}

// The exec probe runs inside the sandbox as the plugin would: its mount namespace (it sees the
// plugin's private /tmp), its uid, no capabilities, no_new_privs, Landlock and the seccomp
// filter. The probe renames its report into place, so the plugin never reads half of one.
TEST_F(Recovery, AnExecProbeRunsInsideTheSandboxAndItsFailureRestartsThePlugin) {
  write_manifest("execd.toml", R"x(name = "execd"
exec = "/bin/sh"
args = ["-c", "touch /tmp/alive; sleep 0.8; while [ ! -e /tmp/probe-view ]; do sleep 0.05; done; cat /tmp/probe-view; rm /tmp/alive; exec sleep 600"]
[stop]
timeout_ms = 500
[health.liveness]
exec = ["/bin/sh", "-c", "test -e /tmp/alive && { id -u; grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/self/status; (echo p > /proc/self/comm) 2>/dev/null && echo comm-writable || echo comm-refused; grep '^0::' /proc/self/cgroup; } > /tmp/pv.$$ && mv /tmp/pv.$$ /tmp/probe-view"]
period_ms = 1000
timeout_ms = 1000
failure_threshold = 2
)x");
  // (1 s: under emulation, the v2 lane, the probe's five execs take a few hundred ms.)
  start_daemon();
  ASSERT_TRUE(wait_state("execd", v1::RUNNING));
  const pid_t first = status("execd").pid();
  ASSERT_TRUE(wait_until([&] { return has_event("execd", "signal", "liveness"); }, 20s))
      << event_text("execd") << plugin_log("execd");
  const std::string log = plugin_log("execd");
  EXPECT_THAT(log, HasSubstr("1000\n")) << "the sandbox's uid";
  EXPECT_THAT(log, HasSubstr("NoNewPrivs:\t1"));
  EXPECT_THAT(log, HasSubstr("Seccomp:\t2"));
  EXPECT_THAT(log, HasSubstr("CapEff:\t0000000000000000"));
  EXPECT_THAT(log, ::testing::ContainsRegex("0::/[^\n]*/execd\n"))
      << "in the plugin's own cgroup2 node";
  if (sandbox::landlock_abi() > 0) {
    EXPECT_THAT(log, HasSubstr("comm-refused")) << "Landlock: /proc/self/* is read-only";
  }
  EXPECT_THAT(event_text("execd"),
              HasSubstr("exec probe exited with code 1 (2 failures in a row)"));
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = status("execd");
        return s.state() == v1::RUNNING && s.pid() != first;
      },
      5s))
      << event_text("execd");
  EXPECT_THAT(health("execd").liveness(), HasSubstr("exec /bin/sh -c"));
}

TEST_F(Recovery, ASlowStarterIsRestartedAndAFastOneIsReady) {
  write_manifest("slow.toml", R"x(name = "slow"
exec = "/bin/sh"
args = ["-c", "sleep 5; echo READY=1 >&3; exec sleep 600"]
[restart]
delay_ms = 50
[health]
ready = "notify"
ready_timeout_ms = 300
)x");
  write_manifest("quick.toml", R"x(name = "quick"
exec = "/bin/sh"
args = ["-c", "echo STATUS=warming up >&3; echo READY=1 >&3; exec sleep 600"]
[health]
ready = "notify"
ready_timeout_ms = 5000
)x");
  start_daemon();
  ASSERT_TRUE(wait_until([&] { return has_event("slow", "signal", "not_ready"); }, 5s))
      << event_text("slow");
  EXPECT_THAT(event_text("slow"), HasSubstr("signal not_ready: not ready within 300 ms"));
  ASSERT_TRUE(wait_until([&] { return status("slow").restarts() >= 1; }, 5s)) << event_text("slow");
  EXPECT_FALSE(health("slow").ready());
  ASSERT_TRUE(wait_until([&] { return health("quick").ready(); })) << event_text("quick");
  auto h = health("quick");
  EXPECT_THAT(h.readiness(), HasSubstr("notify: ready after"));
  EXPECT_EQ(h.status_text(), "warming up");
  EXPECT_EQ(h.score(), 100u);
  EXPECT_EQ(status("quick").restarts(), 0u);
}

TEST_F(Recovery, ASeccompViolatorIsQuarantinedFrozenUntilAReset) {
  if (::access("/usr/bin/unshare", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/unshare";
  if (!sandbox::seccomp_notify_supported()) {
    GTEST_SKIP() << "needs seccomp user notification (SECCOMP_FILTER_FLAG_NEW_LISTENER): without "
                    "it corrald is not told of an errno-profile violation";
  }
  write_manifest("prober.toml", R"x(name = "prober"
exec = "/bin/sh"
args = ["-c", "echo started; sleep 0.3; /usr/bin/unshare --user /bin/true; exec sleep 600"]
[recovery]
on_seccomp = "quarantine"
)x");
  start_daemon();
  ASSERT_TRUE(wait_state("prober", v1::QUARANTINED, 10s)) << event_text("prober");
  auto info = status("prober");
  EXPECT_EQ(info.recovery_phase(), "quarantined");
  EXPECT_THAT(info.phase_cause(), HasSubstr("unshare"));
  EXPECT_EQ(info.breaker(), "open");
  ASSERT_GT(info.pid(), 0);
  EXPECT_TRUE(process_alive(info.pid())) << "kept for inspection";
  auto fz = frozen(info.pid());
  ASSERT_TRUE(fz.has_value()) << "no freezer state found for pid " << info.pid();
  EXPECT_TRUE(*fz) << "the kernel's freezer must hold it";
  EXPECT_THAT(event_text("prober"), HasSubstr("transition closed -> open"));
  EXPECT_THAT(event_text("prober"), HasSubstr("(fatal)"));
  EXPECT_THAT(event_text("prober"), HasSubstr("alert quarantined"));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(status("prober").state(), v1::QUARANTINED) << "no automatic recovery";
  EXPECT_EQ(status("prober").pid(), info.pid());
  // The reset thaws and replaces the run; it violates again and is quarantined again.
  auto c = client();
  auto r = c.reset("prober");
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_TRUE(wait_until([&] { return !process_alive(info.pid()); }));
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = status("prober");
        return s.state() == v1::QUARANTINED && s.pid() != info.pid() && s.pid() > 0;
      },
      10s))
      << event_text("prober");
}

// Degrade by cutting the network: a critical fds level makes the kernel (cgroup BPF) refuse
// the plugin's connects, even on its own loopback; once the level clears, they work again.
TEST_F(Recovery, ACriticalThresholdCutsTheNetworkUntilItClears) {
  if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/python3";
  write_manifest("chatty.toml", R"x(name = "chatty"
exec = "/usr/bin/python3"
args = ["-c", """
import socket, time
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(8); port = l.getsockname()[1]
def attempt(when):
    try:
        socket.create_connection(('127.0.0.1', port), timeout=1).close(); print(when, 'connected', flush=True)
    except OSError as e:
        print(when, 'errno', e.errno, flush=True)
attempt('before')
fs = [open('/dev/null') for _ in range(300)]
time.sleep(1.0)
attempt('cut')
del fs
time.sleep(1.0)
attempt('restored')
time.sleep(600)
"""]
[thresholds]
fds = { warning = 100, critical = 200 }
[recovery]
on_critical = "degrade"
degrade = "cut-network"
)x");
  start_daemon();
  // The plugin's own line (corrald's note "network restored" comes first).
  ASSERT_TRUE(wait_until(
      [&] { return plugin_log("chatty").find("\nrestored ") != std::string::npos; }, 15s))
      << plugin_log("chatty") << event_text("chatty");
  if (has_event("chatty", "alert", "network cut failed")) {
    GTEST_SKIP() << "no cgroup BPF network programs here: " << event_text("chatty");
  }
  const std::string log = plugin_log("chatty");
  EXPECT_THAT(log, HasSubstr("before connected"));
  EXPECT_THAT(log, HasSubstr("cut errno 1")) << "EPERM from the cgroup BPF";
  EXPECT_THAT(log, HasSubstr("restored connected"));
  const std::string ev = event_text("chatty");
  EXPECT_THAT(ev, HasSubstr("action degrade: fds"));
  EXPECT_THAT(ev, HasSubstr("action undegrade"));
  EXPECT_EQ(status("chatty").state(), v1::RUNNING);
  EXPECT_EQ(status("chatty").restarts(), 0u);
}

TEST_F(Recovery, AMemoryLeakIsCaughtByItsTrendBeforeTheOomKill) {
  if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/python3";
  // 4 MiB every 100 ms against 256 MiB: the limit is ~6 s away when the trend is sure.
  write_manifest("leaky.toml", R"x(name = "leaky"
exec = "/usr/bin/python3"
args = ["-c", """
import time
b = []
while True:
    b.append(bytearray(4 << 20)); time.sleep(0.1)
"""]
[resources]
memory_max = "256M"
swap_max = 0
[recovery]
on_leak = "restart"
[health]
leak_horizon_ms = 60000
)x");
  start_daemon();
  ASSERT_TRUE(wait_until([&] { return has_event("leaky", "alert", "leak: memory"); }, 20s))
      << event_text("leaky");
  const std::string ev = event_text("leaky");
  EXPECT_THAT(ev, HasSubstr("signal leak: memory"));
  EXPECT_THAT(ev, HasSubstr("action restart in"));
  EXPECT_THAT(ev, ::testing::Not(HasSubstr("oom_kill"))) << "caught before the OOM killer";
  ASSERT_TRUE(wait_until([&] { return status("leaky").restarts() >= 1; }, 10s)) << ev;
  auto h = health("leaky");
  ASSERT_GE(h.trends_size(), 1);
  EXPECT_EQ(h.trends(0).metric(), "memory");
  EXPECT_EQ(h.trends(0).limit(), 256.0 * (1 << 20));
}

TEST_F(Recovery, AnFdLeakIsEscalatedBeforeItRunsOutAndTheCliShowsIt) {
  if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/python3";
  write_manifest("fdleak.toml", R"x(name = "fdleak"
exec = "/usr/bin/python3"
args = ["-c", """
import time
fs = []
while True:
    fs.append(open('/dev/null')); time.sleep(0.01)
"""]
[limits]
nofile = 2048
[recovery]
on_leak = "escalate"
[health]
leak_horizon_ms = 60000
)x");
  start_daemon();
  ASSERT_TRUE(wait_state("fdleak", v1::ESCALATED, 20s)) << event_text("fdleak");
  EXPECT_THAT(event_text("fdleak"), HasSubstr("alert leak: fds"));
  EXPECT_THAT(event_text("fdleak"), HasSubstr(": 2048 in")) << "against RLIMIT_NOFILE";
  auto h = ctl({"health", "fdleak"});
  EXPECT_EQ(h.exit_code, 0) << h.err;
  EXPECT_THAT(h.out, HasSubstr("health:     0/100"));
  EXPECT_THAT(h.out, HasSubstr("recovery:   escalated"));
  auto b = ctl({"breakers"});
  EXPECT_EQ(b.exit_code, 0) << b.err;
  EXPECT_THAT(b.out, HasSubstr("NAME"));
  EXPECT_THAT(b.out, HasSubstr("escalated"));
  auto e = ctl({"events", "--plugin", "fdleak"});
  EXPECT_EQ(e.exit_code, 0) << e.err;
  EXPECT_THAT(e.out, HasSubstr("fdleak  alert  escalated"));
  auto l = ctl({"list"});
  EXPECT_THAT(l.out, HasSubstr("escalated"));
  auto bad = ctl({"health", "nope"});
  EXPECT_EQ(bad.exit_code, 3) << bad.out;
}

TEST_F(Recovery, EventsFollowStreamsEachNewEventAsItHappens) {
  write_manifest("idle.toml", "name = \"idle\"\nexec = \"/bin/sleep\"\nargs = [\"600\"]\n");
  start_daemon();
  ASSERT_TRUE(wait_state("idle", v1::RUNNING));
  auto follower = client();
  follower.set_timeout(10s);
  v1::Request req;
  req.mutable_events()->set_plugin("idle");
  req.mutable_events()->set_follow(true);
  std::thread stopper([this] {
    std::this_thread::sleep_for(300ms);
    auto c = client();
    EXPECT_TRUE(c.stop("idle", 0).has_value());
  });
  int frames = 0;
  std::string seen;
  auto streamed = follower.stream(req, [&](const v1::Response& r) {
    ++frames;
    for (const auto& e : r.events().events()) seen += e.type() + " " + e.cause() + "\n";
    return seen.find("stop by uid 0") == std::string::npos;  // until the stop shows up
  });
  stopper.join();
  EXPECT_TRUE(streamed.has_value()) << streamed.error().describe();
  EXPECT_THAT(seen, HasSubstr("signal stop by uid 0 (pid "));
  EXPECT_GE(frames, 2) << "the backlog, then the new event";
}

}  // namespace
}  // namespace corral::e2e
