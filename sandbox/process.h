// Process: a launched child owned through its pidfd. Move-only. If dropped before it was reaped it
// kills the child's whole process group with SIGKILL and reaps it, so no child is ever leaked.
// Signals go through the pidfd (immune to pid reuse); the group signal is sent only while the
// leader is unreaped, so its pid (and so the pgid) cannot have been reused.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <optional>
#include <string>

#include "common/error.h"
#include "common/unique_fd.h"

namespace corral::sandbox {

struct ExitStatus {
  bool signaled = false;
  int code = 0;  // exit code, or signal number when signaled
  [[nodiscard]] bool success() const { return !signaled && code == 0; }
  // "exited with code 1" / "killed by signal 9 (SIGKILL)"
  [[nodiscard]] std::string describe() const;
};

class Process {
 public:
  // status_fd (optional, non-blocking): where a sandbox's init writes the program's raw wait
  // status before it exits; when present, wait() reports that instead of the init's status.
  Process(pid_t pid, UniqueFd pidfd, UniqueFd status_fd = {})
      : pid_(pid), pidfd_(std::move(pidfd)), status_fd_(std::move(status_fd)) {}
  // A sandbox's init that is not our child (a supervisor before us launched it): its exit is
  // seen through the pidfd (readable once it has exited; it is reaped by whoever is its parent
  // now), the program's status read from exit_file, where the init writes it. Signals go to the
  // init, which forwards them to the program's group (SIGKILL ends the whole sandbox).
  [[nodiscard]] static Process adopted(pid_t pid, UniqueFd pidfd, UniqueFd exit_file);
  [[nodiscard]] bool is_adopted() const { return adopted_; }
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  [[nodiscard]] pid_t pid() const { return pid_; }
  // The program itself: pid() unless a sandbox's init runs it (then the init's child, in the
  // host's pid namespace). For display and /proc; signals go to pid().
  [[nodiscard]] pid_t program_pid() const { return program_pid_ > 0 ? program_pid_ : pid_; }
  void set_program_pid(pid_t pid) { program_pid_ = pid; }
  // The seccomp user-notification listener the program handed over (LaunchSpec::
  // seccomp_listener), once; an empty fd otherwise.
  [[nodiscard]] UniqueFd take_seccomp_listener() { return std::move(listener_); }
  void set_seccomp_listener(UniqueFd fd) { listener_ = std::move(fd); }
  [[nodiscard]] bool has_seccomp_listener() const { return static_cast<bool>(listener_); }
  // Readable (poll/epoll) once the process has exited.
  [[nodiscard]] int pidfd() const { return pidfd_.get(); }
  [[nodiscard]] bool reaped() const { return reaped_; }

  // Signals the leader through the pidfd.
  [[nodiscard]] Result<void> signal(int sig);
  // Signals the leader's whole process group (the leader is a session leader).
  [[nodiscard]] Result<void> signal_group(int sig);
  // Non-blocking: the exit status once the leader has exited (and reaps it), else nullopt.
  [[nodiscard]] Result<std::optional<ExitStatus>> try_wait();
  // Blocking wait; used by the destructor and by tests.
  [[nodiscard]] Result<ExitStatus> wait();

 private:
  void kill_and_reap() noexcept;
  ExitStatus finish(const siginfo_t& info);
  [[nodiscard]] Result<std::optional<ExitStatus>> finish_adopted(int timeout_ms);

  pid_t pid_ = -1;
  pid_t program_pid_ = -1;
  UniqueFd pidfd_;
  UniqueFd status_fd_;
  UniqueFd listener_;
  bool reaped_ = false;
  bool adopted_ = false;
};

}  // namespace corral::sandbox
