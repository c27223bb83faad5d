// Rendering of corrald's recovery answers for corralctl: `health NAME` (score, reasons,
// breaker, checks, trends), `breakers` (one row per plugin) and `events` (one line per event).
// Pure functions of their inputs (now is passed in), unit-tested.
#pragma once

#include <cstdint>
#include <string>

#include "corral/v1/control.pb.h"

namespace corral::ctl {

[[nodiscard]] std::string format_health(const v1::HealthReport& h, int64_t now_ms);
[[nodiscard]] std::string format_breakers(const v1::BreakersResponse& b, int64_t now_ms);
// "2026-12-03 08:01:02.345  alpha  transition  closed -> open: exited with code 1 (...)"
[[nodiscard]] std::string format_event(const v1::RecoveryEvent& e);

}  // namespace corral::ctl
