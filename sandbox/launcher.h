// Launcher: turns a LaunchSpec (plain data) into a running Process. The supervisor only talks to
// this interface. DirectLauncher always gives a new session, a clean fd table, rlimits and an
// explicit environment, and applies the cgroup, seccomp filter and sandbox the spec asks for.
#pragma once

#include <linux/filter.h>
#include <sys/resource.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "sandbox/cgroup.h"
#include "sandbox/netns_pool.h"
#include "sandbox/plan_cache.h"
#include "sandbox/process.h"
#include "sandbox/root_template.h"
#include "sandbox/sandbox_spec.h"

namespace corral::sandbox {

struct Rlimit {
  int resource = 0;  // RLIMIT_*
  rlim_t soft = RLIM_INFINITY;
  rlim_t hard = RLIM_INFINITY;
};

inline constexpr int kNotifyFd = 3;
// A sandbox's init holds, for as long as it lives: the status pipe at kInitStatusFd, the exit
// file at kInitExitFd and LaunchSpec::init_keep from kInitKeepFd on, so that a supervisor that
// restarts can take them back from it (pidfd_getfd).
inline constexpr int kInitStatusFd = 3;
inline constexpr int kInitExitFd = 4;
inline constexpr int kInitKeepFd = 5;
inline constexpr size_t kMaxInitKeep = 4;

struct LaunchSpec {
  std::string exec;               // absolute path of the program
  std::vector<std::string> args;  // argv[1..]; argv[0] is exec
  std::vector<std::string> env;   // the complete environment, "KEY=VALUE"
  std::string working_dir = "/";  // absolute
  std::vector<Rlimit> rlimits;
  // Become fds 0, 1, 2 of the child; -1 means /dev/null. Every other fd is closed in the child.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // If set, becomes fd kNotifyFd (3) of the program, its readiness channel ($NOTIFY_FD is the
  // caller's to put in env). Not owned.
  int notify_fd = -1;
  // If set, the child starts inside this cgroup: cloned into its cgroup2 node (CLONE_INTO_CGROUP)
  // when it has one, and, where v1 hierarchies exist too, held on a gate until Cgroup::add has
  // placed it in them; it can never exec or fork outside. Not owned.
  Cgroup* cgroup = nullptr;
  // If set: no_new_privs, then this seccomp program installed as the last step before execve
  // (so the program's own exec is the first call it filters). Not owned.
  const std::vector<sock_filter>* seccomp = nullptr;
  // The filter was built with via_notify: install it with a listener and hand that to the
  // Process (take_seccomp_listener) before exec.
  bool seccomp_listener = false;
  // If set, the program runs in a sandbox: new user, pid, mount, ipc, uts, cgroup and (unless
  // host_network) net namespaces, a fresh read-only root (mount_plan.h), no capabilities,
  // locked securebits, no_new_privs and Landlock. A small init is PID 1 inside: it forwards
  // signals to the program's process group and passes its exit status back (Process::wait
  // reports the program's, not the init's). Not owned.
  const SandboxSpec* sandbox = nullptr;
  // Sandbox only: descriptors the init keeps open (at kInitKeepFd + i) while it lives, e.g. the
  // read ends of the program's output pipes, so that they outlive a supervisor that dies (at
  // most kMaxInitKeep). Not owned.
  std::vector<int> init_keep;
  // Sandbox only: a file the init writes the program's raw wait status to (at offset 0) before
  // it exits, for a supervisor that is no longer its parent (conmon's exit file). Not owned.
  int exit_file_fd = -1;
};

class Launcher {
 public:
  virtual ~Launcher() = default;
  // Starts the program. Errors from the child before exec (chdir, setrlimit, execve...) are
  // reported here with the failing step and errno, not as a mysterious exit code.
  [[nodiscard]] virtual Result<Process> launch(const LaunchSpec& spec) = 0;
  [[nodiscard]] virtual std::string_view name() const = 0;
};

// Sandboxes get their plan from a cache (plan_cache.h), their root from a cache of template
// roots (root_template.h) and their network namespace from a pool kept by a thread started at
// the first sandbox that needs one.
class DirectLauncher final : public Launcher {
 public:
  [[nodiscard]] Result<Process> launch(const LaunchSpec& spec) override;
  [[nodiscard]] std::string_view name() const override { return "direct"; }
  [[nodiscard]] RootTemplates& templates() { return templates_; }
  [[nodiscard]] PlanCache& plans() { return plans_; }

 private:
  NetnsPool& netns_pool();

  PlanCache plans_;
  RootTemplates templates_;
  std::once_flag netns_once_;
  std::unique_ptr<NetnsPool> netns_;
};

}  // namespace corral::sandbox
