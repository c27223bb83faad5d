// ProcConnector: forks, execs and exits of the targets' processes through NETLINK_CONNECTOR
// (CN_IDX_PROC), as counters (kProcesses, with live tasks from the cgroup) and as kFork/kExec/
// kExit events. The kernel reports every process on the host with pids only, so each event is
// attributed at event time: a pid cache (seeded at track() and by forks), else the process's
// /proc/<pid>/cgroup (cgroup2 "0::" path, or the v1 memory path), else, for a fork, the parent's.
// A process that is gone before it can be looked up is counted as unattributed (describe()).
// Threads are not counted: forks are new processes (child pid == tgid), exits are process exits.
// ENOBUFS on the socket means the kernel dropped events: lost_events() counts the overruns (the
// number of events per overrun is unknown) and a kLost event (value 1) reports each.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "collectors/parsers.h"
#include "collectors/telemetry.h"
#include "common/unique_fd.h"

namespace corral::collectors {

class ProcConnector final : public Collector {
 public:
  // Opens the socket, subscribes (needs CAP_NET_ADMIN, initial user and pid namespace) and
  // checks that a fork of its own is reported within 1 s.
  [[nodiscard]] static Result<std::unique_ptr<ProcConnector>> create();

  [[nodiscard]] std::string_view name() const override { return "proc-connector"; }
  [[nodiscard]] Source source() const override { return Source::kProcConnector; }
  [[nodiscard]] MetricSet metrics() const override { return {Metric::kProcesses}; }
  [[nodiscard]] Result<void> track(const Target& t) override;
  void untrack(const Target& t) override;
  // Reads what the socket holds first (queuing the events for drain_events), so the counters
  // are current.
  [[nodiscard]] Result<void> sample(std::span<const Target* const> targets,
                                    std::span<Sample* const> out, MetricSet which) override;
  [[nodiscard]] int event_fd() const override { return sock_.get(); }
  void drain_events(std::vector<Event>& out) override;
  [[nodiscard]] uint64_t lost_events() const override { return lost_; }
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> describe() const override;
  [[nodiscard]] uint64_t unattributed() const { return unattributed_; }

 private:
  struct Tracked {
    Target target;
    ProcessStats counts;
  };
  ProcConnector(UniqueFd sock, parsers::CgroupMounts mounts)
      : sock_(std::move(sock)), mounts_(std::move(mounts)) {}
  // Reads the socket until it is empty, handling each message.
  void pump();
  void handle(const void* data, size_t len);
  // The tracked target pid belongs to, from the cache or its /proc/<pid>/cgroup; nullptr if
  // untracked; `gone` set when the process could not be looked up.
  Tracked* attribute(pid_t pid, bool& gone);
  Tracked* lookup_proc(pid_t pid, bool& gone);
  void emit(Event e);

  UniqueFd sock_;
  parsers::CgroupMounts mounts_;
  std::map<std::string, Tracked> tracked_;                  // by target name
  std::map<std::string, std::string, std::less<>> by_dir_;  // cgroup dir -> target name
  std::unordered_map<pid_t, std::string> pid_cache_;        // pid -> target name
  std::deque<Event> pending_;
  uint64_t lost_ = 0;
  uint64_t unattributed_ = 0;
  uint64_t pending_dropped_ = 0;
  uint64_t messages_ = 0;
};

}  // namespace corral::collectors
