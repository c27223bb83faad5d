// Pieces shared by the cgroup backends (not part of the sandbox API): a cgroup2 directory owned
// with an O_DIRECTORY fd, and polling a cgroup file for a state line.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/unique_fd.h"

namespace corral::sandbox::internal {

struct V2Node {
  std::string dir;  // empty once removed
  UniqueFd fd;
  uint64_t id = 0;
  // mkdir + open; fails with kAlreadyExists if the directory is there already.
  [[nodiscard]] static Result<V2Node> make(const std::string& dir);
  [[nodiscard]] Result<void> kill() const;
  // cgroup.freeze, then waits for cgroup.events to agree (no controller needed: core cgroup2).
  [[nodiscard]] Result<void> freeze(bool frozen) const;
  [[nodiscard]] Result<void> remove();
};

[[nodiscard]] Result<void> wait_for_line(const std::string& file, std::string_view want,
                                         std::chrono::milliseconds wait);

}  // namespace corral::sandbox::internal
