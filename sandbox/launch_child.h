// The child side of DirectLauncher: everything between clone3 and execve, async-signal-safe
// (the parent may be multi-threaded, so no allocation or locks here). Failures go back to the
// parent as a Report over the report pipe, naming the step; launcher.cc turns it into an Error.
#pragma once

#include <linux/sched.h>

#include <string>

#include "sandbox/landlock.h"
#include "sandbox/launcher.h"
#include "sandbox/mount_plan.h"

namespace corral::sandbox::detail {

enum class Step : int {
  kSignals = 1,
  kSetsid,
  kDevNull,
  kDup,
  kCloseRange,
  kChdir,
  kSetrlimit,
  kExecve,
  kGate,
  kNoNewPrivs,
  kSeccomp,
  kReportFd,
  kIds,       // setgroups/setresgid/setresuid
  kCgroupNs,  // unshare(CLONE_NEWCGROUP)
  kHostname,
  kStaging,  // the private staging root and the first pivot_root
  kMountOp,  // detail: index into SandboxPlan::ops
  kPivot,    // leaving the host's root behind
  kReadOnlyRoot,
  kFork,         // the sandbox's init starting the program
  kCapBounding,  // detail: the capability
  kCaps,
  kSecurebits,
  kLandlock,  // detail: rule index, -1 for the ruleset
  kSeccompHandoff,
  kInit,        // the init's own setup once the program runs (name, caps, fds)
  kCgroupJoin,  // detail: index into Cgroup::self_join_files
  kEnterRoot,   // setns into the template root and unsharing a copy of it
  kNetns,       // setns into the network namespace from the pool
  kUserNs,      // unshare(CLONE_NEWUSER)
  // Not failures: a sandbox's child asks for its id maps (err 0); a template is ready.
  kAwaitingIdMaps = 100,
  kTemplateReady,
};

struct Report {
  int step;
  int err;
  int detail;
};

// At most this many cgroup files come with the gate (v1 hierarchies: memory, cpu, pids, ...).
inline constexpr size_t kMaxJoinFds = 8;

struct ChildArgs {
  const LaunchSpec* spec = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  int report_fd = -1;
  int gate_fd = -1;    // template builder only: EOF when the parent is done with it
  int status_fd = -1;  // sandbox only: the init writes the program's wait status here
  const SandboxPlan* plan = nullptr;  // set: run as a sandbox (init + program)
  const LandlockPlan* landlock = nullptr;
  int* bind_fds = nullptr;  // one slot per plan op, for the O_PATH fds of bind sources
  // Not sandboxed: Cgroup::self_join_files, opened by the parent (a sandbox gets them at the gate).
  const int* join_fds = nullptr;
  size_t join_count = 0;
  int template_fd = -1;  // sandbox: the nsfs fd of its plan's template root (root_template.h)
  int netns_fd = -1;     // sandbox without host network: a fresh netns from the pool
  int cap_last_cap = 40;
  char* program_stack = nullptr;  // sandbox: the stack the init vforks the program onto
  size_t program_stack_size = 0;
};

// Entry point in the clone3 child. Never returns.
[[noreturn]] void child_main(ChildArgs a);

// clone3 with every signal blocked across it, so that no handler of the parent's runs in the
// child (before it has reset its dispositions, or ever); the child runs entry(child). In the
// parent: pid > 0, or -1 with err (and `what`: which call failed); mask_err is set if restoring
// the parent's mask failed after a successful clone (the caller owns the child either way).
struct Cloned {
  long pid = -1;
  int err = 0;
  const char* what = nullptr;
  int mask_err = 0;
};
[[nodiscard]] Cloned clone3_signals_blocked(clone_args& args, void (*entry)(ChildArgs),
                                            const ChildArgs& child);

// Entry point of a child cloned with CLONE_NEWNS that builds the static steps of a.plan into
// its mount namespace, reports kTemplateReady and exits once the parent closes the gate.
[[noreturn]] void template_main(ChildArgs a);

[[nodiscard]] std::string step_name(const Report& r, const LaunchSpec& spec,
                                    const SandboxPlan* plan, const LandlockPlan* landlock);

}  // namespace corral::sandbox::detail
