#include "supervisor/recovery/backoff.h"

#include <algorithm>

namespace corral::supervisor::recovery {

std::chrono::milliseconds JitterBackoff::ceiling() const {
  const auto cap = std::max(settings_.cap, settings_.base);
  std::chrono::milliseconds c = settings_.base;
  for (unsigned i = 0; i < attempt_ && c < cap; ++i) c *= 2;
  return std::min(c, cap);
}

Clock::duration JitterBackoff::next(Clock::duration ran) {
  if (ran >= settings_.stable_after) attempt_ = 0;
  const auto c = std::chrono::duration_cast<Clock::duration>(ceiling());
  if (attempt_ < 64) ++attempt_;
  std::uniform_int_distribution<Clock::duration::rep> pick(0, c.count());
  return Clock::duration(pick(rng_));
}

size_t RestartIntensity::recent(Clock::time_point now) {
  while (!times_.empty() && times_.front() <= now - period_) times_.pop_front();
  return times_.size();
}

bool RestartIntensity::admit(Clock::time_point now) {
  if (recent(now) >= max_) return false;
  times_.push_back(now);
  return true;
}

}  // namespace corral::supervisor::recovery
