// telemetry_bench latency:
// (a) OOM kill -> event in hand. `tc_workload oom` in a cgroup with memory_max 32M, repeatedly.
//     The bench waits on the collectors' event fds with epoll (as corrald's loop does) and drains
//     whichever is readable. The kill's time is the BPF event's kernel timestamp (mark_victim,
//     CLOCK_MONOTONIC). Kills alternate: BpfProcCollector alone follows the cgroup (corrald's
//     auto mode: the OOM watcher is not the feeder, so it tracks nothing), then the OomWatcher
//     follows it as well (fallback mode), measured against the BPF timestamp of the same kill
//     (its own events carry the time it read the counter). Peer,
//     same kills: a cAdvisor-style poll of the memory controller's oom_kill counter once a
//     second, on a thread of its own, free-running (each kill at a random phase of it).
// (b) Threshold crossing -> violation. `tc_workload sleep 200 fds 600` against fds warning 500;
//     from the moment the bench reads the "fds 600" line to the ThresholdMonitor violation over
//     TelemetryHub samples every 1000, 100 and 10 ms (the first sample at a random phase), and
//     every 5 ms of only what corrald's watch reads, for the BPF line-up and the fallback one;
//     then the CPU cost of one sample call and of one watch pass.
#include <signal.h>
#include <sys/epoll.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>

#include "bench/bench_stats.h"
#include "bench/telemetry_bench.h"
#include "collectors/bpf_proc_collector.h"
#include "collectors/cgroupfs_collector.h"
#include "collectors/oom_watcher.h"
#include "common/files.h"
#include "supervisor/thresholds.h"

namespace corral::bench {
namespace {

using collectors::Event;
using collectors::EventKind;

// "oom_kill N" in memory.events (v2) or memory.oom_control (v1); nullopt when unreadable.
std::optional<uint64_t> oom_kills(const std::string& file) {
  auto text = read_file(file);
  if (!text) return std::nullopt;
  for (size_t pos = 0; pos < text->size();) {
    size_t end = text->find('\n', pos);
    if (end == std::string::npos) end = text->size();
    std::string_view line(text->data() + pos, end - pos);
    if (line.starts_with("oom_kill ")) return std::strtoull(line.data() + 9, nullptr, 10);
    pos = end + 1;
  }
  return std::nullopt;
}

// The peer: reads the current cgroup's counter every second, free-running like a scraper.
class Poller {
 public:
  Poller() : thread_([this] { loop(); }) {}
  ~Poller() {
    {
      std::lock_guard l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void watch(const std::string& file) {
    std::lock_guard l(mu_);
    file_ = file;
    seen_ns_ = 0;
  }
  // The time the poll first saw a kill in the watched file (0: not yet).
  int64_t seen_ns() {
    std::lock_guard l(mu_);
    return seen_ns_;
  }

 private:
  void loop() {
    auto next = std::chrono::steady_clock::now();
    std::unique_lock l(mu_);
    while (!stop_) {
      next += std::chrono::seconds(1);
      cv_.wait_until(l, next, [this] { return stop_; });
      if (stop_ || file_.empty() || seen_ns_ != 0) continue;
      auto k = oom_kills(file_);
      if (k && *k > 0) seen_ns_ = now_ns();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::string file_;
  int64_t seen_ns_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

double ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

void oom_latency(int n) {
  auto bpf = collectors::BpfProcCollector::create();
  if (!bpf) {
    fail("OOM latency needs the BPF proc collector for the kill's kernel timestamp: " +
         bpf.error().describe());
  }
  if (!(*bpf)->metrics().has(collectors::Metric::kOom)) {
    fail("the BPF proc collector has no OOM hook on this kernel");
  }
  auto watcher = collectors::OomWatcher::create();
  if (!watcher) fail(watcher.error().describe());
  collectors::Collector* sources[] = {bpf->get(), watcher->get()};
  UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  for (uint32_t i = 0; i < 2; ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = i;
    if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, sources[i]->event_fd(), &ev) != 0) fail("epoll_ctl");
  }
  CgroupEnv env("-oom");
  sandbox::DirectLauncher launcher;
  std::string workload = tc_workload_path();
  Poller poller;
  std::mt19937 rng(7);
  std::vector<double> bpf_ms, watcher_ms, poll_ms, watcher_own_ms, bpf_with_watcher_ms;
  std::printf(
      "OOM kill -> event in hand: tc_workload oom, memory_max 32M, %d kills each, "
      "alternating\n",
      n);
  for (int i = 0; i < 2 * n; ++i) {
    const bool with_watcher = i % 2 == 1;
    check_interrupted();
    sandbox::CgroupLimits limits;
    limits.memory_max = 32ull << 20;
    std::string name = "oom-" + std::to_string(i);
    auto cg = env.create(name, limits);
    collectors::Target t = target_of(name, *cg, *limits.memory_max);
    if (auto r = (*bpf)->track(t); !r) fail(r.error().describe());
    if (with_watcher) {
      if (auto r = (*watcher)->track(t); !r) fail(r.error().describe());
    }
    poller.watch(t.v2_only ? t.v2_dir + "/memory.events" : t.memory_dir + "/memory.oom_control");
    // A random pause, so the kills fall at random phases of the free-running poll (the loop
    // would otherwise lock onto it: each kill right after the poll that saw the last one).
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 999)(rng)));
    Launched w = launch(launcher, cg.get(), workload, {"oom"}, false);
    int64_t kill_ns = 0, bpf_hand = 0, watcher_hand = 0, watcher_at = 0, poll_seen = 0;
    int64_t deadline = now_ns() + 10'000'000'000;
    std::vector<Event> got;
    auto done = [&] {
      return bpf_hand != 0 && (watcher_hand != 0 || !with_watcher) && poll_seen != 0;
    };
    while (now_ns() < deadline && !done()) {
      check_interrupted();
      epoll_event evs[2];
      int k = ::epoll_wait(ep.get(), evs, 2, 20);
      for (int j = 0; j < k; ++j) {
        got.clear();
        sources[evs[j].data.u32]->drain_events(got);
        int64_t hand = now_ns();
        for (const Event& e : got) {
          if (e.kind != EventKind::kOomKill) continue;
          if (evs[j].data.u32 == 0 && e.cgroup_id == t.cgroup_id && bpf_hand == 0) {
            bpf_hand = hand;
            kill_ns = e.at_ns;
          } else if (evs[j].data.u32 == 1 && e.target == name && watcher_hand == 0) {
            watcher_hand = hand;
            watcher_at = e.at_ns;
          }
        }
      }
      poll_seen = poller.seen_ns();
    }
    poller.watch("");
    if (!done()) {
      fail("kill " + std::to_string(i) + ": no event within 10 s (bpf " +
           std::to_string(bpf_hand != 0) + ", oom watcher " + std::to_string(watcher_hand != 0) +
           ", poll " + std::to_string(poll_seen != 0) + ")");
    }
    if (with_watcher) {
      watcher_ms.push_back(ms(watcher_hand - kill_ns));
      watcher_own_ms.push_back(ms(watcher_hand - watcher_at));
      bpf_with_watcher_ms.push_back(ms(bpf_hand - kill_ns));
    } else {
      bpf_ms.push_back(ms(bpf_hand - kill_ns));
    }
    poll_ms.push_back(ms(poll_seen - kill_ns));
    (void)w.proc.wait();
    (*bpf)->untrack(t);
    if (with_watcher) (*watcher)->untrack(t);
    if (auto r = cg->remove(std::chrono::seconds(5)); !r) fail(r.error().describe());
  }
  report_ms("bpf-proc (mark_victim) -> in hand (auto)", bpf_ms);
  report_ms("oom-watcher -> in hand (fallback)", watcher_ms);
  report_ms("peer: 1 s poll of oom_kill first sees it (all kills)", poll_ms);
  report_ms("  (bpf-proc while the oom-watcher also tracks)", bpf_with_watcher_ms);
  report_ms("  (oom-watcher: its own at_ns -> in hand)", watcher_own_ms);
}

// What corrald's watch reads through the hub for a plugin with fds, sockets, memory and forks
// thresholds (memory it reads as memory.current alone: read_memory_current, costed apart).
constexpr collectors::MetricSet kWatchGroups{collectors::Metric::kFds, collectors::Metric::kSockets,
                                             collectors::Metric::kProcesses};

struct Interval {
  int ms;
  std::vector<double> latency_ms;
};

// One crossing: launch, sample every `interval` ms from a random phase, until the violation.
double one_crossing(collectors::TelemetryHub& hub, CgroupEnv& env,
                    sandbox::DirectLauncher& launcher, const std::string& workload,
                    const std::string& name, int interval, std::mt19937& rng,
                    collectors::MetricSet groups) {
  supervisor::ThresholdSettings settings;
  settings[supervisor::ThresholdMetric::kFds].warning = 500;
  supervisor::ThresholdMonitor monitor(settings);
  auto cg = env.create(name, {});
  collectors::Target t = target_of(name, *cg);
  hub.track(t);
  Launched w = launch(launcher, cg.get(), workload, {"sleep", "200", "fds", "600"}, true);
  const int64_t step = int64_t{interval} * 1'000'000;
  int64_t next = now_ns() + std::uniform_int_distribution<int64_t>(0, step - 1)(rng);
  int64_t line_ns = 0, violation_ns = 0, deadline = now_ns() + 10'000'000'000;
  std::optional<collectors::Sample> prev;
  const collectors::Target* targets[] = {&t};
  std::string printed;
  while ((line_ns == 0 || violation_ns == 0) && now_ns() < deadline) {
    check_interrupted();
    int64_t left = next - now_ns();
    if (left > 1'000'000 || violation_ns != 0) {
      int wait_ms = static_cast<int>(std::max<int64_t>(1, left / 1'000'000));
      if (line_ns == 0) {
        (void)read_until(w.out.get(), printed, "fds 600\n", wait_ms, &line_ns);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
      }
      continue;
    }
    while (now_ns() < next) {  // the last millisecond, so 10 ms ticks stay on time
    }
    // Behind schedule (a sample longer than the step) the wait above is skipped: the line is
    // read here too, without waiting.
    if (line_ns == 0) (void)read_until(w.out.get(), printed, "fds 600\n", 0, &line_ns);
    auto s = hub.sample(targets, groups);
    for (const auto& v : monitor.on_sample(prev ? &*prev : nullptr, s[0])) {
      if (v.metric == "fds" && !v.cleared) violation_ns = now_ns();
    }
    prev = s[0];
    next += step;
  }
  hub.untrack(t);
  (void)w.proc.signal(SIGKILL);
  (void)w.proc.wait();
  if (auto r = cg->remove(std::chrono::seconds(5)); !r) fail(r.error().describe());
  if (line_ns == 0 || violation_ns == 0) {
    std::string problems;
    for (const auto& p : hub.problems()) problems += "\n  " + p;
    fail(name + ": no violation within 10 s (printed: " + printed + "; last fds " +
         (prev ? std::to_string(prev->fds.open) + " from " +
                     std::string(collectors::source_name(prev->source_of(collectors::Metric::kFds)))
               : std::string("never sampled")) +
         ")" + problems);
  }
  return ms(violation_ns - line_ns);
}

// CPU and wall time of TelemetryHub::sample for one target with 600 open fds.
void sample_cost(collectors::TelemetryHub& hub, CgroupEnv& env, sandbox::DirectLauncher& launcher,
                 const std::string& workload, const char* label,
                 collectors::MetricSet groups = collectors::MetricSet::all()) {
  sandbox::CgroupLimits limits;
  limits.memory_max = 256ull << 20;
  limits.pids_max = 64;
  auto cg = env.create("cost", limits);
  collectors::Target t = target_of("cost", *cg, 256ull << 20);
  hub.track(t);
  Launched w = launch(launcher, cg.get(), workload, {"fds", "600"}, true);
  std::string printed;
  if (!read_until(w.out.get(), printed, "ready\n", 10000)) fail("cost workload: " + printed);
  const collectors::Target* targets[] = {&t};
  for (int i = 0; i < 50; ++i) (void)hub.sample(targets, groups);
  constexpr int kCalls = 2000;
  int64_t cpu0 = thread_cpu_ns(), wall0 = now_ns();
  for (int i = 0; i < kCalls; ++i) (void)hub.sample(targets, groups);
  double cpu = static_cast<double>(thread_cpu_ns() - cpu0) / kCalls;
  double wall = static_cast<double>(now_ns() - wall0) / kCalls;
  std::printf("  %-34s %8.0f ns CPU, %8.0f ns wall per sample call (1 target, %d calls)\n", label,
              cpu, wall, kCalls);
  if (groups == kWatchGroups) {  // and the watch's memory read
    cpu0 = thread_cpu_ns();
    for (int i = 0; i < kCalls; ++i) (void)collectors::read_memory_current(t);
    std::printf("  %-34s %8.0f ns CPU per read\n", "  + memory.current (the watch's)",
                static_cast<double>(thread_cpu_ns() - cpu0) / kCalls);
  }
  hub.untrack(t);
  (void)w.proc.signal(SIGKILL);
  (void)w.proc.wait();
  if (auto r = cg->remove(std::chrono::seconds(5)); !r) fail(r.error().describe());
}

void threshold_latency(int n) {
  CgroupEnv env("-threshold");
  sandbox::DirectLauncher launcher;
  std::string workload = tc_workload_path();
  auto bpf_hub = make_hub(HubKind::kAuto, env.v2_parent());
  auto fb_hub = make_hub(HubKind::kFallback, env.v2_parent());
  struct Line {
    const char* label;
    collectors::TelemetryHub* hub;
    std::vector<Interval> intervals;
  };
  // 5 ms: corrald's watch (telemetry.watch_interval_ms), which samples the same way.
  std::vector<Line> lines = {
      {"BPF line-up", bpf_hub.get(), {{1000, {}}, {100, {}}, {10, {}}, {5, {}}}},
      {"fallback", fb_hub.get(), {{1000, {}}, {100, {}}, {10, {}}, {5, {}}}}};
  std::printf(
      "threshold crossing -> violation: tc_workload sleep 200 fds 600, fds warning 500, "
      "%d crossings per interval, interleaved\n  fds from: %s (BPF line-up), %s "
      "(fallback)\n",
      n, std::string(bpf_hub->feeder(collectors::Metric::kFds)->name()).c_str(),
      std::string(fb_hub->feeder(collectors::Metric::kFds)->name()).c_str());
  std::mt19937 rng(42);
  for (int i = 0; i < n; ++i) {
    for (auto& line : lines) {
      for (auto& iv : line.intervals) {
        std::string name = "thr-" + std::to_string(i) + "-" + std::to_string(iv.ms);
        iv.latency_ms.push_back(
            one_crossing(*line.hub, env, launcher, workload, name, iv.ms, rng,
                         iv.ms == 5 ? kWatchGroups : collectors::MetricSet::all()));
      }
    }
  }
  for (auto& line : lines) {
    for (auto& iv : line.intervals) {
      std::string label =
          std::string(line.label) + ", sampled every " + std::to_string(iv.ms) + " ms";
      report_ms(label.c_str(), iv.latency_ms);
    }
  }
  sample_cost(*bpf_hub, env, launcher, workload, "TelemetryHub::sample, BPF line-up");
  sample_cost(*fb_hub, env, launcher, workload, "TelemetryHub::sample, fallback");
  sample_cost(*bpf_hub, env, launcher, workload, "watch pass, BPF line-up", kWatchGroups);
  sample_cost(*fb_hub, env, launcher, workload, "watch pass, fallback", kWatchGroups);
  for (auto m : {collectors::Metric::kFds, collectors::Metric::kSockets,
                 collectors::Metric::kMemory, collectors::Metric::kProcesses}) {
    for (auto* hub : {bpf_hub.get(), fb_hub.get()}) {
      std::string label = "  " + std::string(collectors::metric_name(m)) + " from " +
                          std::string(hub->feeder(m) != nullptr ? hub->feeder(m)->name() : "none");
      sample_cost(*hub, env, launcher, workload, label.c_str(), collectors::MetricSet{m});
    }
  }
}

}  // namespace

int run_latency(int n) {
  oom_latency(n);
  threshold_latency(n);
  return 0;
}

}  // namespace corral::bench
