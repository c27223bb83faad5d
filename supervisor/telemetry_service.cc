#include "supervisor/telemetry_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "collectors/bpf_proc_collector.h"
#include "collectors/cgroupfs_collector.h"
#include "collectors/oom_watcher.h"
#include "collectors/proc_connector.h"
#include "collectors/procfs_collector.h"
#include "collectors/sockdiag_collector.h"
#include "supervisor/manifest.h"

namespace corral::supervisor {

namespace {

namespace asio = boost::asio;
using collectors::Metric;
using collectors::monotonic_ns;
using collectors::Sample;

constexpr size_t kEventLog = 1024;  // corrald-wide
constexpr size_t kRunRecent = 16;   // per run

// What the watch reads: levels from the hub, memory from memory.current, and forks (a rate,
// over the trailing second).
constexpr ThresholdMask kWatchedLevels =
    threshold_bit(ThresholdMetric::kFds) | threshold_bit(ThresholdMetric::kSockets);
// The share of one CPU the watch may take: it waits at least its last pass's time / this.
constexpr double kWatchBudget = 0.05;
constexpr ThresholdMask kWatchable = kWatchedLevels |
                                     threshold_bit(ThresholdMetric::kMemoryPercent) |
                                     threshold_bit(ThresholdMetric::kForksPerSecond);

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The wall-clock time of a CLOCK_MONOTONIC instant.
int64_t unix_ms_of(int64_t mono_ns) { return unix_ms() - (monotonic_ns() - mono_ns) / 1000000; }

template <class T>
void add(collectors::TelemetryHub& hub, Result<std::unique_ptr<T>> made, std::string_view name) {
  if (made) {
    hub.add(std::move(*made));
  } else {
    hub.note_unavailable(std::string(name), made.error().describe());
  }
}

// A collector's description as one line of at most `max` bytes (libbpf logs span lines).
std::string one_line(std::string_view text, size_t max) {
  std::string out;
  for (char c : text) {
    if (c == '\n') {
      if (!out.empty() && out.back() != ' ') out += " / ";
    } else {
      out += c;
    }
  }
  if (out.size() > max) out = out.substr(0, max - 3) + "...";
  return out;
}

double rate(uint64_t cur, uint64_t prev, double seconds) {
  return seconds > 0 ? (static_cast<double>(cur) - static_cast<double>(prev)) / seconds : 0;
}

std::string policy_text(const collectors::NetPolicy& p) {
  std::string out = "allow";
  if (p.connect.empty()) out += " nothing";
  for (size_t i = 0; i < p.connect.size(); ++i) {
    out += (i == 0 ? " " : ", ") + collectors::format_net_rule(p.connect[i]);
  }
  if (!p.bind.empty()) {
    out += "; bind";
    for (size_t i = 0; i < p.bind.size(); ++i) {
      out += (i == 0 ? " " : ", ") + collectors::format_net_rule(p.bind[i]);
    }
  }
  return out;
}

}  // namespace

std::unique_ptr<TelemetryService> TelemetryService::create(asio::io_context& io,
                                                           DaemonConfig::TelemetryMode mode,
                                                           std::chrono::milliseconds interval,
                                                           std::chrono::milliseconds watch,
                                                           const std::string& v2_parent) {
  auto hub = std::make_unique<collectors::TelemetryHub>();
  collectors::BpfNetCollector* net = nullptr;
  if (mode == DaemonConfig::TelemetryMode::kAuto) {
    add(*hub, collectors::BpfProcCollector::create(), "bpf-proc");
    if (!v2_parent.empty()) {
      auto n = collectors::BpfNetCollector::create(v2_parent);
      if (n) {
        net = n->get();
        hub->add(std::move(*n));
      } else {
        hub->note_unavailable("bpf-net", n.error().describe());
      }
    } else {
      hub->note_unavailable("bpf-net", "no cgroup2 hierarchy to attach cgroup programs to");
    }
  } else {
    hub->note_unavailable("bpf", "[telemetry] mode = \"fallback\"");
  }
  // Collectors that deliver events come before cgroupfs, whose counters of the same groups
  // (oom_kill, tasks) have no events: the feeder of a group is the one whose events count.
  add(*hub, collectors::OomWatcher::create(), "oom-watcher");
  add(*hub, collectors::ProcConnector::create(), "proc-connector");
  add(*hub, collectors::ProcfsCollector::create(), "procfs");
  add(*hub, collectors::SockDiagCollector::create(), "sock_diag");
  add(*hub, collectors::CgroupfsCollector::create(), "cgroupfs");
  for (const auto& u : hub->unavailable()) {
    spdlog::info("telemetry: {} unavailable: {}", u.name, u.why);
  }
  for (size_t m = 0; m < collectors::kMetricCount; ++m) {
    const auto* c = hub->feeder(static_cast<Metric>(m));
    spdlog::info("telemetry: {} from {}", collectors::metric_name(static_cast<Metric>(m)),
                 c != nullptr ? c->name() : "nothing");
  }
  return std::make_unique<TelemetryService>(io, std::move(hub), net, interval, watch);
}

TelemetryService::TelemetryService(asio::io_context& io,
                                   std::unique_ptr<collectors::TelemetryHub> hub,
                                   collectors::BpfNetCollector* net,
                                   std::chrono::milliseconds interval,
                                   std::chrono::milliseconds watch)
    : io_(io),
      hub_(std::move(hub)),
      net_(net),
      interval_(interval),
      timer_(io),
      watch_interval_(watch),
      watch_timer_(io) {
  watch_events();
  arm_timer();
}

TelemetryService::~TelemetryService() { stop(); }

void TelemetryService::stop() {
  stopped_ = true;
  timer_.cancel();
  watch_timer_.cancel();
  for (auto& w : event_watches_) {
    boost::system::error_code ec;
    w->cancel(ec);
    (void)w->release();  // the collectors own their fds
  }
  event_watches_.clear();
}

Result<void> TelemetryService::run_starting(const std::string& plugin, const Manifest& manifest,
                                            sandbox::Cgroup& cgroup) {
  collectors::Target t;
  t.name = plugin;
  t.cgroup_id = cgroup.v2_id();
  t.memory_limit = manifest.resources.memory_max.value_or(0);
  t.fresh = true;  // Plugin makes each run's cgroup anew
  bool policed = false;
  if (const auto& policy = manifest.isolation.net_policy) {
    if (net_ == nullptr || t.cgroup_id == 0) {
      std::string why = "no reason recorded";
      for (const auto& u : hub_->unavailable()) {
        if (u.name == "bpf-net" || u.name == "bpf") why = u.why;
      }
      return make_error(Code::kFailedPrecondition,
                        "its network allow-list needs the cgroup BPF network programs, which "
                        "this host cannot run (" +
                            why + "); see corralctl doctor");
    }
    if (auto ok = net_->set_policy(t.cgroup_id, *policy); !ok) {
      return std::unexpected(ok.error().wrap("installing its network allow-list"));
    }
    policed = true;
  }
  // BPF counts from now on (its first socket, fork or exec); the others once the cgroup's
  // directories exist (run_started).
  hub_->track(
      t, [](const collectors::Collector& c) { return c.source() == collectors::Source::kBpf; });
  Run run{t,    ThresholdMonitor(manifest.thresholds), {}, {}, policed, false, {}, 0, {}, 0, {}, {},
          false};
  run.net_policy = manifest.isolation.net_policy;
  if (watch_interval_.count() > 0) run.watched = manifest.thresholds.set_metrics() & kWatchable;
  if (policed) run.policy = policy_text(*manifest.isolation.net_policy);
  if (auto old = runs_.find(plugin); old != runs_.end())
    by_cgroup_.erase(old->second.target.cgroup_id);
  if (t.cgroup_id != 0) by_cgroup_.insert_or_assign(t.cgroup_id, plugin);
  runs_.insert_or_assign(plugin, std::move(run));
  if (policed) {
    spdlog::info("plugin {}: network {}", plugin, policy_text(*manifest.isolation.net_policy));
  }
  return {};
}

void TelemetryService::run_started(const std::string& plugin, sandbox::Cgroup& cgroup) {
  auto it = runs_.find(plugin);
  if (it == runs_.end()) return;
  collectors::Target& t = it->second.target;
  t.v2_dir = cgroup.dir("");
  t.v2_only = cgroup.v2_only();
  if (!t.v2_only) {
    t.memory_dir = cgroup.dir("memory");
    t.cpu_dir = cgroup.dir("cpu");
    t.pids_dir = cgroup.dir("pids");
  }
  hub_->track(
      t, [](const collectors::Collector& c) { return c.source() != collectors::Source::kBpf; });
  it->second.tracked = true;
  if (it->second.watched != 0) arm_watch_timer();
}

void TelemetryService::run_ended(const std::string& plugin) {
  auto it = runs_.find(plugin);
  if (it == runs_.end()) return;
  // Whatever the kernel reported about the run before it ended is attributed first.
  on_events();
  hub_->untrack(it->second.target);  // BPF collectors track from run_starting on
  if ((it->second.policed || it->second.cut) && net_ != nullptr) {
    if (auto ok = net_->clear_policy(it->second.target.cgroup_id); !ok) {
      spdlog::warn("plugin {}: clearing its network allow-list: {}", plugin, ok.error().describe());
    }
  }
  by_cgroup_.erase(it->second.target.cgroup_id);
  runs_.erase(it);
}

Result<void> TelemetryService::cut_network(const std::string& plugin, bool cut) {
  auto it = runs_.find(plugin);
  if (it == runs_.end())
    return make_error(Code::kNotFound, "no run of '" + plugin + "' is tracked");
  Run& run = it->second;
  if (net_ == nullptr || run.target.cgroup_id == 0) {
    return make_error(Code::kFailedPrecondition,
                      "cutting a plugin's network needs the cgroup BPF network programs, which "
                      "this corrald does not run (see corralctl doctor)");
  }
  Result<void> ok;
  if (cut) {
    ok = net_->set_policy(run.target.cgroup_id, collectors::NetPolicy{});  // nothing allowed
  } else if (run.net_policy) {
    ok = net_->set_policy(run.target.cgroup_id, *run.net_policy);
  } else {
    ok = net_->clear_policy(run.target.cgroup_id);
  }
  if (!ok) return std::unexpected(ok.error().wrap(cut ? "cutting its network" : "restoring it"));
  run.cut = cut;
  spdlog::warn("plugin {}: network {}", plugin,
               cut ? "cut (every connect and bind refused)" : "restored");
  return {};
}

void TelemetryService::arm_timer() {
  if (stopped_) return;
  timer_.expires_after(interval_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    sample_now();
    arm_timer();
  });
}

void TelemetryService::sample_now() {
  std::vector<const collectors::Target*> targets;
  std::vector<Run*> order;
  for (auto& [name, run] : runs_) {
    if (!run.tracked) continue;
    targets.push_back(&run.target);
    order.push_back(&run);
  }
  if (targets.empty()) return;
  auto samples = hub_->sample(targets);
  for (size_t i = 0; i < samples.size(); ++i) {
    Run& run = *order[i];
    run.prev = std::move(run.last);
    run.last = std::move(samples[i]);
    for (Violation& v : run.monitor.on_sample(run.prev ? &*run.prev : nullptr, *run.last,
                                              kAllThresholdMetrics & ~run.watched)) {
      record(run, run.target.name, std::move(v), {});
    }
  }
  if (sample_listeners_.empty()) return;
  // After the loop: a listener may end runs.
  std::vector<std::pair<std::string, collectors::Sample>> fresh;
  for (Run* run : order) fresh.emplace_back(run->target.name, *run->last);
  for (const auto& [name, sample] : fresh) {
    for (const auto& l : sample_listeners_) l(name, sample);
  }
}

void TelemetryService::arm_watch_timer() {
  if (stopped_ || watch_armed_ || watch_interval_.count() <= 0) return;
  watch_armed_ = true;
  // At most kWatchBudget of one CPU: a pass that took P waits at least P / kWatchBudget.
  const auto floor = std::chrono::nanoseconds(
      static_cast<int64_t>(static_cast<double>(last_pass_ns_) / kWatchBudget));
  watch_timer_.expires_after(std::max<std::chrono::nanoseconds>(watch_interval_, floor));
  watch_timer_.async_wait([this](boost::system::error_code ec) {
    watch_armed_ = false;
    if (ec || stopped_) return;
    watch_now();
  });
}

void TelemetryService::watch_now() {
  std::vector<const collectors::Target*> targets;
  std::vector<Run*> order;
  ThresholdMask all = 0;
  bool any = false;
  for (auto& [name, run] : runs_) {
    if (run.watched == 0) continue;
    any = true;  // a run not yet started is watched once it is
    if (!run.tracked) continue;
    targets.push_back(&run.target);
    order.push_back(&run);
    all |= run.watched;
  }
  if (!any) return;  // the timer stops until a watched run starts
  if (!targets.empty()) {
    const int64_t began = monotonic_ns();
    collectors::MetricSet groups;
    if ((all & threshold_bit(ThresholdMetric::kFds)) != 0) groups.add(Metric::kFds);
    if ((all & threshold_bit(ThresholdMetric::kSockets)) != 0) groups.add(Metric::kSockets);
    if ((all & threshold_bit(ThresholdMetric::kForksPerSecond)) != 0) {
      groups.add(Metric::kProcesses);
    }
    auto samples = hub_->sample(targets, groups);
    for (size_t i = 0; i < samples.size(); ++i) {
      Run& run = *order[i];
      const Sample& s = samples[i];
      for (Violation& v : run.monitor.on_sample(nullptr, s, run.watched & kWatchedLevels)) {
        record(run, run.target.name, std::move(v), {});
      }
      // Memory: memory.current alone (a fifth of the full group's cost) against the manifest's
      // limit, the one memory_percent is defined against.
      if ((run.watched & threshold_bit(ThresholdMetric::kMemoryPercent)) != 0 &&
          run.target.memory_limit != 0) {
        // A failed read (the cgroup going away as the plugin stops) skips this pass; the 1 s
        // sample reports a persistent error through the hub.
        auto cur = collectors::read_memory_current(run.target);
        if (cur && *cur) {
          auto v = run.monitor.on_value(
              ThresholdMetric::kMemoryPercent,
              static_cast<double>(**cur) * 100.0 / static_cast<double>(run.target.memory_limit),
              monotonic_ns());
          if (v) record(run, run.target.name, std::move(*v), {});
        }
      }
      if ((run.watched & threshold_bit(ThresholdMetric::kForksPerSecond)) == 0 ||
          s.source_of(Metric::kProcesses) == collectors::Source::kNone) {
        continue;
      }
      // Forks in the trailing second: against the newest reading at least a second old (or,
      // in a run's first second, its first reading).
      auto& seen = run.forks_seen;
      seen.emplace_back(s.at_ns, s.processes.forks);
      while (seen.size() > 2 && seen[1].first <= s.at_ns - 1'000'000'000) seen.pop_front();
      const uint64_t base = seen.front().second;
      if (s.processes.forks < base) {  // the counters started again
        seen.clear();
        continue;
      }
      auto v = run.monitor.on_value(ThresholdMetric::kForksPerSecond,
                                    static_cast<double>(s.processes.forks - base), s.at_ns);
      if (v) record(run, run.target.name, std::move(*v), {});
    }
    ++watch_passes_;
    last_pass_ns_ = monotonic_ns() - began;
    watch_ns_ += last_pass_ns_;
  }
  arm_watch_timer();
}

void TelemetryService::watch_events() {
  for (int fd : hub_->event_fds()) {
    auto w = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
    event_watches_.push_back(std::move(w));
  }
  for (auto& w : event_watches_) arm_watch(w.get());
}

// Re-armed after each drain, for as long as the service runs.
void TelemetryService::arm_watch(asio::posix::stream_descriptor* watch) {
  watch->async_wait(asio::posix::stream_descriptor::wait_read,
                    [this, watch](boost::system::error_code ec) {
                      if (ec || stopped_) return;
                      on_events();
                      arm_watch(watch);
                    });
}

TelemetryService::Run* TelemetryService::find_by_cgroup(uint64_t id, const std::string& target_name,
                                                        std::string* plugin) {
  if (!target_name.empty()) {
    auto it = runs_.find(target_name);
    if (it != runs_.end()) {
      *plugin = it->first;
      return &it->second;
    }
    return nullptr;
  }
  auto named = by_cgroup_.find(id);
  if (named == by_cgroup_.end()) return nullptr;
  auto it = runs_.find(named->second);
  if (it == runs_.end()) return nullptr;
  *plugin = it->first;
  return &it->second;
}

void TelemetryService::on_events() {
  std::vector<collectors::Event> got;
  hub_->drain_events(got);
  for (auto& e : got) {
    if (e.kind == collectors::EventKind::kLost) {
      spdlog::warn("telemetry: {} events lost ({} in total)", e.value, hub_->lost_events());
      continue;
    }
    std::string plugin;
    Run* run = find_by_cgroup(e.cgroup_id, e.target, &plugin);
    if (spdlog::should_log(spdlog::level::debug)) {  // a fork storm is thousands of events
      spdlog::debug("telemetry: event {} from {} cgroup {} target '{}' pid {} value {} {}: {}",
                    collectors::event_kind_name(e.kind), collectors::source_name(e.source),
                    e.cgroup_id, e.target, e.pid, e.value, e.detail,
                    run != nullptr ? plugin : std::string("no run of ours"));
    }
    if (run == nullptr) {
      ++unattributed_;
      continue;
    }
    ++run->events;
    auto v = ThresholdMonitor::on_event(e);
    if (!v) continue;
    std::string detail;
    if (e.pid != 0) detail = "pid " + std::to_string(e.pid);
    if (!e.detail.empty()) detail += (detail.empty() ? "" : " ") + e.detail;
    if (e.kind == collectors::EventKind::kOomKill && e.value != 0) {
      detail += ", rss " + std::to_string(e.value >> 10) + " KiB";
    }
    v->value = static_cast<double>(e.value);
    record(*run, plugin, std::move(*v), std::move(detail));
  }
}

void TelemetryService::record(Run& run, const std::string& plugin, Violation v,
                              std::string detail) {
  TelemetryEvent ev;
  ev.seq = ++seq_;
  ev.recorded_ns = monotonic_ns();
  ev.at_ns = v.at_ns != 0 ? v.at_ns : ev.recorded_ns;
  ev.at_unix_ms = unix_ms_of(ev.at_ns);
  ev.plugin = plugin;
  ev.violation = std::move(v);
  ev.detail = std::move(detail);
  std::string text = ev.violation.describe() + (ev.detail.empty() ? "" : " [" + ev.detail + "]");
  if (ev.violation.severity == Severity::kCritical) {
    spdlog::error("plugin {}: telemetry: {}", plugin, text);
  } else if (ev.violation.severity == Severity::kWarning) {
    spdlog::warn("plugin {}: telemetry: {}", plugin, text);
  } else {
    spdlog::info("plugin {}: telemetry: {}", plugin, text);
  }
  run.recent.push_back(ev);
  if (run.recent.size() > kRunRecent) run.recent.pop_front();
  events_.push_back(ev);
  if (events_.size() > kEventLog) events_.pop_front();
  for (auto& l : listeners_) l(ev);
}

bool TelemetryService::fill_stats(const std::string& plugin, v1::PluginStats& out) const {
  auto it = runs_.find(plugin);
  if (it == runs_.end() || !it->second.last) return false;
  const Run& run = it->second;
  const Sample& s = *run.last;
  const Sample* p = run.prev ? &*run.prev : nullptr;
  double dt =
      p != nullptr && s.at_ns > p->at_ns ? static_cast<double>(s.at_ns - p->at_ns) / 1e9 : 0;
  out.set_name(plugin);
  out.set_sampled_at_unix_ms(unix_ms_of(s.at_ns));
  out.set_interval_ms(static_cast<uint32_t>(interval_.count()));
  for (size_t m = 0; m < collectors::kMetricCount; ++m) {
    (*out.mutable_sources())[std::string(collectors::metric_name(static_cast<Metric>(m)))] =
        std::string(collectors::source_name(s.source[m]));
  }
  out.set_cpu_usage_ns(s.cpu.usage_ns);
  if (auto v = threshold_value(ThresholdMetric::kCpuPercent, p, s)) out.set_cpu_percent(*v);
  out.set_cpu_user_ns(s.cpu.user_ns);
  out.set_cpu_system_ns(s.cpu.system_ns);
  out.set_cpu_nr_periods(s.cpu.nr_periods);
  out.set_cpu_nr_throttled(s.cpu.nr_throttled);
  out.set_cpu_throttled_ns(s.cpu.throttled_ns);
  out.set_oncpu_ns(s.sched.oncpu_ns);
  out.set_runq_wait_ns(s.sched.runq_wait_ns);
  out.set_runq_waits(s.sched.runq_waits);
  out.set_runq_max_ns(s.sched.runq_max_ns);
  out.set_memory_current(s.memory.current);
  out.set_memory_peak(s.memory.peak);
  out.set_memory_anon(s.memory.anon);
  out.set_memory_file(s.memory.file);
  out.set_pgfault(s.memory.pgfault);
  out.set_pgmajfault(s.memory.pgmajfault);
  out.set_memory_limit(s.memory.limit != 0 ? s.memory.limit : run.target.memory_limit);
  out.set_oom_kills(s.oom.kills);
  out.set_fds(s.fds.open);
  if (p != nullptr) out.set_fds_per_second(rate(s.fds.open, p->fds.open, dt));
  out.set_sockets_inet4(s.sockets.inet4);
  out.set_sockets_inet6(s.sockets.inet6);
  out.set_sockets_unix(s.sockets.unix_);
  out.set_sockets_other(s.sockets.other);
  out.set_sockets_created(s.sockets.created);
  out.set_connects(s.sockets.connects);
  out.set_connects_denied(s.sockets.connects_denied);
  out.set_accepts(s.sockets.accepts);
  out.set_tcp_state_changes(s.sockets.tcp_state_changes);
  out.set_bytes_in(s.traffic.bytes_in);
  out.set_bytes_out(s.traffic.bytes_out);
  if (p != nullptr) {
    out.set_bytes_in_per_second(rate(s.traffic.bytes_in, p->traffic.bytes_in, dt));
    out.set_bytes_out_per_second(rate(s.traffic.bytes_out, p->traffic.bytes_out, dt));
  }
  out.set_tasks(s.processes.tasks);
  out.set_forks(s.processes.forks);
  out.set_execs(s.processes.execs);
  out.set_exits(s.processes.exits);
  if (auto v = threshold_value(ThresholdMetric::kForksPerSecond, p, s)) {
    out.set_forks_per_second(*v);
  }
  for (const auto& ev : run.recent) {
    auto* v = out.add_violations();
    v->set_metric(ev.violation.metric);
    v->set_severity(std::string(severity_name(ev.violation.severity)));
    v->set_cleared(ev.violation.cleared);
    v->set_value(ev.violation.value);
    v->set_threshold(ev.violation.threshold);
    v->set_at_unix_ms(ev.at_unix_ms);
    v->set_description(ev.violation.describe());
    v->set_detail(ev.detail);
    v->set_seq(ev.seq);
    v->set_detection_us(static_cast<uint64_t>(std::max<int64_t>(0, ev.recorded_ns - ev.at_ns)) /
                        1000);
  }
  out.set_events(run.events);
  out.set_network_policy(run.policy);
  return true;
}

void TelemetryService::fill_doctor(v1::DoctorResponse& out) const {
  auto& active = *out.mutable_active();
  for (size_t m = 0; m < collectors::kMetricCount; ++m) {
    auto metric = static_cast<Metric>(m);
    const auto* c = hub_->feeder(metric);
    std::string value = "none";
    if (c != nullptr) {
      value = std::string(c->name());
      std::string prefix = std::string(collectors::metric_name(metric)) + ": ";
      for (const auto& [k, v] : c->describe()) {
        if (k.starts_with(prefix) || k == collectors::metric_name(metric)) {
          value += " (" + v + ")";
          break;
        }
      }
    }
    active["telemetry." + std::string(collectors::metric_name(metric))] = value;
  }
  active["telemetry.interval_ms"] = std::to_string(interval_.count());
  {
    size_t watched = 0;
    for (const auto& [name, run] : runs_) watched += run.watched != 0 ? 1 : 0;
    std::string w = watch_interval_.count() > 0
                        ? "every " + std::to_string(watch_interval_.count()) + " ms, " +
                              std::to_string(watched) + " run(s) with level thresholds"
                        : "off (thresholds evaluated every interval)";
    if (watch_passes_ > 0) {
      const int64_t mean_ns = watch_ns_ / static_cast<int64_t>(watch_passes_);
      w += ", " + std::to_string(watch_passes_) + " passes, mean " +
           std::to_string(mean_ns / 1000) + " us";
      const auto floor_ms = static_cast<double>(mean_ns) / kWatchBudget / 1e6;
      if (floor_ms > static_cast<double>(watch_interval_.count())) {
        char buf[96];
        std::snprintf(buf, sizeof buf, " (slowed to ~%.1f ms: at most %.0f%% of one CPU)", floor_ms,
                      kWatchBudget * 100);
        w += buf;
      }
    }
    active["telemetry.watch"] = w;
  }
  active["telemetry.lost_events"] = std::to_string(hub_->lost_events());
  active["telemetry.unattributed_events"] = std::to_string(unattributed_);
  active["network allow-lists"] =
      net_ != nullptr ? "cgroup BPF (connect, sendmsg, bind)" : "unavailable";
  for (const auto* c : hub_->collectors()) {
    auto* check = out.add_checks();
    check->set_name("telemetry: " + std::string(c->name()));
    check->set_ok(true);
    std::string detail;
    for (const auto& [k, v] : c->describe()) {
      detail += (detail.empty() ? "" : "; ") + k + ": " + one_line(v, 240);
    }
    check->set_detail(detail.empty() ? std::string(collectors::source_name(c->source())) : detail);
  }
  for (const auto& u : hub_->unavailable()) {
    auto* check = out.add_checks();
    check->set_name("telemetry: " + u.name);
    check->set_ok(false);
    check->set_detail(u.why);
    check->set_without(u.name.starts_with("bpf")
                           ? "the fallback collectors feed what they can (see telemetry.* in "
                             "what corrald uses)" +
                                 std::string(u.name == "bpf-net" || u.name == "bpf"
                                                 ? "; plugins with a network allow-list cannot "
                                                   "start"
                                                 : "")
                           : "the metrics it feeds come from another collector, or none");
  }
  for (const auto& problem : hub_->problems()) {
    auto* check = out.add_checks();
    check->set_name("telemetry: demoted");
    check->set_ok(false);
    check->set_detail(problem);
    check->set_without("its metrics come from the next collector");
  }
}

}  // namespace corral::supervisor
