#include "supervisor/manifest_recovery.h"

#include "supervisor/manifest.h"

namespace corral::supervisor {

namespace {

using recovery::Strategy;
using std::chrono::milliseconds;

constexpr int64_t kDayMs = 24ll * 3600 * 1000;

void strategy(TomlReader& r, const toml::table& t, std::string_view key, Strategy& out,
              std::initializer_list<Strategy> allowed) {
  auto v = r.string(t, "recovery", key);
  if (!v) return;
  auto s = recovery::parse_strategy(*v);
  bool ok = s.has_value();
  if (ok) {
    ok = false;
    for (Strategy a : allowed) ok = ok || a == *s;
  }
  if (!ok) {
    std::string names;
    for (Strategy a : allowed) {
      names += (names.empty() ? "" : ", ") + std::string(recovery::strategy_name(a));
    }
    r.problem(std::string("recovery.") + std::string(key),
              "must be one of " + names + "; got \"" + *v + "\"");
    return;
  }
  out = *s;
}

void parse_breaker(TomlReader& r, const toml::table& t, recovery::BreakerSettings& b) {
  const char* p = "recovery.breaker";
  r.reject_unknown(t, p,
                   {"consecutive_failures", "window", "window_ms", "failure_rate", "min_outcomes",
                    "open_ms", "max_open_ms", "half_open_trials"});
  if (auto v = r.integer(t, p, "consecutive_failures", 0, 1000)) {
    b.consecutive_failures = static_cast<unsigned>(*v);
  }
  if (auto v = r.integer(t, p, "window", 0, 10000)) b.window_count = static_cast<unsigned>(*v);
  if (auto v = r.integer(t, p, "window_ms", 0, kDayMs)) b.window_time = milliseconds(*v);
  if (const toml::node* n = t.get("failure_rate")) {
    std::optional<double> v;
    if (auto f = n->as_floating_point()) v = f->get();
    if (auto i = n->as_integer()) v = static_cast<double>(i->get());
    if (!v || !(*v > 0 && *v <= 1)) {
      r.problem("recovery.breaker.failure_rate", "must be a number in (0, 1]");
    } else {
      b.failure_rate = *v;
    }
  }
  if (auto v = r.integer(t, p, "min_outcomes", 1, 10000))
    b.min_outcomes = static_cast<unsigned>(*v);
  if (auto v = r.integer(t, p, "open_ms", 1, kDayMs)) b.open_for = milliseconds(*v);
  if (auto v = r.integer(t, p, "max_open_ms", 1, kDayMs)) b.max_open_for = milliseconds(*v);
  if (b.max_open_for < b.open_for) {
    r.problem("recovery.breaker.max_open_ms", "must be at least recovery.breaker.open_ms (" +
                                                  std::to_string(b.open_for.count()) + ")");
  }
  if (auto v = r.integer(t, p, "half_open_trials", 1, 100)) {
    b.half_open_trials = static_cast<unsigned>(*v);
  }
}

}  // namespace

void parse_recovery(TomlReader& r, const toml::table& t, recovery::RecoverySettings& out) {
  r.reject_unknown(
      t, "recovery",
      {"on_exit", "on_oom", "on_seccomp", "on_critical", "on_leak", "on_liveness", "on_not_ready",
       "reload_signal", "degrade", "max_restarts", "restart_period_ms", "trial_ms", "breaker"});
  const auto kAll = {Strategy::kNone,    Strategy::kRestart,    Strategy::kReload,
                     Strategy::kDegrade, Strategy::kQuarantine, Strategy::kEscalate};
  // A run that has ended cannot be reloaded or degraded.
  strategy(r, t, "on_exit", out.on_exit,
           {Strategy::kNone, Strategy::kRestart, Strategy::kQuarantine, Strategy::kEscalate});
  strategy(r, t, "on_oom", out.on_oom, kAll);
  strategy(r, t, "on_seccomp", out.on_seccomp, kAll);
  strategy(r, t, "on_critical", out.on_critical, kAll);
  strategy(r, t, "on_leak", out.on_leak, kAll);
  strategy(r, t, "on_liveness", out.on_liveness, kAll);
  strategy(r, t, "on_not_ready", out.on_not_ready,
           {Strategy::kNone, Strategy::kRestart, Strategy::kQuarantine, Strategy::kEscalate});
  if (auto v = r.string(t, "recovery", "reload_signal")) {
    if (auto sig = parse_signal_name(*v)) {
      out.reload_signal = *sig;
    } else {
      r.problem("recovery.reload_signal",
                "must be one of TERM, INT, HUP, QUIT, USR1, USR2, KILL; got \"" + *v + "\"");
    }
  }
  if (auto v = r.string(t, "recovery", "degrade")) {
    if (auto m = recovery::parse_degrade_mode(*v)) {
      out.degrade = *m;
    } else {
      r.problem("recovery.degrade", "must be \"freeze\" or \"cut-network\"; got \"" + *v + "\"");
    }
  }
  if (auto v = r.integer(t, "recovery", "max_restarts", 0, 100000)) {
    out.max_restarts = static_cast<unsigned>(*v);
  }
  if (auto v = r.integer(t, "recovery", "restart_period_ms", 1, kDayMs)) {
    out.restart_period = milliseconds(*v);
  }
  if (auto v = r.integer(t, "recovery", "trial_ms", 0, kDayMs)) out.trial_for = milliseconds(*v);
  if (const toml::table* b = r.table(t, "breaker")) parse_breaker(r, *b, out.breaker);
}

void parse_health(TomlReader& r, const toml::table& t, bool sandboxed, HealthSettings& out) {
  r.reject_unknown(t, "health",
                   {"ready", "ready_timeout_ms", "liveness", "leak_horizon_ms", "leak_window_ms"});
  if (auto v = r.string(t, "health", "ready")) {
    if (*v == "notify") {
      out.notify = true;
    } else if (*v == "none") {
      out.notify = false;
    } else {
      r.problem("health.ready", "must be \"notify\" or \"none\"; got \"" + *v + "\"");
    }
  }
  if (auto v = r.integer(t, "health", "ready_timeout_ms", 1, kDayMs)) {
    out.ready_timeout = milliseconds(*v);
  }
  if (auto v = r.integer(t, "health", "leak_horizon_ms", 1000, 7 * kDayMs)) {
    out.leak.horizon = milliseconds(*v);
  }
  if (auto v = r.integer(t, "health", "leak_window_ms", 1000, kDayMs)) {
    out.leak.window = milliseconds(*v);
  }
  if (const toml::table* l = r.table(t, "liveness")) {
    const char* p = "health.liveness";
    r.reject_unknown(
        *l, p,
        {"socket", "exec", "period_ms", "timeout_ms", "failure_threshold", "initial_delay_ms"});
    LivenessProbe probe;
    const bool has_exec = l->get("exec") != nullptr;
    if (has_exec && l->get("socket") != nullptr) {
      r.problem("health.liveness", "takes socket or exec, not both");
    }
    if (has_exec) {
      if (auto v = r.strings(*l, p, "exec", 256)) {
        if (v->empty() || !(*v)[0].starts_with('/') || (*v)[0].find("/../") != std::string::npos) {
          r.problem("health.liveness.exec",
                    "must be a command whose first word is an absolute path inside the sandbox");
        } else {
          probe.exec = std::move(*v);
        }
      }
    } else if (auto v = r.string(*l, p, "socket")) {
      bool absolute = v->starts_with('/');
      std::string check = absolute ? *v : "/" + *v;
      if (v->empty() || check.find("/../") != std::string::npos || check.ends_with("/..") ||
          check.find('\0') != std::string::npos) {
        r.problem("health.liveness.socket", "must be a path without .. components");
      } else if (!sandboxed && !absolute) {
        r.problem("health.liveness.socket",
                  "must be absolute for a plugin without a sandbox (there is no /state)");
      } else if (check.size() > 90) {
        r.problem("health.liveness.socket", "is too long for a unix socket path");
      } else {
        probe.socket = *v;
      }
    } else if (l->get("socket") == nullptr) {
      r.problem("health.liveness",
                "needs socket (a unix socket to connect to) or exec (a command)");
    }
    if (auto v = r.integer(*l, p, "period_ms", 10, kDayMs)) probe.period = milliseconds(*v);
    if (auto v = r.integer(*l, p, "timeout_ms", 1, 600000)) probe.timeout = milliseconds(*v);
    if (auto v = r.integer(*l, p, "failure_threshold", 1, 1000)) {
      probe.failure_threshold = static_cast<unsigned>(*v);
    }
    if (auto v = r.integer(*l, p, "initial_delay_ms", 0, kDayMs)) {
      probe.initial_delay = milliseconds(*v);
    }
    if (probe.timeout > probe.period) {
      r.problem("health.liveness.timeout_ms", "must be at most health.liveness.period_ms");
    }
    out.liveness = probe;
  }
}

}  // namespace corral::supervisor
