// RecoveryEngine: one plugin's recovery policy as pure logic. It takes the plugin's signals and
// its lifecycle (started, ready, timers) and decides, through the circuit breaker, the restart
// backoff and the restart-intensity limit, which action the plugin takes next, returning every
// breaker transition with its cause. The caller (Plugin) carries the action out; tests drive
// it with a ManualClock and scripted signals.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "supervisor/recovery/recovery_settings.h"
#include "supervisor/recovery/signal.h"

namespace corral::supervisor::recovery {

struct Action {
  enum class Kind : uint8_t {
    kNone,
    kRestart,     // (stop the run if it runs, then) start after `delay`
    kHold,        // the breaker is open: stop the run if it runs; a trial follows on a timer
    kReload,      // send the reload signal
    kDegrade,     // apply the degrade mode
    kUndegrade,   // lift it (the signal cleared)
    kQuarantine,  // freeze and keep
    kEscalate,    // stop and alert
  };
  Kind kind = Kind::kNone;
  Clock::duration delay{};  // kRestart: the backoff; kHold: until the breaker's Half-Open
  bool trial = false;       // kRestart: a Half-Open trial
  std::string cause;
  uint64_t signal_id = 0;
};
[[nodiscard]] std::string_view action_kind_name(Action::Kind k);  // "restart", "hold", ...
[[nodiscard]] std::string describe(const Action& a);  // "restart in 120 ms", "quarantine"

struct Decision {
  std::vector<BreakerTransition> transitions;
  Action action;
};

// Where the plugin stands beyond its breaker: phases only an operator reset leaves (and
// kDegraded, which its signal clearing also leaves).
enum class RecoveryPhase : uint8_t { kNormal, kDegraded, kQuarantined, kEscalated };
[[nodiscard]] std::string_view recovery_phase_name(RecoveryPhase p);

class RecoveryEngine {
 public:
  RecoveryEngine(RecoverySettings settings, uint64_t seed);

  // A signal, with whether the run is still alive as it is decided.
  [[nodiscard]] Decision on_signal(const Signal& s, bool running);
  // A run was launched; without a readiness check it is ready at once (kReady follows here).
  [[nodiscard]] Decision on_started(Clock::time_point now, bool needs_ready);
  // The breaker's Open time, a Half-Open trial's proving time or the stable period may be over.
  [[nodiscard]] Decision on_timer(Clock::time_point now, bool running);
  // When on_timer has something to do next (nullopt: nothing pending).
  [[nodiscard]] std::optional<Clock::time_point> next_deadline(bool running) const;
  // Operator reset: breaker closed, backoff and intensity forgotten, quarantine, escalation and
  // degradation lifted; a restart now when the run is not alive.
  [[nodiscard]] Decision reset(std::string cause, Clock::time_point now, bool running);
  // A restart of corrald: the phase and trip streak its store kept (quarantine and escalation
  // outlive corrald; only an operator reset ends them).
  void restore(RecoveryPhase phase, std::string cause, unsigned trips) {
    phase_ = phase;
    phase_cause_ = std::move(cause);
    breaker_.restore_trips(trips);
  }
  // The operator stopped the plugin: no trial or restart is pending any more.
  void operator_stopped() { waiting_ = false; }

  [[nodiscard]] const CircuitBreaker& breaker() const { return breaker_; }
  [[nodiscard]] RecoveryPhase phase() const { return phase_; }
  [[nodiscard]] const std::string& phase_cause() const { return phase_cause_; }
  [[nodiscard]] const RecoverySettings& settings() const { return settings_; }
  [[nodiscard]] std::chrono::milliseconds backoff_ceiling() const { return backoff_.ceiling(); }
  [[nodiscard]] size_t recent_restarts(Clock::time_point now) { return intensity_.recent(now); }
  [[nodiscard]] bool ready() const { return ready_; }
  [[nodiscard]] Strategy strategy_for(const Signal& s) const;

 private:
  void push(Decision& d, std::optional<BreakerTransition> t);
  void failure(Decision& d, const Signal& s, Strategy strategy, bool running);
  void restart(Decision& d, const Signal& s, Clock::time_point now);
  void hold(Decision& d, const std::string& cause, uint64_t id, Clock::time_point now);
  void became_ready(Decision& d, Clock::time_point now);

  RecoverySettings settings_;
  CircuitBreaker breaker_;
  JitterBackoff backoff_;
  RestartIntensity intensity_;
  RecoveryPhase phase_ = RecoveryPhase::kNormal;
  std::string phase_cause_;
  std::string degraded_metric_;
  bool waiting_ = false;  // held down by the open breaker, a trial start to come
  bool ready_ = false;
  bool stable_ = false;
  bool started_ = false;
  Clock::time_point started_at_{};
  Clock::time_point ready_at_{};
};

}  // namespace corral::supervisor::recovery
