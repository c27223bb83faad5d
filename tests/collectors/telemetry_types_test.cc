#include <gtest/gtest.h>

#include <set>

#include "collectors/telemetry.h"

namespace corral::collectors {
namespace {

TEST(Telemetry, EveryMetricSourceAndEventKindHasItsOwnName) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < kMetricCount; ++i) names.insert(metric_name(static_cast<Metric>(i)));
  EXPECT_EQ(names.size(), kMetricCount);
  EXPECT_EQ(names.count("unknown"), 0u);
  EXPECT_EQ(source_name(Source::kSockDiag), "sock_diag");
  EXPECT_EQ(event_kind_name(EventKind::kOomKill), "oom_kill");
  EXPECT_EQ(event_kind_name(EventKind::kLost), "lost");
}

TEST(Telemetry, MetricSetHoldsExactlyWhatWasAdded) {
  MetricSet s{Metric::kCpu, Metric::kFds};
  EXPECT_TRUE(s.has(Metric::kCpu));
  EXPECT_TRUE(s.has(Metric::kFds));
  EXPECT_FALSE(s.has(Metric::kMemory));
  s.remove(Metric::kCpu);
  EXPECT_FALSE(s.has(Metric::kCpu));
  EXPECT_FALSE(MetricSet::all().empty());
  for (size_t i = 0; i < kMetricCount; ++i)
    EXPECT_TRUE(MetricSet::all().has(static_cast<Metric>(i)));
  EXPECT_TRUE(MetricSet{}.empty());
}

TEST(Telemetry, LostEventsAreReportedOncePerIncrease) {
  uint64_t reported = 0;
  EXPECT_FALSE(lost_since(0, reported, Source::kBpf, "x").has_value());
  auto e = lost_since(5, reported, Source::kBpf, "ring buffer full");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind, EventKind::kLost);
  EXPECT_EQ(e->value, 5u);
  EXPECT_GT(e->at_ns, 0);
  EXPECT_EQ(reported, 5u);
  EXPECT_FALSE(lost_since(5, reported, Source::kBpf, "x").has_value());
  EXPECT_EQ(lost_since(7, reported, Source::kBpf, "x")->value, 2u);
}

}  // namespace
}  // namespace corral::collectors
