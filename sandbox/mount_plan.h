// The filesystem of a sandbox as a list of steps, computed in the supervisor from a SandboxSpec
// (host paths resolved, every string built) so that the child only runs syscalls. Most steps
// build a template root once (host's root at /oldroot, the future root, a tmpfs, at /newroot);
// the `late` ones run in every sandbox's own copy of it (its /proc, /tmp, devpts, state volume).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "sandbox/sandbox_spec.h"

namespace corral::sandbox {

enum class MountOpKind {
  kMkdir,      // path
  kTouch,      // path: an empty file (a mount point for a file bind)
  kSymlink,    // path -> source
  kWriteFile,  // path with content `data`
  kSysctl,     // write `data` to an existing /proc/sys file (path)
  kBindRo,     // source on path, then read-only, nosuid, nodev (recursively)
  kBindRw,     // source on path, then nosuid, nodev
  kBindDev,    // source on path, then nosuid, noexec (a device node: stays writable)
  kTmpfs,      // on path, mount data in `data`
  kProc,       // a new procfs on path (the sandbox's pid namespace)
  kDevpts,     // a new devpts instance on path
  kAttach,     // the detached mount `fd` (inherited from the launcher) moved onto path
};

struct MountOp {
  MountOpKind kind = MountOpKind::kMkdir;
  std::string path;  // absolute, starts with /newroot
  // Binds: the host path, resolved (no symlinks); the child opens it O_PATH before it takes its
  // ids inside the user namespace, while its fsuid is still the host's 0. Symlinks: the target.
  std::string source;
  std::string data;         // tmpfs options, file content
  unsigned long flags = 0;  // MS_* for tmpfs mounts
  int fd = -1;              // kAttach
  // Per launch, in the sandbox's copy of the template (path then relative to kPlanRoot): new
  // instances (proc, devpts, /tmp), the state volume, sysctls of its user namespace, and
  // anything placed inside one of those.
  bool late = false;
  [[nodiscard]] std::string describe() const;  // "bind /usr read-only", for launch errors
};

// Landlock rights the plan asks for on one path inside the sandbox (landlock.h turns them into
// the kernel's bits for the ABI it has).
enum class PathAccess { kReadOnly, kReadWrite, kDevices };
struct PathRule {
  std::string path;  // inside
  PathAccess access;
  bool directory = true;
};

inline constexpr std::string_view kPlanRoot = "/newroot";

struct SandboxPlan {
  std::vector<MountOp> ops;
  std::vector<PathRule> rules;  // "/" read-only first, then what is writable
};

// Fails with a message naming the path when a bind source does not exist, a target is not
// absolute or would shadow one of the sandbox's own mounts (/proc, /dev, /tmp).
[[nodiscard]] Result<SandboxPlan> plan_sandbox(const SandboxSpec& spec, const std::string& exec);
[[nodiscard]] inline bool is_bind(MountOpKind k) {
  return k == MountOpKind::kBindRo || k == MountOpKind::kBindRw || k == MountOpKind::kBindDev;
}

}  // namespace corral::sandbox
