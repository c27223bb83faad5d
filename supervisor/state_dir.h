// A plugin's writable state directory on the host (<state_dir>/plugins/<name>, mode 0700), owned
// by the host ids its sandbox user maps to. When the plugin's id range changed since the last
// run (another slot this time), everything in it is handed over to the new owner first.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/error.h"

namespace corral::supervisor {

// Where the state directory appears inside the sandbox (and $STATE_DIRECTORY says so).
inline constexpr const char* kStateDirInside = "/state";

[[nodiscard]] Result<void> ensure_state_dir(const std::string& path, uid_t uid, gid_t gid);
// Hands everything under the directory `path` to uid:gid unless its root already belongs to them
// (never following symlinks, never crossing into other mounts).
[[nodiscard]] Result<void> hand_over(const std::string& path, uid_t uid, gid_t gid);

}  // namespace corral::supervisor
