// Pieces shared by the cgroup backends (not part of the sandbox API): a cgroup2 directory owned
// with an O_DIRECTORY fd, and polling a cgroup file for a state line.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/cgroup.h"

#include "common/error.h"
#include "common/unique_fd.h"

namespace corral::sandbox::internal {

struct V2Node {
  std::string dir;  // empty once removed
  UniqueFd fd;
  uint64_t id = 0;
  // mkdir + open; fails with kAlreadyExists if the directory is there already.
  [[nodiscard]] static Result<V2Node> make(const std::string& dir);
  // An existing directory (adoption).
  [[nodiscard]] static Result<V2Node> open_existing(const std::string& dir);
  [[nodiscard]] Result<void> kill() const;
  // cgroup.freeze, then waits for cgroup.events to agree (no controller needed: core cgroup2).
  [[nodiscard]] Result<void> freeze(bool frozen) const;
  [[nodiscard]] Result<void> remove();
};

// Locks lock_dir (flock, kept in `lock`) and kills and removes every cgroup under the bases.
[[nodiscard]] Result<std::vector<StaleCgroup>> claim_parents(
    const std::string& lock_dir, const std::vector<std::string>& v2_bases,
    const std::vector<std::string>& v1_bases, const std::vector<std::string>& keep, UniqueFd& lock);

[[nodiscard]] Result<void> wait_for_line(const std::string& file, std::string_view want,
                                         std::chrono::milliseconds wait);

}  // namespace corral::sandbox::internal
