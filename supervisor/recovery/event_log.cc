#include "supervisor/recovery/event_log.h"

#include <algorithm>
#include <chrono>

#include "collectors/telemetry.h"

namespace corral::supervisor::recovery {

std::string severity_of(const RecoveryEvent& e) {
  if (e.type == "alert") {
    return e.what == "quarantined" || e.what == "escalated" ? "critical" : "warning";
  }
  if (e.type == "transition") return e.what.ends_with("-> open") ? "warning" : "info";
  if (e.type == "signal") {
    for (const char* w :
         {"oom_kill", "seccomp", "liveness", "not_ready", "launch_failed", "leak"}) {
      if (e.what == w) return "warning";
    }
    if (e.what == "threshold")
      return e.cause.find("critical") != std::string::npos ? "critical" : "warning";
    if (e.what == "exit" && e.cause.find("exited with code 0") == std::string::npos) {
      return "warning";
    }
  }
  if (e.type == "action" && (e.what.starts_with("escalate") || e.what.starts_with("quarantine"))) {
    return "critical";
  }
  return "info";
}

int severity_rank(std::string_view s) {
  if (s == "info") return 0;
  if (s == "warning") return 1;
  if (s == "critical") return 2;
  return -1;
}

RecoveryLog::Context::Context(RecoveryLog* log, const std::string& correlation_id) : log_(log) {
  if (log_ == nullptr) return;
  saved_ = std::move(log_->context_);
  log_->context_ = correlation_id;
}

RecoveryLog::Context::~Context() {
  if (log_ != nullptr) log_->context_ = std::move(saved_);
}

const RecoveryEvent& RecoveryLog::append(RecoveryEvent e) {
  e.seq = ++seq_;
  if (e.severity.empty()) e.severity = severity_of(e);
  if (e.correlation_id.empty()) {
    std::string chain;
    if (e.signal_id != 0) {
      for (auto it = chains_.rbegin(); it != chains_.rend(); ++it) {
        if (it->first == e.signal_id) {
          chain = it->second;
          break;
        }
      }
    }
    if (e.type == "signal" && e.signal_id != 0 && chain.empty()) {
      // A new chain: begun by the request being handled, or by this signal itself.
      chain = context_.empty() ? "signal-" + std::to_string(e.signal_id) : context_;
      chains_.emplace_back(e.signal_id, chain);
      while (chains_.size() > capacity_) chains_.pop_front();
      if (e.causation_id.empty() && !context_.empty()) e.causation_id = "request:" + context_;
    }
    if (chain.empty() && !context_.empty()) chain = context_;
    if (chain.empty() && e.signal_id != 0) chain = "signal-" + std::to_string(e.signal_id);
    e.correlation_id = chain;
  }
  if (e.causation_id.empty()) {
    if (e.type != "signal" && e.signal_id != 0) {
      e.causation_id = "signal-" + std::to_string(e.signal_id);
    } else if (!context_.empty()) {
      e.causation_id = "request:" + context_;
    }
  }
  if (e.at_ns == 0) e.at_ns = collectors::monotonic_ns();
  if (e.at_unix_ms == 0) {
    e.at_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  }
  events_.push_back(std::move(e));
  while (events_.size() > capacity_) events_.pop_front();
  // Listeners may remove themselves while called: iterate over a copy.
  auto ls = listeners_;
  for (auto& [id, l] : ls) l(events_.back());
  return events_.back();
}

std::vector<RecoveryEvent> RecoveryLog::since(uint64_t after, const std::string& plugin,
                                              size_t max) const {
  std::vector<RecoveryEvent> out;
  auto it = std::upper_bound(events_.begin(), events_.end(), after,
                             [](uint64_t s, const RecoveryEvent& e) { return s < e.seq; });
  for (; it != events_.end() && out.size() < max; ++it) {
    if (plugin.empty() || it->plugin == plugin) out.push_back(*it);
  }
  return out;
}

uint64_t RecoveryLog::add_listener(Listener l) {
  listeners_.emplace_back(++listener_ids_, std::move(l));
  return listener_ids_;
}

void RecoveryLog::remove_listener(uint64_t id) {
  std::erase_if(listeners_, [id](const auto& p) { return p.first == id; });
}

}  // namespace corral::supervisor::recovery
