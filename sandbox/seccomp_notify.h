// Seccomp user notification, the supervisor's side: a filter built with via_notify hands every
// call its profile denies to corrald (SECCOMP_RET_USER_NOTIF) instead of deciding in the kernel;
// corrald receives it here, names the call and its arguments, and answers by the profile's
// action. If nobody listens any more, the kernel fails such calls with ENOSYS (never allows them).
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "common/error.h"

namespace corral::sandbox {

// The descriptor number the launched program's report socket has while the filter is installed:
// a notify filter allows sendmsg on it (and only it) so the listener can be handed over.
inline constexpr int kSeccompHandoffFd = 4;  // above kNotifyFd (launcher.h)

// SECCOMP_RET_USER_NOTIF and the CONTINUE reply (Linux 5.5+).
[[nodiscard]] bool seccomp_notify_supported();

struct SeccompNotification {
  uint64_t id = 0;
  pid_t pid = 0;  // in corrald's pid namespace
  int nr = 0;
  uint32_t arch = 0;
  uint64_t ip = 0;
  std::array<uint64_t, 6> args{};
  // "keyctl(0x1, 0x55d0c8a4b004, 0x0, 0x0, 0x0, 0x0)"
  [[nodiscard]] std::string describe() const;
  [[nodiscard]] std::string syscall_name() const;
};

// One pending notification, or nullopt when there is none (never blocks; a caller that died
// meanwhile leaves none). kUnavailable once every process under the filter is gone.
[[nodiscard]] Result<std::optional<SeccompNotification>> seccomp_receive(int listener);

enum class SeccompReply { kErrno, kContinue };
// Answers one notification: fail it with errno_value, or let it run. A caller that died or was
// killed meanwhile (ENOENT) is not an error.
[[nodiscard]] Result<void> seccomp_respond(int listener, uint64_t id, SeccompReply reply,
                                           int errno_value);

}  // namespace corral::sandbox
