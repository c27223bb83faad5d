// recovery_signal_of: a telemetry violation as a recovery Signal (an OOM kill, a threshold
// crossed or cleared, a denied connect or bind), with its cause in words.
#pragma once

#include "supervisor/recovery/signal.h"
#include "supervisor/telemetry_service.h"

namespace corral::supervisor {

[[nodiscard]] recovery::Signal recovery_signal_of(const TelemetryEvent& ev);

}  // namespace corral::supervisor
