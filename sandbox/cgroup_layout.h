// CgroupLayout: which cgroup hierarchies this host mounts and where, parsed from mountinfo.
// Pure v2 (unified), hybrid (v1 controllers plus a cgroup2 mount, like this project's CI), or
// legacy v1 only. The backends and `corralctl doctor` are chosen from this.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace corral::sandbox {

enum class CgroupMode { kNone, kUnified, kHybrid, kLegacy };

struct CgroupLayout {
  CgroupMode mode = CgroupMode::kNone;
  std::string unified;                    // cgroup2 mount point, empty if none
  std::map<std::string, std::string> v1;  // controller -> mount point ("memory" -> ...)
};

[[nodiscard]] std::string_view cgroup_mode_name(CgroupMode m);
// Parses /proc/<pid>/mountinfo text. Lines it cannot parse are ignored (mountinfo is the kernel's).
[[nodiscard]] CgroupLayout parse_cgroup_layout(std::string_view mountinfo);
[[nodiscard]] Result<CgroupLayout> detect_cgroup_layout();
// The controllers a v2 cgroup directory offers (its cgroup.controllers).
[[nodiscard]] Result<std::vector<std::string>> v2_controllers(const std::string& dir);

}  // namespace corral::sandbox
