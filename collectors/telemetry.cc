#include "collectors/telemetry.h"

#include <ctime>

namespace corral::collectors {

std::string_view metric_name(Metric m) {
  switch (m) {
    case Metric::kCpu:
      return "cpu";
    case Metric::kSched:
      return "sched";
    case Metric::kMemory:
      return "memory";
    case Metric::kOom:
      return "oom";
    case Metric::kFds:
      return "fds";
    case Metric::kSockets:
      return "sockets";
    case Metric::kTraffic:
      return "traffic";
    case Metric::kProcesses:
      return "processes";
  }
  return "unknown";
}

std::string_view source_name(Source s) {
  switch (s) {
    case Source::kNone:
      return "none";
    case Source::kBpf:
      return "bpf";
    case Source::kCgroupfs:
      return "cgroupfs";
    case Source::kProcfs:
      return "procfs";
    case Source::kSockDiag:
      return "sock_diag";
    case Source::kProcConnector:
      return "proc_connector";
    case Source::kCgroupEvents:
      return "cgroup_events";
  }
  return "unknown";
}

std::string_view event_kind_name(EventKind k) {
  switch (k) {
    case EventKind::kOomKill:
      return "oom_kill";
    case EventKind::kConnectDenied:
      return "connect_denied";
    case EventKind::kBindDenied:
      return "bind_denied";
    case EventKind::kSocketDenied:
      return "socket_denied";
    case EventKind::kExec:
      return "exec";
    case EventKind::kFork:
      return "fork";
    case EventKind::kExit:
      return "exit";
    case EventKind::kLost:
      return "lost";
  }
  return "unknown";
}

int64_t monotonic_ns() {
  timespec ts{};
  (void)::clock_gettime(CLOCK_MONOTONIC, &ts);  // cannot fail for CLOCK_MONOTONIC
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::optional<Event> lost_since(uint64_t total, uint64_t& reported, Source source,
                                std::string detail) {
  if (total <= reported) return std::nullopt;
  Event e;
  e.kind = EventKind::kLost;
  e.source = source;
  e.at_ns = monotonic_ns();
  e.value = total - reported;
  e.detail = std::move(detail);
  reported = total;
  return e;
}

}  // namespace corral::collectors
