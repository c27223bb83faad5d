// Seccomp profiles as plain data: named allow-lists (`default` runs ordinary programs, `strict`
// is minimal), per-manifest additions and removals, and the action for everything else. Foreign
// architectures (i386, x32 on x86_64) are refused unless a profile asks for them by name.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace corral::sandbox {

enum class SeccompAction {
  kKillProcess,  // SIGSYS kills the whole plugin
  kErrno,        // the call fails with errno_value (default EPERM)
  kLog,          // allowed but logged by the kernel (for profiling a plugin)
  kNotify,       // SECCOMP_RET_USER_NOTIF: corrald is told, names the call, answers EPERM
};

[[nodiscard]] Result<SeccompAction> parse_seccomp_action(std::string_view s);
[[nodiscard]] std::string_view seccomp_action_name(SeccompAction a);

struct SeccompProfile {
  std::string name;
  std::vector<std::string> allow;  // syscall names, resolved for the native architecture
  SeccompAction default_action = SeccompAction::kErrno;
  int errno_value = 1;  // EPERM
  bool allow_foreign_arch = false;
};

// "default" or "strict"; an unknown name is an error listing the known ones.
[[nodiscard]] Result<SeccompProfile> builtin_seccomp_profile(std::string_view name);
// Adds and removes syscall names (a manifest's tweaks). Removing a call the profile does not
// allow, or naming an unknown syscall, is an error: typos must not pass silently.
[[nodiscard]] Result<SeccompProfile> customize_profile(SeccompProfile base,
                                                       const std::vector<std::string>& add,
                                                       const std::vector<std::string>& remove);

}  // namespace corral::sandbox
