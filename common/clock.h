// Clock: the injectable time source for logic that depends on time (restart backoff, breakers).
// Production code uses SteadyClock; tests advance a ManualClock by hand.
#pragma once

#include <chrono>

namespace corral {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;
  virtual ~Clock() = default;
  [[nodiscard]] virtual time_point now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  [[nodiscard]] time_point now() const override { return std::chrono::steady_clock::now(); }
  static SteadyClock& instance() {
    static SteadyClock clock;
    return clock;
  }
};

class ManualClock final : public Clock {
 public:
  [[nodiscard]] time_point now() const override { return now_; }
  void advance(duration d) { now_ += d; }

 private:
  time_point now_{std::chrono::hours(1)};
};

}  // namespace corral
