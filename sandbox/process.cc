#include "sandbox/process.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

namespace corral::sandbox {

std::string ExitStatus::describe() const {
  if (!signaled) return "exited with code " + std::to_string(code);
  std::string out = "killed by signal " + std::to_string(code);
  if (const char* abbrev = ::sigabbrev_np(code); abbrev != nullptr) {
    out += std::string(" (SIG") + abbrev + ")";
  } else if (code >= SIGRTMIN && code <= SIGRTMAX) {
    out += " (SIGRTMIN+" + std::to_string(code - SIGRTMIN) + ")";  // glibc has no names for these
  }
  return out;
}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      program_pid_(std::exchange(other.program_pid_, -1)),
      pidfd_(std::move(other.pidfd_)),
      status_fd_(std::move(other.status_fd_)),
      listener_(std::move(other.listener_)),
      reaped_(std::exchange(other.reaped_, true)),
      adopted_(other.adopted_) {}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    kill_and_reap();
    pid_ = std::exchange(other.pid_, -1);
    program_pid_ = std::exchange(other.program_pid_, -1);
    pidfd_ = std::move(other.pidfd_);
    status_fd_ = std::move(other.status_fd_);
    listener_ = std::move(other.listener_);
    reaped_ = std::exchange(other.reaped_, true);
    adopted_ = other.adopted_;
  }
  return *this;
}

Process Process::adopted(pid_t pid, UniqueFd pidfd, UniqueFd exit_file) {
  Process p(pid, std::move(pidfd), std::move(exit_file));
  p.adopted_ = true;
  return p;
}

Process::~Process() { kill_and_reap(); }

void Process::kill_and_reap() noexcept {
  if (reaped_ || !pidfd_) return;
  // The leader is unreaped, so its pid (the pgid) cannot have been reused. (An adopted init is
  // not ours to reap: SIGKILL through its pidfd takes its pid namespace with it.)
  if (!adopted_) (void)::kill(-pid_, SIGKILL);
  (void)::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
  (void)wait();
}

Result<void> Process::signal(int sig) {
  if (reaped_) return make_error(Code::kFailedPrecondition, "process already reaped");
  if (::syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0) != 0) {
    return sys_error("pidfd_send_signal(" + std::to_string(pid_) + ", " + std::to_string(sig) +
                     ")");
  }
  return {};
}

Result<void> Process::signal_group(int sig) {
  if (reaped_) return make_error(Code::kFailedPrecondition, "process already reaped");
  // Not our child: its pid may be reaped (and reused) by its parent any time, so only its pidfd
  // is safe; the init passes the signal on to the program's group.
  if (adopted_) return signal(sig);
  if (::kill(-pid_, sig) != 0) {
    return sys_error("kill(-" + std::to_string(pid_) + ", " + std::to_string(sig) + ")");
  }
  return {};
}

namespace {
ExitStatus from_siginfo(const siginfo_t& info) {
  if (info.si_code == CLD_EXITED) return {false, info.si_status};
  return {true, info.si_status};
}
}  // namespace

ExitStatus Process::finish(const siginfo_t& info) {
  reaped_ = true;
  ExitStatus st = from_siginfo(info);
  if (status_fd_) {
    int raw = 0;
    ssize_t n = ::read(status_fd_.get(), &raw, sizeof raw);
    if (n == static_cast<ssize_t>(sizeof raw)) {
      st = WIFEXITED(raw) ? ExitStatus{false, WEXITSTATUS(raw)} : ExitStatus{true, WTERMSIG(raw)};
    }
    status_fd_.reset();
  }
  return st;
}

Result<std::optional<ExitStatus>> Process::finish_adopted(int timeout_ms) {
  pollfd p{pidfd_.get(), POLLIN, 0};
  for (;;) {
    int n = ::poll(&p, 1, timeout_ms);
    if (n > 0) break;
    if (n == 0) return std::optional<ExitStatus>{};
    if (errno != EINTR) return sys_error("poll(pidfd of " + std::to_string(pid_) + ")");
  }
  // Gone. The exit file has the program's status unless the init itself was killed first.
  siginfo_t info{};
  info.si_code = CLD_KILLED;
  info.si_status = SIGKILL;
  return std::optional<ExitStatus>(finish(info));
}

Result<std::optional<ExitStatus>> Process::try_wait() {
  if (reaped_) return make_error(Code::kFailedPrecondition, "process already reaped");
  if (adopted_) return finish_adopted(0);
  siginfo_t info{};
  for (;;) {
    if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &info,
                 WEXITED | WNOHANG) == 0) {
      break;
    }
    if (errno != EINTR) return sys_error("waitid(pid " + std::to_string(pid_) + ")");
  }
  if (info.si_pid == 0) return std::optional<ExitStatus>{};
  return std::optional<ExitStatus>(finish(info));
}

Result<ExitStatus> Process::wait() {
  if (reaped_) return make_error(Code::kFailedPrecondition, "process already reaped");
  if (adopted_) {
    auto st = finish_adopted(-1);
    if (!st) return std::unexpected(st.error());
    return **st;
  }
  siginfo_t info{};
  for (;;) {
    if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &info, WEXITED) ==
        0) {
      break;
    }
    if (errno != EINTR) return sys_error("waitid(pid " + std::to_string(pid_) + ")");
  }
  return finish(info);
}

}  // namespace corral::sandbox
