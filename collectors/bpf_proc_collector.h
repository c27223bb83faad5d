// BpfProcCollector: scheduling (on-CPU, run-queue latency), process (forks, execs, exits, live
// tasks), OOM-kill and open-fd telemetry from bpf/proc.bpf.c, per tracked cgroup2 id, plus kExec
// and kOomKill events through a ring buffer. create() loads and attaches or says why not.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/telemetry.h"
#include "common/error.h"

namespace corral::collectors {

struct BpfProcOptions {
  uint32_t ring_bytes = 256 * 1024;  // ring buffer size: a power of two, at least one page
  bool exec_events = true;           // kExec events (the counter is kept either way)
  bool run_time_stats = true;        // BPF_ENABLE_STATS while alive, for describe()
  bool batch_reads = true;           // BPF_MAP_LOOKUP_BATCH; false: key by key (tests)
  // Tests: start each hook's fallback chain at this variant ("tp_btf", "raw_tp", "tracepoint").
  std::string best_variant = "tp_btf";
  // Tests: load only a program the verifier must refuse, to see its words in the error.
  bool selftest_reject = false;
  // Count open fds from each process's fd table bitmap (iter/task, one visit per task) where
  // it loads; false: iter/task_file (one visit per open file) only (tests).
  bool fd_tables = true;
  // Credit slices running at sample time from an iter/task pass (covers slices whose switch-in
  // the sched_switch program did not see); false: from /proc/<tid>/stat and schedstat of each
  // CPU's recorded task (tests).
  bool running_iter = true;
};

class BpfProcCollector final : public Collector {
 public:
  // kUnimplemented when Corral was built without BPF programs; otherwise the load's or attach's
  // error with libbpf's log (the verifier's verdict) when this kernel refuses every variant.
  [[nodiscard]] static Result<std::unique_ptr<BpfProcCollector>> create(
      const BpfProcOptions& options = {});
  ~BpfProcCollector() override;
  BpfProcCollector(const BpfProcCollector&) = delete;
  BpfProcCollector& operator=(const BpfProcCollector&) = delete;

  [[nodiscard]] std::string_view name() const override { return "bpf-proc"; }
  [[nodiscard]] Source source() const override { return Source::kBpf; }
  [[nodiscard]] MetricSet metrics() const override;
  [[nodiscard]] Result<void> track(const Target& t) override;
  void untrack(const Target& t) override;
  [[nodiscard]] Result<void> sample(std::span<const Target* const> targets,
                                    std::span<Sample* const> out, MetricSet which) override;
  [[nodiscard]] int event_fd() const override;
  void drain_events(std::vector<Event>& out) override;
  [[nodiscard]] uint64_t lost_events() const override;
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> describe() const override;

  struct State;

 private:
  explicit BpfProcCollector(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

}  // namespace corral::collectors
