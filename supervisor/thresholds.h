// Thresholds: a manifest's [thresholds] (plain data) and the per-plugin monitor that evaluates
// each new telemetry Sample and event against them. Edge-triggered: a violation is reported
// when a metric's level rises (ok -> warning -> critical) and once more when it clears; to leave
// a level the value must fall below 90% of that level's threshold (no flapping at the edge).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/telemetry.h"

namespace corral::supervisor {

struct Threshold {
  std::optional<double> warning;
  std::optional<double> critical;
  [[nodiscard]] bool set() const { return warning.has_value() || critical.has_value(); }
};

// What each threshold measures; the order is the monitor's table order.
enum class ThresholdMetric : uint8_t {
  kCpuPercent,      // CPU time over the last interval, % of one CPU (200 = two CPUs busy)
  kMemoryPercent,   // memory.current as % of the enforced memory limit
  kFds,             // open file descriptors
  kSockets,         // live sockets, every family
  kForksPerSecond,  // forks over the last interval
};
inline constexpr size_t kThresholdMetrics = 5;
// A set of threshold metrics (bit i: ThresholdMetric i).
using ThresholdMask = uint8_t;
inline constexpr ThresholdMask kAllThresholdMetrics = (1u << kThresholdMetrics) - 1;
[[nodiscard]] constexpr ThresholdMask threshold_bit(ThresholdMetric m) {
  return static_cast<ThresholdMask>(1u << static_cast<unsigned>(m));
}
[[nodiscard]] std::string_view threshold_metric_name(ThresholdMetric m);  // "cpu_percent", ...

struct ThresholdSettings {
  std::array<Threshold, kThresholdMetrics> limits{};
  [[nodiscard]] Threshold& operator[](ThresholdMetric m) { return limits[static_cast<size_t>(m)]; }
  [[nodiscard]] const Threshold& operator[](ThresholdMetric m) const {
    return limits[static_cast<size_t>(m)];
  }
  [[nodiscard]] bool any() const;
  // The metrics with a warning or critical threshold.
  [[nodiscard]] ThresholdMask set_metrics() const;
};

enum class Severity : uint8_t { kInfo, kWarning, kCritical };
[[nodiscard]] std::string_view severity_name(Severity s);  // "info", "warning", "critical"

struct Violation {
  std::string metric;  // "fds", "memory_percent", "oom_kill", ...
  Severity severity = Severity::kWarning;
  bool cleared = false;  // the metric went back below its thresholds (severity kInfo)
  double value = 0;
  double threshold = 0;  // the threshold crossed (or, when cleared, the one left)
  int64_t at_ns = 0;     // the sample's or event's CLOCK_MONOTONIC time
  [[nodiscard]] std::string describe() const;  // "fds 512 >= 500 (warning)"
};

// The value each threshold metric has in `cur` (rates over the interval since `prev`); nullopt
// when the sample cannot say (its source fed nothing, no limit, no previous sample for a rate).
[[nodiscard]] std::optional<double> threshold_value(ThresholdMetric m,
                                                    const collectors::Sample* prev,
                                                    const collectors::Sample& cur);

class ThresholdMonitor {
 public:
  explicit ThresholdMonitor(ThresholdSettings settings) : settings_(settings) {}
  // Changes of level between the last sample and this one (prev: the previous sample, or null),
  // of the metrics in `only`.
  [[nodiscard]] std::vector<Violation> on_sample(const collectors::Sample* prev,
                                                 const collectors::Sample& cur,
                                                 ThresholdMask only = kAllThresholdMetrics);
  // One metric's value measured elsewhere (the watch's trailing-second fork rate): the change of
  // level it makes, if any.
  [[nodiscard]] std::optional<Violation> on_value(ThresholdMetric m, double value, int64_t at_ns);
  // Discrete events that are violations in themselves: an OOM kill is critical, a denied
  // connect/bind/socket is a warning. Others: nullopt.
  [[nodiscard]] static std::optional<Violation> on_event(const collectors::Event& e);
  // Forget levels (a new run starts from ok).
  void reset() { level_.fill(Severity::kInfo); }
  [[nodiscard]] Severity level(ThresholdMetric m) const { return level_[static_cast<size_t>(m)]; }

 private:
  ThresholdSettings settings_;
  std::array<Severity, kThresholdMetrics> level_{};  // kInfo: ok
};

}  // namespace corral::supervisor
