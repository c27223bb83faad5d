// Chooses and prepares corrald's cgroup backend from the host's layout: v1/hybrid hosts get plugin
// cgroups under <hierarchy>/<parent>; pure v2 hosts get them under <corrald's own cgroup>/<parent>,
// after moving corrald into a leaf if its own cgroup must first delegate controllers (the
// "no internal processes" rule). Returns nullptr when cgroups are off or absent.
#pragma once

#include <memory>

#include "common/error.h"
#include "sandbox/cgroup.h"
#include "supervisor/config.h"

namespace corral::supervisor {

[[nodiscard]] Result<std::unique_ptr<sandbox::CgroupBackend>> setup_cgroups(
    const DaemonConfig& config);

}  // namespace corral::supervisor
