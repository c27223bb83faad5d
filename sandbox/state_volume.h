// A plugin's state directory with a hard size limit: an ext4 image file on the host, attached to
// a loop device and mounted as a *detached* mount (fsopen/fsmount) that only the sandbox attaches
// (move_mount into its own mount namespace): nothing appears in the host's mount table, and the
// loop device detaches itself once the sandbox is gone. Filling it ends in ENOSPC inside, never
// in the host's filesystem filling up.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/error.h"
#include "common/unique_fd.h"

namespace corral::sandbox {

// Creates `image` (sparse, `bytes` long, mode 0600) holding an empty ext4 filesystem whose root
// directory belongs to uid:gid, unless it exists already (then its size is checked: a changed
// size is an error naming both, never a silent resize or reformat).
[[nodiscard]] Result<void> ensure_state_image(const std::string& image, uint64_t bytes, uid_t uid,
                                              gid_t gid);

// Attaches `image` to a free loop device (auto-clearing) and returns a detached mount of it
// (nosuid, nodev), ready for SandboxSpec::state_mount_fd.
[[nodiscard]] Result<UniqueFd> mount_state_image(const std::string& image);

}  // namespace corral::sandbox
