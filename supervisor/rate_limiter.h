// RateLimiter: token buckets per peer uid and per signed-request subject. take() spends a token
// or says how long until one is there; a bucket left full for a while is forgotten, so the map
// stays as small as the set of recent clients. Time comes from an injectable Clock.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "common/clock.h"

namespace corral::supervisor {

struct BucketSpec {
  double per_second = 0;  // 0: unlimited
  double burst = 1;
};

class TokenBucket {
 public:
  TokenBucket(BucketSpec spec, Clock::time_point now)
      : spec_(spec), tokens_(spec.burst), at_(now) {}
  // Zero when a token was taken; otherwise the wait until one will be there (none taken).
  [[nodiscard]] Clock::duration take(Clock::time_point now);
  // Full again (nothing spent that has not come back) at `now`.
  [[nodiscard]] bool full(Clock::time_point now) const;
  void respec(BucketSpec spec) { spec_ = spec; }

 private:
  void refill(Clock::time_point now);
  BucketSpec spec_;
  double tokens_;
  Clock::time_point at_;
};

class RateLimiter {
 public:
  explicit RateLimiter(const Clock& clock = SteadyClock::instance()) : clock_(clock) {}

  [[nodiscard]] Clock::duration take_uid(uid_t uid, BucketSpec spec);
  [[nodiscard]] Clock::duration take_subject(const std::string& subject, BucketSpec spec);

  [[nodiscard]] uint64_t throttled() const { return throttled_; }  // takes that had to wait
  [[nodiscard]] uint64_t refused_subjects() const { return refused_subjects_; }
  [[nodiscard]] size_t buckets() const { return uids_.size() + subjects_.size(); }

 private:
  template <class Map, class Key>
  Clock::duration take(Map& m, const Key& key, BucketSpec spec);

  const Clock& clock_;
  std::map<uid_t, TokenBucket> uids_;
  std::map<std::string, TokenBucket> subjects_;
  Clock::time_point last_prune_{};
  uint64_t throttled_ = 0;
  uint64_t refused_subjects_ = 0;
};

}  // namespace corral::supervisor
