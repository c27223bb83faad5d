// Host probe: what this kernel offers the sandbox, each feature detected by trying it (never by
// version numbers or feature tables). `corralctl doctor` shows the result as corrald sees it,
// with what Corral uses and what it must do without.
#pragma once

#include <string>
#include <vector>

#include "sandbox/cgroup_layout.h"

namespace corral::sandbox {

struct HostCheck {
  std::string name;     // "cgroups", "user namespaces", ...
  bool ok = false;      // available
  std::string detail;   // what was found, or the kernel's error
  std::string without;  // what Corral does without it (empty when ok)
};

struct HostReport {
  CgroupLayout cgroups;
  std::vector<HostCheck> checks;
};

[[nodiscard]] HostReport probe_host();

// Individual probes (exposed for tests).
[[nodiscard]] HostCheck probe_user_namespaces();
[[nodiscard]] HostCheck probe_seccomp();
[[nodiscard]] HostCheck probe_seccomp_user_notif();
[[nodiscard]] HostCheck probe_landlock();
[[nodiscard]] HostCheck probe_mount_setattr();
[[nodiscard]] HostCheck probe_pidfd();
[[nodiscard]] HostCheck probe_clone3();
[[nodiscard]] HostCheck probe_cgroups(const CgroupLayout& layout);
[[nodiscard]] HostCheck probe_mount(const std::string& name, const std::string& fstype,
                                    const std::string& where, const std::string& without);

}  // namespace corral::sandbox
