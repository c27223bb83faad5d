// SeccompFilter: a SeccompProfile compiled once (libseccomp) into a classic-BPF program, kept as
// plain instructions so every plugin using the profile installs the same bytes without
// recompiling, and so tests can evaluate it (bpf_eval.h) without installing it.
#pragma once

#include <linux/filter.h>

#include <vector>

#include "common/error.h"
#include "sandbox/seccomp_profile.h"

namespace corral::sandbox {

class SeccompFilter {
 public:
  // via_notify: calls the profile denies go to corrald (SECCOMP_RET_USER_NOTIF), which applies
  // the profile's action itself (seccomp_notify.h); sendmsg on kSeccompHandoffFd is allowed so
  // the launcher can pass the listener out before exec.
  [[nodiscard]] static Result<SeccompFilter> build(const SeccompProfile& profile,
                                                   bool via_notify = false);

  [[nodiscard]] const std::vector<sock_filter>& program() const { return program_; }
  [[nodiscard]] const SeccompProfile& profile() const { return profile_; }
  [[nodiscard]] bool via_notify() const { return via_notify_; }

 private:
  SeccompFilter(SeccompProfile profile, std::vector<sock_filter> program, bool via_notify)
      : profile_(std::move(profile)), program_(std::move(program)), via_notify_(via_notify) {}

  SeccompProfile profile_;
  std::vector<sock_filter> program_;
  bool via_notify_ = false;
};

}  // namespace corral::sandbox
