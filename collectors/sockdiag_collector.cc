// SockDiagCollector: fd links -> socket inodes -> sock_diag dumps; see the header.
#include "collectors/sockdiag_collector.h"

#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <thread>

#include "collectors/netlink_walk.h"
#include "collectors/parsers.h"
#include "collectors/proc_dir.h"
#include "collectors/target_files.h"
#include "common/signals.h"

namespace corral::collectors {

namespace {

Result<UniqueFd> open_diag() {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!fd) return sys_error("socket(NETLINK_SOCK_DIAG)");
  timeval tv{2, 0};  // a dump answers at once; never hang the event loop on a broken one
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) {
    return sys_error("SO_RCVTIMEO on the sock_diag socket");
  }
  return fd;
}

Result<uint64_t> netns_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return sys_error("cannot stat " + path);
  return static_cast<uint64_t>(st.st_ino);
}

// Sends one dump request (the body after the nlmsghdr) and feeds every answer to f(payload).
template <class F>
Result<void> run_dump(int fd, const void* req, size_t req_len, uint32_t seq, F&& f) {
  alignas(nlmsghdr) char msg[NLMSG_SPACE(sizeof(inet_diag_req_v2))] = {};
  nlmsghdr nh{};
  nh.nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(req_len));
  nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nh.nlmsg_seq = seq;
  std::memcpy(msg, &nh, sizeof nh);
  std::memcpy(msg + NLMSG_HDRLEN, req, req_len);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do {
    sent = ::sendto(fd, msg, nh.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return sys_error("sock_diag: send dump request");
  alignas(nlmsghdr) char buf[32768];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("sock_diag: recv dump");
    }
    if (n == 0) return make_error(Code::kInternal, "sock_diag: the dump ended without NLMSG_DONE");
    bool done = false;
    int refused = 0;
    for_each_nlmsg(buf, static_cast<size_t>(n), [&](const nlmsghdr& h, const char* p, size_t len) {
      if (h.nlmsg_seq != seq || done) return;
      if (h.nlmsg_type == NLMSG_DONE) {
        done = true;
      } else if (h.nlmsg_type == NLMSG_ERROR) {
        nlmsgerr err{};
        if (len >= sizeof err) std::memcpy(&err, p, sizeof err);
        refused = err.error < 0 ? -err.error : EPROTO;
        done = true;
      } else if (h.nlmsg_type == SOCK_DIAG_BY_FAMILY) {
        f(p, len);
      }
    });
    if (refused != 0) return sys_error("sock_diag: dump refused", refused);
    if (done) return {};
  }
}

// Appends the inet sockets of one family and protocol to table.
Result<void> dump_inet(int fd, uint8_t family, uint8_t proto, bool want_info, uint32_t seq,
                       DiagTable& table) {
  inet_diag_req_v2 req{};
  req.sdiag_family = family;
  req.sdiag_protocol = proto;
  req.idiag_states = ~0u;
  if (want_info && proto == IPPROTO_TCP) req.idiag_ext = 1 << (INET_DIAG_INFO - 1);
  return run_dump(fd, &req, sizeof req, seq, [&](const char* p, size_t len) {
    if (len < sizeof(inet_diag_msg)) return;
    inet_diag_msg m;
    std::memcpy(&m, p, sizeof m);
    if (m.idiag_inode == 0) return;  // TIME_WAIT and request sockets: no file, no owner
    DiagSocket s{family, proto == IPPROTO_TCP, 0, 0};
    size_t off = NLMSG_ALIGN(sizeof m);
    while (off + sizeof(rtattr) <= len) {
      rtattr a;
      std::memcpy(&a, p + off, sizeof a);
      if (a.rta_len < sizeof a || off + a.rta_len > len) break;
      size_t payload = a.rta_len - RTA_LENGTH(0);
      if (a.rta_type == INET_DIAG_INFO &&
          payload >= offsetof(tcp_info, tcpi_bytes_received) + sizeof(uint64_t)) {
        tcp_info ti{};
        std::memcpy(&ti, p + off + RTA_LENGTH(0), std::min(payload, sizeof ti));
        s.bytes_acked = ti.tcpi_bytes_acked;
        s.bytes_received = ti.tcpi_bytes_received;
      }
      off += RTA_ALIGN(a.rta_len);
    }
    table.insert_or_assign(m.idiag_inode, s);
  });
}

Result<void> dump_unix(int fd, uint32_t seq, DiagTable& table) {
  unix_diag_req req{};
  req.sdiag_family = AF_UNIX;
  req.udiag_states = ~0u;
  return run_dump(fd, &req, sizeof req, seq, [&](const char* p, size_t len) {
    if (len < sizeof(unix_diag_msg)) return;
    unix_diag_msg m;
    std::memcpy(&m, p, sizeof m);
    table.insert_or_assign(m.udiag_ino, DiagSocket{AF_UNIX, false, 0, 0});
  });
}

// A target's sockets: inode -> the netns of a process holding it, that process and its fd.
struct Held {
  uint64_t netns = 0;
  pid_t pid = 0;
  int fd = -1;
};

// The family of a socket no dump lists (an unbound UDP socket is in no hash table, so neither
// inet_diag nor /proc/net/udp sees it): a copy of the fd through pidfd_getfd (Linux 5.6+, needs
// ptrace rights over the process) and SO_DOMAIN. 0 when that is not possible.
int family_by_fd(pid_t pid, int fd) {
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_getfd)
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) return 0;
  UniqueFd copy(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), fd, 0)));
  if (!copy) return 0;
  int domain = 0;
  socklen_t len = sizeof domain;
  if (::getsockopt(copy.get(), SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) return 0;
  return domain;
#else
  (void)pid;
  (void)fd;
  return 0;
#endif
}

Result<void> collect_sockets(pid_t pid, std::map<uint64_t, Held>& out) {
  std::string proc = "/proc/" + std::to_string(pid);
  auto ns = netns_of(proc + "/ns/net");
  if (!ns) {
    if (vanished(ns.error().errnum)) return {};
    return std::unexpected(ns.error());
  }
  auto listed = for_each_entry(proc + "/fd", [&](std::string_view name, int dirfd) {
    char link[64];
    std::string n(name);
    ssize_t len = ::readlinkat(dirfd, n.c_str(), link, sizeof link);
    if (len <= 0) return;  // closed meanwhile (ENOENT), or not a link we want
    if (auto ino = parsers::socket_inode(std::string_view(link, static_cast<size_t>(len)))) {
      if (auto fd = parsers::u64(name); fd && *fd <= INT32_MAX) {
        out.try_emplace(*ino, Held{*ns, pid, static_cast<int>(*fd)});
      }
    }
  });
  if (!listed) return std::unexpected(listed.error());
  return {};
}

}  // namespace

Result<DiagTable> SockDiagCollector::dump(int diag, bool want_info, bool with_unix) {
  DiagTable table;
  uint32_t seq = 1;
  for (uint8_t family : {uint8_t{AF_INET}, uint8_t{AF_INET6}}) {
    for (uint8_t proto : {uint8_t{IPPROTO_TCP}, uint8_t{IPPROTO_UDP}}) {
      if (auto r = dump_inet(diag, family, proto, want_info, seq++, table); !r) {
        return std::unexpected(r.error());
      }
    }
  }
  if (with_unix) {
    if (auto r = dump_unix(diag, seq, table); !r) return std::unexpected(r.error());
  }
  return table;
}

Result<std::unique_ptr<SockDiagCollector>> SockDiagCollector::create() {
  auto fd = open_diag();
  if (!fd) return std::unexpected(fd.error().wrap("sock_diag collector"));
  auto ns = netns_of("/proc/self/ns/net");
  if (!ns) return std::unexpected(ns.error().wrap("sock_diag collector"));
  if (auto inet = dump(fd->get(), true, false); !inet) {
    return std::unexpected(inet.error().wrap("sock_diag collector: inet_diag"));
  }
  DiagTable probe;
  bool unix_ok = static_cast<bool>(dump_unix(fd->get(), 99, probe));
  return std::unique_ptr<SockDiagCollector>(new SockDiagCollector(std::move(*fd), *ns, unix_ok));
}

Result<int> SockDiagCollector::diag_for(uint64_t ino, pid_t pid) {
  if (ino == own_netns_) return diag_.get();
  if (auto it = other_netns_.find(ino); it != other_netns_.end()) return it->second.get();
  std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
  UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return sys_error("cannot open " + path);
  struct stat st {};
  if (::fstat(ns.get(), &st) != 0) return sys_error("cannot stat " + path);
  if (st.st_ino != ino)
    return make_error(Code::kNotFound,
                      "process " + std::to_string(pid) + " changed network namespace");
  // A thread of our own enters the namespace, opens the socket there and ends, taking the
  // namespace change with it; the socket stays bound to that namespace.
  Result<UniqueFd> made = make_error(Code::kInternal, "not run");
  BlockAllSignals blocked;  // the helper thread starts with every signal blocked
  std::thread([&] {
    if (::setns(ns.get(), CLONE_NEWNET) != 0) {
      made = sys_error("setns into " + path);
      return;
    }
    made = open_diag();
  }).join();
  if (!made) return std::unexpected(made.error());
  int fd = made->get();
  other_netns_.emplace(ino, std::move(*made));
  return fd;
}

Result<void> SockDiagCollector::sample(std::span<const Target* const> targets,
                                       std::span<Sample* const> out, MetricSet which) {
  if (targets.size() != out.size()) {
    return make_error(Code::kInvalidArgument, "sock_diag: targets and samples differ in number");
  }
  bool sockets = which.has(Metric::kSockets);
  bool traffic = which.has(Metric::kTraffic);
  if (!sockets && !traffic) return {};
  std::vector<std::map<uint64_t, Held>> held(targets.size());
  std::map<uint64_t, pid_t> namespaces;  // netns -> a process in it
  for (size_t i = 0; i < targets.size(); ++i) {
    auto pids = target_procs(*targets[i]);
    if (!pids) return std::unexpected(pids.error().wrap("sock_diag: " + targets[i]->name));
    for (pid_t pid : *pids) {
      if (auto r = collect_sockets(pid, held[i]); !r) {
        return std::unexpected(r.error().wrap("sock_diag: " + targets[i]->name));
      }
    }
    for (const auto& [ino, h] : held[i]) namespaces.try_emplace(h.netns, h.pid);
  }
  std::map<uint64_t, DiagTable> tables;
  for (const auto& [ns, pid] : namespaces) {
    auto fd = diag_for(ns, pid);
    if (!fd) return std::unexpected(fd.error().wrap("sock_diag"));
    auto t = dump(*fd, traffic, unix_ok_);
    if (!t) return std::unexpected(t.error().wrap("sock_diag"));
    tables.emplace(ns, std::move(*t));
  }
  std::erase_if(other_netns_, [&](const auto& e) { return !namespaces.contains(e.first); });
  for (size_t i = 0; i < targets.size(); ++i) {
    SocketStats s;
    TrafficStats tr;
    for (const auto& [ino, h] : held[i]) {
      const DiagTable& table = tables[h.netns];
      auto it = table.find(ino);
      DiagSocket d;
      if (it != table.end()) {
        d = it->second;
      } else {
        d.family = family_by_fd(h.pid, h.fd);
        ++by_fd_;
      }
      if (d.family != AF_INET && d.family != AF_INET6 && d.family != AF_UNIX) ++s.other;
      if (d.family == AF_INET) ++s.inet4;
      if (d.family == AF_INET6) ++s.inet6;
      if (d.family == AF_UNIX) ++s.unix_;
      tr.bytes_in += d.bytes_received;
      tr.bytes_out += d.bytes_acked;
    }
    Sample& smp = *out[i];
    if (sockets) {
      smp.sockets = s;
      smp.set_source(Metric::kSockets, Source::kSockDiag);
    }
    if (traffic) {
      smp.traffic = tr;
      smp.set_source(Metric::kTraffic, Source::kSockDiag);
    }
    if (smp.at_ns == 0) smp.at_ns = monotonic_ns();
  }
  return {};
}

std::vector<std::pair<std::string, std::string>> SockDiagCollector::describe() const {
  return {{"sockets", std::string("sock_diag: fd links classified by inet_diag") +
                          (unix_ok_ ? " and unix_diag" : " (no unix_diag: AF_UNIX is other)")},
          {"traffic", "sock_diag: tcp_info bytes_acked/bytes_received of live TCP sockets"},
          {"sock_diag other netns sockets", std::to_string(other_netns_.size())},
          {"sock_diag classified by pidfd_getfd (in no dump)", std::to_string(by_fd_)}};
}

}  // namespace corral::collectors
