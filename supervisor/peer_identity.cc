#include "supervisor/peer_identity.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/unique_fd.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

namespace corral::supervisor {

PeerIdentity identify_peer(int socket_fd, int pid) {
  PeerIdentity id;
  int raw = -1;
  socklen_t len = sizeof raw;
  UniqueFd pidfd;
  if (::getsockopt(socket_fd, SOL_SOCKET, SO_PEERPIDFD, &raw, &len) == 0 && raw >= 0) {
    pidfd = UniqueFd(raw);
    id.source = "SO_PEERPIDFD";
  } else {
    pidfd = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    id.source = "pidfd_open";
    if (!pidfd) {
      id.exe = errno == ESRCH ? "(exited)"
                              : std::string("(unknown: pidfd_open: ") + std::strerror(errno) + ")";
      return id;
    }
  }
  char buf[4096];
  std::string link = "/proc/" + std::to_string(pid) + "/exe";
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  int read_errno = errno;
  // Alive after the read: the pid still names the pidfd's process, so the link was its own.
  if (::syscall(SYS_pidfd_send_signal, pidfd.get(), 0, nullptr, 0) != 0) {
    id.exe = "(exited)";
    return id;
  }
  if (n < 0) {
    id.exe = std::string("(unknown: ") + std::strerror(read_errno) + ")";
    return id;
  }
  id.exe.assign(buf, static_cast<size_t>(n));
  return id;
}

}  // namespace corral::supervisor
