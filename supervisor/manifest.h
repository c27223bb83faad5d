// Manifest: one plugin's declaration (docs/reference.md, "Plugin manifests") as a plain struct.
// parse_manifest checks syntax and ranges; load_manifests reads a directory, rejects duplicates
// and reports every problem while keeping the valid manifests.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "sandbox/cgroup.h"
#include "sandbox/seccomp_profile.h"
#include "supervisor/restart_policy.h"

namespace corral::supervisor {

struct PluginLimits {
  std::optional<uint64_t> nofile;
  std::optional<uint64_t> nproc;
  uint64_t core_bytes = 0;  // no core dumps unless asked
  std::optional<uint64_t> fsize_bytes;
  std::optional<uint64_t> as_bytes;
};

struct Manifest {
  std::string name;
  std::string exec;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::string working_dir = "/";
  bool autostart = true;
  RestartSettings restart;
  int stop_signal = 15;  // SIGTERM
  std::chrono::milliseconds stop_timeout{5000};
  PluginLimits limits;
  sandbox::CgroupLimits resources;  // [resources]: enforced through the plugin's own cgroup
  // [sandbox] seccomp: the profile after the manifest's additions and removals; nullopt means
  // seccomp = "none", which a manifest must say in words.
  std::optional<sandbox::SeccompProfile> seccomp;
  uint32_t log_ring_lines = 1000;
  uint64_t log_file_max_bytes = 1 << 20;
  std::string source;  // the manifest file it came from
};

// [A-Za-z0-9][A-Za-z0-9_.-]{0,62}
[[nodiscard]] bool valid_plugin_name(std::string_view name);
[[nodiscard]] std::optional<int> parse_signal_name(std::string_view name);
// "512K", "256M", "2G", "1T" (powers of 1024) or plain digits; nullopt if malformed or overflowing.
[[nodiscard]] std::optional<uint64_t> parse_size(std::string_view s);

[[nodiscard]] Result<Manifest> parse_manifest(std::string_view text, const std::string& source);

// Checks that need the host: the executable exists and is executable, working_dir is a directory.
[[nodiscard]] Result<void> check_manifest_on_host(const Manifest& m);

struct ManifestSet {
  std::vector<Manifest> manifests;    // valid ones, sorted by name
  std::vector<std::string> problems;  // "FILE: key: problem", one per problem
};
// Loads every *.toml in dir (sorted by file name). A duplicate name keeps the first file and
// reports the second. A missing directory is an error; an empty one is not.
[[nodiscard]] Result<ManifestSet> load_manifests(const std::string& dir);

}  // namespace corral::supervisor
