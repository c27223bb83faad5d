#include "sandbox/launch_child.h"

#include "sandbox/seccomp_notify.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <iterator>

namespace corral::sandbox::detail {

namespace {

// sendmsg, not write: after a notify filter is installed it is the one call allowed on the
// report socket (kSeccompHandoffFd).
ssize_t send_report(int report_fd, const void* data, size_t size, int pass_fd) {
  iovec iov{const_cast<void*>(data), size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (pass_fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  return ::sendmsg(report_fd, &msg, MSG_NOSIGNAL);
}

[[noreturn]] void fail(int report_fd, Step step, int detail = 0) {
  Report r{static_cast<int>(step), errno, detail};
  // Nothing useful can be done if this fails: the parent then sees the exit code 127.
  (void)send_report(report_fd, &r, sizeof r, -1);
  ::_exit(127);
}

// prctl without libc: sanitizer runtimes intercept prctl and take their own locks in it (the
// thread registry, for PR_SET_NAME), which another thread of the parent may have held at clone.
int sys_prctl(int option, unsigned long arg2) {
  return static_cast<int>(::syscall(SYS_prctl, option, arg2, 0UL, 0UL, 0UL));
}

int mount_setattr(const char* path, unsigned flags, uint64_t set) {
  struct mount_attr attr {};
  attr.attr_set = set;
  return static_cast<int>(::syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &attr, sizeof attr));
}

// Dispositions to SIG_DFL; the mask is left as it is (every signal blocked since clone3).
void default_dispositions(int report_fd) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    // glibc refuses its reserved signals (SIGCANCEL, SIGSETXID) with EINVAL: they keep glibc's.
    if (::sigaction(sig, &dfl, nullptr) != 0 && errno != EINVAL) fail(report_fd, Step::kSignals);
  }
}

// A sandbox's child waits for one byte from the parent on the report socket: its id maps are
// written. With it come the cgroup files to join (into fds; returns how many). EOF means the
// parent gave up on it.
size_t wait_gate(int report_fd, int (&fds)[kMaxJoinFds]) {
  char go = 0;
  iovec iov{&go, 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxJoinFds)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(report_fd, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n != 1) {
    errno = n == 0 ? ECANCELED : errno;
    fail(report_fd, Step::kGate);
  }
  size_t count = 0;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (c != nullptr && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
    count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    std::memcpy(fds, CMSG_DATA(c), count * sizeof(int));
  }
  return count;
}

// Writes "0" to each cgroup file: this process moves itself in (see Cgroup::self_join_files).
void join_cgroups(int report_fd, const int* fds, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (::write(fds[i], "0", 1) != 1) fail(report_fd, Step::kCgroupJoin, static_cast<int>(i));
  }
}

// Raw syscalls, not glibc's wrappers: those broadcast the change to every thread glibc believes
// the process has (SIGSETXID, under a lock), and this copy of a multi-threaded parent has one
// thread and maybe a copy of that lock held by a thread that is not here: it would wait forever.
int set_ids(uid_t uid, gid_t gid, bool clear_groups) {
  if (clear_groups && ::syscall(SYS_setgroups, 0, nullptr) != 0) return -1;
  if (::syscall(SYS_setresgid, gid, gid, gid) != 0) return -1;
  return static_cast<int>(::syscall(SYS_setresuid, uid, uid, uid));
}

// Leaves exactly `keep` (a capability number, or -1 for none) in the permitted and effective sets.
int set_capabilities(int keep) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (keep >= 0) {
    data[keep / 32].permitted = data[keep / 32].effective = 1u << (keep % 32);
  }
  return static_cast<int>(::syscall(SYS_capset, &hdr, data));
}
int zero_capabilities() { return set_capabilities(-1); }

// Every capability out of every set, for good: bounding and ambient sets emptied, securebits
// locked so that neither uid 0 nor a setuid transition can bring any back, then the identity
// the manifest asks for.
void drop_privileges(const ChildArgs& a) {
  const SandboxSpec& s = *a.spec->sandbox;
  for (int cap = 0; cap <= a.cap_last_cap; ++cap) {
    if (sys_prctl(PR_CAPBSET_DROP, static_cast<unsigned long>(cap)) != 0 && errno != EINVAL) {
      fail(a.report_fd, Step::kCapBounding, cap);
    }
  }
  if (sys_prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL) != 0) {
    fail(a.report_fd, Step::kCaps);
  }
  constexpr unsigned long kBits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                  SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                                  SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
  if (sys_prctl(PR_SET_SECUREBITS, kBits) != 0) fail(a.report_fd, Step::kSecurebits);
  if (set_ids(s.uid, s.gid, false) != 0) {
    fail(a.report_fd, Step::kIds);
  }
  if (zero_capabilities() != 0) fail(a.report_fd, Step::kCaps);
}

// The program: its own session, fds 0-2 as asked and nothing else, rlimits, then (sandboxed)
// no privileges and Landlock, then no_new_privs and seccomp, then execve.
[[noreturn]] void exec_program(const ChildArgs& a) {
  const LaunchSpec& spec = *a.spec;
  int report_fd = a.report_fd;
  // Dispositions first, mask last: a signal pending since the fork is delivered only once its
  // handler is SIG_DFL. A sandbox's init has reset them already, and the program has its copy.
  if (a.plan == nullptr) default_dispositions(report_fd);
  sigset_t none;
  sigemptyset(&none);
  if (::sigprocmask(SIG_SETMASK, &none, nullptr) != 0) fail(report_fd, Step::kSignals);
  if (::setsid() < 0) fail(report_fd, Step::kSetsid);

  // Move every source to a high fd first so dup2 onto 0-2 never clobbers another source.
  std::array<int, 3> sources{spec.stdin_fd, spec.stdout_fd, spec.stderr_fd};
  std::array<int, 3> high{};
  for (size_t i = 0; i < 3; ++i) {
    int fd = sources[i];
    if (fd < 0) {
      fd = ::open("/dev/null", i == 0 ? O_RDONLY : O_WRONLY);
      if (fd < 0) fail(report_fd, Step::kDevNull);
    }
    high[i] = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
    if (high[i] < 0) fail(report_fd, Step::kDup, static_cast<int>(i));
  }
  int notify_high = -1;
  if (spec.notify_fd >= 0) {
    notify_high = ::fcntl(spec.notify_fd, F_DUPFD_CLOEXEC, 10);
    if (notify_high < 0) fail(report_fd, Step::kDup, kNotifyFd);
  }
  for (int i = 0; i < 3; ++i) {
    if (::dup2(high[static_cast<size_t>(i)], i) < 0) fail(report_fd, Step::kDup, i);
  }
  // With a notify filter the report socket must sit on the one fd the filter lets it use.
  if (spec.seccomp_listener && report_fd != kSeccompHandoffFd) {
    if (::dup3(report_fd, kSeccompHandoffFd, O_CLOEXEC) < 0) fail(report_fd, Step::kReportFd);
    report_fd = kSeccompHandoffFd;
  } else if (notify_high >= 0 && report_fd == kNotifyFd) {
    int moved = ::fcntl(report_fd, F_DUPFD_CLOEXEC, 10);
    if (moved < 0) fail(report_fd, Step::kReportFd);
    report_fd = moved;
  }
  // The readiness channel on fd 3, kept across exec (dup2 clears close-on-exec).
  if (notify_high >= 0 && ::dup2(notify_high, kNotifyFd) < 0) {
    fail(report_fd, Step::kDup, kNotifyFd);
  }
  // Everything above stderr (or the readiness fd) closes at exec (the report socket is already
  // O_CLOEXEC).
  const unsigned keep = static_cast<unsigned>(notify_high >= 0 ? kNotifyFd + 1 : 3);
  if (::syscall(SYS_close_range, keep, ~0u, CLOSE_RANGE_CLOEXEC) != 0) {
    fail(report_fd, Step::kCloseRange);
  }
  if (::chdir(spec.working_dir.c_str()) != 0) fail(report_fd, Step::kChdir);
  for (const auto& l : spec.rlimits) {
    rlimit rl{l.soft, l.hard};
    if (::setrlimit(static_cast<__rlimit_resource>(l.resource), &rl) != 0) {
      fail(report_fd, Step::kSetrlimit, l.resource);
    }
  }
  if (a.plan != nullptr) drop_privileges(a);
  if (a.plan != nullptr || spec.seccomp != nullptr) {
    if (sys_prctl(PR_SET_NO_NEW_PRIVS, 1) != 0) fail(report_fd, Step::kNoNewPrivs);
  }
  if (a.landlock != nullptr) {
    int rule = -1;
    if (int err = landlock_apply(*a.landlock, &rule); err != 0) {
      errno = err;
      fail(report_fd, Step::kLandlock, rule);
    }
  }
  if (spec.seccomp != nullptr) {
    sock_fprog prog{static_cast<unsigned short>(spec.seccomp->size()),
                    const_cast<sock_filter*>(spec.seccomp->data())};
    if (!spec.seccomp_listener) {
      if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
        fail(report_fd, Step::kSeccomp);
      }
    } else {
      // From here every call the profile denies waits for an answer from whoever holds the
      // listener: hand it to the supervisor at once (sendmsg on this fd is allowed), then only
      // execve follows. The listener is close-on-exec.
      long listener =
          ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
      if (listener < 0) fail(report_fd, Step::kSeccomp);
      char tag = 'L';
      if (send_report(report_fd, &tag, 1, static_cast<int>(listener)) != 1) {
        fail(report_fd, Step::kSeccompHandoff);
      }
    }
  }
  ::execve(spec.exec.c_str(), a.argv, a.envp);
  fail(report_fd, Step::kExecve);
}

// Runs on the program stack, which AddressSanitizer does not know: uninstrumented, so that it
// does not warn (and take its report lock) at the call to the noreturn exec_program.
__attribute__((no_sanitize("address"))) int program_entry(void* arg) {
  exec_program(*static_cast<const ChildArgs*>(arg));
}

// "/oldroot/proc/self/fd/N" into buf, without allocating.
const char* fd_path(char (&buf)[48], int fd) {
  static constexpr char kPrefix[] = "/oldroot/proc/self/fd/";
  std::memcpy(buf, kPrefix, sizeof kPrefix - 1);
  char digits[12];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + fd % 10);
    fd /= 10;
  } while (fd > 0);
  size_t at = sizeof kPrefix - 1;
  while (n > 0) buf[at++] = digits[--n];
  buf[at] = '\0';
  return buf;
}

// Opens path for writing (plus `flags`) and writes all of data in one call: 0, or -1 with errno.
int write_whole(const char* path, int flags, const std::string& data) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC | flags, 0644);
  if (fd < 0) return -1;
  ssize_t n = ::write(fd, data.data(), data.size());
  int err = errno;
  ::close(fd);
  if (n == static_cast<ssize_t>(data.size())) return 0;
  errno = n < 0 ? err : EIO;
  return -1;
}

// Binds: in the template, source_fd is an O_PATH fd reached through /oldroot; late, it is a
// detached copy (open_tree) moved into place. Late paths are relative to the sandbox's root.
int bind(const MountOp& op, const char* path, int source_fd, unsigned long flags) {
  if (op.late) {
    return static_cast<int>(
        ::syscall(SYS_move_mount, source_fd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH));
  }
  char src_buf[48];
  return ::mount(fd_path(src_buf, source_fd), path, nullptr, MS_BIND | flags, nullptr);
}

void run_op(const MountOp& op, int source_fd, int report_fd, int index) {
  const char* path = op.path.c_str() + (op.late ? kPlanRoot.size() : 0);
  int rc = 0;
  switch (op.kind) {
    case MountOpKind::kMkdir:
      rc = ::mkdir(path, 0755);
      if (rc != 0 && errno == EEXIST) rc = 0;
      break;
    case MountOpKind::kTouch: {
      int fd = ::open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0444);
      rc = fd < 0 ? -1 : ::close(fd);
      break;
    }
    case MountOpKind::kSymlink:
      rc = ::symlink(op.source.c_str(), path);
      break;
    case MountOpKind::kWriteFile:
      rc = write_whole(path, O_CREAT | O_TRUNC, op.data);
      break;
    case MountOpKind::kSysctl:
      rc = write_whole(path, 0, op.data);
      break;
    case MountOpKind::kBindRo:
      rc = bind(op, path, source_fd, MS_REC);
      if (rc == 0) {
        rc = mount_setattr(path, AT_RECURSIVE,
                           MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
      }
      break;
    case MountOpKind::kBindRw:
      rc = bind(op, path, source_fd, MS_REC);
      if (rc == 0) rc = mount_setattr(path, AT_RECURSIVE, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
      break;
    case MountOpKind::kBindDev:
      rc = bind(op, path, source_fd, 0);
      if (rc == 0) rc = mount_setattr(path, 0, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
      break;
    case MountOpKind::kTmpfs:
      rc = ::mount("tmpfs", path, "tmpfs", op.flags, op.data.c_str());
      break;
    case MountOpKind::kProc:
      rc = ::mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
      break;
    case MountOpKind::kDevpts:
      rc = ::mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC, op.data.c_str());
      break;
    case MountOpKind::kAttach:
      rc = static_cast<int>(
          ::syscall(SYS_move_mount, op.fd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH));
      break;
  }
  if (rc != 0) fail(report_fd, Step::kMountOp, index);
}

// A template root: a private staging tmpfs is pivoted to first, with the host's root at
// /oldroot (so bind sources resolve even where the sandbox will shadow them) and the new root,
// another tmpfs, at /newroot. After the plan's static steps the host is detached and /newroot
// becomes "/", read-only.
void build_root(const SandboxPlan& plan, const int* bind_fds, int report_fd) {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      ::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=64k") != 0 ||
      ::mkdir("/tmp/newroot", 0755) != 0 || ::mkdir("/tmp/oldroot", 0755) != 0 ||
      ::syscall(SYS_pivot_root, "/tmp", "/tmp/oldroot") != 0 || ::chdir("/") != 0 ||
      ::mount("tmpfs", "/newroot", "tmpfs", MS_NOSUID | MS_NODEV,
              "mode=0755,size=1m,nr_inodes=4096") != 0) {
    fail(report_fd, Step::kStaging);
  }
  for (size_t i = 0; i < plan.ops.size(); ++i) {
    if (!plan.ops[i].late) run_op(plan.ops[i], bind_fds[i], report_fd, static_cast<int>(i));
  }
  if (::mount(nullptr, "/oldroot", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      ::umount2("/oldroot", MNT_DETACH) != 0 || ::chdir("/newroot") != 0 ||
      ::syscall(SYS_pivot_root, ".", ".") != 0 || ::umount2(".", MNT_DETACH) != 0 ||
      ::chdir("/") != 0) {
    fail(report_fd, Step::kPivot);
  }
  if (mount_setattr("/", 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV) != 0 ||
      mount_setattr("/dev", 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC) != 0) {
    fail(report_fd, Step::kReadOnlyRoot);
  }
}

// PID 1 of the sandbox: forwards every signal it gets to the program's process group, reaps
// everything reparented to it, and when the program exits passes its raw wait status to the
// supervisor (status_fd) and exits, which kills whatever is left in the namespace.
[[noreturn]] void init_loop(pid_t program, int status_fd, int exit_fd) {
  sigset_t all;
  sigfillset(&all);
  for (;;) {
    siginfo_t info{};
    int sig = ::sigwaitinfo(&all, &info);
    if (sig < 0) continue;  // EINTR
    if (sig != SIGCHLD) {
      if (::kill(-program, sig) != 0) (void)::kill(program, sig);
      continue;
    }
    for (;;) {
      int status = 0;
      pid_t w = ::waitpid(-1, &status, WNOHANG);
      if (w <= 0) break;
      if (w != program) continue;
      // The exit file first: a supervisor that adopted us (not our parent) reads it once our
      // pidfd says we are gone.
      if (exit_fd >= 0) {
        ssize_t e = ::pwrite(exit_fd, &status, sizeof status, 0);
        (void)e;  // the status pipe and our own exit code still carry it
      }
      ssize_t n = ::write(status_fd, &status, sizeof status);
      (void)n;  // without it the supervisor still has our exit code
      ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
  }
}

// The plan's late steps, in the sandbox's own copy of its template: the sysctls (which belong to
// its user namespace, so they wait for it) or everything else.
void run_late(const SandboxPlan& plan, const int* bind_fds, int report_fd, bool sysctls) {
  for (size_t i = 0; i < plan.ops.size(); ++i) {
    const MountOp& op = plan.ops[i];
    if (op.late && (op.kind == MountOpKind::kSysctl) == sysctls) {
      run_op(op, bind_fds[i], report_fd, static_cast<int>(i));
    }
  }
}

// The sandbox's init until it starts the program. It was cloned into a new pid namespace only
// (and on cgroup2, into its cgroup), and does the rest as the host's root, in this order, so
// that every namespace but the user and cgroup ones belongs to the host (the sandbox can
// reconfigure none of them): join the template root and copy it, make the per-launch mounts,
// then a user namespace, whose id maps the parent writes while it finishes the cgroup; at that
// gate come the v1 cgroup files to join, and then the cgroup namespace.
[[noreturn]] void sandbox_main(const ChildArgs& a) {
  const SandboxSpec& s = *a.spec->sandbox;
  const SandboxPlan& plan = *a.plan;
  int report_fd = a.report_fd;
  default_dispositions(report_fd);  // SIGCHLD back to SIG_DFL so children stay waitable
  if (::setsid() < 0) fail(report_fd, Step::kSetsid);
  // Late bind sources are cloned while we still see the host's mounts.
  for (size_t i = 0; i < plan.ops.size(); ++i) {
    const MountOp& op = plan.ops[i];
    if (!op.late || !is_bind(op.kind)) continue;
    unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                     (op.kind == MountOpKind::kBindDev ? 0u : unsigned{AT_RECURSIVE});
    a.bind_fds[i] = static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, op.source.c_str(), flags));
    if (a.bind_fds[i] < 0) fail(report_fd, Step::kMountOp, static_cast<int>(i));
  }
  if (a.netns_fd >= 0 && ::setns(a.netns_fd, CLONE_NEWNET) != 0) fail(report_fd, Step::kNetns);
  if (::setns(a.template_fd, CLONE_NEWNS) != 0 ||
      ::unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS) != 0) {
    fail(report_fd, Step::kEnterRoot);
  }
  if (::sethostname(s.hostname.data(), s.hostname.size()) != 0) fail(report_fd, Step::kHostname);
  run_late(plan, a.bind_fds, report_fd, /*sysctls=*/false);
  if (::unshare(CLONE_NEWUSER) != 0) fail(report_fd, Step::kUserNs);
  Report ask{static_cast<int>(Step::kAwaitingIdMaps), 0, 0};
  if (send_report(report_fd, &ask, sizeof ask, -1) != static_cast<ssize_t>(sizeof ask)) {
    fail(report_fd, Step::kGate);
  }
  int join[kMaxJoinFds];
  size_t joins = wait_gate(report_fd, join);  // our id maps are written
  // Into the plugin's cgroups before anything forks, and a cgroup namespace rooted there.
  join_cgroups(report_fd, join, joins);
  for (size_t i = 0; i < joins; ++i) (void)::close(join[i]);  // close-on-exec anyway
  if (::unshare(CLONE_NEWCGROUP) != 0) fail(report_fd, Step::kCgroupNs);
  // Root of the new user namespace: drop the host's groups.
  if (set_ids(0, 0, true) != 0) fail(report_fd, Step::kIds);
  run_late(plan, a.bind_fds, report_fd, /*sysctls=*/true);

  // vfork-style: the program shares our memory (on its own stack) until it has exec'd, so no
  // page tables are copied, and we resume once it runs.
  pid_t pid = ::clone(program_entry, a.program_stack + a.program_stack_size,
                      CLONE_VM | CLONE_VFORK | SIGCHLD, const_cast<ChildArgs*>(&a));
  if (pid < 0) fail(report_fd, Step::kFork);

  // The init keeps only the status pipe, and of its privileges (over the sandbox's namespaces
  // only) just CAP_KILL: the program runs as another uid, and signals must reach it.
  // The report socket stays open until this is done, so a failure here is still a launch failure
  // (the program, already running, is killed first).
  static constexpr char kName[] = "corral-init";
  if (sys_prctl(PR_SET_NAME, reinterpret_cast<unsigned long>(kName)) != 0 ||
      sys_prctl(PR_SET_DUMPABLE, 0) != 0 || sys_prctl(PR_SET_NO_NEW_PRIVS, 1) != 0 ||
      set_capabilities(CAP_KILL) != 0) {
    int err = errno;
    (void)::kill(pid, SIGKILL);  // the program is our child: this cannot fail
    errno = err;
    fail(report_fd, Step::kInit);
  }
  // What the init keeps, at fixed numbers (launcher.h): the status pipe, the exit file and the
  // descriptors a restarted supervisor takes back. All are moved high first, so that no dup2
  // below overwrites a source still to be moved; everything else is closed.
  const LaunchSpec& spec = *a.spec;
  int keep[2 + kMaxInitKeep];
  size_t kept = 0;
  keep[kept++] = a.status_fd;
  keep[kept++] = spec.exit_file_fd;
  for (size_t i = 0; i < spec.init_keep.size() && i < kMaxInitKeep; ++i) {
    keep[kept++] = spec.init_keep[i];
  }
  // The report socket too, for a failure below (closed with the rest once all is in place).
  int report_high = ::fcntl(report_fd, F_DUPFD_CLOEXEC, 64);
  bool ok = report_high >= 0;
  if (ok) report_fd = report_high;
  for (size_t i = 0; i < kept && ok; ++i) {
    if (keep[i] >= 0) {
      keep[i] = ::fcntl(keep[i], F_DUPFD_CLOEXEC, 64);
      ok = keep[i] >= 0;
    }
  }
  for (size_t i = 0; i < kept && ok; ++i) {
    int slot = kInitStatusFd + static_cast<int>(i);
    ok = keep[i] < 0 ? (::close(slot) == 0 || errno == EBADF) : ::dup2(keep[i], slot) == slot;
  }
  if (!ok || ::syscall(SYS_close_range, 0u, 2u, 0) != 0 ||
      ::syscall(SYS_close_range, static_cast<unsigned>(kInitStatusFd + kept), ~0u, 0) != 0) {
    int err = errno;
    (void)::kill(pid, SIGKILL);
    errno = err;
    fail(report_fd, Step::kInit);
  }
  init_loop(static_cast<pid_t>(pid), kInitStatusFd, spec.exit_file_fd >= 0 ? kInitExitFd : -1);
}

std::string rlimit_name(int resource) {
  static constexpr const char* kNames[] = {
      "RLIMIT_CPU",      "RLIMIT_FSIZE", "RLIMIT_DATA",   "RLIMIT_STACK",
      "RLIMIT_CORE",     "RLIMIT_RSS",   "RLIMIT_NPROC",  "RLIMIT_NOFILE",
      "RLIMIT_MEMLOCK",  "RLIMIT_AS",    "RLIMIT_LOCKS",  "RLIMIT_SIGPENDING",
      "RLIMIT_MSGQUEUE", "RLIMIT_NICE",  "RLIMIT_RTPRIO", "RLIMIT_RTTIME"};
  static_assert(std::size(kNames) == RLIMIT_NLIMITS);
  if (resource >= 0 && resource < static_cast<int>(std::size(kNames))) return kNames[resource];
  return "resource " + std::to_string(resource);
}

}  // namespace

[[noreturn]] void child_main(ChildArgs a) {
  // The report pipe may sit on 0-2 if the parent had them closed; the dup2s later would then
  // replace it. Move it above stderr first (errors until then can only be reported where it is).
  if (a.report_fd <= STDERR_FILENO) {
    int moved = ::fcntl(a.report_fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    if (moved < 0) fail(a.report_fd, Step::kReportFd);
    a.report_fd = moved;
  }
  // Not sandboxed: into the plugin's v1 cgroups first, before anything is allocated or forked.
  join_cgroups(a.report_fd, a.join_fds, a.join_count);
  if (a.plan != nullptr) sandbox_main(a);  // waits at the gate itself
  exec_program(a);
}

Cloned clone3_signals_blocked(clone_args& args, void (*entry)(ChildArgs), const ChildArgs& child) {
  Cloned out;
  sigset_t all, old_mask;
  sigfillset(&all);
  if (int err = ::pthread_sigmask(SIG_SETMASK, &all, &old_mask); err != 0) {
    out.err = err;
    out.what = "blocking signals for clone3";
    return out;
  }
  out.pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (out.pid == 0) {
    entry(child);
    ::_exit(127);  // entries never return
  }
  if (out.pid < 0) {
    out.err = errno;
    out.what = "clone3";
  }
  out.mask_err = ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  return out;
}

[[noreturn]] void template_main(ChildArgs a) {
  // Only the report socket and the gate's read end stay: our copy of the gate's write end would
  // keep the EOF we wait for from ever coming, and nothing else of the parent's belongs here.
  unsigned lo = static_cast<unsigned>(std::min(a.report_fd, a.gate_fd));
  unsigned hi = static_cast<unsigned>(std::max(a.report_fd, a.gate_fd));
  if ((lo > 0 && ::syscall(SYS_close_range, 0u, lo - 1, 0) != 0) ||
      (hi > lo + 1 && ::syscall(SYS_close_range, lo + 1, hi - 1, 0) != 0) ||
      ::syscall(SYS_close_range, hi + 1, ~0u, 0) != 0) {
    fail(a.report_fd, Step::kCloseRange);
  }
  // Bind sources are opened here, in our copy of the host's mounts (bind mounts need that).
  for (size_t i = 0; i < a.plan->ops.size(); ++i) {
    const MountOp& op = a.plan->ops[i];
    if (op.late || !is_bind(op.kind)) continue;
    a.bind_fds[i] = ::open(op.source.c_str(), O_PATH | O_CLOEXEC);
    if (a.bind_fds[i] < 0) fail(a.report_fd, Step::kMountOp, static_cast<int>(i));
  }
  build_root(*a.plan, a.bind_fds, a.report_fd);
  Report ready{static_cast<int>(Step::kTemplateReady), 0, 0};
  if (send_report(a.report_fd, &ready, sizeof ready, -1) != static_cast<ssize_t>(sizeof ready)) {
    ::_exit(127);
  }
  char c;
  ssize_t n;
  do {
    n = ::read(a.gate_fd, &c, 1);  // EOF: the parent has what it needs
  } while (n < 0 && errno == EINTR);
  ::_exit(0);
}

std::string step_name(const Report& r, const LaunchSpec& spec, const SandboxPlan* plan,
                      const LandlockPlan* landlock) {
  switch (static_cast<Step>(r.step)) {
    case Step::kSignals:
      return "resetting signals";
    case Step::kSetsid:
      return "setsid";
    case Step::kDevNull:
      return "opening /dev/null";
    case Step::kDup: {
      static constexpr const char* kStreams[] = {"stdin", "stdout", "stderr"};
      if (r.detail == kNotifyFd) {
        return "setting up the readiness fd 3 from fd " + std::to_string(spec.notify_fd);
      }
      if (r.detail < 0 || r.detail > 2) return "setting up stdin/stdout/stderr";
      int fds[] = {spec.stdin_fd, spec.stdout_fd, spec.stderr_fd};
      return std::string("setting up ") + kStreams[r.detail] + " from fd " +
             std::to_string(fds[r.detail]);
    }
    case Step::kReportFd:
      return "moving the launch report pipe";
    case Step::kCloseRange:
      return "closing inherited file descriptors";
    case Step::kChdir:
      return "chdir to " + spec.working_dir;
    case Step::kSetrlimit:
      return "setrlimit(" + rlimit_name(r.detail) + ")";
    case Step::kExecve:
      return "execve";
    case Step::kGate:
      return "waiting for its id maps and cgroup";
    case Step::kNoNewPrivs:
      return "prctl(PR_SET_NO_NEW_PRIVS)";
    case Step::kSeccomp:
      return "installing the seccomp filter";
    case Step::kSeccompHandoff:
      return "handing the seccomp listener to the supervisor";
    case Step::kIds:
      return "switching to its uid/gid inside the user namespace";
    case Step::kCgroupNs:
      return "creating its cgroup namespace";
    case Step::kEnterRoot:
      return "entering its root (setns into the template, unsharing mount, ipc and uts "
             "namespaces)";
    case Step::kNetns:
      return "entering its network namespace";
    case Step::kUserNs:
      return "creating its user namespace";
    case Step::kAwaitingIdMaps:
      return "waiting for its id maps";
    case Step::kTemplateReady:
      return "building its template root";
    case Step::kCgroupJoin: {
      auto files =
          spec.cgroup != nullptr ? spec.cgroup->self_join_files() : std::vector<std::string>();
      if (r.detail < 0 || static_cast<size_t>(r.detail) >= files.size())
        return "joining its cgroup";
      return "joining its cgroup (" + files[static_cast<size_t>(r.detail)] + ")";
    }
    case Step::kInit:
      return "setting up the sandbox's init (name, capabilities, file descriptors)";
    case Step::kHostname:
      return "setting the hostname";
    case Step::kStaging:
      return "preparing the staging root (private mounts, pivot_root)";
    case Step::kMountOp:
      if (plan != nullptr && r.detail >= 0 && static_cast<size_t>(r.detail) < plan->ops.size()) {
        return plan->ops[static_cast<size_t>(r.detail)].describe();
      }
      return "mount step " + std::to_string(r.detail);
    case Step::kPivot:
      return "pivoting into the new root and detaching the host's";
    case Step::kReadOnlyRoot:
      return "making the root read-only";
    case Step::kFork:
      return "starting the program under the sandbox's init";
    case Step::kCapBounding:
      return "dropping capability " + std::to_string(r.detail) + " from the bounding set";
    case Step::kCaps:
      return "clearing capabilities";
    case Step::kSecurebits:
      return "locking securebits";
    case Step::kLandlock:
      if (landlock != nullptr && r.detail >= 0 &&
          static_cast<size_t>(r.detail) < landlock->rules.size()) {
        return "adding the Landlock rule for " +
               landlock->rules[static_cast<size_t>(r.detail)].path;
      }
      return "applying the Landlock ruleset";
  }
  return "step " + std::to_string(r.step);
}

}  // namespace corral::sandbox::detail
