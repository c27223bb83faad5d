// Telemetry types shared by every collector and by corrald: what Corral measures of one plugin (a
// Sample, grouped by Metric), the discrete things the kernel reports (Event), and the Collector
// interface that BPF loaders and the cgroupfs/procfs/sock_diag fallbacks all implement.
// Units everywhere: nanoseconds, bytes, counts. Counters are cumulative since track(); gauges
// are the value at sampling time. Times are CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns()).
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace corral::collectors {

// Groups of metrics; at any time each group of a Sample is filled by one source.
enum class Metric : uint8_t {
  kCpu,        // usage, user/system, throttling (CpuStats)
  kSched,      // on-CPU time, run-queue latency (SchedStats)
  kMemory,     // current, peak, anon/file, faults, limit (MemoryStats)
  kOom,        // OOM kills in the group (OomStats + kOomKill events)
  kFds,        // open file descriptors (FdStats)
  kSockets,    // live sockets by family, creations, connects, accepts, TCP state changes
  kTraffic,    // bytes in/out (TrafficStats)
  kProcesses,  // live tasks, forks, execs, exits (ProcessStats)
};
inline constexpr size_t kMetricCount = 8;
[[nodiscard]] std::string_view metric_name(Metric m);  // "cpu", "sched", ...

enum class Source : uint8_t {
  kNone,           // nothing on this host can feed the metric
  kBpf,            // a BPF program (the hook is in Collector::describe())
  kCgroupfs,       // cgroup v1/v2 control files
  kProcfs,         // /proc/<pid>/...
  kSockDiag,       // NETLINK_SOCK_DIAG
  kProcConnector,  // NETLINK_CONNECTOR process events
  kCgroupEvents,   // memory.events (inotify, v2) or memory.oom_control (eventfd, v1)
};
[[nodiscard]] std::string_view source_name(Source s);  // "bpf", "cgroupfs", ...

// Which metric groups a call is about.
class MetricSet {
 public:
  constexpr MetricSet() = default;
  constexpr MetricSet(std::initializer_list<Metric> ms) {
    for (Metric m : ms) add(m);
  }
  constexpr void add(Metric m) { bits_ |= 1u << static_cast<unsigned>(m); }
  constexpr void remove(Metric m) { bits_ &= ~(1u << static_cast<unsigned>(m)); }
  [[nodiscard]] constexpr bool has(Metric m) const {
    return (bits_ & (1u << static_cast<unsigned>(m))) != 0;
  }
  [[nodiscard]] constexpr bool empty() const { return bits_ == 0; }
  [[nodiscard]] static constexpr MetricSet all() {
    MetricSet s;
    s.bits_ = (1u << kMetricCount) - 1;
    return s;
  }
  friend constexpr bool operator==(MetricSet, MetricSet) = default;

 private:
  uint32_t bits_ = 0;
};

// One plugin as telemetry sees it: its cgroup, whatever the host's hierarchy. Plain data, filled
// by corrald from the plugin's sandbox::Cgroup.
struct Target {
  std::string name;
  uint64_t cgroup_id = 0;  // the cgroup2 node's id (what BPF sees); 0 when the host has none
  std::string v2_dir;      // the cgroup2 node's directory, "" when none
  bool v2_only = false;    // pure v2: v2_dir has every controller's files
  // v1/hybrid: the controller hierarchies' directories, "" where the plugin has none.
  std::string memory_dir;
  std::string cpu_dir;  // cpu and cpuacct (co-mounted on Debian: the same directory)
  std::string pids_dir;
  uint64_t memory_limit = 0;  // bytes, 0: none (for MemoryStats::limit and "% of limit")
  // The cgroup was made for this run: its event counters (oom_kill) start at zero, so what they
  // hold when tracking begins (the program may already run) happened to this run.
  bool fresh = false;
};

struct CpuStats {
  uint64_t usage_ns = 0;
  uint64_t user_ns = 0;
  uint64_t system_ns = 0;
  uint64_t nr_periods = 0;  // cpu.max enforcement periods, and how many of them throttled
  uint64_t nr_throttled = 0;
  uint64_t throttled_ns = 0;
};

struct SchedStats {
  uint64_t oncpu_ns = 0;      // time its tasks ran
  uint64_t runq_wait_ns = 0;  // time its tasks were runnable but waited for a CPU
  uint64_t runq_waits = 0;    // how many waits that is (mean = wait_ns / waits)
  uint64_t runq_max_ns = 0;   // longest single wait since track() (0 when not measured)
};

struct MemoryStats {
  uint64_t current = 0;
  uint64_t peak = 0;  // 0 when the kernel does not record it
  uint64_t anon = 0;
  uint64_t file = 0;
  uint64_t pgfault = 0;
  uint64_t pgmajfault = 0;
  uint64_t limit = 0;  // the enforced limit, 0: none
};

struct OomStats {
  uint64_t kills = 0;
};

struct FdStats {
  uint64_t open = 0;  // over every process in the cgroup
};

struct SocketStats {
  uint64_t inet4 = 0;  // live, by family
  uint64_t inet6 = 0;
  uint64_t unix_ = 0;
  uint64_t other = 0;
  uint64_t created = 0;  // counters from here on; kNone-sourced fields stay 0
  uint64_t connects = 0;
  uint64_t connects_denied = 0;
  uint64_t accepts = 0;
  uint64_t tcp_state_changes = 0;
};

struct TrafficStats {
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
};

struct ProcessStats {
  uint64_t tasks = 0;  // live tasks (threads included)
  uint64_t forks = 0;
  uint64_t execs = 0;
  uint64_t exits = 0;
};

struct Sample {
  int64_t at_ns = 0;  // CLOCK_MONOTONIC
  CpuStats cpu;
  SchedStats sched;
  MemoryStats memory;
  OomStats oom;
  FdStats fds;
  SocketStats sockets;
  TrafficStats traffic;
  ProcessStats processes;
  std::array<Source, kMetricCount> source{};  // who filled each group; kNone: not filled
  [[nodiscard]] Source source_of(Metric m) const { return source[static_cast<size_t>(m)]; }
  void set_source(Metric m, Source s) { source[static_cast<size_t>(m)] = s; }
};

enum class EventKind : uint8_t {
  kOomKill,        // pid: the victim; value: its RSS in bytes (0 if unknown); detail: comm
  kConnectDenied,  // pid: the caller; value: port; detail: "10.0.0.1:443" (the allow-list said no)
  kBindDenied,     // as kConnectDenied, for bind
  kSocketDenied,   // pid: the caller; value: the address family it asked for
  kExec,           // pid; detail: the new comm
  kFork,           // pid: the child; value: the parent's pid
  kExit,           // pid; value: the exit code as the kernel reports it (wait status)
  kLost,           // value: events the source could not deliver since its last kLost
};
[[nodiscard]] std::string_view event_kind_name(EventKind k);  // "oom_kill", ...

// CLOCK_MONOTONIC now, in ns: the clock of every at_ns here (and of bpf_ktime_get_ns()).
[[nodiscard]] int64_t monotonic_ns();

struct Event {
  EventKind kind = EventKind::kLost;
  Source source = Source::kNone;
  uint64_t cgroup_id = 0;  // attribution (v2 id); 0: see `target`
  std::string target;      // the plugin's name when the source attributes by name (fallbacks)
  int64_t at_ns = 0;       // CLOCK_MONOTONIC, when the kernel saw it
  pid_t pid = 0;
  uint64_t value = 0;
  std::string detail;
};

// The kLost event a collector owes after its lost count grew from `reported` to `total` (and
// updates `reported`), or nullopt when nothing more was lost.
[[nodiscard]] std::optional<Event> lost_since(uint64_t total, uint64_t& reported, Source source,
                                              std::string detail);

// One source of telemetry. Each is created by a factory that tries it on this host (a BPF program
// is loaded and attached, a netlink socket opened): a collector that exists works. All methods
// are called from one thread (corrald's event loop).
class Collector {
 public:
  virtual ~Collector() = default;
  [[nodiscard]] virtual std::string_view name() const = 0;  // "bpf-proc", "cgroupfs", ...
  [[nodiscard]] virtual Source source() const = 0;
  // The metric groups this collector feeds on this host.
  [[nodiscard]] virtual MetricSet metrics() const = 0;
  // Start and stop following a plugin (a BPF collector adds its cgroup id to its filter map; an
  // OOM watcher opens its event file). untrack() forgets its counters.
  [[nodiscard]] virtual Result<void> track(const Target& t) {
    (void)t;
    return {};
  }
  virtual void untrack(const Target& t) { (void)t; }
  // Fills the groups in `which` (a subset of metrics()) of each out[i] for targets[i] and sets
  // their source. A BPF collector reads its maps once for all of them. Errors name the target.
  [[nodiscard]] virtual Result<void> sample(std::span<const Target* const> targets,
                                            std::span<Sample* const> out, MetricSet which) = 0;
  // Discrete events: a pollable fd, readable when events wait (-1: this collector has none),
  // and a non-blocking drain that appends them to out.
  [[nodiscard]] virtual int event_fd() const { return -1; }
  virtual void drain_events(std::vector<Event>& out) { (void)out; }
  // Events this collector could not deliver (ring buffer full, netlink overrun), in total.
  [[nodiscard]] virtual uint64_t lost_events() const { return 0; }
  // For `corralctl doctor`: the active hook per metric ("sched: tp_btf/sched_switch"), and
  // counters such as each BPF program's run time ("run_time_ns tp_btf/sched_switch": "12345").
  [[nodiscard]] virtual std::vector<std::pair<std::string, std::string>> describe() const {
    return {};
  }
};

}  // namespace corral::collectors
