// Unit tests of collectors/parsers.h on real file contents (cgroup v1 and v2, /proc) and on
// malformed input: wrong numbers are skipped, never misread, and nothing crashes.
#include "collectors/parsers.h"

#include <gtest/gtest.h>

namespace corral::collectors::parsers {
namespace {

TEST(Parsers, U64) {
  EXPECT_EQ(u64("12345\n"), 12345u);
  EXPECT_EQ(u64("  0 "), 0u);
  EXPECT_EQ(u64("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(u64("18446744073709551616").has_value());
  EXPECT_FALSE(u64("-1").has_value());
  EXPECT_FALSE(u64("+1").has_value());
  EXPECT_FALSE(u64("max\n").has_value());
  EXPECT_FALSE(u64("12 34").has_value());
  EXPECT_FALSE(u64("").has_value());
  EXPECT_FALSE(u64("0x10").has_value());
}

TEST(Parsers, V2CpuStat) {
  auto kv = key_values(
      "usage_usec 3278273368\nuser_usec 3013760388\nsystem_usec 264512980\nnice_usec 0\n"
      "core_sched.force_idle_usec 0\nnr_periods 12\nnr_throttled 3\nthrottled_usec 4500\n"
      "nr_bursts 0\nburst_usec 0\n");
  EXPECT_EQ(get(kv, "usage_usec"), 3278273368u);
  EXPECT_EQ(get(kv, "user_usec"), 3013760388u);
  EXPECT_EQ(get(kv, "system_usec"), 264512980u);
  EXPECT_EQ(get(kv, "nr_periods"), 12u);
  EXPECT_EQ(get(kv, "nr_throttled"), 3u);
  EXPECT_EQ(get(kv, "throttled_usec"), 4500u);
  EXPECT_EQ(get(kv, "absent", 7), 7u);
}

TEST(Parsers, V1MemoryStatPrefersTotals) {
  auto kv = key_values(
      "cache 9740288\nrss 4784128\nrss_huge 0\npgfault 35990\npgmajfault 0\n"
      "hierarchical_memory_limit 9223372036854771712\ntotal_cache 126148608\n"
      "total_rss 10756096\ntotal_rss_huge 0\ntotal_pgfault 73751495\ntotal_pgmajfault 2871\n");
  EXPECT_EQ(first_of(kv, {"total_rss", "rss"}), 10756096u);
  EXPECT_EQ(first_of(kv, {"total_cache", "cache"}), 126148608u);
  EXPECT_EQ(first_of(kv, {"total_pgmajfault", "pgmajfault"}), 2871u);
  EXPECT_EQ(get(kv, "hierarchical_memory_limit"), 9223372036854771712u);
  auto flat = key_values("cache 1\nrss 2\n");
  EXPECT_EQ(first_of(flat, {"total_rss", "rss"}), 2u);
  EXPECT_FALSE(first_of(flat, {"total_swap", "swap"}).has_value());
}

TEST(Parsers, V2MemoryEventsAndV1OomControl) {
  auto v2 = key_values("low 0\nhigh 0\nmax 17\noom 2\noom_kill 1\noom_group_kill 0\n");
  EXPECT_EQ(get(v2, "oom_kill"), 1u);
  EXPECT_EQ(get(v2, "max"), 17u);
  auto v1 = key_values("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
  EXPECT_EQ(get(v1, "oom_kill"), 3u);
}

TEST(Parsers, KeyValuesSkipsMalformedLines) {
  auto kv = key_values(
      "good 1\nneg -5\nword abc\ntoo many 3\n\n   \nnovalue\nbig 99999999999999999999\n"
      "last 42");  // no trailing newline
  EXPECT_EQ(kv.size(), 2u);
  EXPECT_EQ(get(kv, "good"), 1u);
  EXPECT_EQ(get(kv, "last"), 42u);
  EXPECT_FALSE(kv.contains("neg"));
  EXPECT_FALSE(kv.contains("too"));
  EXPECT_FALSE(kv.contains("big"));
  auto dup = key_values("a 1\na 2\n");
  EXPECT_EQ(get(dup, "a"), 2u);
}

TEST(Parsers, Limit) {
  EXPECT_EQ(limit("max\n"), 0u);
  EXPECT_EQ(limit("33554432\n"), 33554432u);
  EXPECT_EQ(limit("9223372036854771712\n"), 0u);  // v1 unlimited
  EXPECT_FALSE(limit("unlimited").has_value());
  EXPECT_FALSE(limit("").has_value());
}

TEST(Parsers, Schedstat) {
  auto s = schedstat("1234567 89012 34\n");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->oncpu_ns, 1234567u);
  EXPECT_EQ(s->runq_wait_ns, 89012u);
  EXPECT_EQ(s->timeslices, 34u);
  EXPECT_FALSE(schedstat("1 2\n").has_value());
  EXPECT_FALSE(schedstat("1 2 3 4\n").has_value());
  EXPECT_FALSE(schedstat("a b c").has_value());
  EXPECT_FALSE(schedstat("").has_value());
}

TEST(Parsers, ProcCgroupHybrid) {
  auto cg = proc_cgroup(
      "9:name=systemd:/\n8:pids:/\n4:memory:/corral/p1\n2:cpu,cpuacct:/corral/p1\n"
      "0::/corral/p1\n");
  ASSERT_TRUE(cg.unified.has_value());
  EXPECT_EQ(*cg.unified, "/corral/p1");
  EXPECT_EQ(cg.v1.at("memory"), "/corral/p1");
  EXPECT_EQ(cg.v1.at("cpu"), "/corral/p1");
  EXPECT_EQ(cg.v1.at("cpuacct"), "/corral/p1");
  EXPECT_EQ(cg.v1.at("name=systemd"), "/");
  EXPECT_EQ(cg.v1.at("pids"), "/");
}

TEST(Parsers, ProcCgroupPureV2AndMalformed) {
  auto v2 = proc_cgroup("0::/system.slice/corrald.service/p:with:colons\n");
  ASSERT_TRUE(v2.unified.has_value());
  EXPECT_EQ(*v2.unified, "/system.slice/corrald.service/p:with:colons");
  EXPECT_TRUE(v2.v1.empty());
  auto bad = proc_cgroup("x::/a\n0:/a\n1:memory:relative\n:::\n\n0::\n");
  EXPECT_FALSE(bad.unified.has_value());
  EXPECT_TRUE(bad.v1.empty());
}

TEST(Parsers, CgroupMountsHybrid) {
  auto m = cgroup_mounts(
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:7 - cgroup cgroup rw,memory\n"
      "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n"
      "42 31 0:39 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n");
  ASSERT_TRUE(m.unified.has_value());
  EXPECT_EQ(m.unified->mount_point, "/sys/fs/cgroup/unified");
  EXPECT_EQ(m.v1.at("memory").mount_point, "/sys/fs/cgroup/memory");
  EXPECT_EQ(m.v1.at("cpu").mount_point, "/sys/fs/cgroup/cpu");  // the first mount wins
  EXPECT_EQ(m.v1.at("cpuacct").mount_point, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_FALSE(m.v1.contains("rw"));
  EXPECT_FALSE(m.v1.contains("xattr"));
  EXPECT_FALSE(m.v1.contains("name=systemd"));
}

TEST(Parsers, CgroupMountsPureV2EscapesAndRoot) {
  auto m = cgroup_mounts(
      "30 1 0:26 /ns\\040root /sys/fs/cgroup rw - cgroup2 cgroup2 rw\ngarbage\n - \n");
  ASSERT_TRUE(m.unified.has_value());
  EXPECT_EQ(m.unified->root, "/ns root");
  EXPECT_EQ(cgroup_dir(*m.unified, "/ns root/a"), "/sys/fs/cgroup/a");
  EXPECT_EQ(cgroup_dir(*m.unified, "/ns root"), "/sys/fs/cgroup");
  EXPECT_FALSE(cgroup_dir(*m.unified, "/ns rootx/a").has_value());
  EXPECT_FALSE(cgroup_dir(*m.unified, "/other").has_value());
  CgroupMount plain{"/sys/fs/cgroup/unified", "/"};
  EXPECT_EQ(cgroup_dir(plain, "/corral/p1"), "/sys/fs/cgroup/unified/corral/p1");
  EXPECT_EQ(cgroup_dir(plain, "/"), "/sys/fs/cgroup/unified");
  EXPECT_FALSE(cgroup_dir(plain, "/a/../b").has_value());
  EXPECT_FALSE(cgroup_dir(plain, "relative").has_value());
}

TEST(Parsers, PidList) {
  EXPECT_EQ(pid_list("1\n23\n456\n"), (std::vector<pid_t>{1, 23, 456}));
  EXPECT_EQ(pid_list("7"), (std::vector<pid_t>{7}));
  EXPECT_EQ(pid_list("0\n-3\nabc\n99999999999\n\n5\n"), (std::vector<pid_t>{5}));
  EXPECT_TRUE(pid_list("").empty());
}

TEST(Parsers, SocketInode) {
  EXPECT_EQ(socket_inode("socket:[12345]"), 12345u);
  EXPECT_FALSE(socket_inode("socket:[]").has_value());
  EXPECT_FALSE(socket_inode("socket:[12a]").has_value());
  EXPECT_FALSE(socket_inode("pipe:[12345]").has_value());
  EXPECT_FALSE(socket_inode("/dev/null").has_value());
  EXPECT_FALSE(socket_inode("socket:[").has_value());
  EXPECT_FALSE(socket_inode("anon_inode:[eventfd]").has_value());
}

}  // namespace
}  // namespace corral::collectors::parsers
