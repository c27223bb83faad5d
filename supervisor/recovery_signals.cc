#include "supervisor/recovery_signals.h"

namespace corral::supervisor {

recovery::Signal recovery_signal_of(const TelemetryEvent& ev) {
  recovery::Signal s;
  const Violation& v = ev.violation;
  s.kind =
      v.metric == "oom_kill" ? recovery::SignalKind::kOomKill : recovery::SignalKind::kThreshold;
  s.cause = v.describe() + (ev.detail.empty() ? "" : ": " + ev.detail);
  s.severity = v.severity;
  s.cleared = v.cleared;
  s.metric = v.metric;
  s.at_unix_ms = ev.at_unix_ms;
  return s;
}

}  // namespace corral::supervisor
