// HealthScore's decay and caps, Trend's least-squares fit, LeakDetector's edge-triggered
// alert, and RecoveryLog's sequence numbers, filter, bound and listeners.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "common/clock.h"
#include "supervisor/recovery/event_log.h"
#include "supervisor/recovery/health_score.h"
#include "supervisor/recovery/trend.h"

namespace corral::supervisor::recovery {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

Signal at(SignalKind k, Clock::time_point t, std::string cause = "exited with code 1") {
  Signal s;
  s.kind = k;
  s.at = t;
  s.cause = std::move(cause);
  return s;
}

TEST(HealthScore, PenaltiesHalveEachHalfLife) {
  ManualClock c;
  HealthScore h(60s);
  HealthContext up{BreakerState::kClosed, RecoveryPhase::kNormal, true, true, true, 0};
  EXPECT_EQ(h.score(c.now(), up), 100);
  h.add(at(SignalKind::kExit, c.now()));
  EXPECT_EQ(h.score(c.now(), up), 80);
  c.advance(60s);
  EXPECT_EQ(h.score(c.now(), up), 90);
  h.add(at(SignalKind::kOomKill, c.now(), "pid 3 (leak) 64 MiB"));
  EXPECT_EQ(h.score(c.now(), up), 60);
  auto parts = h.explain(c.now(), up);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].what, "oom_kill: pid 3 (leak) 64 MiB");
  EXPECT_DOUBLE_EQ(parts[0].points, 30);
  c.advance(600s);
  EXPECT_EQ(h.score(c.now(), up), 100) << "ten half-lives later";
}

TEST(HealthScore, TheStandingCapsTheScore) {
  ManualClock c;
  HealthScore h;
  HealthContext ctx{BreakerState::kOpen, RecoveryPhase::kNormal, false, false, true, 0};
  EXPECT_EQ(h.score(c.now(), ctx), 20);
  EXPECT_THAT(h.explain(c.now(), ctx)[0].what, HasSubstr("breaker open"));
  ctx.breaker = BreakerState::kClosed;
  ctx.phase = RecoveryPhase::kQuarantined;
  EXPECT_EQ(h.score(c.now(), ctx), 0);
  ctx.phase = RecoveryPhase::kNormal;
  ctx.running = true;
  EXPECT_EQ(h.score(c.now(), ctx), 70) << "not ready yet";
  ctx.ready = true;
  ctx.leaks = 1;
  EXPECT_EQ(h.score(c.now(), ctx), 80);
  ctx.wanted = false;
  ctx.running = false;
  ctx.leaks = 0;
  EXPECT_EQ(h.score(c.now(), ctx), 100) << "stopped on purpose is not unhealthy";
  Signal clean = at(SignalKind::kExit, c.now(), "exited with code 0");
  clean.failure = false;
  h.add(clean);
  h.add(at(SignalKind::kReady, c.now(), "READY=1"));
  EXPECT_EQ(h.score(c.now(), ctx), 100);
}

TEST(Trend, FitsALineExactlyAndPredictsTheLimit) {
  ManualClock c;
  Trend t(60s);
  EXPECT_FALSE(t.fit());
  for (int i = 0; i < 10; ++i) {
    t.add(c.now(), 100 + 5.0 * i);  // +5 per second
    c.advance(1s);
  }
  auto f = t.fit();
  ASSERT_TRUE(f);
  EXPECT_NEAR(f->slope_per_s, 5.0, 1e-9);
  EXPECT_NEAR(f->r2, 1.0, 1e-9);
  EXPECT_EQ(f->points, 10u);
  EXPECT_DOUBLE_EQ(f->span_s, 9);
  EXPECT_DOUBLE_EQ(f->last, 145);
}

TEST(Trend, OldPointsLeaveTheWindow) {
  ManualClock c;
  Trend t(5s);
  for (int i = 0; i < 20; ++i) {
    t.add(c.now(), i < 10 ? 0.0 : 10.0 * (i - 10));  // flat, then rising
    c.advance(1s);
  }
  auto f = t.fit();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->points, 6u);
  EXPECT_NEAR(f->slope_per_s, 10.0, 1e-9);
}

TEST(LeakDetector, RaisesBeforeTheLimitAndClearsWhenItStopsRising) {
  ManualClock c;
  LeakSettings s;
  s.horizon = 30s;
  s.min_span = 3s;
  LeakDetector d(s, 1000);
  std::optional<LeakAlert> raised;
  double v = 100;
  int steps = 0;
  // +10 per 500 ms: 20/s, 900 left: 45 s away at first, inside 30 s from 400 on.
  while (!raised && steps < 200) {
    raised = d.on_value(c.now(), v);
    v += 10;
    c.advance(500ms);
    ++steps;
  }
  ASSERT_TRUE(raised);
  EXPECT_FALSE(raised->cleared);
  EXPECT_LE(raised->eta_s, 30);
  EXPECT_NEAR(raised->fit.slope_per_s, 20, 1e-6);
  EXPECT_THAT(raised->describe("memory", 1000), HasSubstr("rising 20.0/s"));
  EXPECT_TRUE(d.alerted());
  std::optional<LeakAlert> cleared;
  for (int i = 0; i < 200 && !cleared; ++i) {
    cleared = d.on_value(c.now(), v);  // flat from here
    c.advance(500ms);
  }
  ASSERT_TRUE(cleared);
  EXPECT_TRUE(cleared->cleared);
  EXPECT_FALSE(d.alerted());
}

TEST(LeakDetector, NoiseAroundAFlatLevelNeverAlerts) {
  ManualClock c;
  LeakSettings s;
  s.horizon = 600s;
  LeakDetector d(s, 1000);
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> noise(-50, 50);
  for (int i = 0; i < 500; ++i) {
    EXPECT_FALSE(d.on_value(c.now(), 500 + noise(rng))) << i;
    c.advance(200ms);
  }
}

TEST(LeakDetector, ASteadyRiseFarFromTheLimitDoesNotAlert) {
  ManualClock c;
  LeakSettings s;
  s.horizon = 10s;
  LeakDetector d(s, 1e9);
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(d.on_value(c.now(), 1000.0 * i));
    c.advance(100ms);
  }
  ASSERT_TRUE(d.eta_s());
  EXPECT_GT(*d.eta_s(), 10);
}

TEST(RecoveryLog, SequencesFiltersBoundsAndTellsListeners) {
  RecoveryLog log(3);
  std::vector<uint64_t> heard;
  uint64_t id = log.add_listener([&](const RecoveryEvent& e) { heard.push_back(e.seq); });
  for (int i = 0; i < 5; ++i) {
    RecoveryEvent e;
    e.plugin = i % 2 == 0 ? "a" : "b";
    e.type = "action";
    e.what = "restart";
    log.append(e);
  }
  EXPECT_EQ(log.last_seq(), 5u);
  EXPECT_EQ(log.first_seq(), 3u) << "capacity 3: the oldest two dropped";
  auto all = log.since(0, "", 10);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].seq, 3u);
  EXPECT_GT(all[0].at_unix_ms, 0);
  auto a = log.since(3, "a", 10);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].seq, 5u);
  EXPECT_EQ(log.since(5, "", 10).size(), 0u);
  EXPECT_EQ(log.since(0, "", 2).size(), 2u);
  EXPECT_EQ(heard, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  log.remove_listener(id);
  log.append({});
  EXPECT_EQ(heard.size(), 5u);
}

}  // namespace
}  // namespace corral::supervisor::recovery
