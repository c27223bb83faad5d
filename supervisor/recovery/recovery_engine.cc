#include "supervisor/recovery/recovery_engine.h"

#include <algorithm>

namespace corral::supervisor::recovery {

using std::chrono::milliseconds;

std::string_view signal_kind_name(SignalKind k) {
  switch (k) {
    case SignalKind::kExit:
      return "exit";
    case SignalKind::kLaunchFailed:
      return "launch_failed";
    case SignalKind::kOomKill:
      return "oom_kill";
    case SignalKind::kSeccomp:
      return "seccomp";
    case SignalKind::kThreshold:
      return "threshold";
    case SignalKind::kLeak:
      return "leak";
    case SignalKind::kLiveness:
      return "liveness";
    case SignalKind::kProbeOk:
      return "probe_ok";
    case SignalKind::kReady:
      return "ready";
    case SignalKind::kNotReady:
      return "not_ready";
    case SignalKind::kStable:
      return "stable";
    case SignalKind::kOperator:
      return "operator";
  }
  return "unknown";
}

std::string_view strategy_name(Strategy s) {
  switch (s) {
    case Strategy::kNone:
      return "none";
    case Strategy::kRestart:
      return "restart";
    case Strategy::kReload:
      return "reload";
    case Strategy::kDegrade:
      return "degrade";
    case Strategy::kQuarantine:
      return "quarantine";
    case Strategy::kEscalate:
      return "escalate";
  }
  return "unknown";
}

std::optional<Strategy> parse_strategy(std::string_view s) {
  for (Strategy v : {Strategy::kNone, Strategy::kRestart, Strategy::kReload, Strategy::kDegrade,
                     Strategy::kQuarantine, Strategy::kEscalate}) {
    if (strategy_name(v) == s) return v;
  }
  return std::nullopt;
}

std::string_view degrade_mode_name(DegradeMode m) {
  return m == DegradeMode::kFreeze ? "freeze" : "cut-network";
}

std::optional<DegradeMode> parse_degrade_mode(std::string_view s) {
  if (s == "freeze") return DegradeMode::kFreeze;
  if (s == "cut-network") return DegradeMode::kCutNetwork;
  return std::nullopt;
}

std::string_view action_kind_name(Action::Kind k) {
  switch (k) {
    case Action::Kind::kNone:
      return "none";
    case Action::Kind::kRestart:
      return "restart";
    case Action::Kind::kHold:
      return "hold";
    case Action::Kind::kReload:
      return "reload";
    case Action::Kind::kDegrade:
      return "degrade";
    case Action::Kind::kUndegrade:
      return "undegrade";
    case Action::Kind::kQuarantine:
      return "quarantine";
    case Action::Kind::kEscalate:
      return "escalate";
  }
  return "unknown";
}

std::string describe(const Action& a) {
  std::string out(action_kind_name(a.kind));
  auto ms = std::chrono::duration_cast<milliseconds>(a.delay).count();
  if (a.kind == Action::Kind::kRestart) {
    out += a.trial ? " (half-open trial)" : "";
    out += " in " + std::to_string(ms) + " ms";
  } else if (a.kind == Action::Kind::kHold) {
    out += " for " + std::to_string(ms) + " ms (breaker open)";
  }
  return out;
}

std::string_view recovery_phase_name(RecoveryPhase p) {
  switch (p) {
    case RecoveryPhase::kNormal:
      return "normal";
    case RecoveryPhase::kDegraded:
      return "degraded";
    case RecoveryPhase::kQuarantined:
      return "quarantined";
    case RecoveryPhase::kEscalated:
      return "escalated";
  }
  return "unknown";
}

RecoveryEngine::RecoveryEngine(RecoverySettings settings, uint64_t seed)
    : settings_(settings),
      breaker_(settings.breaker),
      backoff_(settings.backoff, seed),
      intensity_(settings.max_restarts, settings.restart_period) {}

Strategy RecoveryEngine::strategy_for(const Signal& s) const {
  switch (s.kind) {
    case SignalKind::kExit:
    case SignalKind::kLaunchFailed:
      return settings_.on_exit;
    case SignalKind::kOomKill:
      return settings_.on_oom;
    case SignalKind::kSeccomp:
      return settings_.on_seccomp;
    case SignalKind::kThreshold:
      return s.severity == Severity::kCritical && !s.cleared ? settings_.on_critical
                                                             : Strategy::kNone;
    case SignalKind::kLeak:
      return s.cleared ? Strategy::kNone : settings_.on_leak;
    case SignalKind::kLiveness:
      return settings_.on_liveness;
    case SignalKind::kNotReady:
      return settings_.on_not_ready;
    case SignalKind::kProbeOk:
    case SignalKind::kReady:
    case SignalKind::kStable:
    case SignalKind::kOperator:
      return Strategy::kNone;
  }
  return Strategy::kNone;
}

void RecoveryEngine::push(Decision& d, std::optional<BreakerTransition> t) {
  if (t) d.transitions.push_back(std::move(*t));
}

void RecoveryEngine::hold(Decision& d, const std::string& cause, uint64_t id,
                          Clock::time_point now) {
  waiting_ = true;
  d.action = {Action::Kind::kHold, std::max(Clock::duration::zero(), breaker_.open_until() - now),
              false, cause, id};
}

void RecoveryEngine::restart(Decision& d, const Signal& s, Clock::time_point now) {
  if (settings_.max_restarts != 0 && !intensity_.admit(now)) {
    phase_ = RecoveryPhase::kEscalated;
    phase_cause_ = std::to_string(settings_.max_restarts) + " restarts within " +
                   std::to_string(settings_.restart_period.count()) + " ms, then " + s.cause;
    waiting_ = false;
    d.action = {Action::Kind::kEscalate, {}, false, "restart intensity: " + phase_cause_, s.id};
    return;
  }
  const Clock::duration ran = started_ ? now - started_at_ : Clock::duration::zero();
  const Clock::duration delay = backoff_.next(ran);
  push(d, breaker_.begin_repair("restart after " + s.cause, now));
  d.action = {Action::Kind::kRestart, delay, false, s.cause, s.id};
}

void RecoveryEngine::failure(Decision& d, const Signal& s, Strategy strategy, bool running) {
  const Clock::time_point now = s.at;
  // A run that is gone has had (or will have) its exit decided: a signal about it counts again
  // only where it asks for more than a restart would.
  if (!running && s.kind != SignalKind::kExit && s.kind != SignalKind::kLaunchFailed &&
      strategy != Strategy::kQuarantine && strategy != Strategy::kEscalate) {
    return;
  }
  if (breaker_.state() == BreakerState::kRepairing) {
    push(d, breaker_.end_repair(false, s.cause, now));
  } else {
    push(d, breaker_.record({true, s.kind == SignalKind::kSeccomp, s.cause}, now));
  }
  if (strategy == Strategy::kQuarantine) {
    phase_ = RecoveryPhase::kQuarantined;
    phase_cause_ = s.cause;
    waiting_ = false;
    d.action = {Action::Kind::kQuarantine, {}, false, s.cause, s.id};
    return;
  }
  if (strategy == Strategy::kEscalate) {
    phase_ = RecoveryPhase::kEscalated;
    phase_cause_ = s.cause;
    waiting_ = false;
    d.action = {Action::Kind::kEscalate, {}, false, s.cause, s.id};
    return;
  }
  if (breaker_.state() == BreakerState::kOpen) {
    // Not restarting a run that ended against a "no" restart policy.
    if (!running && !s.restart_wanted) return;
    hold(d, s.cause, s.id, now);
    return;
  }
  // A run that is gone cannot be reloaded or degraded: those become restarts.
  if (!running && (strategy == Strategy::kReload || strategy == Strategy::kDegrade)) {
    strategy = Strategy::kRestart;
  }
  switch (strategy) {
    case Strategy::kRestart:
      if (!s.restart_wanted) return;  // the restart policy says "no"
      restart(d, s, now);
      return;
    case Strategy::kReload:
      push(d, breaker_.begin_repair("reload after " + s.cause, now));
      push(d, breaker_.end_repair(true, "reload signal sent", now));
      d.action = {Action::Kind::kReload, {}, false, s.cause, s.id};
      return;
    case Strategy::kDegrade:
      push(d, breaker_.begin_repair("degrade after " + s.cause, now));
      push(d,
           breaker_.end_repair(
               true, "degraded (" + std::string(degrade_mode_name(settings_.degrade)) + ")", now));
      phase_ = RecoveryPhase::kDegraded;
      phase_cause_ = s.cause;
      degraded_metric_ = s.metric;
      d.action = {Action::Kind::kDegrade, {}, false, s.cause, s.id};
      return;
    default:
      return;
  }
}

Decision RecoveryEngine::on_signal(const Signal& s, bool running) {
  Decision d;
  if (phase_ == RecoveryPhase::kQuarantined || phase_ == RecoveryPhase::kEscalated) {
    return d;  // recorded by the caller; only a reset acts now
  }
  const Strategy strategy = strategy_for(s);
  switch (s.kind) {
    case SignalKind::kReady:
      became_ready(d, s.at);
      return d;
    case SignalKind::kProbeOk:
      if (breaker_.state() == BreakerState::kHalfOpen && ready_) {
        push(d, breaker_.record({false, false, s.cause}, s.at));
      }
      return d;
    case SignalKind::kStable:
    case SignalKind::kOperator:
      return d;
    case SignalKind::kThreshold:
    case SignalKind::kLeak:
      if (s.cleared) {
        if (phase_ == RecoveryPhase::kDegraded && s.metric == degraded_metric_) {
          phase_ = RecoveryPhase::kNormal;
          phase_cause_.clear();
          degraded_metric_.clear();
          d.action = {Action::Kind::kUndegrade, {}, false, s.cause, s.id};
        }
        return d;
      }
      if (strategy == Strategy::kNone) return d;  // an alert: the score, not the breaker
      if (phase_ == RecoveryPhase::kDegraded && strategy == Strategy::kDegrade) return d;
      failure(d, s, strategy, running);
      return d;
    case SignalKind::kExit:
      if (!s.failure) {
        // A clean exit: not the breaker's business; "always" restarts it, paced.
        if (s.restart_wanted && breaker_.state() != BreakerState::kOpen) {
          if (breaker_.state() == BreakerState::kRepairing) {
            push(d, breaker_.end_repair(true, s.cause, s.at));
          }
          restart(d, s, s.at);
        }
      } else {
        failure(d, s, strategy, false);
      }
      started_ = false;
      ready_ = false;
      return d;
    case SignalKind::kLaunchFailed:
      failure(d, s, strategy, false);
      return d;
    case SignalKind::kOomKill:
    case SignalKind::kSeccomp:
    case SignalKind::kLiveness:
    case SignalKind::kNotReady:
      if (strategy == Strategy::kNone) return d;
      failure(d, s, strategy, running);
      return d;
  }
  return d;
}

void RecoveryEngine::became_ready(Decision& d, Clock::time_point now) {
  if (ready_) return;
  ready_ = true;
  ready_at_ = now;
  push(d, breaker_.end_repair(true, "restarted and ready", now));
}

Decision RecoveryEngine::on_started(Clock::time_point now, bool needs_ready) {
  Decision d;
  started_ = true;
  started_at_ = now;
  ready_ = false;
  stable_ = false;
  waiting_ = false;
  if (!needs_ready) became_ready(d, now);
  return d;
}

Decision RecoveryEngine::on_timer(Clock::time_point now, bool running) {
  Decision d;
  if (phase_ == RecoveryPhase::kQuarantined || phase_ == RecoveryPhase::kEscalated) return d;
  push(d, breaker_.poll(now));
  if (!running) {
    if (waiting_ && breaker_.state() == BreakerState::kHalfOpen && breaker_.allow()) {
      waiting_ = false;
      // A trial start is a restart too: the intensity limit ends a slow loop as well.
      if (settings_.max_restarts != 0 && !intensity_.admit(now)) {
        phase_ = RecoveryPhase::kEscalated;
        phase_cause_ = std::to_string(settings_.max_restarts) + " restarts within " +
                       std::to_string(settings_.restart_period.count()) +
                       " ms, and a breaker trial was next";
        d.action = {Action::Kind::kEscalate, {}, false, "restart intensity: " + phase_cause_, 0};
        return d;
      }
      d.action = {Action::Kind::kRestart, {}, true, "breaker half-open: trial start", 0};
    }
    return d;
  }
  if (!started_ || !ready_) return d;
  if (breaker_.state() == BreakerState::kHalfOpen && now - ready_at_ >= settings_.trial_for) {
    push(d, breaker_.record(
                {false, false,
                 "ready and up for " + std::to_string(settings_.trial_for.count()) + " ms"},
                now));
  }
  if (!stable_ && now - started_at_ >= settings_.backoff.stable_after) {
    stable_ = true;
    backoff_.reset();
    if (breaker_.state() == BreakerState::kClosed) {
      push(d, breaker_.record({false, false, "stable"}, now));
    }
  }
  return d;
}

std::optional<Clock::time_point> RecoveryEngine::next_deadline(bool running) const {
  if (phase_ == RecoveryPhase::kQuarantined || phase_ == RecoveryPhase::kEscalated) {
    return std::nullopt;
  }
  std::optional<Clock::time_point> out;
  auto take = [&](Clock::time_point t) { out = out ? std::min(*out, t) : t; };
  if (breaker_.state() == BreakerState::kOpen && (waiting_ || running)) {
    take(breaker_.open_until());
  }
  if (running && started_ && ready_) {
    if (breaker_.state() == BreakerState::kHalfOpen) take(ready_at_ + settings_.trial_for);
    if (!stable_) take(started_at_ + settings_.backoff.stable_after);
  }
  return out;
}

Decision RecoveryEngine::reset(std::string cause, Clock::time_point now, bool running) {
  Decision d;
  const bool was_held =
      phase_ == RecoveryPhase::kQuarantined || phase_ == RecoveryPhase::kEscalated || waiting_;
  const bool was_degraded = phase_ == RecoveryPhase::kDegraded;
  push(d, breaker_.reset(cause, now));
  backoff_.reset();
  intensity_.reset();
  phase_ = RecoveryPhase::kNormal;
  phase_cause_.clear();
  degraded_metric_.clear();
  waiting_ = false;
  if (!running || was_held) {
    // A quarantined run still alive is thawed and killed by the caller before this start.
    d.action = {Action::Kind::kRestart, {}, false, cause, 0};
  } else if (was_degraded) {
    d.action = {Action::Kind::kUndegrade, {}, false, cause, 0};
  }
  return d;
}

}  // namespace corral::supervisor::recovery
