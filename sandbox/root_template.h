// Template roots: the static steps of a SandboxPlan built once into a mount namespace of their
// own, kept alive by an nsfs fd. Every sandbox with that plan enters it and unshares a copy of
// ~20 mounts, instead of copying the host's mount table, rebuilding the root and detaching the
// host on every launch. A template is keyed by its steps and the identity (device, inode) of
// every bind source, so a replaced file (an upgraded program) gets a new one.
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "common/error.h"
#include "common/unique_fd.h"
#include "sandbox/mount_plan.h"

namespace corral::sandbox {

// The cache key of plan's static steps; fails when a bind source cannot be stat()ed.
[[nodiscard]] Result<std::string> template_key(const SandboxPlan& plan);

// Builds plan's static steps in a child's new mount namespace; returns its nsfs fd.
[[nodiscard]] Result<UniqueFd> build_template(const SandboxPlan& plan);

class RootTemplates {
 public:
  explicit RootTemplates(size_t capacity = 16) : capacity_(capacity == 0 ? 1 : capacity) {}

  // The template for plan, built on a miss; the least recently used one beyond `capacity` is
  // dropped (shared ownership: never while a launch holds it).
  [[nodiscard]] Result<std::shared_ptr<const UniqueFd>> get(const SandboxPlan& plan);
  void clear();
  [[nodiscard]] size_t builds() const;  // templates built so far

 private:
  size_t capacity_;
  mutable std::mutex mu_;
  std::list<std::pair<std::string, std::shared_ptr<const UniqueFd>>> lru_;  // front: newest
  size_t builds_ = 0;
};

}  // namespace corral::sandbox
