#include "sandbox/plan_cache.h"

#include <climits>
#include <cstdlib>

namespace corral::sandbox {

namespace {

void field(std::string& key, const std::string& v) {
  key += v;
  key += '\0';
}

// Where a path resolves now ("" when it does not: planning then fails with its own message).
std::string resolved(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) != nullptr ? std::string(buf) : std::string();
}

std::string key_of(const SandboxSpec& s, const std::string& exec) {
  std::string key;
  field(key, exec);
  field(key, resolved(exec));
  field(key, std::to_string(s.uid) + ":" + std::to_string(s.gid));
  field(key, s.hostname);
  field(key, std::to_string(static_cast<int>(s.host_network)) +
                 std::to_string(static_cast<int>(s.system_binds)) +
                 std::to_string(static_cast<int>(s.landlock)));
  field(key, std::to_string(s.tmp_size));
  field(key, std::to_string(s.state_mount_fd));
  field(key, s.state_target);
  for (const auto& b : s.binds) {
    field(key, b.source);
    field(key, resolved(b.source));
    field(key, b.target);
    field(key, b.writable ? "rw" : "ro");
  }
  return key;
}

}  // namespace

Result<std::shared_ptr<const PreparedSandbox>> PlanCache::get(const SandboxSpec& spec,
                                                              const std::string& exec) {
  std::string key = key_of(spec, exec);
  {
    std::lock_guard lock(mu_);
    for (auto it = lru_.begin(); it != lru_.end(); ++it) {
      if (it->first == key) {
        lru_.splice(lru_.begin(), lru_, it);
        return lru_.front().second;
      }
    }
  }
  auto plan = plan_sandbox(spec, exec);
  if (!plan) return std::unexpected(plan.error());
  auto prepared = std::make_shared<PreparedSandbox>();
  prepared->plan = std::move(*plan);
  if (spec.landlock && landlock_abi() > 0) {
    prepared->landlock = plan_landlock(prepared->plan.rules, landlock_abi());
  }
  std::lock_guard lock(mu_);
  ++made_;
  lru_.emplace_front(std::move(key), prepared);
  while (lru_.size() > capacity_) lru_.pop_back();
  return std::shared_ptr<const PreparedSandbox>(std::move(prepared));
}

size_t PlanCache::plans_made() const {
  std::lock_guard lock(mu_);
  return made_;
}

}  // namespace corral::sandbox
