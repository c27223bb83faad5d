// Reading a Target's cgroup files for the fallback collectors: which directory holds what on
// pure v2, hybrid and v1 hosts, the processes and threads in it, and optional files (ENOENT is
// "absent", not an error). Errors name the file.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "collectors/parsers.h"
#include "collectors/telemetry.h"
#include "common/error.h"

namespace corral::collectors {

// The file's text, nullopt when it does not exist (an old kernel, a controller not enabled).
[[nodiscard]] Result<std::optional<std::string>> read_optional(const std::string& path);
// A file that must exist, parsed as key-value lines or as one number.
[[nodiscard]] Result<parsers::KeyValues> read_key_values(const std::string& path);
[[nodiscard]] Result<uint64_t> read_u64(const std::string& path);

// The directory whose cgroup.procs lists the target's processes: the cgroup2 node when it has
// one, else the first v1 hierarchy; "" when the target names none.
[[nodiscard]] std::string procs_dir(const Target& t);
// Processes (thread-group leaders) of the target.
[[nodiscard]] Result<std::vector<pid_t>> target_procs(const Target& t);
// Live tasks, threads included: pids.current where the pids controller is, else the entries of
// cgroup.threads (cgroup2 node) or tasks (v1).
[[nodiscard]] Result<uint64_t> target_tasks(const Target& t);

}  // namespace corral::collectors
