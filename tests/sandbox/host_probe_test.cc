// Host probes on the real kernel: the features Corral cannot run without must be found, and
// every check says what was found or what is missing and what that costs.
#include "sandbox/host_probe.h"

#include <unistd.h>

#include <algorithm>
#include <iterator>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace corral::sandbox {
namespace {

using ::testing::HasSubstr;

TEST(HostProbe, FindsWhatCorralNeedsHere) {
  // corrald already depends on these (the launcher and Process tests use them).
  EXPECT_TRUE(probe_pidfd().ok) << probe_pidfd().detail;
  EXPECT_TRUE(probe_clone3().ok) << probe_clone3().detail;
  // The sandbox tests launch real sandboxes here, which needs both.
  EXPECT_TRUE(probe_mount_setattr().ok) << probe_mount_setattr().detail;
  if (::geteuid() == 0) {
    EXPECT_TRUE(probe_user_namespaces().ok) << probe_user_namespaces().detail;
  }
}

TEST(HostProbe, EveryCheckExplainsItself) {
  auto report = probe_host();
  ASSERT_GE(report.checks.size(), 9u);
  for (const auto& c : report.checks) {
    EXPECT_FALSE(c.name.empty());
    EXPECT_FALSE(c.detail.empty()) << c.name;
    EXPECT_EQ(c.ok, c.without.empty()) << c.name << ": a missing feature must say its cost";
  }
  EXPECT_EQ(report.checks[0].name, "cgroups");
  EXPECT_THAT(report.checks[0].detail,
              HasSubstr(std::string(cgroup_mode_name(report.cgroups.mode))));
}

TEST(HostProbe, UserNamespaceProbeLeavesThisProcessAlone) {
  std::string before, after;
  char buf[256] = {};
  ASSERT_GT(::readlink("/proc/self/ns/user", buf, sizeof buf - 1), 0);
  before = buf;
  (void)probe_user_namespaces();
  std::fill(std::begin(buf), std::end(buf), 0);
  ASSERT_GT(::readlink("/proc/self/ns/user", buf, sizeof buf - 1), 0);
  after = buf;
  EXPECT_EQ(before, after);
}

TEST(HostProbe, MissingMountIsReportedWithItsCost) {
  auto c = probe_mount("nothing", "tracefs", "/nonexistent/mountpoint", "no such thing");
  EXPECT_FALSE(c.ok);
  EXPECT_THAT(c.detail, HasSubstr("not mounted at /nonexistent/mountpoint"));
  EXPECT_EQ(c.without, "no such thing");
  auto proc = probe_mount("proc", "proc", "/proc", "x");
  EXPECT_TRUE(proc.ok) << proc.detail;
}

TEST(HostProbe, CgroupCheckForAHostWithout) {
  auto c = probe_cgroups(CgroupLayout{});
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.detail, "none");
  EXPECT_THAT(c.without, HasSubstr("no per-plugin resource limits"));
}

}  // namespace
}  // namespace corral::sandbox
