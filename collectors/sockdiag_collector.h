// SockDiagCollector: live sockets by family (kSockets) and TCP bytes (kTraffic) of each target,
// without BPF. Per sample: the socket inodes open in the target's processes (/proc/<pid>/fd
// links "socket:[INODE]", deduplicated per target), classified by NETLINK_SOCK_DIAG dumps of the
// processes' network namespaces (inet_diag TCP+UDP for AF_INET/AF_INET6, unix_diag for AF_UNIX).
// A socket in no dump (an unbound UDP socket, a raw one) gets its family from SO_DOMAIN on a
// pidfd_getfd copy; whatever is not inet/inet6/unix is "other". A diag socket for another netns is
// made by a short-lived thread that setns()es into it, so no thread of the caller changes
// namespace. kTraffic sums tcp_info bytes_received (in) and bytes_acked (out) of the target's live
// TCP sockets (the kernel counts the SYN and FIN there: +1 or +2 bytes); bytes of closed
// sockets, and all UDP bytes, are lost in this fallback. The counters
// created/connects/accepts/tcp_state_changes stay 0 (a BPF collector fills them).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>

#include "collectors/telemetry.h"
#include "common/unique_fd.h"

namespace corral::collectors {

// What a dump says of one socket.
struct DiagSocket {
  int family = 0;  // AF_INET, AF_INET6, AF_UNIX
  bool tcp = false;
  uint64_t bytes_acked = 0;
  uint64_t bytes_received = 0;
};
using DiagTable = std::unordered_map<uint64_t, DiagSocket>;  // by inode

class SockDiagCollector final : public Collector {
 public:
  // Fails when NETLINK_SOCK_DIAG or its inet_diag dump is unavailable.
  [[nodiscard]] static Result<std::unique_ptr<SockDiagCollector>> create();

  [[nodiscard]] std::string_view name() const override { return "sock-diag"; }
  [[nodiscard]] Source source() const override { return Source::kSockDiag; }
  [[nodiscard]] MetricSet metrics() const override { return {Metric::kSockets, Metric::kTraffic}; }
  [[nodiscard]] Result<void> sample(std::span<const Target* const> targets,
                                    std::span<Sample* const> out, MetricSet which) override;
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> describe() const override;

  // Every TCP/UDP (v4, v6) and unix socket of the netns `diag` was opened in.
  [[nodiscard]] static Result<DiagTable> dump(int diag, bool want_info, bool with_unix);

 private:
  SockDiagCollector(UniqueFd diag, uint64_t netns, bool unix_ok)
      : diag_(std::move(diag)), own_netns_(netns), unix_ok_(unix_ok) {}
  // The diag socket for network namespace `ino`, which `pid` is in.
  Result<int> diag_for(uint64_t ino, pid_t pid);

  UniqueFd diag_;
  uint64_t own_netns_;
  bool unix_ok_;
  std::map<uint64_t, UniqueFd> other_netns_;  // netns inode -> diag socket made inside it
  uint64_t by_fd_ = 0;                        // sockets classified by pidfd_getfd
};

}  // namespace corral::collectors
