// The recovery building blocks over a ManualClock and scripted outcomes: every breaker
// transition and its cause, each trip rule, the growing and capped Open time, Half-Open trials;
// full-jitter backoff bounds and reset; the restart-intensity limit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/clock.h"
#include "supervisor/recovery/backoff.h"
#include "supervisor/recovery/circuit_breaker.h"

namespace corral::supervisor::recovery {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

Outcome fail(std::string cause = "exit status 1") { return {true, false, std::move(cause)}; }
Outcome ok(std::string cause = "ran") { return {false, false, std::move(cause)}; }

TEST(CircuitBreaker, ConsecutiveFailuresTripAndASuccessInBetweenStartsAgain) {
  BreakerSettings s;
  s.consecutive_failures = 3;
  CircuitBreaker b(s);
  ManualClock c;
  EXPECT_FALSE(b.record(fail(), c.now()));
  EXPECT_FALSE(b.record(fail(), c.now()));
  EXPECT_FALSE(b.record(ok(), c.now()));  // the streak ends
  EXPECT_FALSE(b.record(fail(), c.now()));
  EXPECT_FALSE(b.record(fail(), c.now()));
  auto t = b.record(fail("exit status 2"), c.now());
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->from, BreakerState::kClosed);
  EXPECT_EQ(t->to, BreakerState::kOpen);
  EXPECT_THAT(t->cause, HasSubstr("exit status 2 (3 failures in a row)"));
  EXPECT_THAT(t->cause, HasSubstr("open for 1000 ms, trip 1"));
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  EXPECT_FALSE(b.allow());
  EXPECT_FALSE(b.record(fail(), c.now())) << "outcomes while open are not counted";
}

TEST(CircuitBreaker, AFatalSignalTripsAtOnce) {
  CircuitBreaker b(BreakerSettings{});
  ManualClock c;
  auto t = b.record({true, true, "seccomp violation: ptrace"}, c.now());
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->to, BreakerState::kOpen);
  EXPECT_THAT(t->cause, HasSubstr("seccomp violation: ptrace (fatal)"));
}

TEST(CircuitBreaker, OpenTimeDoublesWithEachTripInARowAndIsCapped) {
  BreakerSettings s;
  s.consecutive_failures = 1;
  s.open_for = 100ms;
  s.max_open_for = 500ms;
  CircuitBreaker b(s);
  ManualClock c;
  std::vector<Clock::duration> opened;
  ASSERT_TRUE(b.record(fail(), c.now()));
  for (int i = 0; i < 5; ++i) {
    opened.push_back(b.open_until() - c.now());
    EXPECT_FALSE(b.poll(c.now() + opened.back() - 1ms)) << "still open just before its time";
    c.advance(opened.back());
    auto h = b.poll(c.now());
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->to, BreakerState::kHalfOpen);
    EXPECT_TRUE(b.allow());
    auto again = b.record(fail("trial exit 1"), c.now());
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->from, BreakerState::kHalfOpen);
    EXPECT_THAT(again->cause, HasSubstr("trial failed: trial exit 1"));
  }
  EXPECT_EQ(opened, (std::vector<Clock::duration>{100ms, 200ms, 400ms, 500ms, 500ms}));
  EXPECT_EQ(b.trips(), 6u);
}

TEST(CircuitBreaker, HalfOpenLetsItsTrialsThroughAndClosesAfterThatManySuccesses) {
  BreakerSettings s;
  s.consecutive_failures = 1;
  s.half_open_trials = 2;
  CircuitBreaker b(s);
  ManualClock c;
  ASSERT_TRUE(b.record(fail(), c.now()));
  c.advance(1s);
  ASSERT_TRUE(b.poll(c.now()));
  EXPECT_TRUE(b.allow());
  EXPECT_TRUE(b.allow());
  EXPECT_FALSE(b.allow()) << "only two trials";
  EXPECT_FALSE(b.record(ok(), c.now()));
  auto t = b.record(ok("ready"), c.now());
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->from, BreakerState::kHalfOpen);
  EXPECT_EQ(t->to, BreakerState::kClosed);
  EXPECT_THAT(t->cause, HasSubstr("2 trial(s) succeeded: ready"));
  EXPECT_EQ(b.trips(), 0u) << "closed: the next trip starts from open_for again";
  EXPECT_EQ(b.total_trips(), 1u);
  ASSERT_TRUE(b.record(fail(), c.now()));
  EXPECT_EQ(b.open_until() - c.now(), Clock::duration(1000ms));
}

TEST(CircuitBreaker, CountWindowFailureRate) {
  BreakerSettings s;
  s.consecutive_failures = 0;
  s.window_count = 10;
  s.min_outcomes = 10;
  s.failure_rate = 0.5;
  CircuitBreaker b(s);
  ManualClock c;
  // Alternating: 4 of 9, then 5 of 10 -> trips on the 10th outcome.
  for (int i = 0; i < 9; ++i) {
    EXPECT_FALSE(b.record(i % 2 == 0 ? ok() : fail(), c.now())) << i;
  }
  auto t = b.record(fail(), c.now());
  ASSERT_TRUE(t.has_value());
  EXPECT_THAT(t->cause, HasSubstr("(5 of the last 10 failed)"));
}

TEST(CircuitBreaker, TimeWindowForgetsOldFailures) {
  BreakerSettings s;
  s.consecutive_failures = 0;
  s.window_time = 10s;
  s.min_outcomes = 3;
  s.failure_rate = 1.0;
  CircuitBreaker b(s);
  ManualClock c;
  EXPECT_FALSE(b.record(fail(), c.now()));
  EXPECT_FALSE(b.record(fail(), c.now()));
  c.advance(11s);  // both fall out of the window
  EXPECT_FALSE(b.record(fail(), c.now()));
  EXPECT_FALSE(b.record(fail(), c.now()));
  auto t = b.record(fail(), c.now());
  ASSERT_TRUE(t.has_value());
  EXPECT_THAT(t->cause, HasSubstr("(3 of the last 3 failed)"));
}

TEST(CircuitBreaker, RepairingEndsHalfOpenOnSuccessAndOpenOnFailure) {
  BreakerSettings s;
  s.consecutive_failures = 1;
  CircuitBreaker b(s);
  ManualClock c;
  ASSERT_TRUE(b.record(fail(), c.now()));
  auto r = b.begin_repair("restart", c.now());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->from, BreakerState::kOpen);
  EXPECT_EQ(r->to, BreakerState::kRepairing);
  EXPECT_FALSE(b.begin_repair("again", c.now())) << "already repairing";
  EXPECT_FALSE(b.allow());
  EXPECT_FALSE(b.record(fail(), c.now())) << "not counted while repairing";
  auto e = b.end_repair(true, "restarted", c.now());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->to, BreakerState::kHalfOpen);
  EXPECT_EQ(e->cause, "repaired: restarted");
  ASSERT_TRUE(b.begin_repair("reload", c.now()));
  auto f = b.end_repair(false, "reload refused", c.now());
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->to, BreakerState::kOpen);
  EXPECT_THAT(f->cause, HasSubstr("repair failed: reload refused"));
  EXPECT_EQ(b.open_until() - c.now(), Clock::duration(2000ms)) << "the second trip in a row";
  EXPECT_FALSE(b.end_repair(true, "not repairing", c.now()));
}

TEST(CircuitBreaker, ARepairBegunClosedReturnsClosedAndAFailedOneCountsAsAFailure) {
  BreakerSettings s;
  s.consecutive_failures = 2;
  CircuitBreaker b(s);
  ManualClock c;
  EXPECT_FALSE(b.record(fail(), c.now()));
  ASSERT_TRUE(b.begin_repair("restart after exit status 1", c.now()));
  auto e = b.end_repair(true, "restarted", c.now());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->from, BreakerState::kRepairing);
  EXPECT_EQ(e->to, BreakerState::kClosed);
  ASSERT_TRUE(b.begin_repair("restart again", c.now()));
  auto f = b.end_repair(false, "launch failed", c.now());
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->from, BreakerState::kRepairing);
  EXPECT_EQ(f->to, BreakerState::kOpen) << "the second failure in a row trips it";
  EXPECT_THAT(f->cause, HasSubstr("repair failed: launch failed (2 failures in a row)"));
}

TEST(CircuitBreaker, ResetClosesAndForgetsTheStreak) {
  BreakerSettings s;
  s.consecutive_failures = 1;
  CircuitBreaker b(s);
  ManualClock c;
  ASSERT_TRUE(b.record(fail(), c.now()));
  auto t = b.reset("operator reset by uid 0", c.now());
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->from, BreakerState::kOpen);
  EXPECT_EQ(t->to, BreakerState::kClosed);
  EXPECT_EQ(t->cause, "operator reset by uid 0");
  EXPECT_FALSE(b.reset("again", c.now())) << "already closed: no transition";
  ASSERT_TRUE(b.record(fail(), c.now()));
  EXPECT_EQ(b.open_until() - c.now(), Clock::duration(1000ms));
  EXPECT_EQ(breaker_state_name(BreakerState::kHalfOpen), "half-open");
}

TEST(JitterBackoff, DelaysStayUnderAGrowingCappedCeilingAndSpreadOverIt) {
  BackoffSettings s{100ms, 1600ms, 10s};
  JitterBackoff b(s, 7);
  const std::vector<std::chrono::milliseconds> ceilings = {100ms,  200ms,  400ms, 800ms,
                                                           1600ms, 1600ms, 1600ms};
  for (auto want : ceilings) {
    EXPECT_EQ(b.ceiling(), want);
    auto d = b.next(1s);
    EXPECT_GE(d.count(), 0);
    EXPECT_LE(d, Clock::duration(want));
  }
  // Full jitter: uniform over [0, ceiling]; 2000 draws at the cap average near half of it.
  double sum = 0;
  Clock::duration lo = Clock::duration::max(), hi = Clock::duration::zero();
  for (int i = 0; i < 2000; ++i) {
    auto d = b.next(1s);
    sum += std::chrono::duration<double, std::milli>(d).count();
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_NEAR(sum / 2000, 800, 40);
  EXPECT_LT(lo, Clock::duration(50ms));
  EXPECT_GT(hi, Clock::duration(1550ms));
  EXPECT_LE(hi, Clock::duration(1600ms));
}

TEST(JitterBackoff, AStableRunStartsTheCountAgain) {
  JitterBackoff b(BackoffSettings{100ms, 10s, 5s}, 1);
  (void)b.next(1s);
  (void)b.next(1s);
  EXPECT_EQ(b.ceiling(), 400ms);
  (void)b.next(5s);  // this run was stable: its failure is the first of a new streak
  EXPECT_EQ(b.attempt(), 1u);
  EXPECT_EQ(b.ceiling(), 200ms);
  b.reset();
  EXPECT_EQ(b.ceiling(), 100ms);
}

TEST(JitterBackoff, TheSameSeedGivesTheSameDelays) {
  JitterBackoff a(BackoffSettings{}, 42), b(BackoffSettings{}, 42);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next(0s), b.next(0s));
}

TEST(RestartIntensity, AtMostNWithinThePeriod) {
  RestartIntensity r(3, 10s);
  ManualClock c;
  EXPECT_TRUE(r.admit(c.now()));
  c.advance(1s);
  EXPECT_TRUE(r.admit(c.now()));
  c.advance(1s);
  EXPECT_TRUE(r.admit(c.now()));
  EXPECT_FALSE(r.admit(c.now())) << "a 4th within 10 s escalates";
  EXPECT_EQ(r.recent(c.now()), 3u);
  c.advance(8s);  // the first (at 0 s) leaves the window at 10 s
  EXPECT_EQ(r.recent(c.now()), 2u);
  EXPECT_TRUE(r.admit(c.now()));
  EXPECT_FALSE(r.admit(c.now()));
  r.reset();
  EXPECT_TRUE(r.admit(c.now()));
}

}  // namespace
}  // namespace corral::supervisor::recovery
