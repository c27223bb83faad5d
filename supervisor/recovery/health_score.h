// HealthScore: a plugin's 0-100 health from its recent signals. Each failure-like signal takes
// a penalty that halves every `half_life`; the plugin's standing caps the result (an open
// breaker, a quarantine). explain() names what costs the most, for `corralctl health`.
#pragma once

#include <chrono>
#include <deque>
#include <string>
#include <vector>

#include "supervisor/recovery/recovery_engine.h"

namespace corral::supervisor::recovery {

struct HealthContext {
  BreakerState breaker = BreakerState::kClosed;
  RecoveryPhase phase = RecoveryPhase::kNormal;
  bool running = false;
  bool ready = false;
  bool wanted = true;  // the operator wants it up (not stopped on purpose)
  unsigned leaks = 0;  // trend alerts in force
};

struct HealthPart {
  std::string what;  // "exit: exited with code 3", "breaker open", "leak alert(s)"
  double points = 0;
};

class HealthScore {
 public:
  explicit HealthScore(std::chrono::seconds half_life = std::chrono::seconds(60))
      : half_life_(half_life) {}
  void add(const Signal& s);
  [[nodiscard]] int score(Clock::time_point now, const HealthContext& ctx) const;
  // The largest deductions (decayed) and the cap in force, largest first.
  [[nodiscard]] std::vector<HealthPart> explain(Clock::time_point now, const HealthContext& ctx,
                                                size_t max_parts = 5) const;
  [[nodiscard]] static double penalty(const Signal& s);  // before decay

 private:
  struct Hit {
    Clock::time_point at;
    double points;
    std::string what;
  };
  [[nodiscard]] double decayed(const Hit& h, Clock::time_point now) const;
  [[nodiscard]] static double cap(const HealthContext& ctx, std::string* why);

  std::chrono::seconds half_life_;
  std::deque<Hit> hits_;
};

}  // namespace corral::supervisor::recovery
