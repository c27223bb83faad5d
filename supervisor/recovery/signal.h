// Signal: one thing that happened to a plugin, normalized from its source (the pidfd, the
// telemetry service, the seccomp listener, a health check, an operator) into the one stream
// the recovery engine and the health score consume. Plain data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "supervisor/thresholds.h"

namespace corral::supervisor::recovery {

enum class SignalKind : uint8_t {
  kExit,          // the run ended (failure says whether its restart policy calls it one)
  kLaunchFailed,  // the program never ran
  kOomKill,       // the kernel's OOM killer took a process of the run
  kSeccomp,       // a call its seccomp profile denies
  kThreshold,     // a telemetry threshold was crossed (or cleared)
  kLeak,          // a trend predicts the limit within the leak horizon
  kLiveness,      // a liveness probe failed failure_threshold times in a row
  kProbeOk,       // a liveness probe succeeded
  kReady,         // the run said it is ready (or has no readiness check and started)
  kNotReady,      // the run was not ready within its readiness timeout
  kStable,        // the run has been up for the stable period
  kOperator,      // an operator command (reset, start, stop)
};
inline constexpr size_t kSignalKinds = 12;
[[nodiscard]] std::string_view signal_kind_name(SignalKind k);  // "exit", "oom_kill", ...

struct Signal {
  uint64_t id = 0;  // corrald-wide, increasing
  SignalKind kind = SignalKind::kExit;
  Clock::time_point at{};
  int64_t at_unix_ms = 0;
  std::string cause;    // "exited with code 3", "fds 600 >= 500 (critical)", ...
  bool failure = true;  // kExit: whether the restart policy counts it as a failure
  // Whether the restart policy allows a restart after it (kExit: after this exit; otherwise:
  // unless the policy is "no").
  bool restart_wanted = true;
  Severity severity = Severity::kWarning;  // kThreshold, kLeak
  bool cleared = false;                    // kThreshold: the level went back to ok
  std::string metric;                      // kThreshold, kLeak: "fds", "memory_percent", ...
};

}  // namespace corral::supervisor::recovery
