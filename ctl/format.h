// Human-readable rendering of corrald's answers for corralctl: the plugin table, the status
// block and durations. Pure functions of their inputs (now is passed in) so they are unit-tested.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "corral/v1/control.pb.h"

namespace corral::ctl {

// "running", "backoff", ... (lowercase word for a state)
[[nodiscard]] std::string state_word(v1::PluginState s);
// 3s, 2m05s, 1h02m, 3d04h
[[nodiscard]] std::string format_duration_ms(int64_t ms);
[[nodiscard]] std::string format_table(const v1::ListResponse& list, int64_t now_ms);
// "100", "20 open", "0 open quarantined"; "-" from a corrald without recovery.
[[nodiscard]] std::string health_word(const v1::PluginInfo& p);
// Rows as left-aligned columns two spaces apart, one line each.
[[nodiscard]] std::string format_columns(const std::vector<std::vector<std::string>>& rows);
[[nodiscard]] std::string format_status(const v1::PluginInfo& p, int64_t now_ms);
// `corralctl doctor`: one line per host check, then what corrald uses.
[[nodiscard]] std::string format_doctor(const v1::DoctorResponse& d);
// One log line as shown by `corralctl logs`: its text, " [...]" appended when the capture split
// an overlong line there. stdout and stderr lines look alike.
[[nodiscard]] std::string format_log_line(const v1::LogLine& line);

}  // namespace corral::ctl
