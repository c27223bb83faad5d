#include "supervisor/plugin.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <random>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "common/files.h"
#include "sandbox/state_volume.h"
#include "supervisor/state_dir.h"

namespace corral::supervisor {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

// Each plugin's restarts draw their own jitter, different on every corrald start.
uint64_t recovery_seed(const std::string& name) {
  std::random_device rd;
  return std::hash<std::string>{}(name) ^ (static_cast<uint64_t>(rd()) << 32 | rd());
}

std::vector<sandbox::Rlimit> rlimits_of(const PluginLimits& l) {
  std::vector<sandbox::Rlimit> out;
  auto add = [&](int res, uint64_t v) {
    out.push_back({res, static_cast<rlim_t>(v), static_cast<rlim_t>(v)});
  };
  add(RLIMIT_CORE, l.core_bytes);
  if (l.nofile) add(RLIMIT_NOFILE, *l.nofile);
  if (l.nproc) add(RLIMIT_NPROC, *l.nproc);
  if (l.fsize_bytes) add(RLIMIT_FSIZE, *l.fsize_bytes);
  if (l.as_bytes) add(RLIMIT_AS, *l.as_bytes);
  return out;
}

}  // namespace

Plugin::Plugin(asio::io_context& io, sandbox::Launcher& launcher, const Clock& clock,
               Manifest manifest, const std::string& log_dir, sandbox::CgroupBackend* cgroups,
               SandboxHost host)
    : io_(io),
      launcher_(launcher),
      clock_(clock),
      cgroups_(cgroups),
      manifest_(std::move(manifest)),
      logs_(manifest_.log_ring_lines,
            log_dir.empty() || manifest_.ephemeral ? std::string()
                                                   : log_dir + "/" + manifest_.name + ".log",
            manifest_.log_file_max_bytes),
      restart_timer_(io),
      kill_timer_(io),
      engine_(manifest_.recovery, recovery_seed(manifest_.name)),
      recovery_timer_(io),
      ready_timer_(io) {
  // Where the kernel can refer denied calls, corrald decides them itself and so can name them.
  if (manifest_.seccomp) {
    seccomp_.emplace(
        sandbox::SeccompFilter::build(*manifest_.seccomp, sandbox::seccomp_notify_supported()));
  }
  host_ = std::move(host);
}

Plugin::~Plugin() {
  *alive_ = false;
  for (auto& p : pipes_) p->close();
  // proc_'s destructor kills and reaps a process still running here.
  if (holds_ids_) host_.ids->release(name());
}

Result<void> Plugin::prepare_sandbox() {
  const IsolationSettings& iso = manifest_.isolation;
  if (host_.ids == nullptr) {
    return make_error(Code::kFailedPrecondition,
                      "this corrald cannot isolate plugins (no sandbox id range); set "
                      "[sandbox] isolation = \"none\" to run it unsandboxed");
  }
  auto base = host_.ids->acquire(name());
  if (!base) return std::unexpected(base.error());
  holds_ids_ = true;
  sandbox::SandboxSpec s;
  s.host_id_base = *base;
  s.id_count = host_.ids->count();
  s.uid = iso.uid;
  s.gid = iso.gid;
  s.hostname = iso.hostname.empty() ? name() : iso.hostname;
  s.host_network = iso.host_network;
  s.tmp_size = iso.tmp_size;
  s.binds = iso.binds;
  if (!host_.state_root.empty() && !manifest_.ephemeral) {
    uid_t uid = *base + iso.uid;
    gid_t gid = *base + iso.gid;
    if (iso.state_size) {
      // A volume of its own: full is full inside, the host's disk is never touched beyond it.
      std::string image = host_.state_root + "/" + name() + ".img";
      if (auto ok = make_dirs(host_.state_root, 0755); !ok) return ok;
      if (auto ok = sandbox::ensure_state_image(image, *iso.state_size, uid, gid); !ok) return ok;
      auto mnt = sandbox::mount_state_image(image);
      if (!mnt) return std::unexpected(mnt.error());
      // Another id slot than last time: the files follow the plugin's new host ids.
      if (auto ok = hand_over("/proc/self/fd/" + std::to_string(mnt->get()) + "/.", uid, gid);
          !ok) {
        return ok;
      }
      state_mount_ = std::move(*mnt);
      s.state_mount_fd = state_mount_.get();
      s.state_target = kStateDirInside;
    } else {
      std::string dir = host_.state_root + "/" + name();
      if (auto ok = ensure_state_dir(dir, uid, gid); !ok) return ok;
      s.binds.push_back({dir, kStateDirInside, true});
    }
  }
  sandbox_ = std::move(s);
  return {};
}

sandbox::LaunchSpec Plugin::make_spec(int stdout_fd, int stderr_fd) const {
  sandbox::LaunchSpec spec;
  spec.exec = manifest_.exec;
  spec.args = manifest_.args;
  for (const auto& [k, v] : manifest_.env) spec.env.push_back(k + "=" + v);
  spec.working_dir = manifest_.working_dir;
  spec.rlimits = rlimits_of(manifest_.limits);
  spec.stdout_fd = stdout_fd;
  spec.stderr_fd = stderr_fd;
  return spec;
}

Result<void> Plugin::start() {
  if (state_ == v1::RUNNING) return {};
  if (state_ == v1::STOPPING) {
    return make_error(Code::kFailedPrecondition,
                      "plugin '" + name() + "' is stopping; start it again once it has stopped");
  }
  using recovery::RecoveryPhase;
  if (engine_.phase() == RecoveryPhase::kQuarantined ||
      engine_.phase() == RecoveryPhase::kEscalated) {
    return make_error(Code::kFailedPrecondition,
                      "plugin '" + name() + "' is " +
                          std::string(recovery::recovery_phase_name(engine_.phase())) + " (" +
                          engine_.phase_cause() + "); inspect it, then `corralctl reset " + name() +
                          "`");
  }
  wanted_ = true;
  ++timer_generation_;
  restart_timer_.cancel();
  return launch();
}

Result<void> Plugin::launch_failed(const Error& err) {
  last_error_ = err.describe();
  logs_.note("launch failed: " + last_error_, unix_now_ms());
  spdlog::error("plugin {}: launch failed: {}", name(), last_error_);
  notify_child_.reset();
  state_ = v1::FAILED;  // unless recovery schedules another try
  auto sig = make_signal(recovery::SignalKind::kLaunchFailed, last_error_);
  sig.restart_wanted = manifest_.restart.policy != RestartPolicy::kNo;
  decide(sig);
  return std::unexpected(err.wrap("starting plugin '" + name() + "'"));
}

void Plugin::end_observed_run() {
  if (!observed_) return;
  observed_ = false;
  host_.runs->run_ended(name());
}

void Plugin::remove_cgroup() {
  end_observed_run();
  end_journaled_run();
  if (!cgroup_) return;
  // Kills whatever the plugin left behind, even processes that escaped its process group.
  if (auto r = cgroup_->remove(std::chrono::seconds(2)); !r) {
    spdlog::error("plugin {}: cannot remove its cgroup: {}", name(), r.error().describe());
  }
  cgroup_.reset();
}

Result<void> Plugin::launch() {
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return sys_error("creating stdout pipe for " + name());
  UniqueFd out_r(out[0]), out_w(out[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) return sys_error("creating stderr pipe for " + name());
  UniqueFd err_r(err[0]), err_w(err[1]);

  const auto& res = manifest_.resources;
  bool wants_limits = res.memory_max || res.memory_high || res.swap_max || res.cpu_max ||
                      res.cpu_weight || res.pids_max || res.io_weight;
  std::unique_ptr<sandbox::Cgroup> cgroup;
  if (cgroups_ != nullptr) {
    auto cg = cgroups_->create_deferred(name(), res);  // the launcher finishes it
    if (!cg) return launch_failed(cg.error().wrap("creating its cgroup"));
    cgroup = std::move(*cg);
  } else if (wants_limits) {
    return launch_failed(Error{Code::kFailedPrecondition, 0,
                               "[resources] need cgroups, which corrald does not use on this host "
                               "(see corralctl doctor and the [cgroup] config section)"});
  }
  if (!cgroup && manifest_.isolation.net_policy) {
    return launch_failed(Error{Code::kFailedPrecondition, 0,
                               "its network allow-list is enforced through its cgroup, and "
                               "corrald uses no cgroups on this host (see corralctl doctor)"});
  }
  if (cgroup && host_.runs != nullptr) {
    if (auto ok = host_.runs->run_starting(name(), manifest_, *cgroup); !ok) {
      return launch_failed(ok.error());
    }
    observed_ = true;
  }
  // A failed launch from here on ends the observed run before its cgroup goes.
  struct EndOnFailure {
    Plugin* p;
    bool armed = true;
    ~EndOnFailure() {
      if (armed) p->end_observed_run();
    }
  } end_on_failure{this};
  UniqueFd notify_ours;
  if (manifest_.health.notify) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) {
      return launch_failed(Error{Code::kInternal, errno, "creating its readiness socket"});
    }
    notify_ours = UniqueFd(sv[0]);
    notify_child_ = UniqueFd(sv[1]);
  }
  auto spec = make_spec(out_w.get(), err_w.get());
  spec.cgroup = cgroup.get();
  if (notify_child_) {
    spec.notify_fd = notify_child_.get();
    spec.env.push_back("NOTIFY_FD=" + std::to_string(sandbox::kNotifyFd));
  }
  if (manifest_.isolation.enabled) {
    if (auto ok = prepare_sandbox(); !ok)
      return launch_failed(ok.error().wrap("preparing its sandbox"));
    spec.sandbox = &*sandbox_;
    if (!host_.state_root.empty() && !manifest_.ephemeral) {
      spec.env.push_back(std::string("STATE_DIRECTORY=") + kStateDirInside);
    }
  }
  if (seccomp_) {
    if (!*seccomp_) return launch_failed(seccomp_->error().wrap("building its seccomp filter"));
    spec.seccomp = &(*seccomp_)->program();
    spec.seccomp_listener = (*seccomp_)->via_notify();
  }
  // A sandboxed run can outlive corrald: its init keeps the output pipes' read ends and the
  // readiness socket, and writes the exit status to a file, for the corrald that adopts it.
  UniqueFd exit_file;
  if (spec.sandbox != nullptr && host_.journal != nullptr && !host_.runs_dir.empty() &&
      !manifest_.ephemeral) {
    if (auto ok = make_dirs(host_.runs_dir, 0700); !ok) return launch_failed(ok.error());
    exit_path_ = host_.runs_dir + "/" + name() + ".exit";
    exit_file = UniqueFd(
        ::open(exit_path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!exit_file) {
      return launch_failed(sys_error("creating its exit file " + exit_path_).error());
    }
    spec.exit_file_fd = exit_file.get();
    spec.init_keep = {out_r.get(), err_r.get()};
    if (notify_ours) spec.init_keep.push_back(notify_ours.get());
  }
  auto proc = launcher_.launch(spec);
  exit_file.reset();      // the init has its copy
  state_mount_.reset();   // the sandbox has attached it (or the launch failed)
  notify_child_.reset();  // the program has its copy (or the launch failed)
  out_w.reset();
  err_w.reset();
  int64_t now = unix_now_ms();
  if (!proc) return launch_failed(proc.error());  // the cgroup goes with `cgroup`
  end_on_failure.armed = false;
  cgroup_ = std::move(cgroup);
  if (observed_) host_.runs->run_started(name(), *cgroup_);
  last_error_.clear();
  proc_.emplace(std::move(*proc));
  if (UniqueFd listener = proc_->take_seccomp_listener()) {
    seccomp_watch_ = std::make_unique<SeccompWatcher>(
        io_, std::move(listener),
        [this](const sandbox::SeccompNotification& n) { return on_violation(n); });
  }
  state_ = v1::RUNNING;
  started_at_ms_ = now;
  next_restart_ms_ = 0;
  if (spec.exit_file_fd >= 0) journal_run(now);

  std::erase_if(pipes_, [](const auto& p) { return !p->open(); });
  for (auto [fd, stream] : {std::pair{&out_r, LogStream::kStdout}, {&err_r, LogStream::kStderr}}) {
    auto pipe = std::make_shared<OutputPipe>(io_, std::move(*fd), logs_, stream);
    pipe->start();
    pipes_.push_back(std::move(pipe));
  }
  watch_exit();
  logs_.note("started, pid " + std::to_string(proc_->pid()), now);
  spdlog::info("plugin {}: started pid {} ({} launcher)", name(), proc_->pid(), launcher_.name());
  if (notify_ours) {
    notify_ = std::make_unique<asio::posix::stream_descriptor>(io_, notify_ours.release());
  }
  start_health_checks();
  return {};
}

SeccompWatcher::Decision Plugin::on_violation(const sandbox::SeccompNotification& n) {
  const sandbox::SeccompProfile& profile = *manifest_.seccomp;
  ++violations_;
  SeccompWatcher::Decision d{sandbox::SeccompReply::kErrno, profile.errno_value};
  std::string outcome;
  switch (profile.default_action) {
    case sandbox::SeccompAction::kLog:
      d.reply = sandbox::SeccompReply::kContinue;
      outcome = "allowed (logged)";
      break;
    case sandbox::SeccompAction::kErrno:
    case sandbox::SeccompAction::kNotify:
      outcome = std::string("failed (") +
                (::strerrorname_np(profile.errno_value) != nullptr
                     ? ::strerrorname_np(profile.errno_value)
                     : std::to_string(profile.errno_value).c_str()) +
                ")";
      break;
    case sandbox::SeccompAction::kKillProcess:
      outcome = "plugin killed";
      break;
  }
  last_violation_ = n.describe() + " by pid " + std::to_string(n.pid) + ": " + outcome;
  logs_.note("seccomp: profile \"" + profile.name + "\" denies " + last_violation_, unix_now_ms());
  spdlog::warn("plugin {}: seccomp: {}", name(), last_violation_);
  if (profile.default_action != sandbox::SeccompAction::kLog) {
    // Decided once the kernel has its answer: recovery may freeze or stop the run.
    asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_), cause = last_violation_] {
      if (auto a = alive.lock(); a && *a)
        decide(make_signal(recovery::SignalKind::kSeccomp, cause));
    });
  }
  if (profile.default_action == sandbox::SeccompAction::kKillProcess && proc_) {
    // The whole run: a sandbox's init takes its pid namespace with it; the cgroup gets the rest.
    if (auto r = proc_->signal_group(SIGKILL); !r) (void)proc_->signal(SIGKILL);
    if (cgroup_) (void)cgroup_->kill();
  }
  return d;
}

void Plugin::watch_exit() {
  int dup = ::fcntl(proc_->pidfd(), F_DUPFD_CLOEXEC, 3);
  if (dup < 0) {
    // Without a watch the exit would go unnoticed: treat it as fatal for this run.
    spdlog::error("plugin {}: cannot watch pidfd: {}", name(), std::strerror(errno));
    (void)proc_->signal_group(SIGKILL);
    auto st = proc_->wait();
    (void)st;
    proc_.reset();
    state_ = v1::FAILED;
    last_error_ = "cannot watch the process (pidfd dup failed)";
    return;
  }
  exit_watch_ = std::make_unique<asio::posix::stream_descriptor>(io_, dup);
  exit_watch_->async_wait(asio::posix::stream_descriptor::wait_read,
                          [this, watch = exit_watch_.get()](boost::system::error_code ec) {
                            if (ec || watch != exit_watch_.get()) return;
                            on_exit_ready();
                          });
}

void Plugin::on_exit_ready() {
  // The leader is a zombie until reaped, so its pgid cannot have been reused: kill whatever it
  // left behind in its group now, so restarts never pile up orphans.
  if (auto r = proc_->signal_group(SIGKILL); !r && r.error().errnum != ESRCH) {
    spdlog::warn("plugin {}: cannot kill leftover processes: {}", name(), r.error().describe());
  }
  auto st = proc_->try_wait();
  if (!st) {
    spdlog::error("plugin {}: waiting for pid {} failed: {}", name(), proc_->pid(),
                  st.error().describe());
    return;
  }
  if (!st->has_value()) {  // spurious readiness: wait again
    watch_exit();
    return;
  }
  sandbox::ExitStatus status = **st;
  pid_t pid = proc_->pid();
  // Whatever the program wrote before it died is logged before its exit is.
  for (auto& p : pipes_) p->drain();
  proc_.reset();
  end_health_checks();
  frozen_ = false;  // the cgroup and its network programs go with the run
  network_cut_ = false;
  remove_cgroup();
  exit_watch_.reset();
  seccomp_watch_.reset();
  ++timer_generation_;
  kill_timer_.cancel();
  last_exit_ = status;
  last_exit_ms_ = unix_now_ms();
  logs_.note("pid " + std::to_string(pid) + " " + status.describe(), last_exit_ms_);

  // Observers run last (a one-shot run removes its plugin from one), after the state is settled.
  auto observers = std::move(exit_observers_);
  exit_observers_.clear();
  struct Notify {
    std::vector<std::function<void(const sandbox::ExitStatus&)>>& list;
    sandbox::ExitStatus st;
    ~Notify() {
      for (auto& f : list) f(st);
    }
  } notify{observers, status};

  if (state_ == v1::STOPPING) {
    spdlog::info("plugin {}: stopped (pid {} {})", name(), pid, status.describe());
    if (after_stop_ && stop_waiters_.empty()) {
      after_recovery_stop();
      return;
    }
    after_stop_.reset();  // an operator's stop wins over recovery's
    finish_stop();
    return;
  }
  const RestartPolicy policy = manifest_.restart.policy;
  auto sig = make_signal(recovery::SignalKind::kExit, status.describe());
  sig.failure = !status.success();
  sig.restart_wanted =
      policy == RestartPolicy::kAlways || (policy == RestartPolicy::kOnFailure && sig.failure);
  spdlog::log(sig.failure ? spdlog::level::warn : spdlog::level::info, "plugin {}: pid {} {}",
              name(), pid, status.describe());
  if (state_ != v1::QUARANTINED && state_ != v1::ESCALATED) state_ = v1::EXITED;
  decide(sig);
}

void Plugin::schedule_restart(Clock::duration delay) {
  state_ = v1::BACKOFF;
  next_restart_ms_ = unix_now_ms() + std::chrono::duration_cast<milliseconds>(delay).count();
  uint64_t gen = ++timer_generation_;
  restart_timer_.expires_after(delay);
  restart_timer_.async_wait([this, gen](boost::system::error_code ec) {
    if (ec || gen != timer_generation_ || state_ != v1::BACKOFF) return;
    ++restarts_;
    if (auto r = launch(); !r) {
      spdlog::debug("plugin {}: automatic restart failed: {}", name(), r.error().describe());
    }
  });
}

void Plugin::stop(milliseconds timeout, Done done) {
  wanted_ = false;
  engine_.operator_stopped();
  ++recovery_generation_;
  recovery_timer_.cancel();
  if (proc_ && state_ != v1::STOPPING) {
    stop_waiters_.push_back(std::move(done));
    begin_stop(timeout);
    return;
  }
  switch (state_) {
    case v1::STOPPING:
      stop_waiters_.push_back(std::move(done));
      return;
    case v1::BACKOFF:
      ++timer_generation_;
      restart_timer_.cancel();
      state_ = v1::STOPPED;
      next_restart_ms_ = 0;
      done({});
      return;
    default:
      done({});
      return;
  }
}

void Plugin::begin_stop(milliseconds timeout) {
  state_ = v1::STOPPING;
  set_frozen(false);  // a frozen run cannot act on its stop signal
  logs_.note("stopping: signal " + std::to_string(manifest_.stop_signal), unix_now_ms());
  if (auto r = proc_->signal_group(manifest_.stop_signal); !r) {
    spdlog::warn("plugin {}: stop signal failed: {}", name(), r.error().describe());
  }
  uint64_t gen = ++timer_generation_;
  kill_timer_.expires_after(timeout);
  kill_timer_.async_wait([this, gen, timeout](boost::system::error_code ec) {
    if (ec || gen != timer_generation_ || state_ != v1::STOPPING || !proc_) return;
    spdlog::warn("plugin {}: did not stop within {} ms; sending SIGKILL", name(), timeout.count());
    logs_.note("did not stop within " + std::to_string(timeout.count()) + " ms; sending SIGKILL",
               unix_now_ms());
    if (auto r = proc_->signal_group(SIGKILL); !r) {
      (void)proc_->signal(SIGKILL);
    }
    if (cgroup_) (void)cgroup_->kill();
  });
}

void Plugin::finish_stop() {
  state_ = v1::STOPPED;
  auto waiters = std::move(stop_waiters_);
  stop_waiters_.clear();
  for (auto& w : waiters) w({});
}

void Plugin::restart(milliseconds timeout, Done done) {
  stop(timeout, [this, done = std::move(done)](Result<void> r) {
    if (!r) {
      done(r);
      return;
    }
    done(start());
  });
}

void Plugin::fill_info(v1::PluginInfo& out) const {
  out.set_generation(generation_);
  out.set_name(name());
  out.set_state(state_);
  out.set_pid(proc_ ? proc_->program_pid() : 0);
  out.set_seccomp_violations(violations_);
  out.set_last_violation(last_violation_);
  out.set_init_pid(proc_ && sandbox_ ? proc_->pid() : 0);
  if (!manifest_.isolation.enabled) {
    out.set_sandbox("none");
  } else if (sandbox_) {
    out.set_sandbox("uid " + std::to_string(sandbox_->uid) + " as host " +
                    std::to_string(sandbox_->host_id_base + sandbox_->uid) + ", network " +
                    (sandbox_->host_network ? "host" : "none"));
  }
  out.set_restarts(restarts_);
  out.set_started_at_unix_ms(proc_ ? started_at_ms_ : 0);
  if (last_exit_) {
    auto* e = out.mutable_last_exit();
    e->set_signaled(last_exit_->signaled);
    e->set_code(last_exit_->code);
    e->set_description(last_exit_->describe());
    e->set_at_unix_ms(last_exit_ms_);
  }
  out.set_restart_policy(std::string(restart_policy_name(manifest_.restart.policy)));
  out.set_exec(manifest_.exec);
  for (const auto& a : manifest_.args) out.add_args(a);
  out.set_manifest_path(manifest_.source);
  out.set_next_restart_unix_ms(state_ == v1::BACKOFF ? next_restart_ms_ : 0);
  out.set_last_error(last_error_);
  out.set_log_lines(logs_.total_lines());
  out.set_seccomp(
      manifest_.seccomp
          ? manifest_.seccomp->name + " (" +
                std::string(sandbox::seccomp_action_name(manifest_.seccomp->default_action)) + ")"
          : "none");
  if (cgroup_) out.set_cgroup(cgroup_->dir("").empty() ? cgroup_->dir("memory") : cgroup_->dir(""));
  out.set_health(static_cast<uint32_t>(health_score()));
  out.set_breaker(std::string(recovery::breaker_state_name(engine_.breaker().state())));
  out.set_recovery_phase(std::string(recovery::recovery_phase_name(engine_.phase())));
  out.set_phase_cause(engine_.phase_cause());
}

}  // namespace corral::supervisor
