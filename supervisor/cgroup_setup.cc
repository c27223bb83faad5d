#include "supervisor/cgroup_setup.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "common/files.h"

namespace corral::supervisor {

namespace {

// corrald's own cgroup2 path from /proc/self/cgroup ("0::/system.slice/corrald.service").
Result<std::string> own_v2_path() {
  auto text = read_file("/proc/self/cgroup");
  if (!text) return std::unexpected(text.error());
  size_t pos = text->find("0::");
  if (pos == std::string::npos)
    return make_error(Code::kNotFound, "no cgroup2 entry in /proc/self/cgroup");
  std::string path = text->substr(pos + 3, text->find('\n', pos) - pos - 3);
  return path == "/" ? std::string() : path;
}

// Makes `base` able to hand memory, cpu and pids (those it has) to its children. If corrald
// itself sits in `base`, it first moves into base/supervisor: a cgroup with processes cannot
// enable controllers for its children (the root cgroup excepted).
Result<void> delegate_controllers(const std::string& base) {
  auto avail = sandbox::v2_controllers(base);
  if (!avail) return std::unexpected(avail.error());
  std::string line;
  for (const char* c : {"memory", "cpu", "pids"}) {
    if (std::find(avail->begin(), avail->end(), c) != avail->end()) {
      line += (line.empty() ? "+" : " +") + std::string(c);
    }
  }
  if (line.empty()) return {};
  auto r = write_file(base + "/cgroup.subtree_control", line);
  if (r || r.error().errnum != EBUSY) return r;
  std::string leaf = base + "/supervisor";
  if (::mkdir(leaf.c_str(), 0755) != 0 && errno != EEXIST) return sys_error("creating " + leaf);
  if (auto moved = write_file(leaf + "/cgroup.procs", std::to_string(::getpid())); !moved) {
    return moved;
  }
  spdlog::info("cgroup: moved corrald into {} to delegate controllers", leaf);
  return write_file(base + "/cgroup.subtree_control", line);
}

}  // namespace

Result<std::unique_ptr<sandbox::CgroupBackend>> setup_cgroups(const DaemonConfig& config) {
  if (!config.cgroups) return std::unique_ptr<sandbox::CgroupBackend>();
  auto layout = sandbox::detect_cgroup_layout();
  if (!layout) return std::unexpected(layout.error());
  switch (layout->mode) {
    case sandbox::CgroupMode::kNone:
      spdlog::warn("cgroup: none mounted; plugins with [resources] will fail to launch");
      return std::unique_ptr<sandbox::CgroupBackend>();
    case sandbox::CgroupMode::kLegacy:
    case sandbox::CgroupMode::kHybrid:
      return sandbox::make_v1_backend(*layout, config.cgroup_parent);
    case sandbox::CgroupMode::kUnified: {
      auto own = own_v2_path();
      if (!own) return std::unexpected(own.error());
      std::string base = layout->unified + *own;
      if (auto ok = delegate_controllers(base); !ok) {
        return std::unexpected(ok.error().wrap("delegating controllers below " + base));
      }
      return sandbox::make_v2_backend(base + "/" + config.cgroup_parent);
    }
  }
  return std::unique_ptr<sandbox::CgroupBackend>();
}

}  // namespace corral::supervisor
