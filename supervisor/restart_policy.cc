#include "supervisor/restart_policy.h"

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

}  // namespace corral::supervisor
