#include "sandbox/netns_pool.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include "common/signals.h"

namespace corral::sandbox {

namespace {

Result<void> loopback_up() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return sys_error("socket in the new network namespace");
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, "lo", 3);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return sys_error("reading lo's flags");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return sys_error("bringing lo up");
  return {};
}

}  // namespace

Result<UniqueFd> NetnsPool::make_one(int home) {
  if (::unshare(CLONE_NEWNET) != 0) return sys_error("unshare(CLONE_NEWNET)");
  auto up = loopback_up();
  UniqueFd ns(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  int open_errno = errno;
  if (::setns(home, CLONE_NEWNET) != 0) {
    // This thread would go on in the sandbox's namespace: nothing it did after could be trusted.
    std::terminate();
  }
  if (!up) return std::unexpected(up.error());
  if (!ns) return sys_error("opening the new network namespace", open_errno);
  return ns;
}

NetnsPool::NetnsPool(size_t depth) : depth_(depth == 0 ? 1 : depth), thread_(start()) {}

std::jthread NetnsPool::start() {
  BlockAllSignals blocked;  // the thread inherits the mask: no process signal lands on it
  return std::jthread([this](std::stop_token st) { run(st); });
}

NetnsPool::~NetnsPool() {
  thread_.request_stop();
  cv_.notify_all();
}

void NetnsPool::run(std::stop_token stop) {
  UniqueFd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  std::optional<Error> failed;
  if (!home) failed = sys_error("opening the supervisor's network namespace").error();
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (failed) {
        broken_ = std::move(failed);
        cv_.notify_all();
        return;
      }
      cv_.wait(lock, stop, [&] { return ready_.size() < depth_; });
      if (stop.stop_requested()) return;
    }
    auto ns = make_one(home.get());
    std::lock_guard lock(mu_);
    if (ns) {
      ready_.push_back(std::move(*ns));
    } else {
      failed = ns.error();
    }
    cv_.notify_all();
  }
}

Result<UniqueFd> NetnsPool::take() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !ready_.empty() || broken_.has_value(); });
  if (!ready_.empty()) {
    UniqueFd fd = std::move(ready_.front());
    ready_.pop_front();
    cv_.notify_all();  // the thread makes the next one
    return fd;
  }
  return std::unexpected(broken_->wrap("making a network namespace"));
}

}  // namespace corral::sandbox
