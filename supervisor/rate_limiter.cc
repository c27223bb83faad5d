#include "supervisor/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace corral::supervisor {

namespace {
constexpr auto kPruneEvery = std::chrono::seconds(10);
}

void TokenBucket::refill(Clock::time_point now) {
  if (now <= at_) return;
  double dt = std::chrono::duration<double>(now - at_).count();
  tokens_ = std::min(spec_.burst, tokens_ + dt * spec_.per_second);
  at_ = now;
}

Clock::duration TokenBucket::take(Clock::time_point now) {
  if (spec_.per_second <= 0) return Clock::duration::zero();
  refill(now);
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return Clock::duration::zero();
  }
  double wait_s = (1.0 - tokens_) / spec_.per_second;
  auto wait = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wait_s));
  return std::max(wait, Clock::duration(1));
}

bool TokenBucket::full(Clock::time_point now) const {
  if (spec_.per_second <= 0) return true;
  double dt = std::chrono::duration<double>(now - at_).count();
  return tokens_ + std::max(0.0, dt) * spec_.per_second >= spec_.burst;
}

template <class Map, class Key>
Clock::duration RateLimiter::take(Map& m, const Key& key, BucketSpec spec) {
  const auto now = clock_.now();
  if (now - last_prune_ >= kPruneEvery) {
    last_prune_ = now;
    std::erase_if(uids_, [&](const auto& kv) { return kv.second.full(now); });
    std::erase_if(subjects_, [&](const auto& kv) { return kv.second.full(now); });
  }
  if (spec.per_second <= 0) return Clock::duration::zero();
  spec.burst = std::max(spec.burst, 1.0);
  auto it = m.find(key);
  if (it == m.end()) it = m.emplace(key, TokenBucket(spec, now)).first;
  it->second.respec(spec);
  return it->second.take(now);
}

Clock::duration RateLimiter::take_uid(uid_t uid, BucketSpec spec) {
  auto wait = take(uids_, uid, spec);
  if (wait > Clock::duration::zero()) ++throttled_;
  return wait;
}

Clock::duration RateLimiter::take_subject(const std::string& subject, BucketSpec spec) {
  auto wait = take(subjects_, subject, spec);
  if (wait > Clock::duration::zero()) ++refused_subjects_;
  return wait;
}

}  // namespace corral::supervisor
