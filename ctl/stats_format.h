// Rendering of telemetry for corralctl: `stats NAME` as a block of labelled lines, and `top` as
// a table of every plugin, sized to the terminal. Pure functions of their inputs (unit-tested).
#pragma once

#include <cstdint>
#include <string>

#include "corral/v1/control.pb.h"

namespace corral::ctl {

// 512B, 1.5K, 20.0M, 3.2G (powers of 1024)
[[nodiscard]] std::string format_bytes(double bytes);
[[nodiscard]] std::string format_stats(const v1::PluginStats& s, int64_t now_ms);
// Every plugin of `list`, with its stats when it has them; `width` columns at most.
[[nodiscard]] std::string format_top(const v1::ListResponse& list, const v1::StatsResponse& stats,
                                     int64_t now_ms, size_t width);

}  // namespace corral::ctl
