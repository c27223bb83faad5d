// The executable behind a control-socket peer, read through a pidfd so that it is the peer's and
// not a process that reused its pid: SO_PEERPIDFD (Linux 6.5+) names the very process that
// connected; older kernels fall back to pidfd_open(SO_PEERCRED's pid), which is racy by the time
// between connect and accept, and say so.
#pragma once

#include <string>

namespace corral::supervisor {

struct PeerIdentity {
  std::string exe;     // "/usr/bin/corralctl", or "(exited)" / "(unknown: why)"
  std::string source;  // "SO_PEERPIDFD" | "pidfd_open"
};

[[nodiscard]] PeerIdentity identify_peer(int socket_fd, int pid);

}  // namespace corral::supervisor
