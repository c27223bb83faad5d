#include "sandbox/launcher.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <iterator>
#include <optional>

namespace corral::sandbox {

namespace {

// What the child failed at before exec; sent to the parent over the report pipe.
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
};

struct Report {
  int step;
  int err;
  int detail;  // the rlimit resource for kSetrlimit, the stream (0-2) for kDup
};

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

std::string step_name(const Report& r, const LaunchSpec& spec) {
  switch (static_cast<Step>(r.step)) {
    case Step::kSignals:
      return "resetting signals";
    case Step::kSetsid:
      return "setsid";
    case Step::kDevNull:
      return "opening /dev/null";
    case Step::kDup: {
      static constexpr const char* kStreams[] = {"stdin", "stdout", "stderr"};
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
      return "chdir";
    case Step::kSetrlimit:
      return "setrlimit(" + rlimit_name(r.detail) + ")";
    case Step::kExecve:
      return "execve";
    case Step::kGate:
      return "waiting to be placed in its cgroup";
    case Step::kNoNewPrivs:
      return "prctl(PR_SET_NO_NEW_PRIVS)";
    case Step::kSeccomp:
      return "installing the seccomp filter";
  }
  return "step " + std::to_string(r.step);
}

[[noreturn]] void fail(int report_fd, Step step, int detail = 0) {
  Report r{static_cast<int>(step), errno, detail};
  // Nothing useful can be done if this write fails: the parent then sees the exit code 127.
  ssize_t n = ::write(report_fd, &r, sizeof r);
  (void)n;
  ::_exit(127);
}

// Runs in the child: async-signal-safe calls only. Starts with every signal blocked (the parent
// blocked them around clone3), so no handler inherited from the parent can run here.
[[noreturn]] void child(const LaunchSpec& spec, char* const* argv, char* const* envp, int report_fd,
                        int gate_fd) {
  // The report pipe may sit on 0-2 if the parent had them closed; the dup2s below would then
  // replace it. Move it above stderr first (errors until then can only be reported where it is).
  if (report_fd <= STDERR_FILENO) {
    int moved = ::fcntl(report_fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    if (moved < 0) fail(report_fd, Step::kReportFd);
    report_fd = moved;
  }
  if (gate_fd >= 0) {
    // The parent writes one byte once we are in our cgroup; EOF means it gave up on us.
    char go = 0;
    ssize_t n;
    do {
      n = ::read(gate_fd, &go, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) {
      errno = n == 0 ? ECANCELED : errno;
      fail(report_fd, Step::kGate);
    }
  }
  // Dispositions first, mask last: a signal pending since the fork is delivered only once its
  // handler is SIG_DFL.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    // glibc refuses its reserved signals (SIGCANCEL, SIGSETXID) with EINVAL: they keep glibc's.
    if (::sigaction(sig, &dfl, nullptr) != 0 && errno != EINVAL) fail(report_fd, Step::kSignals);
  }
  sigset_t none;
  sigemptyset(&none);
  if (::sigprocmask(SIG_SETMASK, &none, nullptr) != 0) fail(report_fd, Step::kSignals);
  if (::setsid() < 0) fail(report_fd, Step::kSetsid);

  // Move every source to a high fd first so dup2 onto 0-2 never clobbers another source.
  std::array<int, 3> src = {spec.stdin_fd, spec.stdout_fd, spec.stderr_fd};
  std::array<int, 3> high{};
  for (size_t i = 0; i < 3; ++i) {
    int fd = src[i];
    if (fd < 0) {
      fd = ::open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
      if (fd < 0) fail(report_fd, Step::kDevNull);
    }
    high[i] = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
    if (high[i] < 0) fail(report_fd, Step::kDup, static_cast<int>(i));
  }
  for (int i = 0; i < 3; ++i) {
    if (::dup2(high[static_cast<size_t>(i)], i) < 0) fail(report_fd, Step::kDup, i);
  }
  // Everything above stderr closes at exec (the report pipe is already O_CLOEXEC).
  if (::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) != 0) {
    fail(report_fd, Step::kCloseRange);
  }
  if (::chdir(spec.working_dir.c_str()) != 0) fail(report_fd, Step::kChdir);
  for (const auto& l : spec.rlimits) {
    rlimit rl{l.soft, l.hard};
    if (::setrlimit(static_cast<__rlimit_resource>(l.resource), &rl) != 0) {
      fail(report_fd, Step::kSetrlimit, l.resource);
    }
  }
  if (spec.seccomp != nullptr) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(report_fd, Step::kNoNewPrivs);
    sock_fprog prog{static_cast<unsigned short>(spec.seccomp->size()),
                    const_cast<sock_filter*>(spec.seccomp->data())};
    if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
      fail(report_fd, Step::kSeccomp);
    }
  }
  ::execve(spec.exec.c_str(), argv, envp);
  fail(report_fd, Step::kExecve);
}

Result<void> validate(const LaunchSpec& spec) {
  if (spec.exec.empty() || spec.exec[0] != '/') {
    return make_error(Code::kInvalidArgument,
                      "exec must be an absolute path, got \"" + spec.exec + "\"");
  }
  if (spec.working_dir.empty() || spec.working_dir[0] != '/') {
    return make_error(Code::kInvalidArgument,
                      "working_dir must be an absolute path, got \"" + spec.working_dir + "\"");
  }
  struct stat st {};
  if (::stat(spec.exec.c_str(), &st) != 0) return sys_error("cannot use " + spec.exec);
  if (!S_ISREG(st.st_mode)) {
    return make_error(Code::kInvalidArgument, spec.exec + " is not a regular file");
  }
  if (::access(spec.exec.c_str(), X_OK) != 0) return sys_error(spec.exec + " is not executable");
  return {};
}

}  // namespace

Result<Process> DirectLauncher::launch(const LaunchSpec& spec) {
  if (auto ok = validate(spec); !ok) return std::unexpected(ok.error().wrap("launching"));

  std::vector<char*> argv;
  argv.reserve(spec.args.size() + 2);
  argv.push_back(const_cast<char*>(spec.exec.c_str()));
  for (const auto& a : spec.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(spec.env.size() + 1);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return sys_error("creating the launch report pipe");
  UniqueFd report_r(report[0]);
  UniqueFd report_w(report[1]);

  UniqueFd gate_r, gate_w;
  bool gated = spec.cgroup != nullptr && !spec.cgroup->v2_only();
  if (gated) {
    int gate[2];
    if (::pipe2(gate, O_CLOEXEC) != 0) return sys_error("creating the cgroup gate pipe");
    gate_r.reset(gate[0]);
    gate_w.reset(gate[1]);
  }

  int pidfd = -1;
  clone_args args{};
  args.flags = CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  if (spec.cgroup != nullptr && spec.cgroup->v2_fd() >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(spec.cgroup->v2_fd());
  }
  // Block every signal across clone3 so that none is handled in the child before it has reset
  // the dispositions it inherited (a parent's handler running there could, say, write to the
  // parent's self-pipe). The child unblocks them itself; the parent restores its mask at once.
  sigset_t all, old_mask;
  sigfillset(&all);
  if (int err = ::pthread_sigmask(SIG_SETMASK, &all, &old_mask); err != 0) {
    return sys_error("blocking signals for clone3", err);
  }
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  int clone_errno = errno;
  if (pid == 0) child(spec, argv.data(), envp.data(), report_w.get(), gate_r.get());
  // From here on the child is owned: every early return below kills and reaps it.
  std::optional<Process> proc;
  if (pid > 0) proc.emplace(static_cast<pid_t>(pid), UniqueFd(pidfd));
  if (int err = ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr); err != 0) {
    return sys_error("restoring the signal mask after clone3", err);
  }
  if (pid < 0) {
    return sys_error(
        "clone3 for " + spec.exec +
            ((args.flags & CLONE_INTO_CGROUP) != 0 ? " into cgroup " + spec.cgroup->name()
                                                   : std::string()),
        clone_errno);
  }
  report_w.reset();
  if (gated) {
    gate_r.reset();
    if (auto added = spec.cgroup->add(proc->pid()); !added) {
      // Dropping proc kills and reaps the child, which never ran the program.
      return std::unexpected(added.error().wrap("launching " + spec.exec +
                                                ": placing it in cgroup " + spec.cgroup->name()));
    }
    if (::write(gate_w.get(), "g", 1) != 1) return sys_error("opening the cgroup gate");
    gate_w.reset();
  }
  Report r{};
  ssize_t n;
  do {
    n = ::read(report_r.get(), &r, sizeof r);
  } while (n < 0 && errno == EINTR);
  if (n == 0) return std::move(*proc);  // the pipe closed at exec: the program runs
  if (n < 0) return sys_error("launching " + spec.exec + ": reading the child's launch report");
  if (n != static_cast<ssize_t>(sizeof r)) {
    // A pipe write this small is atomic; dropping proc kills and reaps the child.
    return make_error(Code::kInternal, "launching " + spec.exec + ": short launch report (" +
                                           std::to_string(n) + " bytes)");
  }
  // The child has reported and is exiting with 127: its status adds nothing to the report.
  proc.reset();  // kills (a no-op for an exiting child) and reaps it
  return sys_error("launching " + spec.exec + ": " + step_name(r, spec) + " failed", r.err);
}

}  // namespace corral::sandbox
