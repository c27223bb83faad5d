#include "supervisor/restart_policy.h"

#include <algorithm>

namespace corral::supervisor {

std::optional<RestartPolicy> parse_restart_policy(std::string_view s) {
  if (s == "no") return RestartPolicy::kNo;
  if (s == "on-failure") return RestartPolicy::kOnFailure;
  if (s == "always") return RestartPolicy::kAlways;
  return std::nullopt;
}

std::string_view restart_policy_name(RestartPolicy p) {
  switch (p) {
    case RestartPolicy::kNo:
      return "no";
    case RestartPolicy::kOnFailure:
      return "on-failure";
    case RestartPolicy::kAlways:
      return "always";
  }
  return "?";
}

Clock::duration RestartBackoff::next_delay() {
  // delay * 2^n, capped; computed in milliseconds without overflow.
  auto delay = settings_.delay;
  for (unsigned i = 0; i < quick_failures_ && delay < settings_.max_delay; ++i) {
    delay = delay.count() == 0 ? delay : delay * 2;
  }
  delay = std::min(delay, settings_.max_delay);
  ++quick_failures_;
  return delay;
}

std::optional<Clock::duration> RestartBackoff::on_exited(const sandbox::ExitStatus& status,
                                                         Clock::time_point now) {
  if (settings_.policy == RestartPolicy::kNo) return std::nullopt;
  if (settings_.policy == RestartPolicy::kOnFailure && status.success()) return std::nullopt;
  if (now - started_ >= settings_.stable_after) quick_failures_ = 0;
  return next_delay();
}

std::optional<Clock::duration> RestartBackoff::on_launch_failed() {
  if (settings_.policy == RestartPolicy::kNo) return std::nullopt;
  return next_delay();
}

}  // namespace corral::supervisor
