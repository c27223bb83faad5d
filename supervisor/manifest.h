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

#include "collectors/net_policy.h"
#include "common/error.h"
#include "sandbox/cgroup.h"
#include "sandbox/sandbox_spec.h"
#include "sandbox/seccomp_profile.h"
#include "supervisor/manifest_recovery.h"
#include "supervisor/recovery/recovery_settings.h"
#include "supervisor/restart_policy.h"
#include "supervisor/thresholds.h"

namespace corral::supervisor {

struct PluginLimits {
  std::optional<uint64_t> nofile;
  std::optional<uint64_t> nproc;
  uint64_t core_bytes = 0;  // no core dumps unless asked
  std::optional<uint64_t> fsize_bytes;
  std::optional<uint64_t> as_bytes;
};

// [sandbox] isolation: the namespaces and filesystem (sandbox/sandbox_spec.h); the host id range
// and the state directory come from corrald, not from the manifest.
struct IsolationSettings {
  bool enabled = true;  // isolation = "none" turns it off, and must be spelled out
  uid_t uid = 1000;     // inside the sandbox
  gid_t gid = 1000;
  std::string hostname;  // default: the plugin's name
  bool host_network = false;
  // network = { allow = [...] }: the host's stack, with only these destinations and bind
  // addresses (cgroup BPF enforces it; a host without it refuses to launch the plugin).
  std::optional<collectors::NetPolicy> net_policy;
  std::vector<sandbox::BindMount> binds;  // ro_binds, then binds (writable)
  uint64_t tmp_size = 64ull << 20;
  // /state as a size-capped volume of its own (an ext4 image); nullopt: a plain directory.
  std::optional<uint64_t> state_size;
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
  IsolationSettings isolation;
  ThresholdSettings thresholds;  // [thresholds]: telemetry levels that raise violations
  // [recovery]: what answers each signal; its backoff comes from [restart].
  recovery::RecoverySettings recovery;
  HealthSettings health;  // [health]: readiness, liveness, leak detection
  uint32_t log_ring_lines = 1000;
  uint64_t log_file_max_bytes = 1 << 20;
  std::string source;  // the manifest file it came from
  // A one-shot run (`corralctl run`): no state directory and no log file are kept for it.
  bool ephemeral = false;
};

// [A-Za-z0-9][A-Za-z0-9_.-]{0,62}
[[nodiscard]] bool valid_plugin_name(std::string_view name);
[[nodiscard]] std::optional<int> parse_signal_name(std::string_view name);
// "512K", "256M", "2G", "1T" (powers of 1024) or plain digits; nullopt if malformed or overflowing.
[[nodiscard]] std::optional<uint64_t> parse_size(std::string_view s);

// "SRC" or "SRC:DST", both absolute (a `corralctl run --bind` or a manifest's binds entry).
[[nodiscard]] Result<sandbox::BindMount> parse_bind_spec(std::string_view spec, bool writable);

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
