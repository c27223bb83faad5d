// Plugin's recovery half: signals into the RecoveryEngine, its decisions carried out, the
// health checks of each run (readiness notification, liveness probe, leak trends) and the
// health and breaker reports.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "sandbox/sandbox_exec.h"
#include "supervisor/plugin.h"
#include "supervisor/state_dir.h"

namespace corral::supervisor {

namespace asio = boost::asio;
using recovery::Action;
using recovery::RecoveryPhase;
using recovery::SignalKind;
using std::chrono::milliseconds;

namespace {

int64_t to_unix_ms(Clock::time_point t, const Clock& clock) {
  return unix_now_ms() + std::chrono::duration_cast<milliseconds>(t - clock.now()).count();
}

std::string breaker_rule(const recovery::BreakerSettings& b) {
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : "; ") + s; };
  if (b.consecutive_failures != 0) {
    add(std::to_string(b.consecutive_failures) + " failures in a row");
  }
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.0f%%", b.failure_rate * 100);
  if (b.window_count != 0) {
    add(std::string(rate) + " of the last " + std::to_string(b.window_count) + " (at least " +
        std::to_string(b.min_outcomes) + ")");
  }
  if (b.window_time.count() != 0) {
    add(std::string(rate) + " over " + std::to_string(b.window_time.count()) + " ms (at least " +
        std::to_string(b.min_outcomes) + ")");
  }
  add("a fatal signal");
  return out + "; open " + std::to_string(b.open_for.count()) + " ms doubling to " +
         std::to_string(b.max_open_for.count()) + " ms";
}

}  // namespace

recovery::Signal Plugin::make_signal(SignalKind kind, std::string cause) {
  recovery::Signal s;
  s.id = host_.events != nullptr ? host_.events->next_signal_id() : 0;
  s.kind = kind;
  s.at = clock_.now();
  s.at_unix_ms = unix_now_ms();
  s.cause = std::move(cause);
  s.restart_wanted = manifest_.restart.policy != RestartPolicy::kNo;
  return s;
}

void Plugin::emit(std::string_view type, std::string what, std::string cause, uint64_t signal_id) {
  if (host_.events == nullptr) return;
  recovery::RecoveryEvent e;
  e.plugin = name();
  e.type = std::string(type);
  e.what = std::move(what);
  e.cause = std::move(cause);
  e.signal_id = signal_id;
  host_.events->append(std::move(e));
}

void Plugin::signal(recovery::Signal s) {
  s.restart_wanted = manifest_.restart.policy != RestartPolicy::kNo;
  if (s.id == 0 && host_.events != nullptr) s.id = host_.events->next_signal_id();
  if (s.at == Clock::time_point{}) s.at = clock_.now();
  if (s.at_unix_ms == 0) s.at_unix_ms = unix_now_ms();
  decide(s);
}

void Plugin::decide(const recovery::Signal& s) {
  emit("signal", std::string(recovery::signal_kind_name(s.kind)), s.cause, s.id);
  score_.add(s);
  auto d = engine_.on_signal(s, running() && state_ != v1::STOPPING);
  apply(std::move(d));
}

void Plugin::apply(recovery::Decision d) {
  const uint64_t sid = d.action.signal_id;
  for (const auto& t : d.transitions) {
    std::string what = std::string(recovery::breaker_state_name(t.from)) + " -> " +
                       std::string(recovery::breaker_state_name(t.to));
    spdlog::warn("plugin {}: breaker {}: {}", name(), what, t.cause);
    logs_.note("breaker " + what + ": " + t.cause, unix_now_ms());
    last_transition_ = what + ": " + t.cause;
    last_transition_ms_ = unix_now_ms();
    emit("transition", std::move(what), t.cause, sid);
  }
  Action a = std::move(d.action);
  if (a.kind != Action::Kind::kNone) {
    emit("action", recovery::describe(a), a.cause, a.signal_id);
    logs_.note("recovery: " + recovery::describe(a) + " (" + a.cause + ")", unix_now_ms());
  }
  const bool live = running() && state_ != v1::STOPPING;
  switch (a.kind) {
    case Action::Kind::kNone:
      break;
    case Action::Kind::kRestart:
      if (live) {
        stop_for_recovery(std::move(a));
      } else if (state_ != v1::STOPPING) {
        spdlog::warn("plugin {}: restarting in {} ms ({})", name(),
                     std::chrono::duration_cast<milliseconds>(a.delay).count(), a.cause);
        schedule_restart(a.delay);
      }
      break;
    case Action::Kind::kHold:
      if (live) {
        stop_for_recovery(std::move(a));
      } else if (state_ != v1::STOPPING) {
        ++timer_generation_;
        restart_timer_.cancel();
        state_ = v1::BACKOFF;
        next_restart_ms_ = to_unix_ms(engine_.breaker().open_until(), clock_);
      }
      break;
    case Action::Kind::kReload:
      if (live) {
        if (auto r = proc_->signal_group(engine_.settings().reload_signal); !r) {
          spdlog::warn("plugin {}: reload signal failed: {}", name(), r.error().describe());
        }
      }
      break;
    case Action::Kind::kDegrade:
      if (engine_.settings().degrade == recovery::DegradeMode::kFreeze) {
        set_frozen(true);
      } else {
        set_network_cut(true);
      }
      break;
    case Action::Kind::kUndegrade:
      set_frozen(false);
      set_network_cut(false);
      break;
    case Action::Kind::kQuarantine:
      ++timer_generation_;
      restart_timer_.cancel();
      if (live) set_frozen(true);
      if (state_ != v1::STOPPING) state_ = v1::QUARANTINED;
      spdlog::error("plugin {}: quarantined ({}): {}", name(),
                    live ? "frozen, kept for inspection" : "kept down", a.cause);
      emit("alert", "quarantined", a.cause, a.signal_id);
      break;
    case Action::Kind::kEscalate:
      spdlog::critical("plugin {}: escalated, stopped with no automatic recovery: {}", name(),
                       a.cause);
      emit("alert", "escalated", a.cause, a.signal_id);
      if (live) {
        stop_for_recovery(std::move(a));
      } else if (state_ != v1::STOPPING) {
        ++timer_generation_;
        restart_timer_.cancel();
        state_ = v1::ESCALATED;
      }
      break;
  }
  arm_recovery_timer();
}

void Plugin::stop_for_recovery(Action a) {
  after_stop_ = std::move(a);
  begin_stop(manifest_.stop_timeout);
}

void Plugin::after_recovery_stop() {
  Action a = std::move(*after_stop_);
  after_stop_.reset();
  switch (a.kind) {
    case Action::Kind::kRestart:
      schedule_restart(a.delay);
      break;
    case Action::Kind::kHold:
      state_ = v1::BACKOFF;
      next_restart_ms_ = to_unix_ms(engine_.breaker().open_until(), clock_);
      break;
    case Action::Kind::kEscalate:
      state_ = v1::ESCALATED;
      break;
    default:
      state_ = v1::STOPPED;
      break;
  }
  arm_recovery_timer();
}

void Plugin::set_frozen(bool frozen) {
  if (frozen == frozen_ || !cgroup_) return;
  if (auto r = cgroup_->freeze(frozen); !r) {
    spdlog::error("plugin {}: cannot {} its cgroup: {}", name(), frozen ? "freeze" : "thaw",
                  r.error().describe());
    emit("alert", frozen ? "freeze failed" : "thaw failed", r.error().describe(), 0);
    return;
  }
  frozen_ = frozen;
  logs_.note(frozen ? "frozen by recovery" : "thawed", unix_now_ms());
}

void Plugin::set_network_cut(bool cut) {
  if (cut == network_cut_ || host_.runs == nullptr || !cgroup_) return;
  if (auto r = host_.runs->cut_network(name(), cut); !r) {
    spdlog::error("plugin {}: cannot {} its network: {}", name(), cut ? "cut" : "restore",
                  r.error().describe());
    emit("alert", cut ? "network cut failed" : "network restore failed", r.error().describe(), 0);
    return;
  }
  network_cut_ = cut;
  logs_.note(cut ? "network cut by recovery" : "network restored", unix_now_ms());
}

void Plugin::arm_recovery_timer() {
  uint64_t gen = ++recovery_generation_;
  auto deadline = engine_.next_deadline(running() && state_ != v1::STOPPING);
  if (!deadline) {
    recovery_timer_.cancel();
    return;
  }
  auto delay = std::max(Clock::duration::zero(), *deadline - clock_.now());
  recovery_timer_.expires_after(delay);
  recovery_timer_.async_wait([this, gen](boost::system::error_code ec) {
    if (ec || gen != recovery_generation_) return;
    apply(engine_.on_timer(clock_.now(), running() && state_ != v1::STOPPING));
  });
}

// ---- health checks of one run ----

std::string Plugin::probe_path() const {
  const std::string& s = manifest_.health.liveness->socket;
  if (!manifest_.isolation.enabled || !proc_) return s;  // (absolute: the parser insists)
  // The sandbox's root as corrald reaches it; relative paths are under its /state.
  return "/proc/" + std::to_string(proc_->program_pid()) + "/root" +
         (s.starts_with('/') ? s : std::string(kStateDirInside) + "/" + s);
}

void Plugin::start_health_checks() {
  const HealthSettings& h = manifest_.health;
  if (manifest_.resources.memory_max) {
    memory_leak_.emplace(h.leak, static_cast<double>(*manifest_.resources.memory_max));
  }
  std::optional<double> fd_limit;
  if (manifest_.limits.nofile) fd_limit = static_cast<double>(*manifest_.limits.nofile);
  if (auto c = manifest_.thresholds[ThresholdMetric::kFds].critical) fd_limit = *c;
  if (fd_limit) fd_leak_.emplace(h.leak, *fd_limit);
  status_text_.clear();
  ready_at_ms_ = h.notify ? 0 : unix_now_ms();
  if (notify_) {
    watch_notify();
    ready_timer_.expires_after(h.ready_timeout);
    ready_timer_.async_wait([this,
                             alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
      auto a = alive.lock();
      if (ec || !a || !*a || !proc_ || state_ == v1::STOPPING || engine_.ready()) return;
      decide(make_signal(
          SignalKind::kNotReady,
          "not ready within " + std::to_string(manifest_.health.ready_timeout.count()) + " ms"));
    });
  }
  if (h.liveness) {
    LivenessProber::Spawn spawn;
    if (!h.liveness->exec.empty()) {
      spawn = [this]() -> Result<sandbox::Process> {
        if (!proc_ || state_ == v1::STOPPING) {
          return make_error(Code::kFailedPrecondition, "exec probe: the run is ending");
        }
        sandbox::SandboxExecSpec x;
        x.ns_pidfd = sandbox_ && manifest_.isolation.enabled ? proc_->pidfd() : -1;
        if (cgroup_) {
          // Every hierarchy the run is in: the v1 directories and the cgroup2 node (which a
          // launch enters by CLONE_INTO_CGROUP, so self_join_files leaves it out).
          x.join_files = cgroup_->self_join_files();
          if (std::string v2 = cgroup_->dir(""); !v2.empty()) {
            x.join_files.push_back(v2 + "/cgroup.procs");
          }
        }
        x.uid = x.ns_pidfd >= 0 ? sandbox_->uid : ::getuid();
        x.gid = x.ns_pidfd >= 0 ? sandbox_->gid : ::getgid();
        x.argv = manifest_.health.liveness->exec;
        if (x.ns_pidfd >= 0 && sandbox_->landlock) {
          if (!probe_prepared_) {
            auto p = probe_plans_.get(*sandbox_, manifest_.exec);
            if (!p) return std::unexpected(p.error().wrap("exec probe: its Landlock rules"));
            probe_prepared_ = std::move(*p);
          }
          if (probe_prepared_->landlock) x.landlock = &*probe_prepared_->landlock;
        }
        for (const auto& [k, v] : manifest_.env) x.env.push_back(k + "=" + v);
        if (manifest_.env.find("PATH") == manifest_.env.end())
          x.env.push_back("PATH=/usr/bin:/bin");
        if (manifest_.seccomp) {
          // The profile's filter, answering denied calls itself (no listener for probes).
          if (!probe_seccomp_) {
            probe_seccomp_.emplace(sandbox::SeccompFilter::build(*manifest_.seccomp, false));
          }
          if (!*probe_seccomp_) return std::unexpected(probe_seccomp_->error());
          x.seccomp = &(*probe_seccomp_)->program();
        }
        return sandbox::exec_in_sandbox(x);
      };
    }
    prober_ = std::make_unique<LivenessProber>(
        io_, *h.liveness, h.liveness->exec.empty() ? probe_path() : std::string(), std::move(spawn),
        [this, alive = std::weak_ptr<bool>(alive_)](bool ok, const std::string& detail) {
          // Decided outside the prober's own call: a restart destroys the prober.
          asio::post(io_, [this, alive, ok, detail] {
            if (auto a = alive.lock(); a && *a) on_probe(ok, detail);
          });
        });
  }
  probe_failures_ = 0;
  last_probe_.clear();
  apply(engine_.on_started(clock_.now(), h.notify));
}

void Plugin::end_health_checks() {
  if (notify_) {
    boost::system::error_code ec;
    notify_->close(ec);
    notify_.reset();
  }
  ready_timer_.cancel();
  prober_.reset();
}

void Plugin::watch_notify() {
  notify_->async_wait(asio::posix::stream_descriptor::wait_read,
                      [this, watch = notify_.get()](boost::system::error_code ec) {
                        if (ec || watch != notify_.get()) return;
                        on_notify();
                      });
}

void Plugin::on_notify() {
  bool ready = false;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(notify_->native_handle(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) {
      spdlog::warn("plugin {}: reading its readiness socket: {}", name(), std::strerror(errno));
      return;
    }
    std::string_view msg(buf, static_cast<size_t>(n));
    if (msg == "\n" || msg.empty()) ready = true;  // s6: a newline
    while (!msg.empty()) {
      size_t nl = msg.find('\n');
      std::string_view line = msg.substr(0, nl);
      if (line == "READY=1") ready = true;
      if (line.starts_with("STATUS=")) status_text_ = std::string(line.substr(7, 200));
      if (nl == std::string_view::npos) break;
      msg.remove_prefix(nl + 1);
    }
  }
  watch_notify();  // before deciding: recovery may end the run (and this socket) now
  if (!ready || engine_.ready()) return;
  ready_at_ms_ = unix_now_ms();
  ready_timer_.cancel();
  const int64_t after = ready_at_ms_ - started_at_ms_;
  logs_.note("ready after " + std::to_string(after) + " ms", ready_at_ms_);
  decide(make_signal(SignalKind::kReady, "ready after " + std::to_string(after) + " ms"));
}

void Plugin::on_probe(bool ok, const std::string& detail) {
  if (!proc_ || state_ == v1::STOPPING) return;
  last_probe_ = std::string(ok ? "ok (" : "failed (") + detail + ")";
  if (ok) {
    const bool was_failing = probe_failures_ != 0;
    probe_failures_ = 0;
    if (was_failing || engine_.breaker().state() == recovery::BreakerState::kHalfOpen) {
      decide(make_signal(SignalKind::kProbeOk, detail));
    }
    return;
  }
  ++probe_failures_;
  const unsigned threshold = manifest_.health.liveness->failure_threshold;
  if (probe_failures_ % threshold != 0) return;
  decide(make_signal(SignalKind::kLiveness,
                     detail + " (" + std::to_string(probe_failures_) + " failures in a row)"));
}

void Plugin::on_sample(const collectors::Sample& s) {
  if (!proc_) return;
  auto feed = [&](std::optional<recovery::LeakDetector>& d, collectors::Metric m, double v,
                  const char* metric) {
    if (!d || s.source_of(m) == collectors::Source::kNone) return;
    auto alert = d->on_value(clock_.now(), v);
    if (!alert) return;
    auto sig = make_signal(SignalKind::kLeak, alert->describe(metric, d->limit()));
    sig.metric = metric;
    sig.cleared = alert->cleared;
    sig.severity = alert->cleared ? Severity::kInfo : Severity::kWarning;
    if (!alert->cleared) {
      spdlog::warn("plugin {}: leak: {}", name(), sig.cause);
      emit("alert", std::string("leak: ") + metric, sig.cause, sig.id);
    }
    decide(sig);
  };
  feed(memory_leak_, collectors::Metric::kMemory, static_cast<double>(s.memory.current), "memory");
  feed(fd_leak_, collectors::Metric::kFds, static_cast<double>(s.fds.open), "fds");
}

void Plugin::note_operator(const std::string& cause) {
  emit("signal", "operator", cause, host_.events != nullptr ? host_.events->next_signal_id() : 0);
}

void Plugin::restore(recovery::RecoveryPhase phase, const std::string& cause, unsigned trips) {
  engine_.restore(phase, cause, trips);
  if (running()) return;
  if (phase == RecoveryPhase::kQuarantined) state_ = v1::QUARANTINED;
  if (phase == RecoveryPhase::kEscalated) state_ = v1::ESCALATED;
  if (phase == RecoveryPhase::kQuarantined || phase == RecoveryPhase::kEscalated) {
    logs_.note(std::string("kept ") + std::string(recovery::recovery_phase_name(phase)) +
                   " across a restart of corrald: " + cause,
               unix_now_ms());
  }
}

Result<void> Plugin::reset(const std::string& cause) {
  logs_.note("reset: " + cause, unix_now_ms());
  note_operator(cause);
  const bool held = engine_.phase() == RecoveryPhase::kQuarantined ||
                    engine_.phase() == RecoveryPhase::kEscalated;
  auto d = engine_.reset(cause, clock_.now(), running() && !frozen_);
  // A plugin its operator stopped (or its policy left down) stays down: reset is not start.
  if (d.action.kind == Action::Kind::kRestart && !held &&
      (state_ == v1::STOPPED || state_ == v1::EXITED || state_ == v1::STOPPING)) {
    d.action = {};
  }
  if (d.action.kind == Action::Kind::kRestart) wanted_ = true;
  if (held && !running() && state_ != v1::STOPPING) state_ = v1::STOPPED;
  apply(std::move(d));
  return {};
}

recovery::HealthContext Plugin::health_context() const {
  recovery::HealthContext c;
  c.breaker = engine_.breaker().state();
  c.phase = engine_.phase();
  c.running = running() && state_ == v1::RUNNING;
  c.ready = engine_.ready();
  c.wanted = wanted_ || state_ == v1::BACKOFF || state_ == v1::FAILED;
  c.leaks = (memory_leak_ && memory_leak_->alerted() ? 1u : 0u) +
            (fd_leak_ && fd_leak_->alerted() ? 1u : 0u);
  return c;
}

int Plugin::health_score() const { return score_.score(clock_.now(), health_context()); }

void Plugin::fill_breaker(v1::BreakerInfo& out) const {
  const auto& b = engine_.breaker();
  out.set_plugin(name());
  out.set_state(std::string(recovery::breaker_state_name(b.state())));
  out.set_trips(b.trips());
  out.set_total_trips(b.total_trips());
  if (b.state() == recovery::BreakerState::kOpen) {
    out.set_open_until_unix_ms(to_unix_ms(b.open_until(), clock_));
  }
  out.set_last_transition(last_transition_);
  out.set_last_transition_unix_ms(last_transition_ms_);
  out.set_phase(std::string(recovery::recovery_phase_name(engine_.phase())));
  out.set_phase_cause(engine_.phase_cause());
  const auto& st = engine_.settings();
  out.set_recent_restarts(static_cast<uint32_t>(
      const_cast<recovery::RecoveryEngine&>(engine_).recent_restarts(clock_.now())));
  out.set_max_restarts(st.max_restarts);
  out.set_restart_period_ms(static_cast<uint32_t>(st.restart_period.count()));
  out.set_backoff_ceiling_ms(static_cast<uint64_t>(engine_.backoff_ceiling().count()));
  out.set_rule(breaker_rule(st.breaker));
}

void Plugin::fill_health(v1::HealthReport& out) const {
  out.set_name(name());
  out.set_state(v1::PluginState_Name(state_));
  const auto ctx = health_context();
  out.set_score(static_cast<uint32_t>(score_.score(clock_.now(), ctx)));
  for (const auto& p : score_.explain(clock_.now(), ctx)) {
    char pts[24];
    std::snprintf(pts, sizeof pts, " (-%.0f)", p.points);
    out.add_reasons(p.what + pts);
  }
  fill_breaker(*out.mutable_breaker());
  out.set_ready(engine_.ready());
  const HealthSettings& h = manifest_.health;
  if (!h.notify) {
    out.set_readiness("none (ready once started)");
  } else if (engine_.ready() && running()) {
    out.set_readiness("notify: ready after " + std::to_string(ready_at_ms_ - started_at_ms_) +
                      " ms");
  } else {
    out.set_readiness("notify: not ready yet (timeout " + std::to_string(h.ready_timeout.count()) +
                      " ms)");
  }
  if (h.liveness) {
    std::string what = "unix socket " + h.liveness->socket;
    if (!h.liveness->exec.empty()) {
      what = "exec";
      for (const auto& a : h.liveness->exec) what += " " + a;
    }
    out.set_liveness(what + " every " + std::to_string(h.liveness->period.count()) +
                     " ms, timeout " + std::to_string(h.liveness->timeout.count()) + " ms, " +
                     std::to_string(h.liveness->failure_threshold) + " failures: " +
                     (last_probe_.empty() ? std::string("not probed yet") : last_probe_));
  } else {
    out.set_liveness("none");
  }
  out.set_liveness_failures(probe_failures_);
  out.set_status_text(status_text_);
  auto trend = [&](const std::optional<recovery::LeakDetector>& d, const char* metric) {
    if (!d) return;
    auto f = d->fit();
    auto* t = out.add_trends();
    t->set_metric(metric);
    t->set_limit(d->limit());
    t->set_alert(d->alerted());
    t->set_eta_seconds(-1);
    if (!f) return;
    t->set_value(f->last);
    t->set_slope_per_second(f->slope_per_s);
    t->set_r2(f->r2);
    if (auto eta = d->eta_s()) t->set_eta_seconds(*eta);
  };
  trend(memory_leak_, "memory");
  trend(fd_leak_, "fds");
  const auto& st = engine_.settings();
  auto& m = *out.mutable_strategies();
  m["exit"] = recovery::strategy_name(st.on_exit);
  m["oom_kill"] = recovery::strategy_name(st.on_oom);
  m["seccomp"] = recovery::strategy_name(st.on_seccomp);
  m["critical"] = recovery::strategy_name(st.on_critical);
  m["leak"] = recovery::strategy_name(st.on_leak);
  m["liveness"] = recovery::strategy_name(st.on_liveness);
  m["not_ready"] = recovery::strategy_name(st.on_not_ready);
}

}  // namespace corral::supervisor
