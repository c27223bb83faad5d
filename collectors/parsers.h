// Pure parsers of the kernel files the fallback collectors read (cgroup v1/v2 control files,
// /proc/<pid>/{schedstat,cgroup,mountinfo}, fd links). Each takes the file's text, trusts nothing
// in it (tests/fuzz/fuzz_telemetry_parsers.cc) and never fails: what does not parse is skipped.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corral::collectors::parsers {

// An unsigned decimal with nothing else but surrounding whitespace ("12345\n"); nullopt for
// anything else, including a sign, "max" and a value past 2^64-1.
[[nodiscard]] std::optional<uint64_t> u64(std::string_view text);

// "key value" lines (cpu.stat, memory.stat, memory.events, cpuacct.stat, memory.oom_control).
// A line whose value is not a u64 is skipped; a repeated key keeps its last value.
using KeyValues = std::map<std::string, uint64_t, std::less<>>;
[[nodiscard]] KeyValues key_values(std::string_view text);
// The value of `key`, or `fallback` when absent.
[[nodiscard]] uint64_t get(const KeyValues& kv, std::string_view key, uint64_t fallback = 0);
// The first of `keys` present (v1 memory.stat: "total_rss" before "rss").
[[nodiscard]] std::optional<uint64_t> first_of(const KeyValues& kv,
                                               std::initializer_list<std::string_view> keys);

// A memory limit: v2 "max" and v1's "unlimited" (anything >= 2^62, the kernel shows
// PAGE_COUNTER_MAX pages rounded to bytes) are 0, meaning none; nullopt when malformed.
inline constexpr uint64_t kV1Unlimited = uint64_t{1} << 62;
[[nodiscard]] std::optional<uint64_t> limit(std::string_view text);

// /proc/<pid>/task/<tid>/schedstat: "on-cpu-ns run-queue-wait-ns timeslices".
struct SchedStat {
  uint64_t oncpu_ns = 0;
  uint64_t runq_wait_ns = 0;
  uint64_t timeslices = 0;
};
[[nodiscard]] std::optional<SchedStat> schedstat(std::string_view text);

// /proc/<pid>/cgroup: "0::/path" (cgroup2) and "N:ctrl1,ctrl2:/path" (v1) lines. A v1 line with
// several controllers yields one entry per controller; "name=systemd" entries are kept as is.
struct ProcCgroup {
  std::optional<std::string> unified;     // the "0::" path
  std::map<std::string, std::string> v1;  // controller -> path
};
[[nodiscard]] ProcCgroup proc_cgroup(std::string_view text);

// /proc/<pid>/mountinfo: where the cgroup hierarchies are. Paths are mount point + the mount's
// root ("/" normally); octal escapes (\040) decoded.
struct CgroupMount {
  std::string mount_point;
  std::string root;  // the cgroup path that mount_point shows
};
struct CgroupMounts {
  std::optional<CgroupMount> unified;
  std::map<std::string, CgroupMount> v1;  // controller -> mount
};
[[nodiscard]] CgroupMounts cgroup_mounts(std::string_view mountinfo);
// The directory a /proc/<pid>/cgroup path names under `m`, nullopt when the path lies outside
// the mount's root.
[[nodiscard]] std::optional<std::string> cgroup_dir(const CgroupMount& m, std::string_view path);

// cgroup.procs, cgroup.threads, tasks: one positive pid per line; other lines skipped.
[[nodiscard]] std::vector<pid_t> pid_list(std::string_view text);

// The target of a /proc/<pid>/fd/<n> link: "socket:[12345]" -> 12345, nullopt otherwise.
[[nodiscard]] std::optional<uint64_t> socket_inode(std::string_view link);

}  // namespace corral::collectors::parsers
