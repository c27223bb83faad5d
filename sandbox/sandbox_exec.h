// exec_in_sandbox: runs a command inside a running sandbox (a health check's exec probe), the
// way the sandbox's own program runs: in its cgroup, in the user, mount, pid, net, ipc and uts
// namespaces of its init (through a pidfd, so a reused pid cannot redirect it), as the
// sandbox's uid/gid with no capabilities, no_new_privs and the plugin's seccomp filter. stdin,
// stdout and stderr are /dev/null. The returned Process is an intermediate child that waits for
// the command and exits with its status; killing it kills the command (PDEATHSIG).
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "sandbox/landlock.h"
#include "sandbox/process.h"

namespace corral::sandbox {

struct SandboxExecSpec {
  int ns_pidfd = -1;  // a pidfd of a process in the sandbox (its init); -1: no namespaces
  std::vector<std::string> join_files;  // cgroup.procs files to join (Cgroup::self_join_files)
  uid_t uid = 0;  // inside the sandbox's user namespace (or on the host without one)
  gid_t gid = 0;
  std::vector<std::string> argv;  // argv[0]: an absolute path inside the sandbox
  std::vector<std::string> env;   // "KEY=VALUE"
  const std::vector<sock_filter>* seccomp = nullptr;  // installed before exec; not owned
  const LandlockPlan* landlock = nullptr;  // the sandbox's rules (paths inside it); not owned
};

[[nodiscard]] Result<Process> exec_in_sandbox(const SandboxExecSpec& spec);

}  // namespace corral::sandbox
