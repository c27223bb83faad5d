// Shared parts of telemetry_bench: a private cgroup parent (removed on every exit path), the
// collector line-ups corrald builds, ground-truth workloads and small process helpers. Errors
// throw BenchError, caught in main, so that every RAII object on the way unwinds and removes
// what it made.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "collectors/telemetry.h"
#include "collectors/telemetry_hub.h"
#include "common/unique_fd.h"
#include "sandbox/cgroup.h"
#include "sandbox/cgroup_layout.h"
#include "sandbox/launcher.h"

namespace corral::bench {

struct BenchError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
[[noreturn]] void fail(const std::string& what);
// Set by SIGINT/SIGTERM; long loops call check_interrupted(), which throws.
extern std::atomic<bool> g_interrupted;
void check_interrupted();

[[nodiscard]] int64_t now_ns();  // CLOCK_MONOTONIC, the clock of Event::at_ns
[[nodiscard]] int64_t thread_cpu_ns();
[[nodiscard]] std::string tc_workload_path();

// Every cgroup the bench makes lives under corral-tbench-<pid><suffix> (each hierarchy on a
// v1/hybrid host, the cgroup2 tree on a unified one); the destructor removes the parent.
class CgroupEnv {
 public:
  explicit CgroupEnv(const std::string& suffix);
  ~CgroupEnv();
  CgroupEnv(const CgroupEnv&) = delete;
  CgroupEnv& operator=(const CgroupEnv&) = delete;

  [[nodiscard]] std::unique_ptr<sandbox::Cgroup> create(const std::string& name,
                                                        const sandbox::CgroupLimits& limits);
  [[nodiscard]] const std::string& v2_parent() const { return v2_parent_; }
  [[nodiscard]] const sandbox::CgroupLayout& layout() const { return layout_; }

 private:
  sandbox::CgroupLayout layout_;
  std::unique_ptr<sandbox::CgroupBackend> backend_;
  std::string v2_parent_;
};

// A plugin as corrald's TelemetryService describes it to the collectors.
[[nodiscard]] collectors::Target target_of(const std::string& name, sandbox::Cgroup& cg,
                                           uint64_t memory_limit = 0);

// The collectors corrald builds: kAuto is BPF (bpf-proc, bpf-net attached at v2_parent) first,
// then the fallbacks; kFallback the fallbacks only (oom watcher, proc connector, procfs,
// sock_diag, cgroupfs). Collectors that cannot be made are listed in the hub's unavailable().
enum class HubKind { kAuto, kFallback };
[[nodiscard]] std::unique_ptr<collectors::TelemetryHub> make_hub(HubKind kind,
                                                                 const std::string& v2_parent);
// "sched=bpf processes=bpf fds=procfs ..." and what was unavailable, for the bench's output.
[[nodiscard]] std::string describe_hub(const collectors::TelemetryHub& hub);
// The run-time counters BPF collectors export (BPF_ENABLE_STATS), by "collector program".
struct BpfProgStats {
  uint64_t run_time_ns = 0;
  uint64_t run_cnt = 0;
};
using BpfStats = std::map<std::string, BpfProgStats>;
[[nodiscard]] BpfStats bpf_stats(const collectors::TelemetryHub& hub);
// after - before, added to *total.
void add_delta(const BpfStats& after, const BpfStats& before, BpfStats* total);
[[nodiscard]] uint64_t total_run_time_ns(const BpfStats& s);

// A process launched by DirectLauncher into `cg` (no sandbox namespaces), its stdout+stderr on
// a pipe the bench reads (when capture is set).
struct Launched {
  sandbox::Process proc;
  UniqueFd out;
};
[[nodiscard]] Launched launch(sandbox::DirectLauncher& launcher, sandbox::Cgroup* cg,
                              const std::string& exec, const std::vector<std::string>& args,
                              bool capture);
// Appends what the pipe has to `text` until it contains `what` or `timeout_ms` pass; true when
// found. The time `what` was first seen goes to *seen_ns when given.
bool read_until(int fd, std::string& text, const std::string& what, int timeout_ms,
                int64_t* seen_ns = nullptr);

// Part entry points (each returns 0 on success).
int run_overhead(int rounds, int requests);
int run_latency(int n);
int run_scale(int plugins, int seconds);

}  // namespace corral::bench
