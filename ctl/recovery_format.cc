#include "ctl/recovery_format.h"

#include <cstdio>
#include <ctime>

#include "ctl/format.h"

namespace corral::ctl {

namespace {

std::string breaker_line(const v1::BreakerInfo& b, int64_t now_ms) {
  std::string out = b.state();
  if (b.state() == "open" && b.open_until_unix_ms() > 0) {
    out += " (half-open in " + format_duration_ms(b.open_until_unix_ms() - now_ms) + ")";
  }
  out += ", " + std::to_string(b.trips()) + " trip(s) in a row, " +
         std::to_string(b.total_trips()) + " in all";
  return out;
}

}  // namespace

std::string format_health(const v1::HealthReport& h, int64_t now_ms) {
  std::string out;
  auto row = [&](const char* k, const std::string& v) {
    out += k;
    out += std::string(12 - std::string(k).size(), ' ');
    out += v + "\n";
  };
  row("name:", h.name());
  row("health:", std::to_string(h.score()) + "/100");
  for (const auto& r : h.reasons()) row("", "- " + r);
  const auto& b = h.breaker();
  row("breaker:", breaker_line(b, now_ms));
  row("rule:", b.rule());
  if (!b.last_transition().empty()) {
    row("last:", b.last_transition() + " (" +
                     format_duration_ms(now_ms - b.last_transition_unix_ms()) + " ago)");
  }
  row("recovery:", b.phase() + (b.phase_cause().empty() ? "" : ": " + b.phase_cause()));
  std::string restarts = std::to_string(b.recent_restarts());
  if (b.max_restarts() != 0) {
    restarts += " of at most " + std::to_string(b.max_restarts()) + " within " +
                format_duration_ms(b.restart_period_ms());
  }
  row("restarts:",
      restarts + "; next backoff up to " + std::to_string(b.backoff_ceiling_ms()) + " ms");
  row("ready:", std::string(h.ready() ? "yes" : "no") + " - " + h.readiness());
  row("liveness:", h.liveness());
  if (!h.status_text().empty()) row("status:", h.status_text());
  for (const auto& t : h.trends()) {
    char buf[200];
    if (t.eta_seconds() >= 0) {
      std::snprintf(buf, sizeof buf, "%.0f of %.0f, %+.1f/s (r2 %.2f), limit in %.0f s%s",
                    t.value(), t.limit(), t.slope_per_second(), t.r2(), t.eta_seconds(),
                    t.alert() ? "  LEAK ALERT" : "");
    } else {
      std::snprintf(buf, sizeof buf, "%.0f of %.0f, not rising steadily", t.value(), t.limit());
    }
    row((t.metric() + ":").c_str(), buf);
  }
  std::string s;
  for (const auto& [signal, strategy] : h.strategies()) {
    s += (s.empty() ? "" : ", ") + signal + " -> " + strategy;
  }
  row("on:", s);
  return out;
}

std::string format_breakers(const v1::BreakersResponse& r, int64_t now_ms) {
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "BREAKER", "TRIPS", "PHASE", "RESTARTS", "LAST-TRANSITION"}};
  for (const auto& b : r.breakers()) {
    std::string state = b.state();
    if (b.state() == "open" && b.open_until_unix_ms() > 0) {
      state += " (" + format_duration_ms(b.open_until_unix_ms() - now_ms) + ")";
    }
    rows.push_back({b.plugin(), state,
                    std::to_string(b.trips()) + "/" + std::to_string(b.total_trips()), b.phase(),
                    std::to_string(b.recent_restarts()) +
                        (b.max_restarts() != 0 ? "/" + std::to_string(b.max_restarts()) : ""),
                    b.last_transition().empty() ? "-" : b.last_transition()});
  }
  return format_columns(rows);
}

std::string format_event(const v1::RecoveryEvent& e) {
  time_t secs = static_cast<time_t>(e.at_unix_ms() / 1000);
  tm t{};
  ::localtime_r(&secs, &t);
  char when[40];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &t);
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03d", static_cast<int>(e.at_unix_ms() % 1000));
  return std::string(when) + ms + "  " + e.plugin() + "  " + e.type() + "  " + e.what() +
         (e.cause().empty() ? "" : ": " + e.cause());
}

}  // namespace corral::ctl
