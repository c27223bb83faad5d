#include "collectors/telemetry_hub.h"

#include <algorithm>
#include <optional>

namespace corral::collectors {

void TelemetryHub::add(std::unique_ptr<Collector> c) {
  entries_.push_back(Entry{std::move(c), {}});
  assign();
}

void TelemetryHub::note_unavailable(std::string name, std::string why) {
  unavailable_.push_back({std::move(name), std::move(why)});
}

bool TelemetryHub::feeds(size_t entry) const {
  for (int f : feeder_) {
    if (f == static_cast<int>(entry)) return true;
  }
  return false;
}

void TelemetryHub::assign() {
  std::vector<bool> before(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) before[i] = feeds(i);
  feeder_.fill(-1);
  for (size_t m = 0; m < kMetricCount; ++m) {
    for (size_t i = 0; i < entries_.size(); ++i) {
      const Entry& e = entries_[i];
      auto metric = static_cast<Metric>(m);
      if (e.collector->metrics().has(metric) && !e.demoted.has(metric)) {
        feeder_[m] = static_cast<int>(i);
        break;
      }
    }
  }
  // A collector that starts feeding now learns of every target (it may fail, and be demoted in
  // turn: the recursion ends because each failure demotes groups for good).
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (before[i] || !feeds(i)) continue;
    for (const Target& t : targets_) {
      if (auto ok = entries_[i].collector->track(t); !ok) {
        demote(entries_[i], entries_[i].collector->metrics(),
               "tracking " + t.name + ": " + ok.error().describe());
        break;
      }
    }
  }
}

void TelemetryHub::demote(Entry& e, MetricSet groups, const std::string& why) {
  for (size_t m = 0; m < kMetricCount; ++m) {
    if (groups.has(static_cast<Metric>(m))) e.demoted.add(static_cast<Metric>(m));
  }
  problems_.push_back(std::string(e.collector->name()) + ": " + why);
  if (problems_.size() > 32) problems_.erase(problems_.begin());
  assign();
}

void TelemetryHub::track(const Target& t, const std::function<bool(const Collector&)>& which) {
  // Recorded after the loop: a collector taking over from one that fails here is reached by the
  // loop itself (it comes later in the order), not also by assign().
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (!feeds(i) || !which(*entries_[i].collector)) continue;
    if (auto ok = entries_[i].collector->track(t); !ok) {
      demote(entries_[i], entries_[i].collector->metrics(),
             "tracking " + t.name + ": " + ok.error().describe());
    }
  }
  std::erase_if(targets_, [&](const Target& x) { return x.name == t.name; });
  targets_.push_back(t);
}

void TelemetryHub::untrack(const Target& t) {
  std::erase_if(targets_, [&](const Target& x) { return x.name == t.name; });
  // Every collector: one that fed this target earlier and was demoted still forgets it.
  for (auto& e : entries_) e.collector->untrack(t);
}

std::vector<Sample> TelemetryHub::sample(std::span<const Target* const> targets, MetricSet wanted) {
  std::vector<Sample> out(targets.size());
  int64_t now = monotonic_ns();
  std::vector<Sample*> ptrs;
  ptrs.reserve(out.size());
  for (auto& s : out) {
    s.at_ns = now;
    ptrs.push_back(&s);
  }
  if (targets.empty()) return out;
  // Each pass asks every feeder for its groups; a failure reassigns them and we go again, until
  // nothing fails (each pass demotes at least one group, so this ends).
  MetricSet pending = wanted;
  for (size_t pass = 0; pass <= kMetricCount && !pending.empty(); ++pass) {
    MetricSet failed;
    for (size_t i = 0; i < entries_.size(); ++i) {
      MetricSet which;
      for (size_t m = 0; m < kMetricCount; ++m) {
        if (feeder_[m] == static_cast<int>(i) && pending.has(static_cast<Metric>(m))) {
          which.add(static_cast<Metric>(m));
        }
      }
      if (which.empty()) continue;
      if (auto ok = entries_[i].collector->sample(targets, ptrs, which); !ok) {
        for (size_t m = 0; m < kMetricCount; ++m) {
          if (which.has(static_cast<Metric>(m))) failed.add(static_cast<Metric>(m));
        }
        demote(entries_[i], which, "sampling: " + ok.error().describe());
      }
    }
    pending = failed;
  }
  return out;
}

const Collector* TelemetryHub::feeder(Metric m) const {
  int i = feeder_[static_cast<size_t>(m)];
  return i < 0 ? nullptr : entries_[static_cast<size_t>(i)].collector.get();
}

std::vector<Collector*> TelemetryHub::collectors() const {
  std::vector<Collector*> out;
  for (const auto& e : entries_) out.push_back(e.collector.get());
  return out;
}

std::vector<int> TelemetryHub::event_fds() const {
  std::vector<int> fds;
  for (const auto& e : entries_) {
    if (int fd = e.collector->event_fd(); fd >= 0) fds.push_back(fd);
  }
  return fds;
}

void TelemetryHub::drain_events(std::vector<Event>& out) {
  std::vector<Event> got;
  for (size_t i = 0; i < entries_.size(); ++i) {
    got.clear();
    entries_[i].collector->drain_events(got);
    for (Event& ev : got) {
      std::optional<Metric> m;
      switch (ev.kind) {
        case EventKind::kOomKill:
          m = Metric::kOom;
          break;
        case EventKind::kConnectDenied:  // only the enforcer of a policy reports these
        case EventKind::kBindDenied:
        case EventKind::kSocketDenied:
          break;
        case EventKind::kExec:
        case EventKind::kFork:
        case EventKind::kExit:
          m = Metric::kProcesses;
          break;
        case EventKind::kLost:
          break;
      }
      if (!m || feeder_[static_cast<size_t>(*m)] == static_cast<int>(i)) {
        out.push_back(std::move(ev));
      }
    }
  }
}

uint64_t TelemetryHub::lost_events() const {
  uint64_t n = 0;
  for (const auto& e : entries_) n += e.collector->lost_events();
  return n;
}

}  // namespace corral::collectors
