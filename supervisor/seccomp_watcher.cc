#include "supervisor/seccomp_watcher.h"

#include <spdlog/spdlog.h>

namespace corral::supervisor {

SeccompWatcher::SeccompWatcher(boost::asio::io_context& io, UniqueFd listener, Handler on_violation)
    : stream_(io, listener.release()), on_violation_(std::move(on_violation)) {
  arm();
}

SeccompWatcher::~SeccompWatcher() {
  *alive_ = false;
  boost::system::error_code ec;
  stream_.close(ec);  // the listener goes with it
}

void SeccompWatcher::arm() {
  stream_.async_wait(
      boost::asio::posix::stream_descriptor::wait_read,
      [this, alive = alive_](boost::system::error_code ec) {
        if (!*alive || ec) return;
        int fd = stream_.native_handle();
        auto n = sandbox::seccomp_receive(fd);
        if (!n) {
          // POLLHUP: the filter's last user is gone; nothing more will come.
          spdlog::debug("seccomp listener: {}", n.error().describe());
          return;
        }
        if (*n) {
          Decision d = on_violation_(**n);
          if (!*alive) return;  // the handler ended the run
          if (auto r = sandbox::seccomp_respond(fd, (*n)->id, d.reply, d.errno_value); !r) {
            spdlog::warn("seccomp reply: {}", r.error().describe());
          }
        }
        arm();
      });
}

}  // namespace corral::supervisor
