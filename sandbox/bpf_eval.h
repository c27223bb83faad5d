// A classic-BPF interpreter for seccomp programs: runs a filter against one seccomp_data and
// returns the action it decides. Lets tests check a profile without installing it (no privileges,
// no risk to the test process). Rejects malformed programs instead of guessing.
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cstdint>
#include <vector>

#include "common/error.h"

namespace corral::sandbox {

[[nodiscard]] Result<uint32_t> bpf_evaluate(const std::vector<sock_filter>& program,
                                            const seccomp_data& data);

}  // namespace corral::sandbox
