// SandboxSpec: the namespaces, identities and filesystem of one sandboxed launch, as plain data.
// The supervisor fills it from a manifest (or `corralctl run` flags); DirectLauncher applies it
// when LaunchSpec::sandbox is set. Paths are absolute; targets are paths inside the sandbox.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace corral::sandbox {

// A bind mount of a host path (file or directory) into the sandbox, read-only unless writable.
struct BindMount {
  std::string source;  // host path
  std::string target;  // path inside; empty means the same as source
  bool writable = false;
};

struct SandboxSpec {
  // Host ids [host_id_base, host_id_base + id_count) appear inside as [0, id_count); uid and gid
  // ranges are the same numbers. The supervisor hands each live plugin a range of its own.
  uid_t host_id_base = 0;
  uint32_t id_count = 65536;
  // The identity the program runs as inside (must be < id_count). Root inside (0) is allowed but
  // holds no capabilities either.
  uid_t uid = 1000;
  gid_t gid = 1000;
  std::string hostname = "corral";
  // false: a network namespace of its own with only loopback (up). true: the host's network.
  bool host_network = false;
  // The read-only system view: /usr and the merged-/usr symlinks, the parts of /etc that
  // dynamically linked programs read. Switched off only by tests that build the root themselves.
  bool system_binds = true;
  std::vector<BindMount> binds;  // after the system view, in order
  // A detached mount (state_volume.h) to attach at state_target, writable; -1: none. Not owned:
  // the caller closes it after the launch.
  int state_mount_fd = -1;
  std::string state_target = "/state";
  uint64_t tmp_size = 64ull << 20;  // /tmp: a private tmpfs of this many bytes
  // Use Landlock as a second layer where the kernel has it (mirrors the mounts: read-only
  // everywhere, writable where a writable bind or /tmp is).
  bool landlock = true;
};

}  // namespace corral::sandbox
