// CircuitBreaker: one plugin's breaker. Closed -> Open when its trip rule fires (consecutive
// failures, a failure rate over a count- or time-based window, or one fatal signal); Open for a
// duration that doubles with each trip in a row (capped); Half-Open lets a limited number of
// trials through, closing after that many successes and re-opening on a failure; Repairing while
// a recovery strategy runs. Pure logic over the caller's time points; every transition is
// returned with its cause.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"

namespace corral::supervisor::recovery {

enum class BreakerState : uint8_t { kClosed, kOpen, kHalfOpen, kRepairing };
[[nodiscard]] std::string_view breaker_state_name(BreakerState s);  // "closed", "open", ...

struct BreakerSettings {
  unsigned consecutive_failures = 5;  // trips after this many failures in a row (0: rule off)
  // Failure rate over a window: the last `window_count` outcomes (0: rule off), or those of the
  // last `window_time` (0: rule off); trips at `failure_rate` or more once `min_outcomes` are in.
  unsigned window_count = 0;
  std::chrono::milliseconds window_time{0};
  double failure_rate = 0.5;
  unsigned min_outcomes = 10;
  std::chrono::milliseconds open_for{1000};        // the first trip's Open time
  std::chrono::milliseconds max_open_for{300000};  // the cap of the doubling
  unsigned half_open_trials = 1;                   // successes in Half-Open that close it
};

struct Outcome {
  bool failure = false;
  bool fatal = false;  // a failure that trips at once (a seccomp violation, say)
  std::string cause;   // "exit status 1", "oom kill", "liveness probe timed out", ...
};

struct BreakerTransition {
  BreakerState from = BreakerState::kClosed;
  BreakerState to = BreakerState::kClosed;
  std::string cause;
  Clock::time_point at{};
};

class CircuitBreaker {
 public:
  explicit CircuitBreaker(BreakerSettings settings) : settings_(settings) {}

  // One run's or probe's outcome. Counted while Closed or Half-Open; ignored while Open or
  // Repairing (nothing should run then), except that a fatal one is remembered as the cause.
  [[nodiscard]] std::optional<BreakerTransition> record(const Outcome& o, Clock::time_point now);
  // Open -> Half-Open once its time has passed (the caller asks when the timer fires).
  [[nodiscard]] std::optional<BreakerTransition> poll(Clock::time_point now);
  // Whether a start or probe may go through now: Closed, or Half-Open with trials left (each
  // call in Half-Open takes one).
  [[nodiscard]] bool allow();
  // A recovery strategy starts (-> Repairing) or ends. Begun from Closed (a routine restart
  // after a failure that did not trip), success goes back to Closed with the failure count kept
  // and failure counts as one more failure; begun from Open or Half-Open, success -> Half-Open
  // (its result is still to be proven) and failure -> Open again (a longer trip).
  [[nodiscard]] std::optional<BreakerTransition> begin_repair(std::string cause,
                                                              Clock::time_point now);
  [[nodiscard]] std::optional<BreakerTransition> end_repair(bool ok, std::string cause,
                                                            Clock::time_point now);
  // Operator reset: Closed, history and the trip streak forgotten.
  [[nodiscard]] std::optional<BreakerTransition> reset(std::string cause, Clock::time_point now);
  // A restart of corrald: the trip streak from the store, so the next Open lasts as long as it
  // would have (the breaker itself starts Closed: its timers did not survive).
  void restore_trips(unsigned trips) {
    trips_ = trips;
    total_ = std::max(total_, trips);
  }

  [[nodiscard]] BreakerState state() const { return state_; }
  [[nodiscard]] Clock::time_point open_until() const { return open_until_; }
  [[nodiscard]] unsigned trips() const { return trips_; }        // in a row, since closed
  [[nodiscard]] unsigned total_trips() const { return total_; }  // ever
  [[nodiscard]] const BreakerSettings& settings() const { return settings_; }

 private:
  struct Seen {
    Clock::time_point at;
    bool failure;
  };
  [[nodiscard]] std::optional<std::string> trip_reason(const Outcome& o);
  BreakerTransition move(BreakerState to, std::string cause, Clock::time_point now);
  BreakerTransition open(std::string cause, Clock::time_point now);

  BreakerSettings settings_;
  BreakerState state_ = BreakerState::kClosed;
  Clock::time_point open_until_{};
  unsigned consecutive_ = 0;
  unsigned trips_ = 0;
  unsigned total_ = 0;
  unsigned trials_left_ = 0;
  unsigned trial_successes_ = 0;
  BreakerState repair_from_ = BreakerState::kClosed;
  std::deque<Seen> window_;
};

}  // namespace corral::supervisor::recovery
