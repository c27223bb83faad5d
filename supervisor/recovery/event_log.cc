#include "supervisor/recovery/event_log.h"

#include <algorithm>
#include <chrono>

#include "collectors/telemetry.h"

namespace corral::supervisor::recovery {

const RecoveryEvent& RecoveryLog::append(RecoveryEvent e) {
  e.seq = ++seq_;
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
