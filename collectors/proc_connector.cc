// ProcConnector: the proc connector's messages decoded, attributed and counted; see the header.
#include "collectors/proc_connector.h"

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "collectors/netlink_walk.h"
#include "collectors/target_files.h"
#include "common/files.h"

namespace corral::collectors {

namespace {

constexpr size_t kMaxPending = 1 << 16;
constexpr size_t kMaxPidCache = 1 << 17;
constexpr int kRcvBuf = 8 << 20;

std::string strip_slash(std::string s) {
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

Result<void> subscribe(int fd, proc_cn_mcast_op op) {
  alignas(nlmsghdr) char buf[NLMSG_SPACE(sizeof(cn_msg) + sizeof(op))] = {};
  nlmsghdr nh{};
  nh.nlmsg_len = NLMSG_LENGTH(sizeof(cn_msg) + sizeof(op));
  nh.nlmsg_type = NLMSG_DONE;
  nh.nlmsg_pid = 0;
  cn_msg cn{};
  cn.id.idx = CN_IDX_PROC;
  cn.id.val = CN_VAL_PROC;
  cn.len = sizeof(op);
  std::memcpy(buf, &nh, sizeof nh);
  std::memcpy(buf + NLMSG_HDRLEN, &cn, sizeof cn);
  std::memcpy(buf + NLMSG_HDRLEN + sizeof cn, &op, sizeof op);
  ssize_t n;
  do {
    n = ::send(fd, buf, nh.nlmsg_len, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return sys_error("proc connector: send PROC_CN_MCAST_LISTEN");
  return {};
}

// Forks a child that exits at once; true once the socket reports a fork by this process.
bool self_test(int fd) {
  pid_t me = ::getpid();
  pid_t child = ::fork();
  if (child < 0) return false;
  if (child == 0) ::_exit(0);
  int status;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  alignas(nlmsghdr) char buf[16384];
  while (std::chrono::steady_clock::now() < end) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, 50) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) continue;
    bool seen = false;
    for_each_nlmsg(buf, static_cast<size_t>(n), [&](const nlmsghdr&, const char* p, size_t len) {
      if (len < sizeof(cn_msg) + sizeof(proc_event)) return;
      proc_event ev;
      std::memcpy(&ev, p + sizeof(cn_msg), sizeof ev);
      seen =
          seen || (ev.what == proc_event::PROC_EVENT_FORK && ev.event_data.fork.parent_tgid == me &&
                   ev.event_data.fork.child_tgid == child);
    });
    if (seen) return true;
  }
  return false;
}

std::string comm_of(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/comm", 64);
  if (!text) return {};
  if (!text->empty() && text->back() == '\n') text->pop_back();
  return *text;
}

}  // namespace

Result<std::unique_ptr<ProcConnector>> ProcConnector::create() {
  auto mountinfo = read_file("/proc/self/mountinfo");
  if (!mountinfo) return std::unexpected(mountinfo.error().wrap("proc connector"));
  auto mounts = parsers::cgroup_mounts(*mountinfo);
  UniqueFd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR));
  if (!fd) return sys_error("proc connector: socket(NETLINK_CONNECTOR)");
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &kRcvBuf, sizeof kRcvBuf) != 0 &&
      ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &kRcvBuf, sizeof kRcvBuf) != 0) {
    return sys_error("proc connector: SO_RCVBUF");
  }
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = CN_IDX_PROC;
  addr.nl_pid = 0;  // the kernel picks a unique port id
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return sys_error("proc connector: bind to CN_IDX_PROC");
  }
  if (auto r = subscribe(fd.get(), PROC_CN_MCAST_LISTEN); !r) return std::unexpected(r.error());
  if (!self_test(fd.get())) {
    return make_error(Code::kUnavailable,
                      "proc connector: subscribed but no fork event arrived within 1 s (needs "
                      "CAP_NET_ADMIN in the initial user and pid namespace)");
  }
  return std::unique_ptr<ProcConnector>(new ProcConnector(std::move(fd), std::move(mounts)));
}

Result<void> ProcConnector::track(const Target& t) {
  if (tracked_.contains(t.name)) {
    return make_error(Code::kAlreadyExists, "proc connector: " + t.name + " is already tracked");
  }
  std::string dir = strip_slash(!t.v2_dir.empty() && mounts_.unified ? t.v2_dir : t.memory_dir);
  if (dir.empty()) {
    return make_error(Code::kFailedPrecondition,
                      "proc connector: " + t.name + " has neither a cgroup2 nor a memory cgroup");
  }
  pump();  // events from before track() are not the target's
  auto procs = target_procs(t);
  if (!procs) return std::unexpected(procs.error().wrap("proc connector: " + t.name));
  tracked_.emplace(t.name, Tracked{t, {}});
  by_dir_.emplace(dir, t.name);
  for (pid_t p : *procs) pid_cache_.insert_or_assign(p, t.name);
  return {};
}

void ProcConnector::untrack(const Target& t) {
  pump();
  tracked_.erase(t.name);
  std::erase_if(by_dir_, [&](const auto& e) { return e.second == t.name; });
  std::erase_if(pid_cache_, [&](const auto& e) { return e.second == t.name; });
}

ProcConnector::Tracked* ProcConnector::lookup_proc(pid_t pid, bool& gone) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/cgroup", 64 << 10);
  if (!text) {
    gone = true;
    return nullptr;
  }
  gone = false;
  auto cg = parsers::proc_cgroup(*text);
  std::optional<std::string> dir;
  if (cg.unified && mounts_.unified) dir = parsers::cgroup_dir(*mounts_.unified, *cg.unified);
  auto it = dir ? by_dir_.find(strip_slash(*dir)) : by_dir_.end();
  if (it == by_dir_.end()) {
    auto mem = cg.v1.find("memory");
    auto mount = mounts_.v1.find("memory");
    if (mem != cg.v1.end() && mount != mounts_.v1.end()) {
      if (auto d = parsers::cgroup_dir(mount->second, mem->second)) it = by_dir_.find(*d);
    }
  }
  if (it == by_dir_.end()) return nullptr;
  auto t = tracked_.find(it->second);
  return t == tracked_.end() ? nullptr : &t->second;
}

ProcConnector::Tracked* ProcConnector::attribute(pid_t pid, bool& gone) {
  gone = false;
  if (auto c = pid_cache_.find(pid); c != pid_cache_.end()) {
    auto t = tracked_.find(c->second);
    if (t != tracked_.end()) return &t->second;
  }
  return lookup_proc(pid, gone);
}

void ProcConnector::emit(Event e) {
  if (pending_.size() >= kMaxPending) {
    ++pending_dropped_;
    ++lost_;
    return;
  }
  pending_.push_back(std::move(e));
}

void ProcConnector::handle(const void* data, size_t len) {
  if (len < sizeof(cn_msg)) return;
  cn_msg cn;
  std::memcpy(&cn, data, sizeof cn);
  if (cn.id.idx != CN_IDX_PROC || cn.id.val != CN_VAL_PROC) return;
  if (cn.len > len - sizeof cn || cn.len < offsetof(proc_event, event_data)) return;
  proc_event ev{};
  std::memcpy(&ev, static_cast<const char*>(data) + sizeof cn, std::min<size_t>(cn.len, sizeof ev));
  ++messages_;
  Event e;
  e.source = Source::kProcConnector;
  e.at_ns = static_cast<int64_t>(ev.timestamp_ns);
  Tracked* t = nullptr;
  bool gone = false;
  switch (ev.what) {
    case proc_event::PROC_EVENT_FORK: {
      const auto& f = ev.event_data.fork;
      if (f.child_pid != f.child_tgid) return;  // a thread
      // A child starts in its parent's cgroup unless cloned into another (CLONE_INTO_CGROUP):
      // a known parent attributes it; else the child's /proc, else the parent's.
      if (auto c = pid_cache_.find(f.parent_tgid); c != pid_cache_.end()) {
        auto it = tracked_.find(c->second);
        t = it == tracked_.end() ? nullptr : &it->second;
      }
      if (t == nullptr) t = lookup_proc(f.child_tgid, gone);
      if (t == nullptr && gone) t = lookup_proc(f.parent_tgid, gone);
      if (t == nullptr) break;
      if (pid_cache_.size() < kMaxPidCache)
        pid_cache_.insert_or_assign(f.child_tgid, t->target.name);
      ++t->counts.forks;
      e.kind = EventKind::kFork;
      e.pid = f.child_tgid;
      e.value = static_cast<uint64_t>(f.parent_tgid);
      break;
    }
    case proc_event::PROC_EVENT_EXEC: {
      const auto& x = ev.event_data.exec;
      t = attribute(x.process_tgid, gone);
      if (t == nullptr) break;
      ++t->counts.execs;
      e.kind = EventKind::kExec;
      e.pid = x.process_tgid;
      e.detail = comm_of(x.process_tgid);
      break;
    }
    case proc_event::PROC_EVENT_EXIT: {
      const auto& x = ev.event_data.exit;
      if (x.process_pid != x.process_tgid) return;  // a thread
      t = attribute(x.process_tgid, gone);
      if (t == nullptr && gone && x.parent_tgid > 0) t = attribute(x.parent_tgid, gone);
      pid_cache_.erase(x.process_tgid);
      if (t == nullptr) break;
      ++t->counts.exits;
      e.kind = EventKind::kExit;
      e.pid = x.process_tgid;
      e.value = x.exit_code;
      break;
    }
    default:
      return;
  }
  if (t == nullptr) {
    if (gone) ++unattributed_;
    return;
  }
  e.cgroup_id = t->target.cgroup_id;
  e.target = t->target.name;
  emit(std::move(e));
}

void ProcConnector::pump() {
  alignas(nlmsghdr) char buf[65536];
  for (;;) {
    sockaddr_nl from{};
    socklen_t fromlen = sizeof from;
    ssize_t n = ::recvfrom(sock_.get(), buf, sizeof buf, MSG_DONTWAIT,
                           reinterpret_cast<sockaddr*>(&from), &fromlen);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {  // the kernel dropped messages; the socket goes on
        ++lost_;
        Event e;
        e.kind = EventKind::kLost;
        e.source = Source::kProcConnector;
        e.at_ns = monotonic_ns();
        e.value = 1;
        emit(std::move(e));
        continue;
      }
      return;  // EAGAIN: empty
    }
    if (n == 0 || from.nl_pid != 0) continue;  // only the kernel speaks here
    for_each_nlmsg(buf, static_cast<size_t>(n), [&](const nlmsghdr& h, const char* p, size_t len) {
      if (h.nlmsg_type != NLMSG_NOOP && h.nlmsg_type != NLMSG_ERROR) handle(p, len);
    });
  }
}

void ProcConnector::drain_events(std::vector<Event>& out) {
  pump();
  while (!pending_.empty()) {
    out.push_back(std::move(pending_.front()));
    pending_.pop_front();
  }
}

Result<void> ProcConnector::sample(std::span<const Target* const> targets,
                                   std::span<Sample* const> out, MetricSet which) {
  if (targets.size() != out.size()) {
    return make_error(Code::kInvalidArgument, "proc connector: targets and samples differ");
  }
  if (!which.has(Metric::kProcesses)) return {};
  pump();
  for (size_t i = 0; i < targets.size(); ++i) {
    auto it = tracked_.find(targets[i]->name);
    if (it == tracked_.end()) continue;
    auto tasks = target_tasks(it->second.target);
    if (!tasks) return std::unexpected(tasks.error().wrap("proc connector: " + targets[i]->name));
    ProcessStats& p = out[i]->processes;
    p = it->second.counts;
    p.tasks = *tasks;
    out[i]->set_source(Metric::kProcesses, Source::kProcConnector);
    if (out[i]->at_ns == 0) out[i]->at_ns = monotonic_ns();
  }
  return {};
}

std::vector<std::pair<std::string, std::string>> ProcConnector::describe() const {
  return {
      {"processes",
       "proc connector: forks/execs/exits by /proc/<pid>/cgroup at event time; "
       "tasks from the cgroup"},
      {"proc connector messages", std::to_string(messages_)},
      {"proc connector unattributed (process gone before lookup)", std::to_string(unattributed_)},
      {"proc connector overruns (ENOBUFS)", std::to_string(lost_ - pending_dropped_)},
      {"proc connector events dropped (queue full)", std::to_string(pending_dropped_)}};
}

}  // namespace corral::collectors
