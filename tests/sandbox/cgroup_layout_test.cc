// Cgroup layout detection from mountinfo: pure v2, hybrid (this project's CI), legacy,
// co-mounted controllers, escaped mount points, and garbage.
#include "sandbox/cgroup_layout.h"

#include <iostream>

#include "sandbox/cgroup.h"

#include <gtest/gtest.h>

namespace corral::sandbox {
namespace {

TEST(CgroupLayout, Hybrid) {
  auto l = parse_cgroup_layout(
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
      "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n");
  EXPECT_EQ(l.mode, CgroupMode::kHybrid);
  EXPECT_EQ(l.unified, "/sys/fs/cgroup/unified");
  EXPECT_EQ(l.v1.size(), 3u);
  EXPECT_EQ(l.v1.at("memory"), "/sys/fs/cgroup/memory");
  EXPECT_FALSE(l.v1.contains("name=systemd"));
  EXPECT_FALSE(l.v1.contains("systemd"));
}

TEST(CgroupLayout, UnifiedWithOptionalFields) {
  auto l = parse_cgroup_layout(
      "28 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
      "rw,nsdelegate,memory_recursiveprot\n");
  EXPECT_EQ(l.mode, CgroupMode::kUnified);
  EXPECT_EQ(l.unified, "/sys/fs/cgroup");
  EXPECT_TRUE(l.v1.empty());
}

TEST(CgroupLayout, LegacyCoMountedAndEscaped) {
  auto l = parse_cgroup_layout(
      "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
      "33 31 0:30 / /mnt/my\\040cgroups rw - cgroup cgroup rw,memory\n");
  EXPECT_EQ(l.mode, CgroupMode::kLegacy);
  EXPECT_EQ(l.v1.at("cpu"), "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(l.v1.at("cpuacct"), "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(l.v1.at("memory"), "/mnt/my cgroups");
}

TEST(CgroupLayout, NoneAndGarbage) {
  EXPECT_EQ(parse_cgroup_layout("").mode, CgroupMode::kNone);
  EXPECT_EQ(parse_cgroup_layout("garbage\n - \n1 2 3\n - cgroup2").mode, CgroupMode::kNone);
  EXPECT_EQ(parse_cgroup_layout("1 2 3 / /x rw - ext4 /dev/sda rw\n").mode, CgroupMode::kNone);
}

TEST(CgroupLayout, ThisHostParses) {
  auto l = detect_cgroup_layout();
  ASSERT_TRUE(l.has_value()) << l.error().describe();
  std::cout << "this host: " << cgroup_mode_name(l->mode) << "\n";
}

TEST(CgroupPids, Parse) {
  EXPECT_EQ(parse_pids("12\n7\n\n"), (std::vector<pid_t>{12, 7}));
  EXPECT_TRUE(parse_pids("").empty());
}

}  // namespace
}  // namespace corral::sandbox
