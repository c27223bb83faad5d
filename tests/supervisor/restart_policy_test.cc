// Restart policy and backoff with a manual clock: which exits restart, how the delay doubles and
// caps, and how a stable run resets it.
#include "supervisor/restart_policy.h"

#include <gtest/gtest.h>

namespace corral::supervisor {
namespace {

using namespace std::chrono_literals;
using sandbox::ExitStatus;

const ExitStatus kClean{false, 0};
const ExitStatus kFail{false, 1};
const ExitStatus kKilled{true, 9};

RestartSettings settings(RestartPolicy p) { return RestartSettings{p, 100ms, 1000ms, 10s}; }

TEST(RestartPolicy, ParseAndName) {
  for (auto p : {RestartPolicy::kNo, RestartPolicy::kOnFailure, RestartPolicy::kAlways}) {
    EXPECT_EQ(parse_restart_policy(restart_policy_name(p)), p);
  }
  EXPECT_FALSE(parse_restart_policy("On-Failure").has_value());
}

TEST(RestartPolicy, NoNeverRestarts) {
  ManualClock clock;
  RestartBackoff b(settings(RestartPolicy::kNo));
  b.on_started(clock.now());
  EXPECT_FALSE(b.on_exited(kFail, clock.now()).has_value());
  EXPECT_FALSE(b.on_exited(kKilled, clock.now()).has_value());
  EXPECT_FALSE(b.on_launch_failed().has_value());
}

TEST(RestartPolicy, OnFailureRestartsFailuresAndSignalsOnly) {
  ManualClock clock;
  RestartBackoff b(settings(RestartPolicy::kOnFailure));
  b.on_started(clock.now());
  EXPECT_FALSE(b.on_exited(kClean, clock.now()).has_value());
  EXPECT_TRUE(b.on_exited(kFail, clock.now()).has_value());
  EXPECT_TRUE(b.on_exited(kKilled, clock.now()).has_value());
  EXPECT_TRUE(b.on_launch_failed().has_value());
}

TEST(RestartPolicy, AlwaysRestartsCleanExits) {
  ManualClock clock;
  RestartBackoff b(settings(RestartPolicy::kAlways));
  b.on_started(clock.now());
  EXPECT_EQ(b.on_exited(kClean, clock.now()), std::optional<Clock::duration>(100ms));
}

TEST(RestartPolicy, QuickFailuresDoubleTheDelayUpToTheCap) {
  ManualClock clock;
  RestartBackoff b(settings(RestartPolicy::kOnFailure));
  std::vector<Clock::duration> delays;
  for (int i = 0; i < 6; ++i) {
    b.on_started(clock.now());
    clock.advance(1s);  // shorter than stable_after
    auto d = b.on_exited(kFail, clock.now());
    ASSERT_TRUE(d.has_value());
    delays.push_back(*d);
    clock.advance(*d);
  }
  std::vector<Clock::duration> want = {100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms};
  EXPECT_EQ(delays, want);
}

TEST(RestartPolicy, StableRunResetsTheDelay) {
  ManualClock clock;
  RestartBackoff b(settings(RestartPolicy::kOnFailure));
  for (int i = 0; i < 3; ++i) {
    b.on_started(clock.now());
    (void)b.on_exited(kFail, clock.now());
  }
  EXPECT_EQ(b.quick_failures(), 3u);
  b.on_started(clock.now());
  clock.advance(10s);  // exactly stable_after
  EXPECT_EQ(b.on_exited(kFail, clock.now()), std::optional<Clock::duration>(100ms));
  EXPECT_EQ(b.quick_failures(), 1u);
}

TEST(RestartPolicy, OperatorResetForgetsFailures) {
  ManualClock clock;
  RestartBackoff b(settings(RestartPolicy::kOnFailure));
  b.on_started(clock.now());
  (void)b.on_exited(kFail, clock.now());
  (void)b.on_exited(kFail, clock.now());
  b.reset();
  EXPECT_EQ(b.on_exited(kFail, clock.now()), std::optional<Clock::duration>(100ms));
}

TEST(RestartPolicy, ZeroDelayStaysZero) {
  ManualClock clock;
  RestartBackoff b(RestartSettings{RestartPolicy::kAlways, 0ms, 0ms, 1s});
  for (int i = 0; i < 5; ++i) {
    b.on_started(clock.now());
    EXPECT_EQ(b.on_exited(kClean, clock.now()), std::optional<Clock::duration>(0ms));
  }
}

}  // namespace
}  // namespace corral::supervisor
