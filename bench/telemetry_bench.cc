// Telemetry: what Corral's collectors cost and how fast they see things, each number next to a
// peer measured in the same run (docs/benchmarks.md, "Telemetry").
//   overhead: redis-server throughput (redis-benchmark over loopback) with telemetry off and on,
//             interleaved rounds, plus one round with the fallback collectors only.
//   latency:  OOM kill -> event in hand (BPF, the OOM watcher, and a 1 s cgroupfs poll), and a
//             workload crossing an fds threshold -> ThresholdMonitor violation per interval.
//   scale:    a real corrald with N sandboxed plugins sampled at 1 Hz: its CPU and RSS with
//             [telemetry] mode auto, off and fallback.
// Usage: telemetry_bench overhead|latency|scale|all [--rounds R] [--requests N] [--n N]
//                        [--plugins P] [--seconds S]        (root; redis-server for overhead)
#include "bench/telemetry_bench.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "collectors/bpf_net_collector.h"
#include "collectors/bpf_proc_collector.h"
#include "collectors/cgroupfs_collector.h"
#include "collectors/oom_watcher.h"
#include "collectors/proc_connector.h"
#include "collectors/procfs_collector.h"
#include "collectors/sockdiag_collector.h"

namespace corral::bench {

std::atomic<bool> g_interrupted{false};

void fail(const std::string& what) { throw BenchError(what); }

void check_interrupted() {
  if (g_interrupted.load()) fail("interrupted");
}

int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t thread_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string tc_workload_path() {
  std::string p = std::string(CORRAL_BINARY_DIR) + "/tests/testcases/tc_workload";
  if (::access(p.c_str(), X_OK) != 0) {
    fail("no " + p + " (cmake --build <dir> --target tc_workload)");
  }
  return p;
}

CgroupEnv::CgroupEnv(const std::string& suffix) {
  auto layout = sandbox::detect_cgroup_layout();
  if (!layout) fail(layout.error().describe());
  layout_ = *layout;
  std::string parent = "corral-tbench-" + std::to_string(::getpid()) + suffix;
  auto b = layout_.mode == sandbox::CgroupMode::kUnified
               ? sandbox::make_v2_backend(layout_.unified + "/" + parent)
               : sandbox::make_v1_backend(layout_, parent);
  if (!b) fail(b.error().describe());
  backend_ = std::move(*b);
  auto v2 = backend_->v2_parent();
  if (!v2) fail(v2.error().wrap("cgroup2 parent").describe());
  v2_parent_ = *v2;
}

CgroupEnv::~CgroupEnv() {
  if (auto r = backend_->remove_parent(); !r) {
    std::fprintf(stderr, "telemetry_bench: removing the cgroup parent: %s\n",
                 r.error().describe().c_str());
  }
}

std::unique_ptr<sandbox::Cgroup> CgroupEnv::create(const std::string& name,
                                                   const sandbox::CgroupLimits& limits) {
  auto cg = backend_->create(name, limits);
  if (!cg) fail(cg.error().wrap("cgroup " + name).describe());
  return std::move(*cg);
}

collectors::Target target_of(const std::string& name, sandbox::Cgroup& cg, uint64_t memory_limit) {
  collectors::Target t;  // as TelemetryService::run_starting and run_started fill it
  t.name = name;
  t.cgroup_id = cg.v2_id();
  t.memory_limit = memory_limit;
  t.v2_dir = cg.dir("");
  t.v2_only = cg.v2_only();
  if (!t.v2_only) {
    t.memory_dir = cg.dir("memory");
    t.cpu_dir = cg.dir("cpu");
    t.pids_dir = cg.dir("pids");
  }
  return t;
}

namespace {

template <class T>
void add(collectors::TelemetryHub& hub, Result<std::unique_ptr<T>> made, const char* name) {
  if (made) {
    hub.add(std::move(*made));
  } else {
    hub.note_unavailable(name, made.error().describe());
  }
}

}  // namespace

std::unique_ptr<collectors::TelemetryHub> make_hub(HubKind kind, const std::string& v2_parent) {
  using namespace collectors;
  auto hub = std::make_unique<TelemetryHub>();
  if (kind == HubKind::kAuto) {  // the order of TelemetryService::create
    add(*hub, BpfProcCollector::create(), "bpf-proc");
    if (!v2_parent.empty()) add(*hub, BpfNetCollector::create(v2_parent), "bpf-net");
  }
  add(*hub, OomWatcher::create(), "oom-watcher");
  add(*hub, ProcConnector::create(), "proc-connector");
  add(*hub, ProcfsCollector::create(), "procfs");
  add(*hub, SockDiagCollector::create(), "sock_diag");
  add(*hub, CgroupfsCollector::create(), "cgroupfs");
  return hub;
}

std::string describe_hub(const collectors::TelemetryHub& hub) {
  std::string out;
  for (size_t m = 0; m < collectors::kMetricCount; ++m) {
    auto metric = static_cast<collectors::Metric>(m);
    const auto* c = hub.feeder(metric);
    out += (out.empty() ? "" : " ") + std::string(collectors::metric_name(metric)) + "=" +
           std::string(c != nullptr ? c->name() : "none");
  }
  for (const auto& u : hub.unavailable()) out += "\n    unavailable: " + u.name + ": " + u.why;
  return out;
}

BpfStats bpf_stats(const collectors::TelemetryHub& hub) {
  BpfStats out;
  for (const auto* c : hub.collectors()) {
    if (c->source() != collectors::Source::kBpf) continue;
    for (const auto& [k, v] : c->describe()) {
      uint64_t n = std::strtoull(v.c_str(), nullptr, 10);
      if (k.starts_with("run_time_ns ")) {
        out[std::string(c->name()) + " " + k.substr(12)].run_time_ns = n;
      } else if (k.starts_with("run_cnt ")) {
        out[std::string(c->name()) + " " + k.substr(8)].run_cnt = n;
      }
    }
  }
  return out;
}

void add_delta(const BpfStats& after, const BpfStats& before, BpfStats* total) {
  for (const auto& [k, a] : after) {
    auto b = before.find(k);
    BpfProgStats& t = (*total)[k];
    t.run_time_ns += a.run_time_ns - (b != before.end() ? b->second.run_time_ns : 0);
    t.run_cnt += a.run_cnt - (b != before.end() ? b->second.run_cnt : 0);
  }
}

uint64_t total_run_time_ns(const BpfStats& s) {
  uint64_t n = 0;
  for (const auto& [k, v] : s) n += v.run_time_ns;
  return n;
}

Launched launch(sandbox::DirectLauncher& launcher, sandbox::Cgroup* cg, const std::string& exec,
                const std::vector<std::string>& args, bool capture) {
  int p[2] = {-1, -1};
  if (capture && ::pipe2(p, O_CLOEXEC) != 0) fail(std::string("pipe: ") + std::strerror(errno));
  UniqueFd r(p[0]);
  UniqueFd w(p[1]);
  sandbox::LaunchSpec spec;
  spec.exec = exec;
  spec.args = args;
  spec.stdout_fd = w.get();
  spec.stderr_fd = w.get();
  spec.cgroup = cg;
  auto proc = launcher.launch(spec);
  if (!proc) fail(proc.error().wrap("launching " + exec).describe());
  return Launched{std::move(*proc), std::move(r)};
}

bool read_until(int fd, std::string& text, const std::string& what, int timeout_ms,
                int64_t* seen_ns) {
  int64_t end = now_ns() + int64_t{timeout_ms} * 1'000'000;
  for (bool first = true; text.find(what) == std::string::npos; first = false) {
    check_interrupted();
    int64_t left = (end - now_ns()) / 1'000'000;
    if (left < 0 || (left == 0 && !first)) return false;  // timeout 0: one look, no wait
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return text.find(what) != std::string::npos;
    text.append(buf, static_cast<size_t>(n));
    if (seen_ns != nullptr && text.find(what) != std::string::npos) *seen_ns = now_ns();
  }
  return true;
}

}  // namespace corral::bench

namespace {

void on_signal(int) { corral::bench::g_interrupted = true; }

int usage() {
  std::fprintf(stderr,
               "usage: telemetry_bench overhead|latency|scale|all [--rounds R] [--requests N] "
               "[--n N] [--plugins P] [--seconds S]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace corral::bench;
  if (argc < 2) return usage();
  std::string part = argv[1];
  int rounds = 5, requests = 200000, n = 30, plugins = 200, seconds = 20;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (v <= 0) return usage();
    if (k == "--rounds") {
      rounds = v;
    } else if (k == "--requests") {
      requests = v;
    } else if (k == "--n") {
      n = v;
    } else if (k == "--plugins") {
      plugins = v;
    } else if (k == "--seconds") {
      seconds = v;
    } else {
      return usage();
    }
  }
  if (argc % 2 != 0) return usage();
  if (part != "overhead" && part != "latency" && part != "scale" && part != "all") return usage();
  if (::geteuid() != 0) {
    std::fprintf(stderr, "telemetry_bench: needs root (cgroups, BPF, sandboxes)\n");
    return 1;
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;  // no SA_RESTART: blocking waits return EINTR and see the flag
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  int rc = 0;
  try {
    if (part == "overhead" || part == "all") rc |= run_overhead(rounds, requests);
    if (part == "latency" || part == "all") rc |= run_latency(n);
    if (part == "scale" || part == "all") rc |= run_scale(plugins, seconds);
  } catch (const BenchError& e) {
    std::fprintf(stderr, "telemetry_bench: %s\n", e.what());
    return 1;
  }
  return rc;
}
