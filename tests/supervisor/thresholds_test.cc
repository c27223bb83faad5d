// ThresholdMonitor over hand-built samples: levels rise and clear once each, hysteresis keeps a
// value at the edge from flapping, rates need two samples, unfed metrics never trigger.
#include <gtest/gtest.h>

#include "supervisor/thresholds.h"

namespace corral::supervisor {
namespace {

using collectors::Metric;
using collectors::Sample;
using collectors::Source;

Sample fds(uint64_t open, int64_t at_s = 1) {
  Sample s;
  s.at_ns = at_s * 1000000000;
  s.fds.open = open;
  s.set_source(Metric::kFds, Source::kProcfs);
  return s;
}

ThresholdSettings fd_limits(double warn, std::optional<double> crit = std::nullopt) {
  ThresholdSettings t;
  t[ThresholdMetric::kFds].warning = warn;
  t[ThresholdMetric::kFds].critical = crit;
  return t;
}

TEST(Thresholds, RisingThroughBothLevelsReportsEachOnceAndClearingOnce) {
  ThresholdMonitor m(fd_limits(100, 200));
  EXPECT_TRUE(m.on_sample(nullptr, fds(50)).empty());
  auto v = m.on_sample(nullptr, fds(120));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].metric, "fds");
  EXPECT_EQ(v[0].severity, Severity::kWarning);
  EXPECT_EQ(v[0].threshold, 100);
  EXPECT_EQ(v[0].describe(), "fds 120 >= 100 (warning)");
  EXPECT_TRUE(m.on_sample(nullptr, fds(150)).empty());  // same level: nothing new
  v = m.on_sample(nullptr, fds(250));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].severity, Severity::kCritical);
  v = m.on_sample(nullptr, fds(10));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_TRUE(v[0].cleared);
  EXPECT_EQ(v[0].severity, Severity::kInfo);
  EXPECT_EQ(v[0].describe(), "fds 10 back below 100");
  EXPECT_EQ(m.level(ThresholdMetric::kFds), Severity::kInfo);
}

TEST(Thresholds, AValueHoveringAtTheThresholdDoesNotFlap) {
  ThresholdMonitor m(fd_limits(100));
  EXPECT_EQ(m.on_sample(nullptr, fds(100)).size(), 1u);
  EXPECT_TRUE(m.on_sample(nullptr, fds(95)).empty());  // within 90%: still a warning
  EXPECT_TRUE(m.on_sample(nullptr, fds(101)).empty());
  EXPECT_TRUE(m.on_sample(nullptr, fds(91)).empty());
  EXPECT_EQ(m.on_sample(nullptr, fds(89)).size(), 1u);  // below 90: cleared
  EXPECT_TRUE(m.on_sample(nullptr, fds(99)).empty());   // not yet at 100 again
}

// The watch evaluates some metrics and the sample the rest: a metric outside `only` is left
// alone, its level unchanged, whatever the sample says.
TEST(Thresholds, OnlyTheMaskedMetricsAreEvaluated) {
  ThresholdSettings t = fd_limits(100);
  t[ThresholdMetric::kCpuPercent].warning = 50;
  EXPECT_EQ(t.set_metrics(),
            threshold_bit(ThresholdMetric::kFds) | threshold_bit(ThresholdMetric::kCpuPercent));
  ThresholdMonitor m(t);
  const ThresholdMask not_fds = kAllThresholdMetrics & ~threshold_bit(ThresholdMetric::kFds);
  EXPECT_TRUE(m.on_sample(nullptr, fds(500), not_fds).empty());
  EXPECT_EQ(m.level(ThresholdMetric::kFds), Severity::kInfo);
  EXPECT_EQ(m.on_sample(nullptr, fds(500), threshold_bit(ThresholdMetric::kFds)).size(), 1u);
  EXPECT_EQ(m.level(ThresholdMetric::kFds), Severity::kWarning);
  EXPECT_TRUE(m.on_sample(nullptr, fds(0), not_fds).empty());
  EXPECT_EQ(m.level(ThresholdMetric::kFds), Severity::kWarning);
}

// A value measured elsewhere (the watch's forks in the trailing second) moves the same levels,
// with the same hysteresis; a metric without thresholds never reports.
TEST(Thresholds, OnValueMovesTheLevelOfOneMetric) {
  ThresholdSettings t;
  t[ThresholdMetric::kForksPerSecond].warning = 50;
  t[ThresholdMetric::kForksPerSecond].critical = 500;
  ThresholdMonitor m(t);
  EXPECT_FALSE(m.on_value(ThresholdMetric::kForksPerSecond, 49, 1).has_value());
  auto v = m.on_value(ThresholdMetric::kForksPerSecond, 600, 7);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->metric, "forks_per_second");
  EXPECT_EQ(v->severity, Severity::kCritical);
  EXPECT_EQ(v->threshold, 500);
  EXPECT_EQ(v->at_ns, 7);
  EXPECT_FALSE(m.on_value(ThresholdMetric::kForksPerSecond, 460, 8).has_value());  // >= 90%
  v = m.on_value(ThresholdMetric::kForksPerSecond, 0, 9);
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->cleared);
  EXPECT_EQ(v->threshold, 50);
  EXPECT_FALSE(m.on_value(ThresholdMetric::kFds, 1e9, 10).has_value());
}

TEST(Thresholds, CriticalDownToWarningIsALevelChange) {
  ThresholdMonitor m(fd_limits(100, 200));
  (void)m.on_sample(nullptr, fds(300));
  auto v = m.on_sample(nullptr, fds(150));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].severity, Severity::kWarning);
  EXPECT_FALSE(v[0].cleared);
}

TEST(Thresholds, RatesComeFromTwoSamples) {
  ThresholdSettings t;
  t[ThresholdMetric::kForksPerSecond].warning = 50;
  t[ThresholdMetric::kCpuPercent].critical = 90;
  ThresholdMonitor m(t);
  Sample a, b;
  a.at_ns = 1'000'000'000;
  b.at_ns = 1'500'000'000;  // half a second later
  for (Sample* s : {&a, &b}) {
    s->set_source(Metric::kProcesses, Source::kBpf);
    s->set_source(Metric::kCpu, Source::kCgroupfs);
  }
  a.processes.forks = 100;
  b.processes.forks = 130;  // 60/s
  a.cpu.usage_ns = 0;
  b.cpu.usage_ns = 475'000'000;                  // 95% of one CPU over 0.5 s
  EXPECT_TRUE(m.on_sample(nullptr, a).empty());  // no rate without a previous sample
  EXPECT_DOUBLE_EQ(*threshold_value(ThresholdMetric::kForksPerSecond, &a, b), 60.0);
  EXPECT_DOUBLE_EQ(*threshold_value(ThresholdMetric::kCpuPercent, &a, b), 95.0);
  auto v = m.on_sample(&a, b);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].metric, "cpu_percent");
  EXPECT_EQ(v[0].severity, Severity::kCritical);
  EXPECT_EQ(v[1].metric, "forks_per_second");
  // A restarted run's counters start again from zero: no negative rate, no reading.
  Sample c = b;
  c.at_ns = 2'000'000'000;
  c.processes.forks = 3;
  EXPECT_FALSE(threshold_value(ThresholdMetric::kForksPerSecond, &b, c).has_value());
}

TEST(Thresholds, MemoryPercentNeedsALimitAndUnfedMetricsNeverTrigger) {
  ThresholdSettings t;
  t[ThresholdMetric::kMemoryPercent].warning = 80;
  t[ThresholdMetric::kSockets].warning = 1;
  ThresholdMonitor m(t);
  Sample s;
  s.set_source(Metric::kMemory, Source::kCgroupfs);
  s.memory.current = 90;
  s.memory.limit = 0;
  s.sockets.inet4 = 5;  // but nobody fed kSockets
  EXPECT_TRUE(m.on_sample(nullptr, s).empty());
  s.memory.limit = 100;
  auto v = m.on_sample(nullptr, s);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].metric, "memory_percent");
  EXPECT_DOUBLE_EQ(v[0].value, 90.0);
}

TEST(Thresholds, OomKillsAreCriticalAndDenialsWarnings) {
  collectors::Event e;
  e.kind = collectors::EventKind::kOomKill;
  auto v = ThresholdMonitor::on_event(e);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->severity, Severity::kCritical);
  EXPECT_EQ(v->metric, "oom_kill");
  e.kind = collectors::EventKind::kConnectDenied;
  EXPECT_EQ(ThresholdMonitor::on_event(e)->severity, Severity::kWarning);
  e.kind = collectors::EventKind::kExec;
  EXPECT_FALSE(ThresholdMonitor::on_event(e).has_value());
}

}  // namespace
}  // namespace corral::supervisor
