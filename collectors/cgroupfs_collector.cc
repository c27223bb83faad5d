// CgroupfsCollector: maps each group's fields onto the v2 or v1 control files; see the header.
#include "collectors/cgroupfs_collector.h"

#include <unistd.h>

#include "collectors/parsers.h"
#include "collectors/target_files.h"
#include "common/files.h"

namespace corral::collectors {

namespace {

using parsers::get;

// The memory files are the cgroup2 node's on pure v2 (or if a hybrid host put memory there).
Result<bool> memory_on_v2(const Target& t) {
  if (t.v2_only) return true;
  if (!t.memory_dir.empty() || t.v2_dir.empty()) return false;
  auto f = read_optional(t.v2_dir + "/memory.current");
  if (!f) return std::unexpected(f.error());
  return f->has_value();
}

uint64_t ns_per_tick() {
  long hz = ::sysconf(_SC_CLK_TCK);
  return hz > 0 ? 1'000'000'000ull / static_cast<uint64_t>(hz) : 10'000'000ull;
}

Result<void> read_cpu_v2(const std::string& dir, CpuStats& out) {
  auto kv = read_key_values(dir + "/cpu.stat");
  if (!kv) return std::unexpected(kv.error());
  out.usage_ns = get(*kv, "usage_usec") * 1000;
  out.user_ns = get(*kv, "user_usec") * 1000;
  out.system_ns = get(*kv, "system_usec") * 1000;
  out.nr_periods = get(*kv, "nr_periods");  // only with the cpu controller enabled
  out.nr_throttled = get(*kv, "nr_throttled");
  out.throttled_ns = get(*kv, "throttled_usec") * 1000;
  return {};
}

// v1: usage from cpuacct (ns; user/system in USER_HZ ticks), throttling from cpu.stat. Where
// cpuacct is not co-mounted with cpu (Target has one cpu_dir), usage comes from the cgroup2
// node's cpu.stat on hybrid hosts.
Result<void> read_cpu_v1(const Target& t, CpuStats& out) {
  const std::string& dir = t.cpu_dir;
  auto usage = read_optional(dir + "/cpuacct.usage");
  if (!usage) return std::unexpected(usage.error());
  if (*usage) {
    auto ticks = read_key_values(dir + "/cpuacct.stat");
    if (!ticks) return std::unexpected(ticks.error());
    out.usage_ns = parsers::u64(**usage).value_or(0);
    out.user_ns = get(*ticks, "user") * ns_per_tick();
    out.system_ns = get(*ticks, "system") * ns_per_tick();
  } else if (!t.v2_dir.empty()) {
    if (auto r = read_cpu_v2(t.v2_dir, out); !r) return r;
  } else {
    return make_error(Code::kNotFound,
                      dir + " has no cpuacct.usage and the target no cgroup2 node");
  }
  auto stat = read_optional(dir + "/cpu.stat");  // absent when only cpuacct is there
  if (!stat) return std::unexpected(stat.error());
  if (*stat) {
    auto kv = parsers::key_values(**stat);
    out.nr_periods = get(kv, "nr_periods");
    out.nr_throttled = get(kv, "nr_throttled");
    out.throttled_ns = get(kv, "throttled_time");  // already ns in v1
  }
  return {};
}

Result<void> read_memory_v2(const std::string& dir, MemoryStats& out) {
  auto current = read_u64(dir + "/memory.current");
  if (!current) return std::unexpected(current.error());
  auto peak = read_optional(dir + "/memory.peak");  // since 5.19
  if (!peak) return std::unexpected(peak.error());
  auto kv = read_key_values(dir + "/memory.stat");
  if (!kv) return std::unexpected(kv.error());
  auto max = read_optional(dir + "/memory.max");
  if (!max) return std::unexpected(max.error());
  out.current = *current;
  out.peak = *peak ? parsers::u64(**peak).value_or(0) : 0;
  out.anon = get(*kv, "anon");
  out.file = get(*kv, "file");
  out.pgfault = get(*kv, "pgfault");
  out.pgmajfault = get(*kv, "pgmajfault");
  out.limit = *max ? parsers::limit(**max).value_or(0) : 0;
  return {};
}

// v1 memory.stat: total_* include the descendants (the plugin may make sub-groups); "rss"
// already includes transparent huge pages ("rss_huge" is the THP part of it), so anon = rss.
Result<void> read_memory_v1(const std::string& dir, MemoryStats& out) {
  auto usage = read_u64(dir + "/memory.usage_in_bytes");
  if (!usage) return std::unexpected(usage.error());
  auto max_usage = read_u64(dir + "/memory.max_usage_in_bytes");
  if (!max_usage) return std::unexpected(max_usage.error());
  auto kv = read_key_values(dir + "/memory.stat");
  if (!kv) return std::unexpected(kv.error());
  auto lim = read_file(dir + "/memory.limit_in_bytes");
  if (!lim) return std::unexpected(lim.error());
  out.current = *usage;
  out.peak = *max_usage;
  out.anon = parsers::first_of(*kv, {"total_rss", "rss"}).value_or(0);
  out.file = parsers::first_of(*kv, {"total_cache", "cache"}).value_or(0);
  out.pgfault = parsers::first_of(*kv, {"total_pgfault", "pgfault"}).value_or(0);
  out.pgmajfault = parsers::first_of(*kv, {"total_pgmajfault", "pgmajfault"}).value_or(0);
  out.limit = parsers::limit(*lim).value_or(0);
  return {};
}

// Whether the host has a memory controller: a v1 hierarchy, or the cgroup2 root offers it.
bool host_has_memory(const parsers::ProcCgroup& self) {
  if (self.v1.contains("memory")) return true;
  auto mountinfo = read_file("/proc/self/mountinfo");
  if (!mountinfo) return false;
  auto mounts = parsers::cgroup_mounts(*mountinfo);
  if (!mounts.unified) return false;
  auto controllers = read_file(mounts.unified->mount_point + "/cgroup.controllers");
  if (!controllers) return false;
  std::string_view c = *controllers;
  for (size_t pos = c.find("memory"); pos != std::string_view::npos;
       pos = c.find("memory", pos + 1)) {
    bool start = pos == 0 || c[pos - 1] == ' ';
    bool end = pos + 6 == c.size() || c[pos + 6] == ' ' || c[pos + 6] == '\n';
    if (start && end) return true;
  }
  return false;
}

}  // namespace

Result<bool> read_cpu(const Target& t, CpuStats& out) {
  Result<void> r;
  if (t.v2_only) {
    r = read_cpu_v2(t.v2_dir, out);
  } else if (!t.cpu_dir.empty()) {
    r = read_cpu_v1(t, out);
  } else if (!t.v2_dir.empty()) {
    r = read_cpu_v2(t.v2_dir, out);  // hybrid: core cgroup2 cpu.stat (usage, user, system)
  } else {
    return false;
  }
  if (!r) return std::unexpected(r.error());
  return true;
}

Result<bool> read_memory(const Target& t, MemoryStats& out) {
  auto v2 = memory_on_v2(t);
  if (!v2) return std::unexpected(v2.error());
  Result<void> r;
  if (*v2) {
    r = read_memory_v2(t.v2_dir, out);
  } else if (!t.memory_dir.empty()) {
    r = read_memory_v1(t.memory_dir, out);
  } else {
    return false;
  }
  if (!r) return std::unexpected(r.error());
  return true;
}

Result<std::optional<uint64_t>> read_memory_current(const Target& t) {
  std::string file;
  if (t.v2_only) {
    file = t.v2_dir + "/memory.current";
  } else if (!t.memory_dir.empty()) {
    file = t.memory_dir + "/memory.usage_in_bytes";
  } else {
    return std::nullopt;
  }
  auto v = read_u64(file);
  if (!v) return std::unexpected(v.error());
  return *v;
}

Result<bool> read_oom(const Target& t, OomStats& out) {
  auto v2 = memory_on_v2(t);
  if (!v2) return std::unexpected(v2.error());
  std::string file;
  if (*v2) {
    file = t.v2_dir + "/memory.events";
  } else if (!t.memory_dir.empty()) {
    file = t.memory_dir + "/memory.oom_control";  // oom_kill since 4.13
  } else {
    return false;
  }
  auto kv = read_key_values(file);
  if (!kv) return std::unexpected(kv.error());
  out.kills = get(*kv, "oom_kill");
  return true;
}

Result<std::unique_ptr<CgroupfsCollector>> CgroupfsCollector::create() {
  auto text = read_file("/proc/self/cgroup");
  if (!text) return std::unexpected(text.error().wrap("cgroupfs collector"));
  auto self = parsers::proc_cgroup(*text);
  if (!self.unified && self.v1.empty()) {
    return make_error(Code::kFailedPrecondition, "cgroupfs collector: no cgroup hierarchy");
  }
  MetricSet m{Metric::kCpu, Metric::kProcesses};
  if (host_has_memory(self)) {
    m.add(Metric::kMemory);
    m.add(Metric::kOom);
  }
  return std::unique_ptr<CgroupfsCollector>(new CgroupfsCollector(m));
}

Result<void> CgroupfsCollector::sample(std::span<const Target* const> targets,
                                       std::span<Sample* const> out, MetricSet which) {
  if (targets.size() != out.size()) {
    return make_error(Code::kInvalidArgument, "cgroupfs: targets and samples differ in number");
  }
  for (size_t i = 0; i < targets.size(); ++i) {
    const Target& t = *targets[i];
    Sample& s = *out[i];
    auto fail = [&](const Error& e) { return std::unexpected(e.wrap("cgroupfs: " + t.name)); };
    auto fill = [&](Metric m, auto&& read) -> Result<void> {
      if (!which.has(m) || !metrics_.has(m)) return {};
      auto filled = read();
      if (!filled) return fail(filled.error());
      if (*filled) s.set_source(m, Source::kCgroupfs);
      return {};
    };
    if (auto r = fill(Metric::kCpu, [&] { return read_cpu(t, s.cpu); }); !r) return r;
    if (auto r = fill(Metric::kMemory, [&] { return read_memory(t, s.memory); }); !r) return r;
    if (auto r = fill(Metric::kOom, [&] { return read_oom(t, s.oom); }); !r) return r;
    auto tasks = [&]() -> Result<bool> {
      auto n = target_tasks(t);
      if (!n) return std::unexpected(n.error());
      s.processes.tasks = *n;
      return true;
    };
    if (auto r = fill(Metric::kProcesses, tasks); !r) return r;
    if (s.at_ns == 0) s.at_ns = monotonic_ns();
  }
  return {};
}

std::vector<std::pair<std::string, std::string>> CgroupfsCollector::describe() const {
  std::vector<std::pair<std::string, std::string>> d;
  auto add = [&](Metric m, std::string what) {
    if (metrics_.has(m)) d.emplace_back(std::string(metric_name(m)), std::move(what));
  };
  add(Metric::kCpu, "cgroupfs: cpu.stat (v2) or cpuacct.usage/cpuacct.stat/cpu.stat (v1)");
  add(Metric::kMemory,
      "cgroupfs: memory.current/peak/stat/max (v2) or memory.usage_in_bytes/"
      "max_usage_in_bytes/stat/limit_in_bytes (v1)");
  add(Metric::kOom, "cgroupfs: memory.events oom_kill (v2) or memory.oom_control oom_kill (v1)");
  add(Metric::kProcesses, "cgroupfs: tasks from pids.current or cgroup.threads/tasks");
  return d;
}

}  // namespace corral::collectors
