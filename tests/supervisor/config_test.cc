// corrald.toml parsing and validation: defaults, every key, and a precise problem for bad input.
#include "supervisor/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace corral::supervisor {
namespace {

using ::testing::HasSubstr;

TEST(DaemonConfig, EmptyTextGivesDefaults) {
  auto c = parse_daemon_config("", "c.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->runtime_dir, "/run/corral");
  EXPECT_EQ(c->socket_path(), "/run/corral/control.sock");
  EXPECT_EQ(c->socket_mode, 0660u);
  EXPECT_EQ(c->max_frame_bytes, 1u << 20);
  EXPECT_EQ(c->log_format, LogFormat::kText);
}

TEST(DaemonConfig, ParsesEveryKey) {
  auto c = parse_daemon_config(R"x(
[daemon]
runtime_dir = "/tmp/r"
state_dir = "/tmp/s"
plugins_dir = "/tmp/p"
log_format = "json"
log_level = "debug"
[control]
socket = "/tmp/r/x.sock"
socket_mode = "0600"
socket_group = "root"
max_frame_bytes = 4096
max_connections = 7
)x",
                               "c.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->runtime_dir, "/tmp/r");
  EXPECT_EQ(c->state_dir, "/tmp/s");
  EXPECT_EQ(c->plugins_dir, "/tmp/p");
  EXPECT_EQ(c->log_format, LogFormat::kJson);
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_EQ(c->socket_path(), "/tmp/r/x.sock");
  EXPECT_EQ(c->socket_mode, 0600u);
  EXPECT_EQ(c->socket_group, "root");
  EXPECT_EQ(c->max_frame_bytes, 4096u);
  EXPECT_EQ(c->max_connections, 7u);
  EXPECT_TRUE(validate_daemon_config(*c).has_value());
}

TEST(DaemonConfig, ReportsEveryProblemWithFileAndKey) {
  auto c = parse_daemon_config(R"x(
[daemon]
log_format = "xml"
runtime_dri = "/tmp"
[control]
max_frame_bytes = -1
socket_mode = "0666"
[extra]
)x",
                               "bad.toml");
  ASSERT_FALSE(c.has_value());
  const std::string& m = c.error().message;
  EXPECT_EQ(c.error().code, Code::kInvalidArgument);
  EXPECT_THAT(m, HasSubstr("bad.toml: daemon.log_format: log format must be \"text\" or \"json\""));
  EXPECT_THAT(m, HasSubstr("bad.toml: daemon.runtime_dri: unknown key"));
  EXPECT_THAT(m, HasSubstr("bad.toml: control.max_frame_bytes: must be between 1024 and"));
  EXPECT_THAT(m, HasSubstr("got -1"));
  EXPECT_THAT(m, HasSubstr("control.socket_mode: must not give access to others"));
  EXPECT_THAT(m, HasSubstr("bad.toml: extra: unknown key"));
}

TEST(DaemonConfig, CgroupSection) {
  auto c = parse_daemon_config("[cgroup]\nmode = \"none\"\nparent = \"corral-x\"\n", "c.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_FALSE(c->cgroups);
  EXPECT_EQ(c->cgroup_parent, "corral-x");
  auto bad = parse_daemon_config("[cgroup]\nmode = \"v3\"\nparent = \"../escape\"\n", "c.toml");
  ASSERT_FALSE(bad.has_value());
  EXPECT_THAT(bad.error().message, HasSubstr("cgroup.mode: must be \"auto\" or \"none\""));
  EXPECT_THAT(bad.error().message, HasSubstr("cgroup.parent: must be one directory name"));
}

TEST(DaemonConfig, TelemetrySection) {
  auto d = parse_daemon_config("", "c.toml");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->telemetry_interval_ms, 1000u);
  EXPECT_EQ(d->telemetry_watch_interval_ms, 5u);
  auto c = parse_daemon_config(
      "[telemetry]\nmode = \"fallback\"\ninterval_ms = 250\nwatch_interval_ms = 0\n", "c.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->telemetry, DaemonConfig::TelemetryMode::kFallback);
  EXPECT_EQ(c->telemetry_interval_ms, 250u);
  EXPECT_EQ(c->telemetry_watch_interval_ms, 0u);
  auto bad =
      parse_daemon_config("[telemetry]\nwatch_interval_ms = 1001\ninterval_ms = 5\n", "c.toml");
  ASSERT_FALSE(bad.has_value());
  EXPECT_THAT(bad.error().message, HasSubstr("telemetry.watch_interval_ms: must be between 0 and"));
  EXPECT_THAT(bad.error().message, HasSubstr("telemetry.interval_ms: must be between 10 and"));
}

TEST(DaemonConfig, SyntaxErrorNamesLine) {
  auto c = parse_daemon_config("[daemon]\nruntime_dir = \n", "syn.toml");
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().message, HasSubstr("syn.toml: line 2"));
}

TEST(DaemonConfig, WrongTypes) {
  auto c = parse_daemon_config("daemon = 3\n[control]\nmax_connections = \"many\"\n", "t.toml");
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().message, HasSubstr("t.toml: daemon: must be a table"));
  EXPECT_THAT(c.error().message, HasSubstr("t.toml: control.max_connections: must be an integer"));
}

TEST(DaemonConfig, ValidateRejectsRelativeDirsLongSocketAndUnknownGroup) {
  DaemonConfig c;
  c.runtime_dir = "run";
  c.socket = "/" + std::string(200, 'x');
  c.socket_group = "no-such-group-corral-test";
  auto ok = validate_daemon_config(c);
  ASSERT_FALSE(ok.has_value());
  EXPECT_THAT(ok.error().message, HasSubstr("daemon.runtime_dir: must be an absolute path"));
  EXPECT_THAT(ok.error().message, HasSubstr("at most 107"));
  EXPECT_THAT(ok.error().message, HasSubstr("no group named \"no-such-group-corral-test\""));
}

TEST(DaemonConfig, MissingDefaultFileIsFineButExplicitOneIsNot) {
  EXPECT_TRUE(load_daemon_config("/nonexistent/corrald.toml", false).has_value());
  auto c = load_daemon_config("/nonexistent/corrald.toml", true);
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().errnum, ENOENT);
}

}  // namespace
}  // namespace corral::supervisor
