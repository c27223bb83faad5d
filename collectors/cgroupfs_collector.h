// CgroupfsCollector: CPU, memory, OOM-kill count and live tasks of each target, read from its
// cgroup control files on every sample (no state kept). Pure v2: the node's cpu.stat, memory.*,
// pids.current. v1/hybrid: cpuacct/cpu, memory and pids hierarchies, with the cgroup2 node's
// cpu.stat and cgroup.threads where the plugin has no v1 cpu or pids directory.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "collectors/telemetry.h"

namespace corral::collectors {

class CgroupfsCollector final : public Collector {
 public:
  // Fails when this host shows no cgroup hierarchy at all (/proc/self/cgroup).
  [[nodiscard]] static Result<std::unique_ptr<CgroupfsCollector>> create();

  [[nodiscard]] std::string_view name() const override { return "cgroupfs"; }
  [[nodiscard]] Source source() const override { return Source::kCgroupfs; }
  // kCpu and kProcesses (tasks only: forks/execs/exits come from the proc connector) always;
  // kMemory and kOom when the host has a memory controller (v1 or in the cgroup2 root).
  [[nodiscard]] MetricSet metrics() const override { return metrics_; }
  // Per target, a group whose files the target lacks (say, no memory directory) is left
  // unfilled (Source::kNone); a file that exists but cannot be read is an error.
  [[nodiscard]] Result<void> sample(std::span<const Target* const> targets,
                                    std::span<Sample* const> out, MetricSet which) override;
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> describe() const override;

 private:
  explicit CgroupfsCollector(MetricSet m) : metrics_(m) {}
  MetricSet metrics_;
};

// The groups, one target at a time (tests call these directly). Each returns false when the
// target has no directory for it.
[[nodiscard]] Result<bool> read_cpu(const Target& t, CpuStats& out);
[[nodiscard]] Result<bool> read_memory(const Target& t, MemoryStats& out);
[[nodiscard]] Result<bool> read_oom(const Target& t, OomStats& out);
// Only the memory in use (MemoryStats::current: memory.current, or v1 memory.usage_in_bytes),
// one small file: what corrald's watch reads often. nullopt when the target has no memory dir.
[[nodiscard]] Result<std::optional<uint64_t>> read_memory_current(const Target& t);

}  // namespace corral::collectors
