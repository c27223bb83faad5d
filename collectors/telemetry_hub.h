// TelemetryHub: composes collectors into one source of Samples and Events. Collectors are added
// in order of preference (BPF before the fallbacks); each metric group is fed by the first one
// that provides it, and a collector that fails to sample hands its groups to the next one.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "collectors/telemetry.h"

namespace corral::collectors {

class TelemetryHub {
 public:
  // Takes ownership; order of add() is the order of preference.
  void add(std::unique_ptr<Collector> c);
  // A collector that could not be created on this host, kept for `doctor` ("bpf-proc: EPERM").
  void note_unavailable(std::string name, std::string why);

  // Every collector that feeds a group follows the target (one that starts feeding later, after
  // a demotion, is given every target then). A collector that fails to track is demoted for
  // all its groups; the error is kept for `doctor`.
  void track(const Target& t) {
    track(t, [](const Collector&) { return true; });
  }
  // Only the collectors `which` accepts (the rest are told later, with a later call): BPF
  // collectors need only the cgroup id and can count from before the program runs, file-based
  // ones need its directories. The latest Target given for a name is the one kept.
  void track(const Target& t, const std::function<bool(const Collector&)>& which);
  void untrack(const Target& t);

  // One Sample per target, every group in `which` filled by its assigned collector (at_ns set
  // here; only those collectors are asked). Groups whose collector fails fall back to the next
  // collector that provides them, from then on; the failure is kept in problems().
  [[nodiscard]] std::vector<Sample> sample(std::span<const Target* const> targets,
                                           MetricSet which = MetricSet::all());

  // Per metric group: the collector feeding it, or nullptr.
  [[nodiscard]] const Collector* feeder(Metric m) const;
  [[nodiscard]] std::vector<Collector*> collectors() const;
  // Pollable fds of collectors with events, and a non-blocking drain of all of them. Only the
  // feeder of an event's metric delivers it (kOomKill: kOom, exec/fork/exit: kProcesses), so a
  // fallback never repeats what BPF reports; denials (from the enforcer only) and kLost pass.
  [[nodiscard]] std::vector<int> event_fds() const;
  void drain_events(std::vector<Event>& out);
  [[nodiscard]] uint64_t lost_events() const;

  struct Unavailable {
    std::string name;
    std::string why;
  };
  [[nodiscard]] const std::vector<Unavailable>& unavailable() const { return unavailable_; }
  [[nodiscard]] const std::vector<std::string>& problems() const { return problems_; }

 private:
  struct Entry {
    std::unique_ptr<Collector> collector;
    MetricSet demoted;  // groups taken away after a failure
  };
  void assign();
  [[nodiscard]] bool feeds(size_t entry) const;
  void demote(Entry& e, MetricSet groups, const std::string& why);

  std::vector<Entry> entries_;
  std::array<int, kMetricCount> feeder_{};  // index into entries_, -1: none
  std::vector<Target> targets_;             // tracked now
  std::vector<Unavailable> unavailable_;
  std::vector<std::string> problems_;  // the last 32
};

}  // namespace corral::collectors
