// The manifest sections that drive recovery: [recovery] (the strategy for each kind of signal,
// the breaker's rule, the restart-intensity limit) and [health] (readiness notification,
// the liveness probe, the leak horizon). Used by parse_manifest; each problem is recorded on the
// reader with its key.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "supervisor/recovery/recovery_settings.h"
#include "supervisor/recovery/trend.h"
#include "supervisor/toml_reader.h"

namespace corral::supervisor {

// [health.liveness]: either a unix socket the plugin listens on (each probe connects and waits
// for the plugin to write at least one byte: a hung plugin accepts nothing or writes nothing),
// or a command run inside the plugin's sandbox (exit 0 is healthy).
struct LivenessProbe {
  std::string socket;             // absolute inside the plugin's root, or relative to /state
  std::vector<std::string> exec;  // argv; argv[0] absolute inside the sandbox
  std::chrono::milliseconds period{10000};
  std::chrono::milliseconds timeout{1000};
  unsigned failure_threshold = 3;  // failures in a row that make one liveness signal
  std::chrono::milliseconds initial_delay{0};
};

struct HealthSettings {
  // ready = "notify": the plugin gets a socket as fd 3 ($NOTIFY_FD) and is ready once it writes
  // "READY=1" (sd_notify's word) or a bare newline (s6's) to it; until then it is not ready,
  // and not ready within ready_timeout is a not_ready signal. "none": ready once started.
  bool notify = false;
  std::chrono::milliseconds ready_timeout{10000};
  std::optional<LivenessProbe> liveness;
  recovery::LeakSettings leak;  // leak_horizon_ms, leak_window_ms
};

void parse_recovery(TomlReader& r, const toml::table& t, recovery::RecoverySettings& out);
void parse_health(TomlReader& r, const toml::table& t, bool sandboxed, HealthSettings& out);

}  // namespace corral::supervisor
