// ProcfsCollector: open fds (kFds) and scheduler time (kSched) of each target's processes,
// read from /proc on every sample. Processes that exit mid-scan are skipped, not errors.
// kSched sums /proc/<pid>/task/<tid>/schedstat over the tasks alive at sampling time: the time
// of tasks that already exited is lost in this fallback (so oncpu_ns can go down between
// samples), and runq_max_ns stays 0 (only a BPF collector sees single waits).
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string_view>

#include "collectors/telemetry.h"

namespace corral::collectors {

// How open fds are counted. kStat: st_size of /proc/<pid>/fd, which Linux >= 6.2 sets to the
// number of open fds (one syscall, no entry listing, no per-entry fd-table lookups); kGetdents:
// the entries of /proc/<pid>/fd, for older kernels. create() picks kStat when it works.
enum class FdCounting { kStat, kGetdents };

class ProcfsCollector final : public Collector {
 public:
  // Fails when /proc/self/fd cannot be read. kSched is offered only when /proc/self/schedstat
  // parses (CONFIG_SCHED_INFO).
  [[nodiscard]] static Result<std::unique_ptr<ProcfsCollector>> create();

  [[nodiscard]] std::string_view name() const override { return "procfs"; }
  [[nodiscard]] Source source() const override { return Source::kProcfs; }
  [[nodiscard]] MetricSet metrics() const override { return metrics_; }
  [[nodiscard]] Result<void> sample(std::span<const Target* const> targets,
                                    std::span<Sample* const> out, MetricSet which) override;
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> describe() const override;
  [[nodiscard]] FdCounting fd_counting() const { return counting_; }

 private:
  ProcfsCollector(MetricSet m, FdCounting c) : metrics_(m), counting_(c) {}
  MetricSet metrics_;
  FdCounting counting_;
};

// Open fds of one process; nullopt when it is gone.
[[nodiscard]] Result<std::optional<uint64_t>> count_fds(pid_t pid, FdCounting how);
// Sums the schedstat of every task of pid into out; false when the process is gone.
[[nodiscard]] Result<bool> add_schedstat(pid_t pid, SchedStats& out);

}  // namespace corral::collectors
