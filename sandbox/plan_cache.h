// Sandbox plans made once per distinct sandbox and program, not on every launch (~60 us each
// here). The key is everything plan_sandbox reads (not the id range: only the id maps use it)
// plus where the program and every bind source resolve to now, so a retargeted symlink or a new
// program path gets a new plan; a file replaced in place is caught by the template key.
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "common/error.h"
#include "sandbox/landlock.h"
#include "sandbox/mount_plan.h"
#include "sandbox/sandbox_spec.h"

namespace corral::sandbox {

struct PreparedSandbox {
  SandboxPlan plan;
  std::optional<LandlockPlan> landlock;  // when the spec asks for it and the kernel has it
};

class PlanCache {
 public:
  explicit PlanCache(size_t capacity = 32) : capacity_(capacity == 0 ? 1 : capacity) {}

  [[nodiscard]] Result<std::shared_ptr<const PreparedSandbox>> get(const SandboxSpec& spec,
                                                                   const std::string& exec);
  [[nodiscard]] size_t plans_made() const;

 private:
  size_t capacity_;
  mutable std::mutex mu_;
  std::list<std::pair<std::string, std::shared_ptr<const PreparedSandbox>>> lru_;
  size_t made_ = 0;
};

}  // namespace corral::sandbox
