// Telemetry end to end: a real corrald samples a sandboxed ground-truth workload (tc_workload)
// and corralctl shows it; thresholds raise violations; an OOM kill is reported as it happens;
// a manifest's network allow-list is enforced by the kernel. Each test runs with BPF where it
// loads ("auto") and again with the fallback collectors only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/e2e/corrald_fixture.h"

namespace corral::e2e {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

const std::string kTestcases = CORRAL_TESTCASES_DIR;

class Telemetry : public CorraldFixture, public ::testing::WithParamInterface<const char*> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (cgroups, sandboxes, BPF)";
    CorraldFixture::SetUp();
    extra_config_ =
        std::string("\n[telemetry]\nmode = \"") + GetParam() + "\"\ninterval_ms = 100\n";
  }
  // A manifest running tc_workload with `actions` in a full sandbox.
  std::string workload(const std::string& name, const std::string& actions,
                       const std::string& extra = "") {
    std::string args;
    std::string word;
    for (char ch : actions + " ") {
      if (ch == ' ') {
        if (!word.empty()) args += (args.empty() ? "\"" : ", \"") + word + "\"";
        word.clear();
      } else {
        word += ch;
      }
    }
    return "name = \"" + name + "\"\nexec = \"" + kTestcases + "/tc_workload\"\nargs = [" + args +
           "]\n" + extra + "\n[sandbox]\nro_binds = [\"" + kTestcases + "\"]\n";
  }
  std::optional<v1::PluginStats> stats(const std::string& name) {
    auto c = client();
    auto st = c.stats(name);
    if (!st || st->plugins_size() != 1) return std::nullopt;
    return st->plugins(0);
  }
  // Waits until the plugin's stats satisfy pred; the last stats seen in `last`.
  bool wait_stats(const std::string& name, const std::function<bool(const v1::PluginStats&)>& pred,
                  v1::PluginStats* last, std::chrono::milliseconds deadline = 10s) {
    return wait_until(
        [&] {
          auto s = stats(name);
          if (!s) return false;
          *last = *s;
          return pred(*s);
        },
        deadline);
  }
  bool bpf() const { return std::string(GetParam()) == "auto"; }
};

TEST_P(Telemetry, StatsMatchTheWorkload) {
  write_manifest("w.toml", workload("w", "fds 50 mem 32 cpu 300 fork 20 exec 5"));
  start_daemon();
  // Judged once the workload is done (its forked children, which share its fds, are gone) and
  // a sample has been taken since.
  ASSERT_TRUE(wait_until([&] { return plugin_log("w").find("ready") != std::string::npos; }, 30s))
      << plugin_log("w") << daemon_log();
  auto ready_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  v1::PluginStats s;
  ASSERT_TRUE(wait_stats(
      "w", [&](const v1::PluginStats& x) { return x.sampled_at_unix_ms() > ready_ms + 100; }, &s))
      << s.DebugString() << daemon_log();
  // Ground truth, through whichever collector fed each group (named in sources).
  EXPECT_GE(s.cpu_usage_ns(), 255'000'000u) << s.DebugString();  // 300 ms burnt, -15%
  EXPECT_LT(s.cpu_usage_ns(), 2'000'000'000u);
  EXPECT_GE(s.memory_current(), 32u << 20);
  EXPECT_LT(s.memory_current(), 64u << 20);
  EXPECT_GE(s.fds(), 53u);  // 50 + stdio
  EXPECT_LE(s.fds(), 60u);
  // 20 forks and 5 fork+execs. BPF follows the run from before clone3: it also counts the
  // sandbox's init and the program the init starts (2 forks) and the program's exec. The
  // fallback (proc connector) follows it from the program's exec on, and sees that exec only
  // when tracking won the race with it.
  if (bpf()) {
    EXPECT_EQ(s.forks(), 27u);
    EXPECT_EQ(s.execs(), 6u);
  } else {
    EXPECT_EQ(s.forks(), 25u);
    EXPECT_GE(s.execs(), 5u);
    EXPECT_LE(s.execs(), 6u);
  }
  EXPECT_GE(s.tasks(), 1u);
  EXPECT_GE(s.oncpu_ns(), 255'000'000u);
  if (bpf()) {
    EXPECT_EQ(s.sources().at("sched"), "bpf");
    EXPECT_EQ(s.sources().at("processes"), "bpf");
    EXPECT_EQ(s.sources().at("fds"), "bpf");
  } else {
    EXPECT_EQ(s.sources().at("sched"), "procfs");
    EXPECT_EQ(s.sources().at("processes"), "proc_connector");
    EXPECT_EQ(s.sources().at("fds"), "procfs");
  }
  EXPECT_EQ(s.sources().at("memory"), "cgroupfs");
  // corralctl renders it, as text and JSON, and top lists it.
  auto r = ctl({"stats", "w"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("fds:"));
  EXPECT_THAT(r.out, HasSubstr("forks " + std::to_string(s.forks())));
  r = ctl({"--json", "stats", "w"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"execs\":\"" + std::to_string(s.execs()) + "\""));
  r = ctl({"top", "-n", "2", "-i", "100"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("corral top: 1 plugin(s), 1 running"));
  EXPECT_THAT(r.out, HasSubstr("\nw "));
  r = ctl({"stats", "nope"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
}

TEST_P(Telemetry, ThresholdsRaiseViolationsWithTheirSeverity) {
  write_manifest("t.toml",
                 workload("t", "fds 60", "[thresholds]\nfds = { warning = 20, critical = 40 }\n"));
  start_daemon();
  v1::PluginStats s;
  ASSERT_TRUE(wait_stats(
      "t", [](const v1::PluginStats& x) { return x.violations_size() > 0; }, &s))
      << daemon_log();
  const auto& v = s.violations(s.violations_size() - 1);
  EXPECT_EQ(v.metric(), "fds");
  EXPECT_EQ(v.severity(), "critical");
  EXPECT_GE(v.value(), 60);
  EXPECT_EQ(v.threshold(), 40);
  EXPECT_THAT(daemon_log(), HasSubstr("plugin t: telemetry: fds"));
  auto r = ctl({"top", "-n", "1"});
  EXPECT_THAT(r.out, HasSubstr(">= 40 (critical)"));
  // The fds threshold puts the run on the watch (5 ms by default), which doctor reports.
  r = ctl({"doctor"});
  EXPECT_THAT(r.out, ::testing::ContainsRegex(
                         "telemetry.watch=every 5 ms, 1 run\\(s\\) with level thresholds, "
                         "[1-9][0-9]* passes, mean [0-9]+ us"));
}

TEST_P(Telemetry, AnOomKillIsReportedAsItHappensWithTheVictim) {
  write_manifest(
      "m.toml",
      workload("m", "oom", "[resources]\nmemory_max = \"32M\"\n[restart]\npolicy = \"no\"\n"));
  start_daemon();
  ASSERT_TRUE(wait_until(
      [&] { return daemon_log().find("oom_kill (critical)") != std::string::npos; }, 15s))
      << daemon_log();
  std::string log = daemon_log();
  EXPECT_THAT(log, HasSubstr("plugin m: telemetry: oom_kill (critical)"));
  if (bpf()) {
    EXPECT_THAT(log, HasSubstr("tc_workload"));  // the victim, named by the kernel
  }
}

// The host's loopback through the plugin's own network namespace is not shared: an allow-list
// runs on the host stack, so the test listens on the host's 127.0.0.1.
TEST_P(Telemetry, AManifestAllowListIsEnforcedByTheKernel) {
  if (!bpf()) {
    // Without BPF the allow-list cannot be enforced, and the plugin must not start.
    write_manifest("n.toml", workload("n", "sleep 1", "[restart]\npolicy = \"no\"\n") +
                                 "network = { allow = [\"127.0.0.1:1\"] }\n");
    start_daemon();
    ASSERT_TRUE(wait_state("n", v1::FAILED)) << daemon_log();
    EXPECT_THAT(status("n").last_error(), HasSubstr("network allow-list"));
    return;
  }
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(listener.get(), 8), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
  int port = ntohs(a.sin_port);
  int other = port == 65535 ? port - 1 : port + 1;
  write_manifest("n.toml", workload("n", "send 127.0.0.1:" + std::to_string(port) +
                                             " 1000 connect 127.0.0.1:" + std::to_string(other)) +
                               "network = { allow = [\"127.0.0.1:" + std::to_string(port) +
                               "\"] }\n");
  start_daemon();
  ASSERT_TRUE(wait_until([&] { return plugin_log("n").find("ready") != std::string::npos; }))
      << plugin_log("n") << daemon_log();
  std::string out = plugin_log("n");
  EXPECT_THAT(out, HasSubstr("send 127.0.0.1:" + std::to_string(port) + " ok"));
  EXPECT_THAT(out, HasSubstr("connect 127.0.0.1:" + std::to_string(other) + " errno 1"));
  v1::PluginStats s;
  ASSERT_TRUE(wait_stats(
      "n", [](const v1::PluginStats& x) { return x.connects_denied() == 1; }, &s))
      << s.DebugString();
  EXPECT_GE(s.bytes_out(), 1000u);
  bool named = false;
  for (const auto& v : s.violations()) {
    named |= v.metric() == "connect_denied" &&
             v.detail().find("127.0.0.1:" + std::to_string(other)) != std::string::npos;
  }
  EXPECT_TRUE(named) << s.DebugString();
}

INSTANTIATE_TEST_SUITE_P(Modes, Telemetry, ::testing::Values("auto", "fallback"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace corral::e2e
