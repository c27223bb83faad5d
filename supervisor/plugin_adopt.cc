// Plugin: journaling each live sandboxed run, and adopting one a previous corrald launched.
// An adopted run is not corrald's child: its exit is seen through a pidfd of its init and its
// status read from the exit file the init writes; its output pipes and readiness socket come
// back from the init (pidfd_getfd), which kept them for this; its cgroup from the backend.
// Seccomp referrals do not survive: the listener went with the corrald that held it, so denied
// calls of an adopted run fail in the kernel (ENOSYS) without being recorded.
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "common/files.h"
#include "supervisor/plugin.h"

namespace corral::supervisor {

uint64_t process_start_ticks(int pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!text) return 0;
  // comm may hold spaces and parentheses: fields start after the last ')'.
  auto close = text->rfind(')');
  if (close == std::string::npos || close + 2 >= text->size()) return 0;
  if ((*text)[close + 2] == 'Z' || (*text)[close + 2] == 'X') return 0;  // exited, not reaped
  size_t pos = close + 2;                                                // field 3 (state)
  for (int field = 3; field < 22; ++field) {
    pos = text->find(' ', pos);
    if (pos == std::string::npos) return 0;
    ++pos;
  }
  return std::strtoull(text->c_str() + pos, nullptr, 10);
}

void Plugin::journal_run(int64_t started_ms) {
  if (host_.journal == nullptr || !proc_ || !sandbox_) return;
  v1::Run run;
  run.set_init_pid(proc_->pid());
  run.set_init_start_ticks(process_start_ticks(proc_->pid()));
  run.set_program_pid(proc_->program_pid());
  run.set_started_unix_ms(started_ms);
  run.set_exit_file(exit_path_);
  run.set_id_base(static_cast<uint32_t>(sandbox_->host_id_base));
  run.set_notify(manifest_.health.notify);
  host_.journal->run_started(name(), run);
  journaled_ = true;
}

void Plugin::end_journaled_run() {
  if (!journaled_) return;
  journaled_ = false;
  host_.journal->run_ended(name(), last_exit_ ? last_exit_->describe() : std::string());
  if (!exit_path_.empty() && ::unlink(exit_path_.c_str()) != 0 && errno != ENOENT) {
    spdlog::warn("plugin {}: cannot remove {}: {}", name(), exit_path_, std::strerror(errno));
  }
}

void Plugin::exited_while_away(const sandbox::ExitStatus& st) {
  last_exit_ = st;
  last_exit_ms_ = unix_now_ms();
  state_ = v1::EXITED;
  logs_.note("its run " + st.describe() + " while no corrald was watching", last_exit_ms_);
}

Result<void> Plugin::adopt(const v1::Run& run, std::unique_ptr<sandbox::Cgroup> cgroup) {
  if (running()) return make_error(Code::kFailedPrecondition, "it already runs");
  const pid_t pid = run.init_pid();
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) return sys_error("pidfd_open(" + std::to_string(pid) + ")");
  // The pidfd pins the process: its start time now tells whether the pid was reused.
  if (process_start_ticks(pid) != run.init_start_ticks() || run.init_start_ticks() == 0) {
    return make_error(Code::kNotFound, "pid " + std::to_string(pid) +
                                           " is no longer the run's init (its start time differs)");
  }
  auto take = [&](int fd) -> Result<UniqueFd> {
    UniqueFd out(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), fd, 0)));
    if (!out && errno == ESRCH) {
      return make_error(Code::kNotFound, "its init " + std::to_string(pid) + " has exited");
    }
    if (!out)
      return sys_error("pidfd_getfd(init " + std::to_string(pid) + ", fd " + std::to_string(fd) +
                       ")");
    if (::fcntl(out.get(), F_SETFD, FD_CLOEXEC) != 0) return sys_error("fcntl(FD_CLOEXEC)");
    return out;
  };
  auto out_r = take(sandbox::kInitKeepFd);
  if (!out_r) return std::unexpected(out_r.error());
  auto err_r = take(sandbox::kInitKeepFd + 1);
  if (!err_r) return std::unexpected(err_r.error());
  Result<UniqueFd> notify = UniqueFd();
  if (run.notify()) {
    notify = take(sandbox::kInitKeepFd + 2);
    if (!notify) return std::unexpected(notify.error());
  }
  UniqueFd exit_file(::open(run.exit_file().c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!exit_file) return sys_error("opening its exit file " + run.exit_file());
  if (manifest_.isolation.enabled) {
    // Its id range, which no other plugin may be given now.
    if (host_.ids == nullptr) return make_error(Code::kFailedPrecondition, "no sandbox id ranges");
    if (auto r = host_.ids->reserve(name(), run.id_base()); !r) return std::unexpected(r.error());
    holds_ids_ = true;
    if (auto ok = prepare_sandbox(); !ok) return ok;  // the spec exec probes use
    state_mount_.reset();
  }
  cgroup_ = std::move(cgroup);
  if (cgroup_ && host_.runs != nullptr) {
    // Telemetry and the network allow-list follow it again (its BPF attachments went with the
    // corrald that made them).
    if (auto ok = host_.runs->run_starting(name(), manifest_, *cgroup_); !ok) {
      spdlog::warn("plugin {}: adopted run not observed: {}", name(), ok.error().describe());
    } else {
      observed_ = true;
      host_.runs->run_started(name(), *cgroup_);
    }
  }
  proc_.emplace(sandbox::Process::adopted(pid, std::move(pidfd), std::move(exit_file)));
  proc_->set_program_pid(run.program_pid());
  exit_path_ = run.exit_file();
  journaled_ = true;
  wanted_ = true;
  state_ = v1::RUNNING;
  started_at_ms_ = run.started_unix_ms();
  next_restart_ms_ = 0;
  std::erase_if(pipes_, [](const auto& p) { return !p->open(); });
  for (auto [fd, stream] :
       {std::pair{&*out_r, LogStream::kStdout}, {&*err_r, LogStream::kStderr}}) {
    auto pipe = std::make_shared<OutputPipe>(io_, std::move(*fd), logs_, stream);
    pipe->start();
    pipes_.push_back(std::move(pipe));
  }
  watch_exit();
  if (*notify)
    notify_ = std::make_unique<boost::asio::posix::stream_descriptor>(io_, notify->release());
  logs_.note("adopted its running sandbox (init pid " + std::to_string(pid) + ", program pid " +
                 std::to_string(run.program_pid()) + ") from a previous corrald",
             unix_now_ms());
  spdlog::info("plugin {}: adopted the run of a previous corrald (init pid {}, program pid {})",
               name(), pid, run.program_pid());
  if (engine_.phase() == recovery::RecoveryPhase::kQuarantined) {
    // Kept frozen for inspection, as the corrald before us left it, until a reset.
    state_ = v1::QUARANTINED;
    frozen_ = true;
    return {};
  }
  start_health_checks();
  if (manifest_.health.notify) {
    // It announced readiness to the corrald before us (or failed to, and that one acted).
    ready_timer_.cancel();
    decide(make_signal(recovery::SignalKind::kReady, "ready before corrald restarted"));
  }
  return {};
}

}  // namespace corral::supervisor
