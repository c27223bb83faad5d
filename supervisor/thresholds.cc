#include "supervisor/thresholds.h"

#include <cmath>
#include <cstdio>

namespace corral::supervisor {

namespace {

using collectors::Metric;
using collectors::Sample;
using collectors::Source;

constexpr double kHysteresis = 0.9;

std::string number(double v) {
  char buf[32];
  if (std::fabs(v - std::round(v)) < 1e-9 && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f", v);
  }
  return buf;
}

bool fed(const Sample& s, Metric m) { return s.source_of(m) != Source::kNone; }

// Seconds between two samples, or nullopt if there is no usable interval.
std::optional<double> interval_s(const Sample* prev, const Sample& cur) {
  if (prev == nullptr || cur.at_ns <= prev->at_ns) return std::nullopt;
  return static_cast<double>(cur.at_ns - prev->at_ns) / 1e9;
}

}  // namespace

std::string_view threshold_metric_name(ThresholdMetric m) {
  switch (m) {
    case ThresholdMetric::kCpuPercent:
      return "cpu_percent";
    case ThresholdMetric::kMemoryPercent:
      return "memory_percent";
    case ThresholdMetric::kFds:
      return "fds";
    case ThresholdMetric::kSockets:
      return "sockets";
    case ThresholdMetric::kForksPerSecond:
      return "forks_per_second";
  }
  return "unknown";
}

bool ThresholdSettings::any() const {
  for (const auto& t : limits) {
    if (t.set()) return true;
  }
  return false;
}

ThresholdMask ThresholdSettings::set_metrics() const {
  ThresholdMask m = 0;
  for (size_t i = 0; i < kThresholdMetrics; ++i) {
    if (limits[i].set()) m |= threshold_bit(static_cast<ThresholdMetric>(i));
  }
  return m;
}

std::string_view severity_name(Severity s) {
  switch (s) {
    case Severity::kInfo:
      return "info";
    case Severity::kWarning:
      return "warning";
    case Severity::kCritical:
      return "critical";
  }
  return "unknown";
}

std::string Violation::describe() const {
  if (cleared) return metric + " " + number(value) + " back below " + number(threshold);
  // An event is a violation in itself: it crossed no threshold.
  if (threshold == 0) return metric + " (" + std::string(severity_name(severity)) + ")";
  return metric + " " + number(value) + " >= " + number(threshold) + " (" +
         std::string(severity_name(severity)) + ")";
}

std::optional<double> threshold_value(ThresholdMetric m, const Sample* prev, const Sample& cur) {
  switch (m) {
    case ThresholdMetric::kCpuPercent: {
      auto dt = interval_s(prev, cur);
      if (!dt || !fed(cur, Metric::kCpu) || !fed(*prev, Metric::kCpu)) return std::nullopt;
      if (cur.cpu.usage_ns < prev->cpu.usage_ns) return std::nullopt;  // a new run's counters
      return static_cast<double>(cur.cpu.usage_ns - prev->cpu.usage_ns) / 1e9 / *dt * 100.0;
    }
    case ThresholdMetric::kMemoryPercent:
      if (!fed(cur, Metric::kMemory) || cur.memory.limit == 0) return std::nullopt;
      return static_cast<double>(cur.memory.current) * 100.0 /
             static_cast<double>(cur.memory.limit);
    case ThresholdMetric::kFds:
      if (!fed(cur, Metric::kFds)) return std::nullopt;
      return static_cast<double>(cur.fds.open);
    case ThresholdMetric::kSockets:
      if (!fed(cur, Metric::kSockets)) return std::nullopt;
      return static_cast<double>(cur.sockets.inet4 + cur.sockets.inet6 + cur.sockets.unix_ +
                                 cur.sockets.other);
    case ThresholdMetric::kForksPerSecond: {
      auto dt = interval_s(prev, cur);
      if (!dt || !fed(cur, Metric::kProcesses) || !fed(*prev, Metric::kProcesses)) {
        return std::nullopt;
      }
      if (cur.processes.forks < prev->processes.forks) return std::nullopt;
      return static_cast<double>(cur.processes.forks - prev->processes.forks) / *dt;
    }
  }
  return std::nullopt;
}

std::vector<Violation> ThresholdMonitor::on_sample(const Sample* prev, const Sample& cur,
                                                   ThresholdMask only) {
  std::vector<Violation> out;
  for (size_t i = 0; i < kThresholdMetrics; ++i) {
    auto m = static_cast<ThresholdMetric>(i);
    if ((only & threshold_bit(m)) == 0 || !settings_[m].set()) continue;
    auto v = threshold_value(m, prev, cur);
    if (!v) continue;  // no reading: keep the level we had
    if (auto viol = on_value(m, *v, cur.at_ns)) out.push_back(std::move(*viol));
  }
  return out;
}

std::optional<Violation> ThresholdMonitor::on_value(ThresholdMetric m, double v, int64_t at_ns) {
  const Threshold& t = settings_[m];
  if (!t.set()) return std::nullopt;
  const auto i = static_cast<size_t>(m);
  Severity was = level_[i];
  // The level the value supports, leaving a level only below 90% of its threshold.
  auto holds = [&](const std::optional<double>& th, Severity s) {
    if (!th) return false;
    return v >= *th || (was >= s && v >= *th * kHysteresis);
  };
  Severity now = holds(t.critical, Severity::kCritical) ? Severity::kCritical
                 : holds(t.warning, Severity::kWarning) ? Severity::kWarning
                                                        : Severity::kInfo;
  if (now == was) return std::nullopt;
  level_[i] = now;
  Violation viol;
  viol.metric = std::string(threshold_metric_name(m));
  viol.value = v;
  viol.at_ns = at_ns;
  viol.severity = now;
  if (now == Severity::kInfo) {
    viol.cleared = true;
    viol.threshold = was == Severity::kCritical && !t.warning ? *t.critical : *t.warning;
  } else if (now == Severity::kCritical) {
    viol.threshold = *t.critical;
  } else {
    viol.threshold = *t.warning;
    // Down from critical to warning is still reported: the level changed.
  }
  return viol;
}

std::optional<Violation> ThresholdMonitor::on_event(const collectors::Event& e) {
  Violation v;
  v.at_ns = e.at_ns;
  switch (e.kind) {
    case collectors::EventKind::kOomKill:
      v.metric = "oom_kill";
      v.severity = Severity::kCritical;
      return v;
    case collectors::EventKind::kConnectDenied:
      v.metric = "connect_denied";
      v.severity = Severity::kWarning;
      return v;
    case collectors::EventKind::kBindDenied:
      v.metric = "bind_denied";
      v.severity = Severity::kWarning;
      return v;
    case collectors::EventKind::kSocketDenied:
      v.metric = "socket_denied";
      v.severity = Severity::kWarning;
      return v;
    case collectors::EventKind::kExec:
    case collectors::EventKind::kFork:
    case collectors::EventKind::kExit:
    case collectors::EventKind::kLost:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace corral::supervisor
