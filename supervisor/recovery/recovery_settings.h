// RecoverySettings: a manifest's [recovery] section as plain data: which strategy answers each
// kind of signal, the breaker's rule, the restart pacing and the intensity limit. The defaults
// are what a plugin without the section gets (docs/reference.md, "[recovery]").
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "supervisor/recovery/backoff.h"
#include "supervisor/recovery/circuit_breaker.h"

namespace corral::supervisor::recovery {

enum class Strategy : uint8_t {
  kNone,        // recorded (health score, events), nothing done
  kRestart,     // stop the run if it still runs, start again after the backoff
  kReload,      // send the reload signal to the run's process group
  kDegrade,     // freeze the run, or cut its network, until the signal clears or a reset
  kQuarantine,  // freeze the run and keep it (cgroup, processes, logs) for inspection
  kEscalate,    // stop the run, raise a critical alert, no automatic recovery until a reset
};
[[nodiscard]] std::string_view strategy_name(Strategy s);
[[nodiscard]] std::optional<Strategy> parse_strategy(std::string_view s);

enum class DegradeMode : uint8_t { kFreeze, kCutNetwork };
[[nodiscard]] std::string_view degrade_mode_name(DegradeMode m);  // "freeze", "cut-network"
[[nodiscard]] std::optional<DegradeMode> parse_degrade_mode(std::string_view s);

struct RecoverySettings {
  Strategy on_exit = Strategy::kRestart;  // a run that ended (per [restart] policy)
  Strategy on_oom = Strategy::kRestart;   // an OOM kill while the run still runs
  // A denied call: recorded (and fatal to the breaker when acted on); the profile's own action
  // (fail the call, kill the run) applies regardless. "quarantine" is for plugins that must not
  // probe at all.
  Strategy on_seccomp = Strategy::kNone;
  Strategy on_critical = Strategy::kNone;      // a threshold's critical level
  Strategy on_leak = Strategy::kNone;          // a trend alert (the score drops regardless)
  Strategy on_liveness = Strategy::kRestart;   // a failed liveness probe
  Strategy on_not_ready = Strategy::kRestart;  // not ready within the readiness timeout
  int reload_signal = 1;                       // SIGHUP
  DegradeMode degrade = DegradeMode::kFreeze;
  // The restart-intensity limit: more than this many automatic restarts within the period
  // escalates instead (0: no limit).
  unsigned max_restarts = 10;
  std::chrono::milliseconds restart_period{60000};
  // A Half-Open trial succeeds once the trial run has been ready this long.
  std::chrono::milliseconds trial_for{1000};
  BreakerSettings breaker;
  BackoffSettings backoff;  // from [restart] delay_ms, max_delay_ms, stable_after_ms
};

}  // namespace corral::supervisor::recovery
