// Restart policy: whether a plugin's ended run is restarted ([restart] policy) and the pacing
// settings its restarts use (recovery/backoff.h draws the jittered delays from them).
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "common/clock.h"
#include "sandbox/process.h"

namespace corral::supervisor {

enum class RestartPolicy { kNo, kOnFailure, kAlways };

[[nodiscard]] std::optional<RestartPolicy> parse_restart_policy(std::string_view s);
[[nodiscard]] std::string_view restart_policy_name(RestartPolicy p);

struct RestartSettings {
  RestartPolicy policy = RestartPolicy::kOnFailure;
  std::chrono::milliseconds delay{1000};          // first restart delay
  std::chrono::milliseconds max_delay{30000};     // cap for the doubling
  std::chrono::milliseconds stable_after{10000};  // a run this long resets the doubling
};

}  // namespace corral::supervisor
