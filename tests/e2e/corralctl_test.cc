// The real corralctl binary against a real corrald: output, --json, exit codes, and the errors a
// user sees when the daemon is missing. Also corrald's --check-config and its startup refusals.
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include <google/protobuf/util/json_util.h>

#include <gmock/gmock.h>

#include "tests/e2e/corrald_fixture.h"

namespace corral::e2e {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

class Corralctl : public CorraldFixture {
 protected:
  void start_with_two() {
    write_manifest("a.toml",
                   "name = \"alpha\"\nexec = \"/bin/sh\"\n"
                   "args = [\"-c\", \"echo hello from alpha; exec sleep 600\"]\n");
    write_manifest("b.toml",
                   "name = \"beta\"\nexec = \"/bin/sleep\"\nargs = [\"600\"]\n"
                   "autostart = false\n");
    start_daemon();
    ASSERT_TRUE(wait_state("alpha", v1::RUNNING));
  }
};

TEST_F(Corralctl, ListStatusStartStopLogsVersion) {
  start_with_two();
  auto r = ctl({"list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("NAME"));
  EXPECT_THAT(r.out, HasSubstr("alpha"));
  EXPECT_THAT(r.out, HasSubstr("running"));
  EXPECT_THAT(r.out, HasSubstr("beta"));
  EXPECT_THAT(r.out, HasSubstr("stopped"));

  r = ctl({"start", "beta"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(status("beta").state(), v1::RUNNING);

  r = ctl({"status", "beta"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("running"));
  EXPECT_THAT(r.out, HasSubstr("seccomp:        default (errno)"));
  EXPECT_THAT(r.out, HasSubstr("cgroup:         " + status("beta").cgroup()));
  EXPECT_THAT(r.out, HasSubstr(std::to_string(status("beta").pid())));

  r = ctl({"stop", "beta"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(status("beta").state(), v1::STOPPED);

  ASSERT_TRUE(wait_until([&] { return status("alpha").log_lines() >= 2; }));
  r = ctl({"logs", "alpha", "-n", "50"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("hello from alpha"));

  r = ctl({"version"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("0.1.0"));

  pid_t before = status("alpha").pid();
  r = ctl({"restart", "alpha"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(status("alpha").pid(), before);
}

TEST_F(Corralctl, DoctorReportsTheHostAsCorraldSeesIt) {
  start_with_two();
  auto r = ctl({"doctor"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("cgroups +(ok|MISSING)"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("pidfd +ok"));
  EXPECT_THAT(r.out, HasSubstr("corrald uses: "));
  EXPECT_THAT(r.out, HasSubstr("launcher=direct"));
  if (std::getenv("CORRAL_IN_VM") != nullptr) {  // the v2 lane's kernel mounts only cgroup2
    EXPECT_THAT(r.out, ::testing::ContainsRegex("cgroups +ok +unified \\(cgroup v2\\)"));
    EXPECT_THAT(r.out, HasSubstr("with controllers: cpuset cpu io memory"));
  }
  r = ctl({"--json", "doctor"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::DoctorResponse d;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &d).ok()) << r.out;
  EXPECT_FALSE(d.cgroup_mode().empty());
  EXPECT_GE(d.checks_size(), 9);
  EXPECT_EQ(d.active().at("launcher"), "direct");
  // Telemetry's counters of what it could not deliver or attribute are there, as numbers.
  for (const char* key : {"telemetry.lost_events", "telemetry.unattributed_events"}) {
    ASSERT_TRUE(d.active().contains(key)) << key;
    EXPECT_THAT(d.active().at(key), ::testing::MatchesRegex("[0-9]+")) << key;
  }
}

TEST_F(Corralctl, JsonOutputIsMachineReadable) {
  start_with_two();
  auto r = ctl({"--json", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::ListResponse parsed;
  auto st = google::protobuf::util::JsonStringToMessage(r.out, &parsed);
  ASSERT_TRUE(st.ok()) << st.ToString() << "\n" << r.out;
  ASSERT_EQ(parsed.plugins_size(), 2);
  EXPECT_EQ(parsed.plugins(0).name(), "alpha");
  EXPECT_EQ(parsed.plugins(0).state(), v1::RUNNING);

  r = ctl({"--json", "status", "alpha"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::PluginInfo info;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &info).ok()) << r.out;
  EXPECT_EQ(info.name(), "alpha");
}

TEST_F(Corralctl, ExitCodesForUserErrors) {
  start_with_two();
  auto r = ctl({"status", "nope"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("no plugin named \"nope\""));

  r = ctl({"status", "bad/name"});
  EXPECT_EQ(r.exit_code, 4) << r.err;

  r = ctl({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2) << r.err;

  r = ctl({"status"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST(CorralctlNoDaemon, SaysTheDaemonIsNotRunning) {
  auto r = run_command({std::string(CORRAL_BINARY_DIR) + "/ctl/corralctl", "--socket",
                        "/tmp/corral-no-such-dir/control.sock", "list"});
  EXPECT_EQ(r.exit_code, 69) << r.err;
  EXPECT_THAT(r.err, HasSubstr("not running"));
  EXPECT_THAT(r.err, HasSubstr("/tmp/corral-no-such-dir/control.sock"));

  // The environment variable is honoured too.
  r = run_command({std::string(CORRAL_BINARY_DIR) + "/ctl/corralctl", "list"},
                  {"CORRAL_SOCKET=/tmp/corral-no-such-dir/env.sock"});
  EXPECT_EQ(r.exit_code, 69);
  EXPECT_THAT(r.err, HasSubstr("env.sock"));
}

class CheckConfig : public CorraldFixture {
 protected:
  CommandResult corrald(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {std::string(CORRAL_BINARY_DIR) + "/supervisor/corrald"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  }
};

TEST_F(CheckConfig, ValidSetupPasses) {
  write_manifest("a.toml", "name = \"a\"\nexec = \"/bin/true\"\n");
  auto r = corrald({"--config", "/dev/null", "--plugins-dir", plugins_dir_, "--check-config"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("ok: config and 1 valid plugin manifest(s)"));
}

TEST_F(CheckConfig, EveryBadManifestIsNamed) {
  write_manifest("a.toml", "name = \"a\"\nexec = \"/bin/true\"\n");
  write_manifest("b.toml", "name = \"a\"\nexec = \"/bin/true\"\n");
  write_manifest("c.toml", "name = \"c d\"\nexec = \"rel\"\n[limits]\nnofile = -3\n");
  write_manifest("d.toml", "name = \"d\"\nexec = \"/nonexistent/bin\"\n");
  auto r = corrald({"--config", "/dev/null", "--plugins-dir", plugins_dir_, "--check-config"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("b.toml: name: plugin \"a\" is already defined in"));
  EXPECT_THAT(r.err, HasSubstr("c.toml: name:"));
  EXPECT_THAT(r.err, HasSubstr("c.toml: exec: must be an absolute path"));
  EXPECT_THAT(r.err, HasSubstr("c.toml: limits.nofile: must be between 1 and 1048576, got -3"));
  EXPECT_THAT(r.err, HasSubstr("d.toml: exec: cannot use \"/nonexistent/bin\""));
  EXPECT_THAT(r.out, HasSubstr("invalid"));
}

TEST_F(CheckConfig, BadConfigFileAndFlags) {
  std::string conf = dir_ + "/corrald.toml";
  std::ofstream(conf) << "[control]\nmax_frame_bytes = 5\nsocket_mode = \"0777\"\n";
  auto r = corrald({"--config", conf, "--check-config"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("control.max_frame_bytes"));
  EXPECT_THAT(r.err, HasSubstr("control.socket_mode"));

  r = corrald({"--config", dir_ + "/missing.toml", "--check-config"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("missing.toml"));

  r = corrald({"--config", "/dev/null", "--log-format", "yaml", "--check-config"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--log-format"));

  r = corrald({"--no-such-flag"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(CheckConfig, InvalidManifestsAreSkippedAtStartupAndLogged) {
  write_manifest("good.toml", "name = \"good\"\nexec = \"/bin/sleep\"\nargs = [\"600\"]\n");
  write_manifest("bad.toml",
                 "name = \"bad\"\nexec = \"/bin/true\"\n[restart]\npolicy = \"maybe\"\n");
  start_daemon();
  auto c = client();
  auto list = c.list();
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->plugins_size(), 1);
  EXPECT_EQ(list->plugins(0).name(), "good");
  EXPECT_THAT(daemon_log(), HasSubstr("bad.toml: restart.policy"));
}

TEST_F(CheckConfig, SecondDaemonOnTheSameRuntimeDirRefuses) {
  start_daemon();
  auto r =
      corrald({"--config", "/dev/null", "--runtime-dir", runtime_dir_, "--state-dir", state_dir_,
               "--plugins-dir", plugins_dir_, "--socket", runtime_dir_ + "/other.sock"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("another corrald (pid " + std::to_string(daemon_pid_) + ")"));
  // The live daemon's socket is untouched.
  auto c = client();
  EXPECT_TRUE(c.list().has_value());
}

TEST_F(CheckConfig, LiveSocketElsewhereIsNotStolen) {
  start_daemon();
  std::string other_run = dir_ + "/run2";
  auto r = corrald({"--config", "/dev/null", "--runtime-dir", other_run, "--state-dir",
                    state_dir_ + "2", "--plugins-dir", plugins_dir_, "--socket", socket_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("another daemon is listening on " + socket_));
  auto c = client();
  EXPECT_TRUE(c.list().has_value());
}

TEST_F(CheckConfig, SocketHasTheConfiguredMode) {
  std::string conf = dir_ + "/corrald.toml";
  std::ofstream(conf) << "[control]\nsocket_mode = \"0600\"\nsocket_group = \"root\"\n"
                      << cgroup_section();
  write_manifest("a.toml", "name = \"a\"\nexec = \"/bin/true\"\nautostart = false\n");
  start_daemon({"--config", conf});
  struct stat st {};
  ASSERT_EQ(::stat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_gid, 0u);
}

TEST_F(CheckConfig, JsonLogFormat) {
  write_manifest("a.toml", "name = \"a\"\nexec = \"/bin/true\"\nautostart = false\n");
  start_daemon({"--log-format", "json"});
  std::string log = daemon_log();
  ASSERT_FALSE(log.empty());
  std::istringstream lines(log);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    EXPECT_EQ(line.rfind("{\"ts\":", 0), 0u) << line;
    EXPECT_EQ(line.back(), '}') << line;
    ++n;
  }
  EXPECT_GT(n, 0);
}

}  // namespace
}  // namespace corral::e2e

namespace corral::e2e {
namespace {

TEST_F(CheckConfig, ConnectionCapRefusesTheExtraClientClearly) {
  std::string conf = dir_ + "/corrald.toml";
  std::ofstream(conf) << "[control]\nmax_connections = 2\n" << cgroup_section();
  start_daemon({"--config", conf});
  // start_daemon's readiness probe connected and left; wait until corrald has noticed.
  UniqueFd a = raw_connect();
  UniqueFd b = raw_connect();
  ASSERT_TRUE(send_request(a.get(), hello_request()));
  ASSERT_TRUE(send_request(b.get(), hello_request()));
  ASSERT_TRUE(read_response(a.get()).has_value());
  ASSERT_TRUE(read_response(b.get()).has_value());
  auto r = ctl({"list"});
  EXPECT_EQ(r.exit_code, 75) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("too many connections: 2 open, the cap is 2"));
  a.reset();
  EXPECT_TRUE(wait_until([&] { return ctl({"list"}).exit_code == 0; }));
}

}  // namespace
}  // namespace corral::e2e
