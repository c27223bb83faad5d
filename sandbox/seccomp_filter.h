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
  [[nodiscard]] static Result<SeccompFilter> build(const SeccompProfile& profile);

  [[nodiscard]] const std::vector<sock_filter>& program() const { return program_; }
  [[nodiscard]] const SeccompProfile& profile() const { return profile_; }

 private:
  SeccompFilter(SeccompProfile profile, std::vector<sock_filter> program)
      : profile_(std::move(profile)), program_(std::move(program)) {}

  SeccompProfile profile_;
  std::vector<sock_filter> program_;
};

}  // namespace corral::sandbox
