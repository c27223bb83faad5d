#include "supervisor/manifest_telemetry.h"

#include <string>
#include <vector>

namespace corral::supervisor {

namespace {

struct Range {
  double min;
  double max;
};

Range range_of(ThresholdMetric m) {
  switch (m) {
    case ThresholdMetric::kCpuPercent:
      return {1, 100000};  // up to 1000 CPUs
    case ThresholdMetric::kMemoryPercent:
      return {1, 100};
    case ThresholdMetric::kFds:
      return {1, 1 << 24};
    case ThresholdMetric::kSockets:
      return {1, 1 << 24};
    case ThresholdMetric::kForksPerSecond:
      return {1, 1e7};
  }
  return {1, 1};
}

std::optional<double> number(TomlReader& r, const toml::node& node, const std::string& key,
                             Range range) {
  std::optional<double> v;
  if (auto i = node.as_integer()) v = static_cast<double>(i->get());
  if (auto f = node.as_floating_point()) v = f->get();
  if (!v) {
    r.problem(key, "must be a number or { warning = N, critical = M }");
    return std::nullopt;
  }
  if (!(*v >= range.min && *v <= range.max)) {  // also false for NaN
    r.problem(key, "must be between " + std::to_string(static_cast<int64_t>(range.min)) + " and " +
                       std::to_string(static_cast<int64_t>(range.max)));
    return std::nullopt;
  }
  return v;
}

}  // namespace

void parse_thresholds(TomlReader& r, const toml::table& t, bool has_memory_limit,
                      ThresholdSettings& out) {
  r.reject_unknown(t, "thresholds",
                   {"cpu_percent", "memory_percent", "fds", "sockets", "forks_per_second"});
  for (size_t i = 0; i < kThresholdMetrics; ++i) {
    auto m = static_cast<ThresholdMetric>(i);
    std::string name(threshold_metric_name(m));
    const toml::node* node = t.get(name);
    if (node == nullptr) continue;
    std::string key = "thresholds." + name;
    Threshold th;
    if (const toml::table* levels = node->as_table()) {
      r.reject_unknown(*levels, key, {"warning", "critical"});
      if (const toml::node* w = levels->get("warning")) {
        th.warning = number(r, *w, key + ".warning", range_of(m));
      }
      if (const toml::node* c = levels->get("critical")) {
        th.critical = number(r, *c, key + ".critical", range_of(m));
      }
      if (!levels->contains("warning") && !levels->contains("critical")) {
        r.problem(key, "needs warning, critical or both");
      }
      if (th.warning && th.critical && *th.warning >= *th.critical) {
        r.problem(key, "warning must be below critical");
      }
    } else {
      th.warning = number(r, *node, key, range_of(m));
    }
    if (m == ThresholdMetric::kMemoryPercent && !has_memory_limit) {
      r.problem(key, "needs resources.memory_max (it is a percentage of that limit)");
    }
    out[m] = th;
  }
}

std::optional<collectors::NetPolicy> parse_network_table(TomlReader& r, const toml::table& t) {
  r.reject_unknown(t, "sandbox.network", {"allow", "bind"});
  std::vector<std::string> allow, bind;
  if (auto v = r.strings(t, "sandbox.network", "allow", collectors::kMaxNetRules)) {
    allow = std::move(*v);
  }
  if (auto v = r.strings(t, "sandbox.network", "bind", collectors::kMaxNetRules)) {
    bind = std::move(*v);
  }
  if (!t.contains("allow")) {
    r.problem("sandbox.network.allow",
              "is required in the table form (an empty list denies every destination)");
    return std::nullopt;
  }
  auto policy = collectors::parse_net_policy(allow, bind);
  if (!policy) {
    r.problem("sandbox.network", policy.error().message);
    return std::nullopt;
  }
  return std::move(*policy);
}

}  // namespace corral::supervisor
