// SeccompWatcher: one plugin run's seccomp listener on the event loop. Every referred call is
// received, handed to `on_violation` (which names it, records it and decides), and answered with
// the reply it returns. Destroying the watcher closes the listener (later denied calls then fail
// with ENOSYS in the kernel).
#pragma once

#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "common/unique_fd.h"
#include "sandbox/seccomp_notify.h"

namespace corral::supervisor {

class SeccompWatcher {
 public:
  struct Decision {
    sandbox::SeccompReply reply = sandbox::SeccompReply::kErrno;
    int errno_value = 1;  // EPERM
  };
  using Handler = std::function<Decision(const sandbox::SeccompNotification&)>;

  SeccompWatcher(boost::asio::io_context& io, UniqueFd listener, Handler on_violation);
  ~SeccompWatcher();
  SeccompWatcher(const SeccompWatcher&) = delete;
  SeccompWatcher& operator=(const SeccompWatcher&) = delete;

 private:
  void arm();

  boost::asio::posix::stream_descriptor stream_;
  Handler on_violation_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace corral::supervisor
