#include "sandbox/sandbox_exec.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace corral::sandbox {

namespace {

// Only async-signal-safe calls below: corrald has threads, and this runs between fork and exec.
void write_pid(const char* file, pid_t pid) {
  char buf[16];
  int n = 0;
  char rev[16];
  do {
    rev[n++] = static_cast<char>('0' + pid % 10);
    pid /= 10;
  } while (pid > 0 && n < 15);
  for (int i = 0; i < n; ++i) buf[i] = rev[n - 1 - i];
  int fd = ::open(file, O_WRONLY | O_CLOEXEC);
  if (fd < 0) ::_exit(125);
  if (::write(fd, buf, static_cast<size_t>(n)) != n) ::_exit(125);
  ::close(fd);
}

[[noreturn]] void run_command(const SandboxExecSpec& s, char* const* argv, char* const* envp,
                              sock_fprog* prog) {
  if (s.ns_pidfd >= 0) {
    if (::setgroups(0, nullptr) != 0 && errno != EPERM) ::_exit(126);
  }
  if (::setresgid(s.gid, s.gid, s.gid) != 0 || ::setresuid(s.uid, s.uid, s.uid) != 0) {
    ::_exit(126);
  }
  // After the credential change (which clears it): die with the waiting parent.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ::_exit(126);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(126);
  if (s.landlock != nullptr) {
    int rule = -1;
    if (landlock_apply(*s.landlock, &rule) != 0) ::_exit(126);
  }
  if (::syscall(SYS_close_range, 3u, ~0u, 0) != 0) ::_exit(126);
  if (::chdir("/") != 0) ::_exit(126);
  if (prog != nullptr && ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) != 0) {
    ::_exit(126);
  }
  ::execve(argv[0], argv, envp);
  ::_exit(127);
}

}  // namespace

Result<Process> exec_in_sandbox(const SandboxExecSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty() || spec.argv[0][0] != '/') {
    return make_error(Code::kInvalidArgument, "exec probe: the command must be an absolute path");
  }
  // Everything the child needs is allocated here, before fork.
  std::vector<std::string> args = spec.argv, env = spec.env;
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<sock_filter> filter;
  sock_fprog prog{};
  if (spec.seccomp != nullptr) {
    filter = *spec.seccomp;
    prog = {static_cast<unsigned short>(filter.size()), filter.data()};
  }
  UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null) return sys_error("exec probe: opening /dev/null");

  pid_t pid = ::fork();
  if (pid < 0) return sys_error("exec probe: fork");
  if (pid == 0) {
    // The waiter: its own session (the Process's group kill stays within it), stdio on
    // /dev/null, in the cgroup, then the namespaces; the command forks into the pid namespace.
    if (::setsid() < 0) ::_exit(125);
    for (int fd = 0; fd < 3; ++fd) {
      if (::dup2(null.get(), fd) < 0) ::_exit(125);
    }
    for (const auto& f : spec.join_files) write_pid(f.c_str(), ::getpid());
    if (spec.ns_pidfd >= 0 &&
        ::setns(spec.ns_pidfd, CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET |
                                   CLONE_NEWIPC | CLONE_NEWUTS) != 0) {
      ::_exit(125);
    }
    pid_t cmd = ::fork();
    if (cmd < 0) ::_exit(125);
    if (cmd == 0) run_command(spec, argv.data(), envp.data(), spec.seccomp ? &prog : nullptr);
    int st = 0;
    while (::waitpid(cmd, &st, 0) < 0) {
      if (errno != EINTR) ::_exit(125);
    }
    ::_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
  }
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) {
    int err = errno;
    (void)::kill(pid, SIGKILL);
    (void)::waitpid(pid, nullptr, 0);
    return std::unexpected(Error{Code::kInternal, err, "exec probe: pidfd_open"});
  }
  return Process(pid, std::move(pidfd));
}

}  // namespace corral::sandbox
