// Landlock as the sandbox's second filesystem layer: the ABI this kernel offers (probed once with
// landlock_create_ruleset's version query), and a SandboxPlan's path rules turned into the bits
// of that ABI. The plugin's child applies a LandlockPlan with syscalls only (landlock_apply).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sandbox/mount_plan.h"

namespace corral::sandbox {

// 0 when the kernel has no Landlock (not built, or not in the `lsm=` list), else its ABI version.
[[nodiscard]] int landlock_abi();

struct LandlockPlan {
  int abi = 0;
  uint64_t handled = 0;  // every filesystem right the ABI knows: all denied unless a rule grants it
  struct Rule {
    std::string path;
    uint64_t allowed;
  };
  std::vector<Rule> rules;
};

[[nodiscard]] LandlockPlan plan_landlock(const std::vector<PathRule>& rules, int abi);

// In the child, after no_new_privs: builds the ruleset, opens each path (O_PATH), restricts the
// calling thread. Returns 0 or the errno of the failing step; *failed_rule names the rule index
// (-1 for the ruleset itself). Async-signal-safe.
int landlock_apply(const LandlockPlan& plan, int* failed_rule);

}  // namespace corral::sandbox
