#include "collectors/telemetry.h"

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

}  // namespace corral::collectors
