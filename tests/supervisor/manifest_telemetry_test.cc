// [thresholds] and the network allow-list table of a manifest: accepted forms and every
// rejection, each naming its key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "supervisor/manifest.h"

namespace corral::supervisor {
namespace {

using ::testing::HasSubstr;

Result<Manifest> parse(const std::string& extra) {
  return parse_manifest("name = \"p\"\nexec = \"/bin/true\"\n" + extra, "p.toml");
}

TEST(ManifestThresholds, NumbersAreWarningsAndTablesGiveBothLevels) {
  auto m = parse(R"(
[resources]
memory_max = "64M"
[thresholds]
cpu_percent = 80
memory_percent = { warning = 75.5, critical = 95 }
fds = { critical = 900 }
sockets = 100
forks_per_second = 50
)");
  ASSERT_TRUE(m.has_value()) << m.error().message;
  const auto& t = m->thresholds;
  EXPECT_EQ(t[ThresholdMetric::kCpuPercent].warning, 80);
  EXPECT_FALSE(t[ThresholdMetric::kCpuPercent].critical.has_value());
  EXPECT_EQ(t[ThresholdMetric::kMemoryPercent].warning, 75.5);
  EXPECT_EQ(t[ThresholdMetric::kMemoryPercent].critical, 95);
  EXPECT_FALSE(t[ThresholdMetric::kFds].warning.has_value());
  EXPECT_EQ(t[ThresholdMetric::kFds].critical, 900);
  EXPECT_EQ(t[ThresholdMetric::kSockets].warning, 100);
  EXPECT_EQ(t[ThresholdMetric::kForksPerSecond].warning, 50);
  EXPECT_TRUE(t.any());
  EXPECT_FALSE(parse("")->thresholds.any());
}

TEST(ManifestThresholds, RejectionsNameTheKey) {
  struct Case {
    std::string toml;
    std::string expect;
  } cases[] = {
      {"[thresholds]\nfds = 0\n", "thresholds.fds: must be between 1 and"},
      {"[thresholds]\nfds = \"many\"\n", "thresholds.fds: must be a number"},
      {"[thresholds]\nmemory_percent = 80\n", "needs resources.memory_max"},
      {"[resources]\nmemory_max = \"1G\"\n[thresholds]\nmemory_percent = 120\n",
       "thresholds.memory_percent: must be between 1 and 100"},
      {"[thresholds]\nfds = { warning = 10, critical = 5 }\n", "warning must be below critical"},
      {"[thresholds]\nfds = {}\n", "needs warning, critical or both"},
      {"[thresholds]\nfds = { warn = 3 }\n", "thresholds.fds.warn"},
      {"[thresholds]\nthreads = 3\n", "thresholds.threads"},
      {"[thresholds]\ncpu_percent = nan\n", "thresholds.cpu_percent: must be between"},
  };
  for (const auto& c : cases) {
    auto m = parse(c.toml);
    ASSERT_FALSE(m.has_value()) << c.toml;
    EXPECT_THAT(m.error().message, HasSubstr(c.expect)) << c.toml;
  }
}

TEST(ManifestNetwork, AnAllowListSharesTheHostStackWithOnlyItsEntries) {
  auto m = parse(R"([sandbox]
network = { allow = ["127.0.0.1:8080", "10.0.0.0/8:443", "[::1]:*"], bind = ["127.0.0.1:9000"] }
)");
  ASSERT_TRUE(m.has_value()) << m.error().message;
  EXPECT_TRUE(m->isolation.host_network);
  ASSERT_TRUE(m->isolation.net_policy.has_value());
  EXPECT_EQ(m->isolation.net_policy->connect.size(), 3u);
  ASSERT_EQ(m->isolation.net_policy->bind.size(), 1u);
  EXPECT_EQ(collectors::format_net_rule(m->isolation.net_policy->bind[0]), "127.0.0.1:9000");
  // An empty list denies everything, and must be spelled out.
  auto none = parse("[sandbox]\nnetwork = { allow = [] }\n");
  ASSERT_TRUE(none.has_value()) << none.error().message;
  EXPECT_TRUE(none->isolation.net_policy->connect.empty());
  EXPECT_FALSE(parse("[sandbox]\nnetwork = \"host\"\n")->isolation.net_policy.has_value());
}

TEST(ManifestNetwork, BadAllowListsAreRefusedNamingTheEntry) {
  auto m = parse("[sandbox]\nnetwork = { allow = [\"10.0.0.1/8:443\"] }\n");
  ASSERT_FALSE(m.has_value());
  EXPECT_THAT(m.error().message, HasSubstr("sandbox.network"));
  EXPECT_THAT(m.error().message, HasSubstr("10.0.0.1/8:443"));
  m = parse("[sandbox]\nnetwork = { bind = [\"127.0.0.1:1\"] }\n");
  ASSERT_FALSE(m.has_value());
  EXPECT_THAT(m.error().message, HasSubstr("sandbox.network.allow: is required"));
  m = parse("[sandbox]\nnetwork = { allow = [], deny = [] }\n");
  ASSERT_FALSE(m.has_value());
  EXPECT_THAT(m.error().message, HasSubstr("sandbox.network.deny"));
  m = parse("[sandbox]\nnetwork = \"bridge\"\n");
  ASSERT_FALSE(m.has_value());
  EXPECT_THAT(m.error().message, HasSubstr("{ allow = [...] }"));
}

}  // namespace
}  // namespace corral::supervisor
