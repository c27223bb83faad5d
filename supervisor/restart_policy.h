// Restart policy and backoff: decides, from how a plugin's run ended and how long it lasted,
// whether to restart it and after what delay. Pure logic over time points (the caller's Clock),
// so it is unit-tested without sleeping.
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

class RestartBackoff {
 public:
  explicit RestartBackoff(RestartSettings settings) : settings_(settings) {}

  void on_started(Clock::time_point now) { started_ = now; }
  // After the process exited: the delay before the next start, or nullopt to stay down.
  [[nodiscard]] std::optional<Clock::duration> on_exited(const sandbox::ExitStatus& status,
                                                         Clock::time_point now);
  // After a launch failed (the program never ran): always a failure.
  [[nodiscard]] std::optional<Clock::duration> on_launch_failed();
  // An operator start: forget earlier quick failures.
  void reset() { quick_failures_ = 0; }

  [[nodiscard]] unsigned quick_failures() const { return quick_failures_; }
  [[nodiscard]] const RestartSettings& settings() const { return settings_; }

 private:
  [[nodiscard]] Clock::duration next_delay();

  RestartSettings settings_;
  Clock::time_point started_{};
  unsigned quick_failures_ = 0;
};

}  // namespace corral::supervisor
