// Restart pacing. JitterBackoff: the n-th quick failure in a row waits a uniform random time in
// [0, min(cap, base * 2^n)] ("full jitter": restarts of many plugins do not synchronize); a run
// that lasted `stable_after` starts the count again. RestartIntensity: at most `max_restarts`
// within any `period` (Erlang/OTP's restart intensity, systemd's StartLimitBurst); past it the
// caller escalates instead of restarting.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <random>

#include "common/clock.h"

namespace corral::supervisor::recovery {

struct BackoffSettings {
  std::chrono::milliseconds base{100};
  std::chrono::milliseconds cap{30000};
  std::chrono::milliseconds stable_after{10000};
};

class JitterBackoff {
 public:
  JitterBackoff(BackoffSettings settings, uint64_t seed) : settings_(settings), rng_(seed) {}
  // The delay before the next restart after a failed run that lasted `ran`.
  [[nodiscard]] Clock::duration next(Clock::duration ran);
  // The upper bound the next delay is drawn under.
  [[nodiscard]] std::chrono::milliseconds ceiling() const;
  [[nodiscard]] unsigned attempt() const { return attempt_; }
  void reset() { attempt_ = 0; }

 private:
  BackoffSettings settings_;
  std::mt19937_64 rng_;
  unsigned attempt_ = 0;  // quick failures in a row before this one
};

class RestartIntensity {
 public:
  RestartIntensity(unsigned max_restarts, Clock::duration period)
      : max_(max_restarts), period_(period) {}
  // Whether one more restart fits now; if it does, it is counted.
  [[nodiscard]] bool admit(Clock::time_point now);
  // Restarts counted within the period ending now.
  [[nodiscard]] size_t recent(Clock::time_point now);
  void reset() { times_.clear(); }
  [[nodiscard]] unsigned max_restarts() const { return max_; }
  [[nodiscard]] Clock::duration period() const { return period_; }

 private:
  unsigned max_;
  Clock::duration period_;
  std::deque<Clock::time_point> times_;
};

}  // namespace corral::supervisor::recovery
