// corralctl's telemetry rendering: byte units, the stats block (sources named, unknowns said),
// and the top table (every plugin, stats where there are some, width respected).
#include "ctl/stats_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace corral::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::PluginStats sample_stats() {
  v1::PluginStats s;
  s.set_name("web");
  s.set_sampled_at_unix_ms(10'000);
  s.set_interval_ms(1000);
  for (const char* m : {"cpu", "memory", "fds", "processes", "sockets", "traffic", "oom"}) {
    (*s.mutable_sources())[m] = "cgroupfs";
  }
  (*s.mutable_sources())["sched"] = "none";
  s.set_cpu_percent(42.5);
  s.set_memory_current(48ull << 20);
  s.set_memory_limit(64ull << 20);
  s.set_fds(12);
  s.set_forks(30);
  s.set_forks_per_second(3);
  s.set_tasks(4);
  auto* v = s.add_violations();
  v->set_description("fds 12 >= 10 (warning)");
  v->set_at_unix_ms(8'000);
  v->set_detail("");
  return s;
}

TEST(StatsFormat, BytesUsePowersOf1024) {
  EXPECT_EQ(format_bytes(512), "512B");
  EXPECT_EQ(format_bytes(1536), "1.5K");
  EXPECT_EQ(format_bytes(20.0 * (1 << 20)), "20.0M");
  EXPECT_EQ(format_bytes(3.0 * (1ull << 40)), "3.0T");
}

TEST(StatsFormat, StatsNameEachSourceAndSayWhatIsUnavailable) {
  std::string out = format_stats(sample_stats(), 12'000);
  EXPECT_THAT(out, HasSubstr("web (sampled 2s ago, every 1000 ms)"));
  EXPECT_THAT(out, HasSubstr("42.5% of a CPU"));
  EXPECT_THAT(out, HasSubstr("48.0M of 64.0M (75.0%)"));
  EXPECT_THAT(out, HasSubstr("sched:     unavailable   [none]"));
  EXPECT_THAT(out, HasSubstr("forks 30 (3.0/s)"));
  EXPECT_THAT(out, HasSubstr("4s ago  fds 12 >= 10 (warning)"));
  EXPECT_THAT(out, Not(HasSubstr("network:")));  // not policed
}

TEST(StatsFormat, TopListsEveryPluginWithStatsWhereItHasThem) {
  v1::ListResponse list;
  auto* web = list.add_plugins();
  web->set_name("web");
  web->set_state(v1::RUNNING);
  web->set_pid(4242);
  auto* down = list.add_plugins();
  down->set_name("down");
  down->set_state(v1::BACKOFF);
  down->set_last_error("exec failed");
  v1::StatsResponse stats;
  *stats.add_plugins() = sample_stats();
  stats.set_lost_events(7);
  std::string out = format_top(list, stats, 12'000, 200);
  EXPECT_THAT(out, HasSubstr("corral top: 2 plugin(s), 1 running, 7 telemetry event(s) lost"));
  EXPECT_THAT(out, HasSubstr("NAME"));
  EXPECT_THAT(out, HasSubstr("web              running      4242   42.5   48.0M    75"));
  EXPECT_THAT(out, HasSubstr("fds 12 >= 10 (warning) 4s ago"));
  EXPECT_THAT(out, HasSubstr("down             backoff         -"));
  EXPECT_THAT(out, HasSubstr("exec failed"));
  // Narrow terminals: no line longer than the width.
  std::string narrow = format_top(list, stats, 12'000, 40);
  size_t start = 0;
  while (start < narrow.size()) {
    size_t end = narrow.find('\n', start);
    if (end == std::string::npos) end = narrow.size();
    if (start > 0) {  // the heading line is a sentence, not a row
      EXPECT_LE(end - start, 40u) << narrow.substr(start, end - start);
    }
    start = end + 1;
  }
}

TEST(StatsFormat, AClearedViolationIsNoAlert) {
  v1::ListResponse list;
  auto* web = list.add_plugins();
  web->set_name("web");
  web->set_state(v1::RUNNING);
  v1::StatsResponse stats;
  auto s = sample_stats();
  auto* v = s.add_violations();
  v->set_cleared(true);
  v->set_description("fds 3 back below 10");
  *stats.add_plugins() = s;
  EXPECT_THAT(format_top(list, stats, 12'000, 200), Not(HasSubstr("back below")));
}

}  // namespace
}  // namespace corral::ctl
