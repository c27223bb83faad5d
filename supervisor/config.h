// DaemonConfig: corrald's settings (docs/reference.md, "corrald.toml") as a plain struct, parsed
// from TOML with every problem reported, then overridden by command-line flags.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/error.h"
#include "supervisor/auth_config.h"

namespace corral::supervisor {

enum class LogFormat { kText, kJson };

struct DaemonConfig {
  std::string runtime_dir = "/run/corral";
  std::string state_dir = "/var/lib/corral";
  std::string plugins_dir = "/etc/corral/plugins.d";
  LogFormat log_format = LogFormat::kText;
  std::string log_level = "info";

  std::string socket;  // empty: <runtime_dir>/control.sock (see socket_path())
  mode_t socket_mode = 0660;
  std::string socket_group;  // empty: leave the socket's group alone
  uint32_t max_frame_bytes = 1u << 20;
  // Connection caps (systemd's varlink uses the same: 4096 in all, 1024 per uid).
  uint32_t max_connections = 4096;
  uint32_t max_connections_per_uid = 1024;
  // A frame begun must be complete within frame_timeout_ms (no slow-loris); a connection with
  // nothing in flight and no stream open is closed after idle_timeout_ms.
  uint32_t frame_timeout_ms = 5000;
  uint32_t idle_timeout_ms = 300000;
  // Token bucket per peer uid (a role may set its own); 0: unlimited. A client over it is
  // slowed (its connection is not read until a token is there), not refused.
  double requests_per_second = 20000;
  uint32_t burst = 40000;
  // A subscriber with more than this many bytes of events not yet taken by its client is
  // dropped (it resumes from its last seq).
  uint32_t subscriber_buffer_bytes = 1u << 20;
  AuthConfig auth;
  // One-shot runs (`corralctl run`): at most this many live at once per client uid, and a
  // finished one stays visible (status, logs) this long before it is garbage-collected.
  uint32_t max_runs_per_uid = 16;
  uint32_t run_retention_ms = 600000;

  bool cgroups = true;  // [cgroup] mode: "auto" (true) or "none"
  std::string cgroup_parent =
      "corral";  // v1: under each hierarchy root; v2: under corrald's cgroup

  // [sandbox]: plugin i gets host ids [id_base + i*id_count, +id_count). The default is the range
  // systemd reserves for containers (524288 = 0x80000, 64 Ki ids each).
  uid_t id_base = 524288;
  uint32_t id_count = 65536;
  uint32_t id_slots = 4096;

  // [telemetry]: mode "auto" (BPF where it loads, the fallbacks elsewhere), "fallback" (no BPF)
  // or "off"; every running plugin sampled each interval.
  enum class TelemetryMode { kAuto, kFallback, kOff };
  TelemetryMode telemetry = TelemetryMode::kAuto;
  uint32_t telemetry_interval_ms = 1000;
  // Plugins with a level threshold (fds, sockets, memory_percent, forks_per_second) have those
  // metrics read this often as well, so a crossing is seen within it; 0: only every interval.
  uint32_t telemetry_watch_interval_ms = 5;

  [[nodiscard]] std::string socket_path() const {
    return socket.empty() ? runtime_dir + "/control.sock" : socket;
  }
};

inline constexpr const char* kDefaultConfigPath = "/etc/corral/corrald.toml";

// Parses corrald.toml text; `source` names it in problems. All problems, one per line.
[[nodiscard]] Result<DaemonConfig> parse_daemon_config(std::string_view text,
                                                       const std::string& source);
// Reads and parses a file. A missing file is an error only when `required`.
[[nodiscard]] Result<DaemonConfig> load_daemon_config(const std::string& path, bool required);
// Checks values that depend on each other or on the host (absolute dirs, the group exists).
[[nodiscard]] Result<void> validate_daemon_config(const DaemonConfig& config);
[[nodiscard]] Result<LogFormat> parse_log_format(std::string_view s);
[[nodiscard]] Result<void> check_log_level(std::string_view s);

}  // namespace corral::supervisor
