#include "supervisor/recovery/circuit_breaker.h"

#include <algorithm>
#include <cstdio>

namespace corral::supervisor::recovery {

std::string_view breaker_state_name(BreakerState s) {
  switch (s) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half-open";
    case BreakerState::kRepairing:
      return "repairing";
  }
  return "unknown";
}

BreakerTransition CircuitBreaker::move(BreakerState to, std::string cause, Clock::time_point now) {
  BreakerTransition t{state_, to, std::move(cause), now};
  state_ = to;
  return t;
}

BreakerTransition CircuitBreaker::open(std::string cause, Clock::time_point now) {
  // open_for * 2^(trips in a row), capped; the shift is bounded so it cannot overflow.
  const auto base = settings_.open_for;
  const auto cap = std::max(settings_.max_open_for, base);
  std::chrono::milliseconds d = base;
  for (unsigned i = 0; i < trips_ && d < cap; ++i) d *= 2;
  d = std::min(d, cap);
  ++trips_;
  ++total_;
  open_until_ = now + d;
  consecutive_ = 0;
  window_.clear();
  return move(BreakerState::kOpen,
              cause + " (open for " + std::to_string(d.count()) + " ms, trip " +
                  std::to_string(trips_) + ")",
              now);
}

std::optional<std::string> CircuitBreaker::trip_reason(const Outcome& o) {
  if (o.fatal) return o.cause + " (fatal)";
  if (!o.failure) return std::nullopt;
  if (settings_.consecutive_failures != 0 && consecutive_ >= settings_.consecutive_failures) {
    return o.cause + " (" + std::to_string(consecutive_) + " failures in a row)";
  }
  if (settings_.window_count == 0 && settings_.window_time.count() == 0) return std::nullopt;
  size_t failures = 0;
  for (const Seen& s : window_) failures += s.failure ? 1 : 0;
  if (window_.size() < std::max(1u, settings_.min_outcomes)) return std::nullopt;
  const double rate = static_cast<double>(failures) / static_cast<double>(window_.size());
  if (rate < settings_.failure_rate) return std::nullopt;
  char buf[96];
  std::snprintf(buf, sizeof buf, " (%zu of the last %zu failed)", failures, window_.size());
  return o.cause + buf;
}

std::optional<BreakerTransition> CircuitBreaker::record(const Outcome& o, Clock::time_point now) {
  switch (state_) {
    case BreakerState::kOpen:
    case BreakerState::kRepairing:
      return std::nullopt;
    case BreakerState::kHalfOpen:
      if (o.failure || o.fatal) return open("trial failed: " + o.cause, now);
      if (++trial_successes_ >= std::max(1u, settings_.half_open_trials)) {
        trips_ = 0;
        consecutive_ = 0;
        window_.clear();
        return move(BreakerState::kClosed,
                    std::to_string(trial_successes_) + " trial(s) succeeded: " + o.cause, now);
      }
      return std::nullopt;
    case BreakerState::kClosed:
      break;
  }
  consecutive_ = o.failure || o.fatal ? consecutive_ + 1 : 0;
  window_.push_back({now, o.failure || o.fatal});
  if (settings_.window_count != 0) {
    while (window_.size() > settings_.window_count) window_.pop_front();
  }
  if (settings_.window_time.count() != 0) {
    while (!window_.empty() && window_.front().at < now - settings_.window_time) {
      window_.pop_front();
    }
  }
  if (auto why = trip_reason(o)) return open(*why, now);
  return std::nullopt;
}

std::optional<BreakerTransition> CircuitBreaker::poll(Clock::time_point now) {
  if (state_ != BreakerState::kOpen || now < open_until_) return std::nullopt;
  trials_left_ = std::max(1u, settings_.half_open_trials);
  trial_successes_ = 0;
  return move(BreakerState::kHalfOpen, "open time over", now);
}

bool CircuitBreaker::allow() {
  if (state_ == BreakerState::kClosed) return true;
  if (state_ != BreakerState::kHalfOpen || trials_left_ == 0) return false;
  --trials_left_;
  return true;
}

std::optional<BreakerTransition> CircuitBreaker::begin_repair(std::string cause,
                                                              Clock::time_point now) {
  if (state_ == BreakerState::kRepairing) return std::nullopt;
  repair_from_ = state_;
  return move(BreakerState::kRepairing, std::move(cause), now);
}

std::optional<BreakerTransition> CircuitBreaker::end_repair(bool ok, std::string cause,
                                                            Clock::time_point now) {
  if (state_ != BreakerState::kRepairing) return std::nullopt;
  if (repair_from_ == BreakerState::kClosed) {
    state_ = BreakerState::kClosed;
    if (ok) return BreakerTransition{BreakerState::kRepairing, state_, "repaired: " + cause, now};
    if (auto t = record({true, false, "repair failed: " + cause}, now)) {
      t->from = BreakerState::kRepairing;
      return t;
    }
    return BreakerTransition{BreakerState::kRepairing, state_, "repair failed: " + cause, now};
  }
  if (!ok) return open("repair failed: " + cause, now);
  trials_left_ = std::max(1u, settings_.half_open_trials);
  trial_successes_ = 0;
  return move(BreakerState::kHalfOpen, "repaired: " + cause, now);
}

std::optional<BreakerTransition> CircuitBreaker::reset(std::string cause, Clock::time_point now) {
  trips_ = 0;
  consecutive_ = 0;
  trial_successes_ = 0;
  window_.clear();
  if (state_ == BreakerState::kClosed) return std::nullopt;
  return move(BreakerState::kClosed, std::move(cause), now);
}

}  // namespace corral::supervisor::recovery
