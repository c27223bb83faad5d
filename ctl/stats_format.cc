#include "ctl/stats_format.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "ctl/format.h"

namespace corral::ctl {

namespace {

std::string fixed(double v, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string ms(uint64_t ns) { return fixed(static_cast<double>(ns) / 1e6, 1) + " ms"; }

std::string source(const v1::PluginStats& s, const char* metric) {
  auto it = s.sources().find(metric);
  return it == s.sources().end() ? "none" : it->second;
}

// "" for a group nothing fed: its zeros mean "unknown".
bool fed(const v1::PluginStats& s, const char* metric) { return source(s, metric) != "none"; }

std::string pad(std::string s, size_t w, bool right = false) {
  if (s.size() > w) s = s.substr(0, w);
  std::string fill(w - s.size(), ' ');
  return right ? fill + s : s + fill;
}

}  // namespace

std::string format_bytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "K", "M", "G", "T"};
  size_t u = 0;
  while (bytes >= 1024 && u + 1 < std::size(kUnits)) {
    bytes /= 1024;
    ++u;
  }
  return (u == 0 ? fixed(bytes, 0) : fixed(bytes, 1)) + kUnits[u];
}

std::string format_stats(const v1::PluginStats& s, int64_t now_ms) {
  std::string out;
  auto line = [&](const std::string& label, const std::string& value, const char* metric) {
    out += pad(label + ":", 11) + value;
    out += std::string("   [") + source(s, metric) + "]\n";
  };
  out += s.name() + " (sampled " +
         format_duration_ms(std::max<int64_t>(0, now_ms - s.sampled_at_unix_ms())) +
         " ago, every " + std::to_string(s.interval_ms()) + " ms)\n";
  line("cpu",
       fixed(s.cpu_percent(), 1) + "% of a CPU, " + ms(s.cpu_usage_ns()) + " total (user " +
           ms(s.cpu_user_ns()) + ", system " + ms(s.cpu_system_ns()) + "), throttled " +
           std::to_string(s.cpu_nr_throttled()) + "/" + std::to_string(s.cpu_nr_periods()) +
           " periods, " + ms(s.cpu_throttled_ns()),
       "cpu");
  if (fed(s, "sched")) {
    double mean = s.runq_waits() > 0 ? static_cast<double>(s.runq_wait_ns()) /
                                           static_cast<double>(s.runq_waits()) / 1e3
                                     : 0;
    line("sched",
         "on-CPU " + ms(s.oncpu_ns()) + ", run-queue wait " + ms(s.runq_wait_ns()) + " over " +
             std::to_string(s.runq_waits()) + " waits (mean " + fixed(mean, 1) + " us, max " +
             fixed(static_cast<double>(s.runq_max_ns()) / 1e3, 1) + " us)",
         "sched");
  } else {
    line("sched", "unavailable", "sched");
  }
  std::string mem = format_bytes(static_cast<double>(s.memory_current()));
  if (s.memory_limit() != 0) {
    mem += " of " + format_bytes(static_cast<double>(s.memory_limit())) + " (" +
           fixed(static_cast<double>(s.memory_current()) * 100.0 /
                     static_cast<double>(s.memory_limit()),
                 1) +
           "%)";
  }
  mem += ", peak " + format_bytes(static_cast<double>(s.memory_peak())) + ", anon " +
         format_bytes(static_cast<double>(s.memory_anon())) + ", file " +
         format_bytes(static_cast<double>(s.memory_file())) + ", faults " +
         std::to_string(s.pgfault()) + " (" + std::to_string(s.pgmajfault()) + " major)";
  line("memory", mem, "memory");
  line("oom", std::to_string(s.oom_kills()) + " kill(s)", "oom");
  line("fds", std::to_string(s.fds()) + " open (" + fixed(s.fds_per_second(), 1) + "/s)", "fds");
  line("sockets",
       std::to_string(s.sockets_inet4()) + " inet, " + std::to_string(s.sockets_inet6()) +
           " inet6, " + std::to_string(s.sockets_unix()) + " unix, " +
           std::to_string(s.sockets_other()) + " other; created " +
           std::to_string(s.sockets_created()) + ", connects " + std::to_string(s.connects()) +
           " (" + std::to_string(s.connects_denied()) + " denied), accepts " +
           std::to_string(s.accepts()) + ", tcp state changes " +
           std::to_string(s.tcp_state_changes()),
       "sockets");
  line("traffic",
       "in " + format_bytes(static_cast<double>(s.bytes_in())) + " (" +
           format_bytes(s.bytes_in_per_second()) + "/s), out " +
           format_bytes(static_cast<double>(s.bytes_out())) + " (" +
           format_bytes(s.bytes_out_per_second()) + "/s)",
       "traffic");
  line("processes",
       std::to_string(s.tasks()) + " tasks; forks " + std::to_string(s.forks()) + " (" +
           fixed(s.forks_per_second(), 1) + "/s), execs " + std::to_string(s.execs()) + ", exits " +
           std::to_string(s.exits()),
       "processes");
  if (!s.network_policy().empty()) out += pad("network:", 11) + s.network_policy() + "\n";
  if (s.violations().empty()) {
    out += "violations: none\n";
  } else {
    out += "violations (latest last):\n";
    for (const auto& v : s.violations()) {
      out += "  " + format_duration_ms(std::max<int64_t>(0, now_ms - v.at_unix_ms())) + " ago  " +
             v.description() + (v.detail().empty() ? "" : "  [" + v.detail() + "]") + "\n";
    }
  }
  return out;
}

std::string format_top(const v1::ListResponse& list, const v1::StatsResponse& stats, int64_t now_ms,
                       size_t width) {
  std::map<std::string, const v1::PluginStats*> by_name;
  for (const auto& s : stats.plugins()) by_name[s.name()] = &s;
  struct Col {
    const char* title;
    size_t w;
    bool right;
  };
  static constexpr Col kCols[] = {{"NAME", 16, false}, {"STATE", 9, false}, {"PID", 7, true},
                                  {"CPU%", 6, true},   {"MEM", 7, true},    {"MEM%", 5, true},
                                  {"FDS", 5, true},    {"SOCK", 5, true},   {"IN/s", 7, true},
                                  {"OUT/s", 7, true},  {"FORK/s", 6, true}, {"TASKS", 5, true},
                                  {"ALERT", 40, false}};
  auto row = [&](const std::vector<std::string>& cells) {
    std::string r;
    for (size_t i = 0; i < cells.size(); ++i) {
      r += pad(cells[i], kCols[i].w, kCols[i].right) + " ";
    }
    while (!r.empty() && r.back() == ' ') r.pop_back();
    if (r.size() > width) r.resize(width);
    return r + "\n";
  };
  size_t running = 0;
  for (const auto& p : list.plugins()) running += p.state() == v1::RUNNING ? 1 : 0;
  std::string out = "corral top: " + std::to_string(list.plugins_size()) + " plugin(s), " +
                    std::to_string(running) + " running, " + std::to_string(stats.lost_events()) +
                    " telemetry event(s) lost\n";
  std::vector<std::string> head;
  for (const auto& c : kCols) head.emplace_back(c.title);
  out += row(head);
  for (const auto& p : list.plugins()) {
    std::vector<std::string> cells = {p.name(), state_word(p.state()),
                                      p.pid() > 0 ? std::to_string(p.pid()) : "-"};
    auto it = by_name.find(p.name());
    if (it == by_name.end()) {
      cells.resize(std::size(kCols), "-");
      cells.back() = p.last_error().empty() ? "" : p.last_error();
      out += row(cells);
      continue;
    }
    const v1::PluginStats& s = *it->second;
    cells.push_back(fixed(s.cpu_percent(), 1));
    cells.push_back(format_bytes(static_cast<double>(s.memory_current())));
    cells.push_back(s.memory_limit() != 0 ? fixed(static_cast<double>(s.memory_current()) * 100.0 /
                                                      static_cast<double>(s.memory_limit()),
                                                  0)
                                          : "-");
    cells.push_back(fed(s, "fds") ? std::to_string(s.fds()) : "?");
    cells.push_back(fed(s, "sockets") ? std::to_string(s.sockets_inet4() + s.sockets_inet6() +
                                                       s.sockets_unix() + s.sockets_other())
                                      : "?");
    cells.push_back(fed(s, "traffic") ? format_bytes(s.bytes_in_per_second()) : "?");
    cells.push_back(fed(s, "traffic") ? format_bytes(s.bytes_out_per_second()) : "?");
    cells.push_back(fed(s, "processes") ? fixed(s.forks_per_second(), 0) : "?");
    cells.push_back(std::to_string(s.tasks()));
    std::string alert;
    if (!s.violations().empty()) {
      const auto& v = s.violations(s.violations_size() - 1);
      if (!v.cleared()) {
        alert = v.description() + " " +
                format_duration_ms(std::max<int64_t>(0, now_ms - v.at_unix_ms())) + " ago";
      }
    }
    cells.push_back(alert);
    out += row(cells);
  }
  return out;
}

}  // namespace corral::ctl
