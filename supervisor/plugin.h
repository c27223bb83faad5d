// Plugin: one supervised plugin on the event loop. Launches it through the Launcher, watches its
// pidfd, captures its output into a LogBuffer, runs its health checks (readiness notification,
// liveness probe, leak trends), feeds every signal to its RecoveryEngine and carries out what
// that decides (restart with backoff, hold while the breaker is open, reload, degrade,
// quarantine, escalate), and stops it gracefully (stop signal to its process group, SIGKILL
// after the timeout). All methods run on the event loop thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "collectors/telemetry.h"
#include "common/clock.h"
#include "corral/v1/control.pb.h"
#include "sandbox/launcher.h"
#include "sandbox/plan_cache.h"
#include "sandbox/seccomp_filter.h"
#include "supervisor/id_allocator.h"
#include "supervisor/liveness_probe.h"
#include "supervisor/log_buffer.h"
#include "supervisor/manifest.h"
#include "supervisor/output_pipe.h"
#include "supervisor/recovery/event_log.h"
#include "supervisor/recovery/health_score.h"
#include "supervisor/recovery/recovery_engine.h"
#include "supervisor/restart_policy.h"
#include "supervisor/run_journal.h"
#include "supervisor/run_observer.h"
#include "supervisor/seccomp_watcher.h"

namespace corral::supervisor {

// What corrald gives every sandboxed plugin: an id range of its own and a state directory root.
struct SandboxHost {
  IdAllocator* ids = nullptr;   // null: plugins cannot be isolated (their launch says so)
  std::string state_root;       // <state_dir>/plugins
  RunObserver* runs = nullptr;  // told of each run's cgroup (telemetry, network allow-lists)
  recovery::RecoveryLog* events = nullptr;  // signals, transitions and actions (may be null)
  RunJournal* journal = nullptr;            // each live sandboxed run, for adoption after a crash
  std::string runs_dir;                     // <runtime_dir>/runs: the runs' exit files
};

class Plugin {
 public:
  using Done = std::function<void(Result<void>)>;

  // cgroups may be null (cgroups off or absent): then a manifest with [resources] cannot launch.
  Plugin(boost::asio::io_context& io, sandbox::Launcher& launcher, const Clock& clock,
         Manifest manifest, const std::string& log_dir, sandbox::CgroupBackend* cgroups,
         SandboxHost host = {});
  ~Plugin();
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;

  [[nodiscard]] const std::string& name() const { return manifest_.name; }
  [[nodiscard]] const Manifest& manifest() const { return manifest_; }
  [[nodiscard]] v1::PluginState state() const { return state_; }
  [[nodiscard]] bool running() const { return proc_.has_value(); }

  // Launches now unless running. From BACKOFF it cancels the pending restart. Fails while
  // STOPPING, QUARANTINED or ESCALATED (reset() clears those), or when the launch fails (the
  // error says why).
  [[nodiscard]] Result<void> start();
  // Stops (stop signal, then SIGKILL after `timeout`) and calls done once nothing runs.
  void stop(std::chrono::milliseconds timeout, Done done);
  void restart(std::chrono::milliseconds timeout, Done done);

  // An operator reset: the breaker closed, backoff, intensity, quarantine and escalation
  // forgotten; a quarantined run is thawed and replaced, a plugin that is down is started.
  [[nodiscard]] Result<void> reset(const std::string& cause);
  // An operator command about to act on the plugin ("stop by uid 0 (pid 42)"): recorded in
  // the events as an operator signal.
  void note_operator(const std::string& cause);
  // A live run a corrald before this one launched (its journal record; its cgroup, already
  // adopted from the backend): supervised from here on as if launched here, its output, exit
  // and health followed. Fails (nothing adopted) if the run's init is gone or is not the one
  // recorded.
  [[nodiscard]] Result<void> adopt(const v1::Run& run, std::unique_ptr<sandbox::Cgroup> cgroup);
  // The recorded run ended while no corrald watched it: its exit is recorded; the caller decides
  // whether it starts again.
  void exited_while_away(const sandbox::ExitStatus& st);
  // After a restart of corrald, before any start: what the store kept of the plugin's recovery.
  // Quarantined or escalated, it stays down (state QUARANTINED / ESCALATED) until a reset.
  void restore(recovery::RecoveryPhase phase, const std::string& cause, unsigned trips);
  // The journal's generation of this plugin (bumped by every committed command about it).
  void set_generation(uint64_t g) { generation_ = g; }
  [[nodiscard]] uint64_t generation() const { return generation_; }
  // A signal from outside the plugin (telemetry: thresholds, OOM kills), decided now.
  void signal(recovery::Signal s);
  // Each telemetry sample of the current run (leak trends).
  void on_sample(const collectors::Sample& s);

  void fill_info(v1::PluginInfo& out) const;
  void fill_health(v1::HealthReport& out) const;
  void fill_breaker(v1::BreakerInfo& out) const;
  [[nodiscard]] const recovery::RecoveryEngine& recovery() const { return engine_; }
  [[nodiscard]] int health_score() const;
  // Called once, after the next exit has been handled (its output drained first).
  void on_next_exit(std::function<void(const sandbox::ExitStatus&)> f) {
    exit_observers_.push_back(std::move(f));
  }
  [[nodiscard]] const std::optional<sandbox::ExitStatus>& last_exit() const { return last_exit_; }
  [[nodiscard]] LogBuffer& logs() { return logs_; }

 private:
  [[nodiscard]] Result<void> launch();
  [[nodiscard]] Result<void> launch_failed(const Error& err);
  // The sandbox of the next run (ids acquired, state directory ready), or why there is none.
  [[nodiscard]] Result<void> prepare_sandbox();
  // A call the seccomp profile denied, referred by the kernel: record it, apply the profile's
  // action (fail it, let it run and log it, or kill the run), say how to answer.
  SeccompWatcher::Decision on_violation(const sandbox::SeccompNotification& n);
  void remove_cgroup();
  // The journal record of this run (launch) and of its end.
  void journal_run(int64_t started_ms);
  void end_journaled_run();
  void end_observed_run();
  [[nodiscard]] sandbox::LaunchSpec make_spec(int stdout_fd, int stderr_fd) const;
  void watch_exit();
  void on_exit_ready();
  void schedule_restart(Clock::duration delay);
  void begin_stop(std::chrono::milliseconds timeout);
  void finish_stop();
  // Recovery (plugin_recovery.cc).
  [[nodiscard]] recovery::Signal make_signal(recovery::SignalKind kind, std::string cause);
  void decide(const recovery::Signal& s);
  void apply(recovery::Decision d);
  void stop_for_recovery(recovery::Action a);
  void after_recovery_stop();
  void set_frozen(bool frozen);
  void set_network_cut(bool cut);
  void arm_recovery_timer();
  void emit(std::string_view type, std::string what, std::string cause, uint64_t signal_id);
  void start_health_checks();
  void end_health_checks();
  void watch_notify();
  void on_notify();
  void on_probe(bool ok, const std::string& detail);
  [[nodiscard]] recovery::HealthContext health_context() const;
  [[nodiscard]] std::string probe_path() const;

  boost::asio::io_context& io_;
  sandbox::Launcher& launcher_;
  const Clock& clock_;
  sandbox::CgroupBackend* cgroups_;
  Manifest manifest_;
  LogBuffer logs_;

  v1::PluginState state_ = v1::STOPPED;
  std::optional<sandbox::Process> proc_;
  std::unique_ptr<sandbox::Cgroup> cgroup_;  // this run's cgroup; removed when the run ends
  bool observed_ = false;  // host_.runs was told run_starting and must hear run_ended
  std::optional<Result<sandbox::SeccompFilter>> seccomp_;  // built once from the manifest
  SandboxHost host_;
  bool holds_ids_ = false;                       // host_.ids has a range under our name
  std::optional<sandbox::SandboxSpec> sandbox_;  // the current (or last) run's sandbox
  UniqueFd state_mount_;  // the state volume's detached mount, until the launch attaches it
  std::unique_ptr<SeccompWatcher> seccomp_watch_;  // this run's listener, if referred
  std::vector<std::function<void(const sandbox::ExitStatus&)>> exit_observers_;
  uint64_t violations_ = 0;
  std::string last_violation_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> exit_watch_;
  std::vector<std::shared_ptr<OutputPipe>> pipes_;
  boost::asio::steady_timer restart_timer_;
  boost::asio::steady_timer kill_timer_;
  // Recovery state.
  recovery::RecoveryEngine engine_;
  recovery::HealthScore score_;
  std::optional<recovery::LeakDetector> memory_leak_, fd_leak_;
  boost::asio::steady_timer recovery_timer_;
  boost::asio::steady_timer ready_timer_;
  uint64_t recovery_generation_ = 0;
  std::optional<recovery::Action> after_stop_;  // what a recovery stop continues with
  UniqueFd notify_child_;                       // the run's readiness fd until it is launched
  std::unique_ptr<boost::asio::posix::stream_descriptor> notify_;
  std::unique_ptr<LivenessProber> prober_;
  std::optional<Result<sandbox::SeccompFilter>> probe_seccomp_;  // an exec probe's filter
  sandbox::PlanCache probe_plans_{1};  // an exec probe's Landlock rules, planned once
  std::shared_ptr<const sandbox::PreparedSandbox> probe_prepared_;
  unsigned probe_failures_ = 0;
  std::string last_probe_;
  std::string status_text_;  // the plugin's last STATUS= line
  int64_t ready_at_ms_ = 0;
  bool frozen_ = false;
  bool network_cut_ = false;
  bool wanted_ = false;  // the operator wants it up (started, not stopped)
  std::string last_transition_;
  int64_t last_transition_ms_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  uint64_t timer_generation_ = 0;  // invalidates timer handlers already queued when cancelled
  std::vector<Done> stop_waiters_;

  uint64_t generation_ = 0;
  bool journaled_ = false;  // host_.journal has this run as live
  std::string exit_path_;   // its exit file
  uint32_t restarts_ = 0;
  int64_t started_at_ms_ = 0;
  int64_t next_restart_ms_ = 0;
  std::optional<sandbox::ExitStatus> last_exit_;
  int64_t last_exit_ms_ = 0;
  std::string last_error_;
};

}  // namespace corral::supervisor
