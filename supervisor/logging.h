// corrald's own log: spdlog to stderr, either human text (with <N> syslog priority prefixes and no
// timestamp when stderr is the systemd journal, which stamps lines itself) or JSON lines.
#pragma once

#include <string_view>

#include "common/error.h"
#include "supervisor/config.h"

namespace corral::supervisor {

[[nodiscard]] Result<void> setup_logging(LogFormat format, std::string_view level);
// JSON string escaping for the JSON log format (exposed for tests).
[[nodiscard]] std::string json_escape(std::string_view s);

}  // namespace corral::supervisor
