// Small file helpers that return Result instead of throwing: read a whole file, write one
// atomically (temp file + fsync + rename), and make a directory tree with a given mode.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/error.h"

namespace corral {

[[nodiscard]] Result<std::string> read_file(const std::string& path, size_t max_bytes = 16 << 20);
[[nodiscard]] Result<void> write_file_atomic(const std::string& path, std::string_view data,
                                             mode_t mode = 0644);
// Writes data to an existing file (cgroup and proc knobs): one write, the kernel's errno on
// failure.
[[nodiscard]] Result<void> write_file(const std::string& path, std::string_view data);
[[nodiscard]] Result<void> make_dirs(const std::string& path, mode_t mode = 0755);

}  // namespace corral
