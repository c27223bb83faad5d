#include "sandbox/seccomp_notify.h"

#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace corral::sandbox {

namespace {

struct Sizes {
  size_t notif = sizeof(seccomp_notif);
  size_t resp = sizeof(seccomp_notif_resp);
};

// The kernel's struct sizes may be larger than this build's headers: size buffers by them.
const Sizes& sizes() {
  static const Sizes s = [] {
    Sizes out;
    seccomp_notif_sizes k{};
    if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &k) == 0) {
      out.notif = std::max<size_t>(out.notif, k.seccomp_notif);
      out.resp = std::max<size_t>(out.resp, k.seccomp_notif_resp);
    }
    return out;
  }();
  return s;
}

}  // namespace

bool seccomp_notify_supported() {
  static const bool ok = [] {
    uint32_t action = SECCOMP_RET_USER_NOTIF;
    if (::syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) != 0) return false;
    seccomp_notif_sizes k{};
    return ::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &k) == 0;
  }();
  return ok;
}

std::string SeccompNotification::syscall_name() const {
  char* name = seccomp_syscall_resolve_num_arch(arch, nr);
  std::string out = name != nullptr ? name : "syscall " + std::to_string(nr);
  std::free(name);
  return out;
}

std::string SeccompNotification::describe() const {
  std::string out = syscall_name() + "(";
  for (size_t i = 0; i < args.size(); ++i) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%s0x%llx", i == 0 ? "" : ", ",
                  static_cast<unsigned long long>(args[i]));
    out += buf;
  }
  return out + ")";
}

Result<std::optional<SeccompNotification>> seccomp_receive(int listener) {
  // RECV blocks while nothing is pending, and a listener whose filter has no users left is
  // "readable" (POLLHUP) for ever: look first.
  pollfd p{listener, POLLIN, 0};
  int ready = ::poll(&p, 1, 0);
  if (ready < 0) {
    if (errno == EINTR) return std::optional<SeccompNotification>{};
    return sys_error("poll on the seccomp listener");
  }
  if ((p.revents & POLLIN) == 0) {
    if ((p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) {
      return make_error(Code::kUnavailable, "seccomp listener: every process using it is gone");
    }
    return std::optional<SeccompNotification>{};
  }
  std::vector<unsigned char> buf(sizes().notif, 0);  // must be zeroed before RECV
  if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, buf.data()) != 0) {
    if (errno == EAGAIN || errno == ENOENT || errno == EINTR) {
      return std::optional<SeccompNotification>{};
    }
    return sys_error("SECCOMP_IOCTL_NOTIF_RECV");
  }
  seccomp_notif n{};
  std::memcpy(&n, buf.data(), sizeof n);
  SeccompNotification out;
  out.id = n.id;
  out.pid = static_cast<pid_t>(n.pid);
  out.nr = n.data.nr;
  out.arch = n.data.arch;
  out.ip = n.data.instruction_pointer;
  for (size_t i = 0; i < out.args.size(); ++i) out.args[i] = n.data.args[i];
  return std::optional<SeccompNotification>(out);
}

Result<void> seccomp_respond(int listener, uint64_t id, SeccompReply reply, int errno_value) {
  std::vector<unsigned char> buf(sizes().resp, 0);
  seccomp_notif_resp r{};
  r.id = id;
  if (reply == SeccompReply::kContinue) {
    r.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  } else {
    r.error = -errno_value;
  }
  std::memcpy(buf.data(), &r, sizeof r);
  if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, buf.data()) != 0) {
    if (errno == ENOENT) return {};  // the caller is gone
    return sys_error("SECCOMP_IOCTL_NOTIF_SEND");
  }
  return {};
}

}  // namespace corral::sandbox
