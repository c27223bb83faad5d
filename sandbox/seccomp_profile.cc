#include "sandbox/seccomp_profile.h"

#include <seccomp.h>

#include <algorithm>
#include <initializer_list>

namespace corral::sandbox {

namespace {

// What dynamically linked programs, shells, busybox and python3 need. Absent on purpose, among
// others: ptrace, mount/umount2/pivot_root/chroot, unshare/setns, bpf, perf_event_open, keyctl/
// add_key/request_key, module and kexec loading, open_by_handle_at, reboot, swapon, acct,
// settimeofday/clock_settime, iopl/ioperm, userfaultfd, process_vm_*, sethostname, syslog,
// personality, and the setuid family (plugins run with their final ids).
constexpr std::initializer_list<const char*> kDefault = {"accept",
                                                         "accept4",
                                                         "access",
                                                         "alarm",
                                                         "arch_prctl",
                                                         "bind",
                                                         "brk",
                                                         "capget",
                                                         "chdir",
                                                         "chmod",
                                                         "clock_getres",
                                                         "clock_gettime",
                                                         "clock_nanosleep",
                                                         "clone",
                                                         "clone3",
                                                         "close",
                                                         "close_range",
                                                         "connect",
                                                         "copy_file_range",
                                                         "creat",
                                                         "dup",
                                                         "dup2",
                                                         "dup3",
                                                         "epoll_create",
                                                         "epoll_create1",
                                                         "epoll_ctl",
                                                         "epoll_pwait",
                                                         "epoll_pwait2",
                                                         "epoll_wait",
                                                         "eventfd",
                                                         "eventfd2",
                                                         "execve",
                                                         "execveat",
                                                         "exit",
                                                         "exit_group",
                                                         "faccessat",
                                                         "faccessat2",
                                                         "fadvise64",
                                                         "fallocate",
                                                         "fchdir",
                                                         "fchmod",
                                                         "fchmodat",
                                                         "fcntl",
                                                         "fdatasync",
                                                         "flock",
                                                         "fork",
                                                         "fstat",
                                                         "fstatfs",
                                                         "fsync",
                                                         "ftruncate",
                                                         "futex",
                                                         "getcwd",
                                                         "getdents",
                                                         "getdents64",
                                                         "getegid",
                                                         "geteuid",
                                                         "getgid",
                                                         "getgroups",
                                                         "getitimer",
                                                         "getpeername",
                                                         "getpgid",
                                                         "getpgrp",
                                                         "getpid",
                                                         "getppid",
                                                         "getpriority",
                                                         "getrandom",
                                                         "getresgid",
                                                         "getresuid",
                                                         "getrlimit",
                                                         "get_robust_list",
                                                         "getrusage",
                                                         "getsid",
                                                         "getsockname",
                                                         "getsockopt",
                                                         "gettid",
                                                         "gettimeofday",
                                                         "getuid",
                                                         "inotify_add_watch",
                                                         "inotify_init",
                                                         "inotify_init1",
                                                         "inotify_rm_watch",
                                                         "ioctl",
                                                         "kill",
                                                         "link",
                                                         "linkat",
                                                         "listen",
                                                         "lseek",
                                                         "lstat",
                                                         "madvise",
                                                         "membarrier",
                                                         "memfd_create",
                                                         "mincore",
                                                         "mkdir",
                                                         "mkdirat",
                                                         "mlock",
                                                         "mmap",
                                                         "mprotect",
                                                         "mremap",
                                                         "msync",
                                                         "munlock",
                                                         "munmap",
                                                         "nanosleep",
                                                         "newfstatat",
                                                         "open",
                                                         "openat",
                                                         "pause",
                                                         "pidfd_open",
                                                         "pidfd_send_signal",
                                                         "pipe",
                                                         "pipe2",
                                                         "poll",
                                                         "ppoll",
                                                         "prctl",
                                                         "pread64",
                                                         "preadv",
                                                         "prlimit64",
                                                         "pselect6",
                                                         "pwrite64",
                                                         "pwritev",
                                                         "read",
                                                         "readahead",
                                                         "readlink",
                                                         "readlinkat",
                                                         "readv",
                                                         "recvfrom",
                                                         "recvmmsg",
                                                         "recvmsg",
                                                         "rename",
                                                         "renameat",
                                                         "renameat2",
                                                         "restart_syscall",
                                                         "rmdir",
                                                         "rseq",
                                                         "rt_sigaction",
                                                         "rt_sigpending",
                                                         "rt_sigprocmask",
                                                         "rt_sigqueueinfo",
                                                         "rt_sigreturn",
                                                         "rt_sigsuspend",
                                                         "rt_sigtimedwait",
                                                         "sched_getaffinity",
                                                         "sched_getparam",
                                                         "sched_get_priority_max",
                                                         "sched_get_priority_min",
                                                         "sched_getscheduler",
                                                         "sched_setaffinity",
                                                         "sched_yield",
                                                         "select",
                                                         "sendfile",
                                                         "sendmmsg",
                                                         "sendmsg",
                                                         "sendto",
                                                         "setitimer",
                                                         "setpgid",
                                                         "setpriority",
                                                         "set_robust_list",
                                                         "setrlimit",
                                                         "setsid",
                                                         "setsockopt",
                                                         "set_tid_address",
                                                         "shutdown",
                                                         "sigaltstack",
                                                         "signalfd",
                                                         "signalfd4",
                                                         "socket",
                                                         "socketpair",
                                                         "splice",
                                                         "stat",
                                                         "statfs",
                                                         "statx",
                                                         "symlink",
                                                         "symlinkat",
                                                         "sysinfo",
                                                         "tee",
                                                         "tgkill",
                                                         "time",
                                                         "timerfd_create",
                                                         "timerfd_gettime",
                                                         "timerfd_settime",
                                                         "times",
                                                         "tkill",
                                                         "truncate",
                                                         "umask",
                                                         "uname",
                                                         "unlink",
                                                         "unlinkat",
                                                         "utime",
                                                         "utimensat",
                                                         "utimes",
                                                         "vfork",
                                                         "wait4",
                                                         "waitid",
                                                         "write",
                                                         "writev"};

// A computation that reads and writes the fds it was given, allocates, and exits. execve is in
// it because the filter is installed before the plugin's own exec.
constexpr std::initializer_list<const char*> kStrict = {
    "brk",          "clock_gettime",  "clock_nanosleep", "close",   "execve",
    "exit",         "exit_group",     "fstat",           "futex",   "getpid",
    "getrandom",    "gettid",         "lseek",           "madvise", "mmap",
    "mprotect",     "munmap",         "nanosleep",       "read",    "restart_syscall",
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",    "write"};

Result<void> check_name(const std::string& name) {
  if (seccomp_syscall_resolve_name(name.c_str()) == __NR_SCMP_ERROR) {
    return make_error(Code::kInvalidArgument, "unknown system call \"" + name + "\"");
  }
  return {};
}

}  // namespace

Result<SeccompAction> parse_seccomp_action(std::string_view s) {
  if (s == "kill") return SeccompAction::kKillProcess;
  if (s == "errno") return SeccompAction::kErrno;
  if (s == "log") return SeccompAction::kLog;
  if (s == "notify") return SeccompAction::kNotify;
  return make_error(
      Code::kInvalidArgument,
      "seccomp action must be kill, errno, log or notify; got \"" + std::string(s) + "\"");
}

std::string_view seccomp_action_name(SeccompAction a) {
  switch (a) {
    case SeccompAction::kKillProcess:
      return "kill";
    case SeccompAction::kErrno:
      return "errno";
    case SeccompAction::kLog:
      return "log";
    case SeccompAction::kNotify:
      return "notify";
  }
  return "?";
}

Result<SeccompProfile> builtin_seccomp_profile(std::string_view name) {
  SeccompProfile p;
  p.name = std::string(name);
  if (name == "default") {
    p.allow.assign(kDefault.begin(), kDefault.end());
  } else if (name == "strict") {
    p.allow.assign(kStrict.begin(), kStrict.end());
  } else {
    return make_error(Code::kInvalidArgument, "unknown seccomp profile \"" + std::string(name) +
                                                  "\" (known: default, strict)");
  }
  std::sort(p.allow.begin(), p.allow.end());
  return p;
}

Result<SeccompProfile> customize_profile(SeccompProfile p, const std::vector<std::string>& add,
                                         const std::vector<std::string>& remove) {
  for (const auto& name : add) {
    if (auto ok = check_name(name); !ok) return std::unexpected(ok.error().wrap("seccomp add"));
    if (std::find(p.allow.begin(), p.allow.end(), name) == p.allow.end()) p.allow.push_back(name);
  }
  for (const auto& name : remove) {
    if (auto ok = check_name(name); !ok) return std::unexpected(ok.error().wrap("seccomp remove"));
    auto it = std::find(p.allow.begin(), p.allow.end(), name);
    if (it == p.allow.end()) {
      return make_error(Code::kInvalidArgument, "seccomp remove: profile \"" + p.name +
                                                    "\" does not allow \"" + name + "\"");
    }
    p.allow.erase(it);
  }
  std::sort(p.allow.begin(), p.allow.end());
  return p;
}

}  // namespace corral::sandbox
