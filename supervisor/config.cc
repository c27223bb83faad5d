#include "supervisor/config.h"

#include <grp.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <vector>

#include "common/files.h"
#include "supervisor/toml_reader.h"

namespace corral::supervisor {

namespace {
constexpr std::array<std::string_view, 5> kLevels = {"trace", "debug", "info", "warn", "error"};
}

Result<LogFormat> parse_log_format(std::string_view s) {
  if (s == "text") return LogFormat::kText;
  if (s == "json") return LogFormat::kJson;
  return make_error(Code::kInvalidArgument,
                    "log format must be \"text\" or \"json\", got \"" + std::string(s) + "\"");
}

Result<void> check_log_level(std::string_view s) {
  for (auto level : kLevels) {
    if (s == level) return {};
  }
  return make_error(
      Code::kInvalidArgument,
      "log level must be one of trace, debug, info, warn, error; got \"" + std::string(s) + "\"");
}

Result<DaemonConfig> parse_daemon_config(std::string_view text, const std::string& source) {
  TomlReader r(source);
  DaemonConfig c;
  auto doc = r.parse(text);
  if (!doc) return std::unexpected(r.error());
  r.reject_unknown(*doc, "",
                   {"daemon", "control", "cgroup", "sandbox", "telemetry", "roles", "auth"});
  parse_auth_config(r, *doc, c.auth);

  if (const toml::table* d = r.table(*doc, "daemon")) {
    r.reject_unknown(*d, "daemon",
                     {"runtime_dir", "state_dir", "plugins_dir", "log_format", "log_level"});
    if (auto v = r.string(*d, "daemon", "runtime_dir")) c.runtime_dir = *v;
    if (auto v = r.string(*d, "daemon", "state_dir")) c.state_dir = *v;
    if (auto v = r.string(*d, "daemon", "plugins_dir")) c.plugins_dir = *v;
    if (auto v = r.string(*d, "daemon", "log_format")) {
      if (auto f = parse_log_format(*v)) {
        c.log_format = *f;
      } else {
        r.problem("daemon.log_format", f.error().message);
      }
    }
    if (auto v = r.string(*d, "daemon", "log_level")) {
      if (auto ok = check_log_level(*v)) {
        c.log_level = *v;
      } else {
        r.problem("daemon.log_level", ok.error().message);
      }
    }
  }
  if (const toml::table* ctl = r.table(*doc, "control")) {
    r.reject_unknown(
        *ctl, "control",
        {"socket", "socket_mode", "socket_group", "max_frame_bytes", "max_connections",
         "max_connections_per_uid", "frame_timeout_ms", "idle_timeout_ms", "requests_per_second",
         "burst", "subscriber_buffer_bytes", "max_runs_per_uid", "run_retention_ms"});
    if (auto v = r.string(*ctl, "control", "socket")) c.socket = *v;
    if (auto v = r.string(*ctl, "control", "socket_mode")) {
      char* end = nullptr;
      errno = 0;
      unsigned long mode = std::strtoul(v->c_str(), &end, 8);
      if (v->empty() || *end != '\0' || errno != 0 || mode > 0777) {
        r.problem("control.socket_mode",
                  "must be an octal mode such as \"0660\", got \"" + *v + "\"");
      } else if ((mode & 0600) != 0600) {
        r.problem("control.socket_mode", "must give the owner (root) read and write");
      } else if ((mode & 0007) != 0) {
        r.problem("control.socket_mode",
                  "must not give access to others: the socket controls root-owned sandboxes");
      } else {
        c.socket_mode = static_cast<mode_t>(mode);
      }
    }
    if (auto v = r.string(*ctl, "control", "socket_group")) c.socket_group = *v;
    if (auto v = r.integer(*ctl, "control", "max_frame_bytes", 1024, 64ll << 20)) {
      c.max_frame_bytes = static_cast<uint32_t>(*v);
    }
    if (auto v = r.integer(*ctl, "control", "max_connections", 1, 65536)) {
      c.max_connections = static_cast<uint32_t>(*v);
    }
    if (auto v = r.integer(*ctl, "control", "max_connections_per_uid", 1, 65536)) {
      c.max_connections_per_uid = static_cast<uint32_t>(*v);
    }
    if (auto v = r.integer(*ctl, "control", "frame_timeout_ms", 10, 600000)) {
      c.frame_timeout_ms = static_cast<uint32_t>(*v);
    }
    if (auto v = r.integer(*ctl, "control", "idle_timeout_ms", 10, 86400000)) {
      c.idle_timeout_ms = static_cast<uint32_t>(*v);
    }
    if (auto v = r.integer(*ctl, "control", "requests_per_second", 0, 10000000)) {
      c.requests_per_second = static_cast<double>(*v);
    }
    if (auto v = r.integer(*ctl, "control", "burst", 1, 10000000)) {
      c.burst = static_cast<uint32_t>(*v);
    }
    if (auto v = r.integer(*ctl, "control", "subscriber_buffer_bytes", 4096, 64ll << 20)) {
      c.subscriber_buffer_bytes = static_cast<uint32_t>(*v);
    }
    if (auto v = r.integer(*ctl, "control", "max_runs_per_uid", 1, 4096)) {
      c.max_runs_per_uid = static_cast<uint32_t>(*v);
    }
    if (auto v = r.integer(*ctl, "control", "run_retention_ms", 0, 7 * 86400000ll)) {
      c.run_retention_ms = static_cast<uint32_t>(*v);
    }
  }
  if (const toml::table* sb = r.table(*doc, "sandbox")) {
    r.reject_unknown(*sb, "sandbox", {"id_base", "id_count", "id_slots"});
    if (auto v = r.integer(*sb, "sandbox", "id_base", 65536, 0xFFFFFFFFll)) {
      c.id_base = static_cast<uid_t>(*v);
    }
    if (auto v = r.integer(*sb, "sandbox", "id_count", 65536, 1 << 24)) {
      c.id_count = static_cast<uint32_t>(*v);
    }
    if (auto v = r.integer(*sb, "sandbox", "id_slots", 1, 1 << 20)) {
      c.id_slots = static_cast<uint32_t>(*v);
    }
    if (uint64_t{c.id_base} + uint64_t{c.id_count} * c.id_slots > 0xFFFFFFFFull) {
      r.problem("sandbox.id_slots", "id_base + id_count * id_slots must stay below 2^32");
    }
  }
  if (const toml::table* cg = r.table(*doc, "cgroup")) {
    r.reject_unknown(*cg, "cgroup", {"mode", "parent"});
    if (auto v = r.string(*cg, "cgroup", "mode")) {
      if (*v == "auto" || *v == "none") {
        c.cgroups = *v == "auto";
      } else {
        r.problem("cgroup.mode", "must be \"auto\" or \"none\", got \"" + *v + "\"");
      }
    }
    if (auto v = r.string(*cg, "cgroup", "parent")) {
      bool ok = !v->empty() && v->size() <= 64 && (*v)[0] != '.' &&
                std::all_of(v->begin(), v->end(), [](char ch) {
                  return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' ||
                         ch == '.';
                });
      if (ok) {
        c.cgroup_parent = *v;
      } else {
        r.problem("cgroup.parent",
                  "must be one directory name (A-Z a-z 0-9 - _ .), got \"" + *v + "\"");
      }
    }
  }
  if (const toml::table* tm = r.table(*doc, "telemetry")) {
    r.reject_unknown(*tm, "telemetry", {"mode", "interval_ms", "watch_interval_ms"});
    if (auto v = r.string(*tm, "telemetry", "mode")) {
      if (*v == "auto") {
        c.telemetry = DaemonConfig::TelemetryMode::kAuto;
      } else if (*v == "fallback") {
        c.telemetry = DaemonConfig::TelemetryMode::kFallback;
      } else if (*v == "off") {
        c.telemetry = DaemonConfig::TelemetryMode::kOff;
      } else {
        r.problem("telemetry.mode",
                  "must be \"auto\", \"fallback\" or \"off\", got \"" + *v + "\"");
      }
    }
    if (auto v = r.integer(*tm, "telemetry", "interval_ms", 10, 3600000)) {
      c.telemetry_interval_ms = static_cast<uint32_t>(*v);
    }
    if (auto v = r.integer(*tm, "telemetry", "watch_interval_ms", 0, 1000)) {
      c.telemetry_watch_interval_ms = static_cast<uint32_t>(*v);
    }
  }
  if (!r.ok()) return std::unexpected(r.error());
  return c;
}

Result<DaemonConfig> load_daemon_config(const std::string& path, bool required) {
  auto text = read_file(path, 1 << 20);
  if (!text) {
    if (!required && text.error().errnum == ENOENT) return DaemonConfig{};
    return std::unexpected(text.error().wrap("reading config"));
  }
  return parse_daemon_config(*text, path);
}

Result<void> validate_daemon_config(const DaemonConfig& c) {
  std::vector<std::string> problems;
  auto absolute = [&](std::string_view key, const std::string& value) {
    if (value.empty() || value[0] != '/') {
      problems.push_back(std::string(key) + ": must be an absolute path, got \"" + value + "\"");
    }
  };
  absolute("daemon.runtime_dir", c.runtime_dir);
  absolute("daemon.state_dir", c.state_dir);
  absolute("daemon.plugins_dir", c.plugins_dir);
  absolute("control.socket", c.socket_path());
  // sun_path holds 108 bytes including the terminating NUL.
  if (c.socket_path().size() > 107) {
    problems.push_back("control.socket: path is " + std::to_string(c.socket_path().size()) +
                       " bytes, a unix socket path may have at most 107");
  }
  if (!c.socket_group.empty()) {
    errno = 0;
    if (::getgrnam(c.socket_group.c_str()) == nullptr) {
      problems.push_back("control.socket_group: no group named \"" + c.socket_group + "\"" +
                         (errno != 0 ? std::string(" (lookup failed)") : std::string()));
    }
  }
  if (problems.empty()) return {};
  std::string msg;
  for (const auto& p : problems) msg += (msg.empty() ? "" : "\n") + p;
  return make_error(Code::kInvalidArgument, msg);
}

}  // namespace corral::supervisor
