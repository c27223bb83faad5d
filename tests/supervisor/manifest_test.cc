// Plugin manifest parsing: every field, every rejection, and directory loading with duplicates.
#include "supervisor/manifest.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace corral::supervisor {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(Manifest, MinimalGetsDefaults) {
  auto m = parse_manifest("name = \"a\"\nexec = \"/bin/true\"\n", "a.toml");
  ASSERT_TRUE(m.has_value()) << m.error().message;
  EXPECT_EQ(m->name, "a");
  EXPECT_EQ(m->working_dir, "/");
  EXPECT_TRUE(m->autostart);
  EXPECT_EQ(m->restart.policy, RestartPolicy::kOnFailure);
  EXPECT_EQ(m->stop_signal, SIGTERM);
  EXPECT_EQ(m->limits.core_bytes, 0u);
  EXPECT_FALSE(m->limits.nofile.has_value());
  EXPECT_EQ(m->source, "a.toml");
}

TEST(Manifest, ParsesEveryField) {
  auto m = parse_manifest(R"x(
name = "web-1.x"
exec = "/usr/bin/python3"
args = ["-u", "-c", "print(1)"]
working_dir = "/tmp"
autostart = false
[env]
A_B = "c d"
[restart]
policy = "always"
delay_ms = 10
max_delay_ms = 100
stable_after_ms = 5
[stop]
signal = "SIGINT"
timeout_ms = 250
[limits]
nofile = 64
nproc = 10
core_bytes = 4096
fsize_bytes = 1000
as_bytes = 1073741824
[logs]
ring_lines = 5
file_max_bytes = 8192
)x",
                          "w.toml");
  ASSERT_TRUE(m.has_value()) << m.error().message;
  EXPECT_EQ(m->name, "web-1.x");
  EXPECT_THAT(m->args, ElementsAre("-u", "-c", "print(1)"));
  EXPECT_EQ(m->working_dir, "/tmp");
  EXPECT_FALSE(m->autostart);
  EXPECT_EQ(m->env.at("A_B"), "c d");
  EXPECT_EQ(m->restart.policy, RestartPolicy::kAlways);
  EXPECT_EQ(m->restart.delay.count(), 10);
  EXPECT_EQ(m->restart.max_delay.count(), 100);
  EXPECT_EQ(m->restart.stable_after.count(), 5);
  EXPECT_EQ(m->stop_signal, SIGINT);
  EXPECT_EQ(m->stop_timeout.count(), 250);
  EXPECT_EQ(*m->limits.nofile, 64u);
  EXPECT_EQ(*m->limits.nproc, 10u);
  EXPECT_EQ(m->limits.core_bytes, 4096u);
  EXPECT_EQ(*m->limits.fsize_bytes, 1000u);
  EXPECT_EQ(*m->limits.as_bytes, 1073741824u);
  EXPECT_EQ(m->log_ring_lines, 5u);
  EXPECT_EQ(m->log_file_max_bytes, 8192u);
}

TEST(Manifest, Resources) {
  auto m = parse_manifest(R"x(name = "r"
exec = "/bin/true"
[resources]
memory_max = "256M"
memory_high = 134217728
swap_max = "0"
cpu_max = "50%"
cpu_weight = 300
pids_max = 64
)x",
                          "r.toml");
  ASSERT_TRUE(m.has_value()) << m.error().message;
  EXPECT_EQ(*m->resources.memory_max, 256u << 20);
  EXPECT_EQ(*m->resources.memory_high, 128u << 20);
  EXPECT_EQ(*m->resources.swap_max, 0u);
  EXPECT_EQ(m->resources.cpu_max->quota_us, 50000u);
  EXPECT_EQ(m->resources.cpu_max->period_us, 100000u);
  EXPECT_EQ(*m->resources.cpu_weight, 300u);
  EXPECT_EQ(*m->resources.pids_max, 64u);
}

TEST(Manifest, SandboxSeccomp) {
  auto m = parse_manifest("name = \"a\"\nexec = \"/bin/true\"\n", "a.toml");
  ASSERT_TRUE(m.has_value());
  ASSERT_TRUE(m->seccomp.has_value()) << "the default profile applies unless the manifest opts out";
  EXPECT_EQ(m->seccomp->name, "default");
  m = parse_manifest(R"x(name = "a"
exec = "/bin/true"
[sandbox]
seccomp = "strict"
seccomp_action = "kill"
seccomp_allow = ["openat"]
seccomp_deny = ["write"]
)x",
                     "a.toml");
  ASSERT_TRUE(m.has_value()) << m.error().message;
  EXPECT_EQ(m->seccomp->name, "strict");
  EXPECT_EQ(m->seccomp->default_action, sandbox::SeccompAction::kKillProcess);
  auto& allow = m->seccomp->allow;
  EXPECT_NE(std::find(allow.begin(), allow.end(), "openat"), allow.end());
  EXPECT_EQ(std::find(allow.begin(), allow.end(), "write"), allow.end());
  m = parse_manifest("name = \"a\"\nexec = \"/bin/true\"\n[sandbox]\nseccomp = \"none\"\n",
                     "a.toml");
  ASSERT_TRUE(m.has_value());
  EXPECT_FALSE(m->seccomp.has_value());
}

TEST(Manifest, ParseSize) {
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("512K"), 512u << 10);
  EXPECT_EQ(parse_size("2G"), 2ull << 30);
  EXPECT_EQ(parse_size("1T"), 1ull << 40);
  EXPECT_FALSE(parse_size("").has_value());
  EXPECT_FALSE(parse_size("M").has_value());
  EXPECT_FALSE(parse_size("1.5G").has_value());
  EXPECT_FALSE(parse_size("-1").has_value());
  EXPECT_FALSE(parse_size("10m").has_value());
  EXPECT_FALSE(parse_size("99999999999999999999").has_value());
  EXPECT_FALSE(parse_size("9999999999999T").has_value());
}

struct BadCase {
  const char* toml;
  const char* expect;
};

// Short, shell-safe names for ctest: the expected problem text, squashed.
void PrintTo(const BadCase& c, std::ostream* os) {
  std::string name;
  for (char ch : std::string(c.expect).substr(0, 48)) {
    name += std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' ? ch : '_';
  }
  *os << name;
}

class ManifestRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(ManifestRejects, WithPreciseProblem) {
  auto m = parse_manifest(GetParam().toml, "p.toml");
  ASSERT_FALSE(m.has_value()) << "accepted: " << GetParam().toml;
  EXPECT_EQ(m.error().code, Code::kInvalidArgument);
  EXPECT_THAT(m.error().message, HasSubstr(GetParam().expect));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ManifestRejects,
    ::testing::Values(
        BadCase{"exec = \"/bin/true\"", "p.toml: name: is required"},
        BadCase{"name = \"a\"", "p.toml: exec: is required"},
        BadCase{"name = \"bad name\"\nexec=\"/bin/true\"", "not a valid plugin name"},
        BadCase{"name = \"../etc\"\nexec=\"/bin/true\"", "not a valid plugin name"},
        BadCase{"name = \"-x\"\nexec=\"/bin/true\"", "not a valid plugin name"},
        BadCase{"name = \"\"\nexec=\"/bin/true\"", "not a valid plugin name"},
        BadCase{"name = \"a\"\nexec=\"bin/true\"", "exec: must be an absolute path"},
        BadCase{"name = \"a\"\nexec=\"/bin/../bin/true\"", "exec: must be an absolute path"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\nworking_dir=\"tmp\"", "working_dir: must be"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\nargs=\"-x\"", "args: must be an array"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\nargs=[1]", "args[0]: must be a string"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\nautostart=1", "autostart: must be true"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[env]\n\"1X\"=\"v\"",
                "env.1X: is not a valid environment variable name"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[env]\nX=1", "env.X: must be a string"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[restart]\npolicy=\"sometimes\"",
                "restart.policy: must be \"no\", \"on-failure\" or \"always\""},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[restart]\ndelay_ms=-5",
                "restart.delay_ms: must be between 0 and 3600000, got -5"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[restart]\ndelay_ms=100\nmax_delay_ms=10",
                "restart.max_delay_ms: must be at least restart.delay_ms"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[stop]\nsignal=\"STOP\"",
                "stop.signal: must be"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[stop]\ntimeout_ms=0", "stop.timeout_ms"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[limits]\nnofile=0", "limits.nofile"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[limits]\nnofile=99999999999",
                "limits.nofile: must be between 1 and 1048576"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[limits]\nas_bytes=10", "limits.as_bytes"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[limits]\nmemory=1", "limits.memory: unknown"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[logs]\nring_lines=0", "logs.ring_lines"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\nexe=\"/x\"", "p.toml: exe: unknown key"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\nrestart=\"always\"", "restart: must be a table"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[resources]\nmemory_max=\"lots\"",
                "resources.memory_max: must be a size in bytes"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[resources]\nmemory_max=1024",
                "resources.memory_max: must be between 4194304"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[resources]\ncpu_max=\"0.5\"",
                "resources.cpu_max: must be a percentage"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[resources]\ncpu_max=\"2000%\"",
                "resources.cpu_max"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[resources]\npids_max=0", "resources.pids_max"},
        BadCase{"name = "
                "\"a\"\nexec=\"/bin/true\"\n[resources]\nmemory_high=\"64M\"\nmemory_max=\"32M\"",
                "resources.memory_high: must not exceed resources.memory_max"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[resources]\nmemory=1",
                "resources.memory: unknown"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[sandbox]\nseccomp=\"lenient\"",
                "sandbox.seccomp: unknown seccomp profile"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[sandbox]\nseccomp_allow=[\"ptarce\"]",
                "unknown system call \"ptarce\""},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[sandbox]\nseccomp_action=\"notify\"",
                "is not an action"},
        BadCase{"name = "
                "\"a\"\nexec=\"/bin/true\"\n[sandbox]\nseccomp=\"none\"\nseccomp_deny=[\"read\"]",
                "make no sense"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[recovery]\non_oom=\"reboot\"",
                "recovery.on_oom: must be one of none, restart, reload, degrade, quarantine, "
                "escalate; got \"reboot\""},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[recovery]\non_exit=\"reload\"",
                "recovery.on_exit: must be one of none, restart, quarantine, escalate"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[recovery]\ndegrade=\"tighten\"",
                "recovery.degrade: must be \"freeze\" or \"cut-network\""},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[recovery.breaker]\nfailure_rate=1.5",
                "recovery.breaker.failure_rate: must be a number in (0, 1]"},
        BadCase{
            "name = \"a\"\nexec=\"/bin/true\"\n[recovery.breaker]\nopen_ms=500\nmax_open_ms=100",
            "recovery.breaker.max_open_ms: must be at least recovery.breaker.open_ms"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[recovery.breaker]\ntrips=1",
                "recovery.breaker.trips: unknown key"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[health]\nready=\"sd\"",
                "health.ready: must be \"notify\" or \"none\""},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[health.liveness]\nperiod_ms=100",
                "health.liveness: needs socket (a unix socket to connect to) or exec"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[health.liveness]\nsocket=\"s\"\nexec=[\"/x\"]",
                "health.liveness: takes socket or exec, not both"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[health.liveness]\nexec=[\"check\"]",
                "health.liveness.exec: must be a command whose first word is an absolute path"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[health.liveness]\nsocket=\"../x\"",
                "health.liveness.socket: must be a path without .. components"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[health.liveness]\nsocket=\"s\"\n"
                "period_ms=100\ntimeout_ms=200",
                "health.liveness.timeout_ms: must be at most health.liveness.period_ms"},
        BadCase{"name = \"a\"\nexec=\"/bin/true\"\n[sandbox]\nisolation=\"none\"\n"
                "[health.liveness]\nsocket=\"s\"",
                "must be absolute for a plugin without a sandbox"},
        BadCase{"name = [", "p.toml: line 1"}));

TEST(Manifest, RecoveryAndHealthSections) {
  auto m = parse_manifest(R"(name = "svc"
exec = "/bin/true"
[restart]
delay_ms = 50
max_delay_ms = 800
stable_after_ms = 2000
[recovery]
on_oom = "escalate"
on_seccomp = "quarantine"
on_critical = "degrade"
degrade = "cut-network"
reload_signal = "USR1"
max_restarts = 4
restart_period_ms = 30000
[recovery.breaker]
consecutive_failures = 0
window = 20
failure_rate = 0.25
min_outcomes = 4
open_ms = 100
max_open_ms = 1600
half_open_trials = 2
[health]
ready = "notify"
ready_timeout_ms = 1500
leak_horizon_ms = 120000
[health.liveness]
socket = "run/health.sock"
period_ms = 500
timeout_ms = 250
failure_threshold = 2
)",
                          "svc.toml");
  ASSERT_TRUE(m.has_value()) << m.error().describe();
  const auto& r = m->recovery;
  EXPECT_EQ(r.on_oom, recovery::Strategy::kEscalate);
  EXPECT_EQ(r.on_seccomp, recovery::Strategy::kQuarantine);
  EXPECT_EQ(r.on_critical, recovery::Strategy::kDegrade);
  EXPECT_EQ(r.on_exit, recovery::Strategy::kRestart) << "default";
  EXPECT_EQ(r.degrade, recovery::DegradeMode::kCutNetwork);
  EXPECT_EQ(r.reload_signal, SIGUSR1);
  EXPECT_EQ(r.max_restarts, 4u);
  EXPECT_EQ(r.restart_period, std::chrono::milliseconds(30000));
  EXPECT_EQ(r.breaker.consecutive_failures, 0u);
  EXPECT_EQ(r.breaker.window_count, 20u);
  EXPECT_DOUBLE_EQ(r.breaker.failure_rate, 0.25);
  EXPECT_EQ(r.breaker.half_open_trials, 2u);
  EXPECT_EQ(r.breaker.max_open_for, std::chrono::milliseconds(1600));
  // The backoff comes from [restart].
  EXPECT_EQ(r.backoff.base, std::chrono::milliseconds(50));
  EXPECT_EQ(r.backoff.cap, std::chrono::milliseconds(800));
  EXPECT_EQ(r.backoff.stable_after, std::chrono::milliseconds(2000));
  const auto& h = m->health;
  EXPECT_TRUE(h.notify);
  EXPECT_EQ(h.ready_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(h.leak.horizon, std::chrono::milliseconds(120000));
  ASSERT_TRUE(h.liveness.has_value());
  EXPECT_EQ(h.liveness->socket, "run/health.sock");
  EXPECT_EQ(h.liveness->failure_threshold, 2u);
  EXPECT_EQ(h.liveness->timeout, std::chrono::milliseconds(250));
}

class ManifestDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/corral-manifest-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  void write(const std::string& file, const std::string& text) {
    std::ofstream(dir_ + "/" + file) << text;
  }
  std::string dir_;
};

TEST_F(ManifestDir, LoadsValidKeepsFirstDuplicateAndReportsTheRest) {
  write("10-b.toml", "name = \"b\"\nexec = \"/bin/true\"\n");
  write("20-a.toml", "name = \"a\"\nexec = \"/bin/true\"\n");
  write("30-dup.toml", "name = \"b\"\nexec = \"/bin/false\"\n");
  write("40-bad.toml", "name = \"c\"\nexec = \"relative\"\n[stop]\ntimeout_ms = -1\n");
  write("README", "not a manifest");
  write(".hidden.toml", "garbage [");
  auto set = load_manifests(dir_);
  ASSERT_TRUE(set.has_value()) << set.error().describe();
  ASSERT_EQ(set->manifests.size(), 2u);
  EXPECT_EQ(set->manifests[0].name, "a");
  EXPECT_EQ(set->manifests[1].name, "b");
  EXPECT_EQ(set->manifests[1].exec, "/bin/true");  // the first file wins
  ASSERT_EQ(set->problems.size(), 3u);
  EXPECT_THAT(set->problems[0], HasSubstr("30-dup.toml: name: plugin \"b\" is already defined in"));
  EXPECT_THAT(set->problems[0], HasSubstr("10-b.toml"));
  EXPECT_THAT(set->problems[1], HasSubstr("40-bad.toml: exec"));
  EXPECT_THAT(set->problems[2], HasSubstr("40-bad.toml: stop.timeout_ms"));
}

TEST_F(ManifestDir, MissingDirectoryIsAnError) {
  auto set = load_manifests(dir_ + "/nope");
  ASSERT_FALSE(set.has_value());
  EXPECT_EQ(set.error().errnum, ENOENT);
  EXPECT_THAT(set.error().message, HasSubstr("/nope"));
}

TEST_F(ManifestDir, HostCheckFindsMissingAndNonExecutableFiles) {
  Manifest m;
  m.source = "x.toml";
  m.exec = dir_ + "/missing";
  auto r = check_manifest_on_host(m);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().describe(), HasSubstr("No such file"));
  write("plain", "data");
  m.exec = dir_ + "/plain";
  r = check_manifest_on_host(m);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, HasSubstr("is not an executable file"));
  m.exec = "/bin/true";
  m.working_dir = dir_ + "/plain";
  EXPECT_TRUE(check_manifest_on_host(m).has_value()) << "a sandbox's working_dir is inside it";
  m.isolation.enabled = false;
  r = check_manifest_on_host(m);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, HasSubstr("is not a directory"));
  m.working_dir = dir_;
  EXPECT_TRUE(check_manifest_on_host(m).has_value());
}

}  // namespace
}  // namespace corral::supervisor

namespace corral::supervisor {
namespace {

TEST(ManifestIsolation, DefaultsToAFullSandbox) {
  auto m = parse_manifest("name = \"a\"\nexec = \"/bin/true\"\n", "a.toml");
  ASSERT_TRUE(m.has_value());
  EXPECT_TRUE(m->isolation.enabled);
  EXPECT_EQ(m->isolation.uid, 1000u);
  EXPECT_EQ(m->isolation.gid, 1000u);
  EXPECT_EQ(m->isolation.hostname, "a");
  EXPECT_FALSE(m->isolation.host_network);
  EXPECT_TRUE(m->isolation.binds.empty());
  EXPECT_EQ(m->isolation.tmp_size, 64u << 20);
}

TEST(ManifestIsolation, ParsesEveryKey) {
  auto m = parse_manifest(R"x(name = "a"
exec = "/bin/true"
[sandbox]
uid = 0
gid = 50
hostname = "box-1"
network = "host"
ro_binds = ["/opt/data", "/srv/x:/data"]
binds = ["/var/cache/a:/cache"]
tmp_size = "8M"
state_size = "1G"
)x",
                          "a.toml");
  ASSERT_TRUE(m.has_value()) << m.error().message;
  const auto& iso = m->isolation;
  EXPECT_EQ(iso.state_size, uint64_t{1} << 30);
  EXPECT_EQ(iso.uid, 0u);
  EXPECT_EQ(iso.gid, 50u);
  EXPECT_EQ(iso.hostname, "box-1");
  EXPECT_TRUE(iso.host_network);
  ASSERT_EQ(iso.binds.size(), 3u);
  EXPECT_EQ(iso.binds[0].source, "/opt/data");
  EXPECT_EQ(iso.binds[0].target, "");
  EXPECT_FALSE(iso.binds[0].writable);
  EXPECT_EQ(iso.binds[1].target, "/data");
  EXPECT_EQ(iso.binds[2].source, "/var/cache/a");
  EXPECT_TRUE(iso.binds[2].writable);
  EXPECT_EQ(iso.tmp_size, 8u << 20);
}

TEST(ManifestIsolation, RejectsBadValuesNamingTheKey) {
  auto m = parse_manifest(R"x(name = "a"
exec = "/bin/true"
[sandbox]
uid = 70000
network = "bridge"
ro_binds = ["relative/path", "/a/../b"]
binds = ["/x:y"]
hostname = "no spaces"
isolation = "partial"
tmp_size = "1K"
)x",
                          "a.toml");
  ASSERT_FALSE(m.has_value());
  const auto& msg = m.error().message;
  EXPECT_THAT(msg, HasSubstr("sandbox.uid"));
  EXPECT_THAT(msg, HasSubstr("sandbox.network: must be \"none\", \"host\" or { allow = [...] }"));
  EXPECT_THAT(msg, HasSubstr("sandbox.ro_binds: \"relative/path\""));
  EXPECT_THAT(msg, HasSubstr("sandbox.ro_binds: \"/a/../b\""));
  EXPECT_THAT(msg, HasSubstr("sandbox.binds: \"/x:y\""));
  EXPECT_THAT(msg, HasSubstr("sandbox.hostname"));
  EXPECT_THAT(msg, HasSubstr("sandbox.isolation: must be \"full\" or \"none\""));
  EXPECT_THAT(msg, HasSubstr("sandbox.tmp_size"));
}

TEST(ManifestIsolation, NoneMustBeSpelledOutAndExcludesSandboxKeys) {
  auto m = parse_manifest("name = \"a\"\nexec = \"/bin/true\"\n[sandbox]\nisolation = \"none\"\n",
                          "a.toml");
  ASSERT_TRUE(m.has_value());
  EXPECT_FALSE(m->isolation.enabled);
  m = parse_manifest(
      "name = \"a\"\nexec = \"/bin/true\"\n[sandbox]\nisolation = \"none\"\nnetwork = \"host\"\n",
      "a.toml");
  ASSERT_FALSE(m.has_value());
  EXPECT_THAT(m.error().message, HasSubstr("need a sandbox"));
}

TEST(ManifestIsolation, BindSpecs) {
  auto b = parse_bind_spec("/src:/dst", true);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->source, "/src");
  EXPECT_EQ(b->target, "/dst");
  EXPECT_TRUE(b->writable);
  EXPECT_FALSE(parse_bind_spec("", false).has_value());
  EXPECT_FALSE(parse_bind_spec("/src:", false).has_value());
  EXPECT_FALSE(parse_bind_spec("/src:/a/..", false).has_value());
}

}  // namespace
}  // namespace corral::supervisor
