// Listing /proc directories that vanish under us (/proc/<pid>/fd, /proc/<pid>/task): getdents64
// into one buffer, no DIR* and no stat per entry. A process that exits mid-scan is "gone", not
// an error.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace corral::collectors {

enum class Listed { kDone, kGone };

// Calls f(name, dirfd) for every entry but "." and "..". kGone when the directory no longer
// exists (ENOENT, ESRCH: the process exited); other errors name the directory.
[[nodiscard]] Result<Listed> for_each_entry(
    const std::string& dir, const std::function<void(std::string_view name, int dirfd)>& f);

// True for errors that mean "that process or fd is gone".
[[nodiscard]] inline bool vanished(int err) { return err == ENOENT || err == ESRCH; }

}  // namespace corral::collectors
