#include "ctl/format.h"

#include <algorithm>
#include <vector>

namespace corral::ctl {

std::string state_word(v1::PluginState s) {
  switch (s) {
    case v1::STOPPED:
      return "stopped";
    case v1::RUNNING:
      return "running";
    case v1::STOPPING:
      return "stopping";
    case v1::BACKOFF:
      return "backoff";
    case v1::EXITED:
      return "exited";
    case v1::FAILED:
      return "failed";
    case v1::QUARANTINED:
      return "quarantined";
    case v1::ESCALATED:
      return "escalated";
    default:
      return "unknown";
  }
}

std::string format_duration_ms(int64_t ms) {
  if (ms < 0) ms = 0;
  int64_t s = ms / 1000;
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>((s % 3600) / 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>((s % 86400) / 3600));
  }
  return buf;
}

std::string health_word(const v1::PluginInfo& p) {
  if (p.breaker().empty()) return "-";  // a corrald without recovery
  std::string out = std::to_string(p.health());
  if (p.breaker() != "closed") out += " " + p.breaker();
  if (!p.recovery_phase().empty() && p.recovery_phase() != "normal") {
    out += " " + p.recovery_phase();
  }
  return out;
}

std::string format_table(const v1::ListResponse& list, int64_t now_ms) {
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "STATE", "PID", "RESTARTS", "HEALTH", "UPTIME", "LAST-EXIT"}};
  for (const auto& p : list.plugins()) {
    std::string state = state_word(p.state());
    if (p.state() == v1::BACKOFF && p.next_restart_unix_ms() > 0) {
      state += " (" + format_duration_ms(p.next_restart_unix_ms() - now_ms) + ")";
    }
    rows.push_back(
        {p.name(), state, p.pid() > 0 ? std::to_string(p.pid()) : "-", std::to_string(p.restarts()),
         health_word(p),
         p.started_at_unix_ms() > 0 ? format_duration_ms(now_ms - p.started_at_unix_ms()) : "-",
         p.has_last_exit() ? p.last_exit().description() : "-"});
  }
  return format_columns(rows);
}

std::string format_columns(const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return {};
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string format_status(const v1::PluginInfo& p, int64_t now_ms) {
  std::string out;
  auto row = [&](const char* k, const std::string& v) {
    out += k;
    out += std::string(16 - std::string(k).size(), ' ');
    out += v + "\n";
  };
  row("name:", p.name());
  row("state:", state_word(p.state()));
  row("pid:", p.pid() > 0
                  ? std::to_string(p.pid()) +
                        (p.init_pid() > 0 ? " (sandbox init " + std::to_string(p.init_pid()) + ")"
                                          : std::string())
                  : "-");
  row("uptime:",
      p.started_at_unix_ms() > 0 ? format_duration_ms(now_ms - p.started_at_unix_ms()) : "-");
  row("restarts:", std::to_string(p.restarts()));
  row("restart policy:", p.restart_policy());
  std::string cmd = p.exec();
  for (const auto& a : p.args()) cmd += " " + a;
  row("command:", cmd);
  row("manifest:", p.manifest_path());
  row("last exit:", p.has_last_exit() ? p.last_exit().description() : "-");
  if (!p.last_error().empty()) row("last error:", p.last_error());
  if (p.state() == v1::BACKOFF && p.next_restart_unix_ms() > 0) {
    row("next restart:", "in " + format_duration_ms(p.next_restart_unix_ms() - now_ms));
  }
  row("sandbox:", p.sandbox().empty() ? "-" : p.sandbox());
  row("seccomp:", p.seccomp().empty() ? "-" : p.seccomp());
  if (p.seccomp_violations() > 0) {
    row("violations:", std::to_string(p.seccomp_violations()) + ", last: " + p.last_violation());
  }
  row("cgroup:", p.cgroup().empty() ? "-" : p.cgroup());
  row("log lines:", std::to_string(p.log_lines()));
  return out;
}

std::string format_doctor(const v1::DoctorResponse& d) {
  size_t width = 0;
  for (const auto& c : d.checks()) width = std::max(width, c.name().size());
  std::string out;
  for (const auto& c : d.checks()) {
    out += c.name() + std::string(width - c.name().size() + 2, ' ');
    out += c.ok() ? "ok       " : "MISSING  ";
    out += c.detail() + "\n";
    if (!c.ok() && !c.without().empty()) {
      out += std::string(width + 11, ' ') + "without it: " + c.without() + "\n";
    }
  }
  std::vector<std::pair<std::string, std::string>> active(d.active().begin(), d.active().end());
  std::sort(active.begin(), active.end());
  out += "\ncorrald uses:";
  for (const auto& [k, v] : active) out += " " + k + "=" + v;
  out += "\n";
  return out;
}

std::string format_log_line(const v1::LogLine& line) {
  std::string out = line.text();
  if (line.truncated()) out += " [...]";
  return out;
}

}  // namespace corral::ctl
