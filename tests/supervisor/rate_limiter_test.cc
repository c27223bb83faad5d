// Token buckets per uid and per subject, on a ManualClock: the burst, the refill rate, the
// wait until the next token, unlimited buckets, and buckets forgotten once full again.
#include "supervisor/rate_limiter.h"

#include <gtest/gtest.h>

namespace corral::supervisor {
namespace {

using namespace std::chrono_literals;

TEST(RateLimiter, ABurstThenTheRate) {
  ManualClock clock;
  RateLimiter l(clock);
  const BucketSpec spec{100, 10};  // 100/s, burst 10
  for (int i = 0; i < 10; ++i) EXPECT_EQ(l.take_uid(1000, spec), Clock::duration::zero());
  auto wait = l.take_uid(1000, spec);
  EXPECT_GT(wait, 9ms);
  EXPECT_LE(wait, 10ms);
  clock.advance(wait);
  EXPECT_EQ(l.take_uid(1000, spec), Clock::duration::zero());
  // Over one simulated second: 100 more, not 101.
  int taken = 0;
  for (int ms = 0; ms < 1000; ++ms) {
    clock.advance(1ms);
    while (l.take_uid(1000, spec) == Clock::duration::zero()) ++taken;
  }
  EXPECT_GE(taken, 99);
  EXPECT_LE(taken, 100);
  EXPECT_GT(l.throttled(), 0u);
}

TEST(RateLimiter, UidsAndSubjectsHaveTheirOwnBuckets) {
  ManualClock clock;
  RateLimiter l(clock);
  const BucketSpec spec{1, 1};
  EXPECT_EQ(l.take_uid(1, spec), Clock::duration::zero());
  EXPECT_GT(l.take_uid(1, spec), Clock::duration::zero());
  EXPECT_EQ(l.take_uid(2, spec), Clock::duration::zero());
  EXPECT_EQ(l.take_subject("web/alice", spec), Clock::duration::zero());
  EXPECT_GT(l.take_subject("web/alice", spec), Clock::duration::zero());
  EXPECT_EQ(l.take_subject("web/bob", spec), Clock::duration::zero());
  EXPECT_EQ(l.refused_subjects(), 1u);
}

TEST(RateLimiter, ZeroIsUnlimitedAndFullBucketsAreForgotten) {
  ManualClock clock;
  RateLimiter l(clock);
  for (int i = 0; i < 100000; ++i) ASSERT_EQ(l.take_uid(7, {0, 1}), Clock::duration::zero());
  for (uid_t u = 0; u < 1000; ++u) (void)l.take_uid(u, {10, 5});
  EXPECT_GE(l.buckets(), 1000u);
  clock.advance(11s);  // every bucket full again, and the prune is due
  (void)l.take_uid(1, {10, 5});
  EXPECT_LE(l.buckets(), 1u);
}

}  // namespace
}  // namespace corral::supervisor
