// Cgroup: one plugin's control group, whatever the host's hierarchy; CgroupBackend creates them.
// A Cgroup is RAII: dropping it kills every process in it, waits for them to leave and removes
// its directories, so nothing is left behind even after a failed launch. Limits are plain data;
// a limit the host cannot enforce is an error at create(), never silently ignored.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "sandbox/cgroup_layout.h"

namespace corral::sandbox {

struct CpuMax {
  uint64_t quota_us = 0;
  uint64_t period_us = 100000;
};

struct CgroupLimits {
  std::optional<uint64_t> memory_max;   // bytes; the OOM killer acts inside the group above it
  std::optional<uint64_t> memory_high;  // bytes; reclaim pressure (v1: soft limit)
  std::optional<uint64_t> swap_max;     // bytes of swap on top of memory_max
  std::optional<CpuMax> cpu_max;        // bandwidth: quota per period
  std::optional<uint32_t> cpu_weight;   // 1..10000, default 100 (v1: cpu.shares)
  std::optional<uint64_t> pids_max;     // tasks, threads included
  std::optional<uint32_t> io_weight;    // 1..10000 (v2 only)
};

class Cgroup {
 public:
  virtual ~Cgroup() = default;
  [[nodiscard]] virtual const std::string& name() const = 0;
  // Moves a process (and its future children) into every hierarchy of this cgroup.
  [[nodiscard]] virtual Result<void> add(pid_t pid) = 0;
  [[nodiscard]] virtual Result<std::vector<pid_t>> pids() const = 0;
  [[nodiscard]] virtual Result<void> freeze(bool frozen) = 0;
  // SIGKILL to every process in the group (cgroup.kill where the kernel has it).
  [[nodiscard]] virtual Result<void> kill() = 0;
  // kill(), wait up to `wait` for the group to empty, remove every directory. Idempotent.
  [[nodiscard]] virtual Result<void> remove(std::chrono::milliseconds wait) = 0;
  // The cgroup2 node: an O_DIRECTORY fd (for clone3's CLONE_INTO_CGROUP) and its id (the inode
  // number, what bpf_get_current_cgroup_id() returns). -1 / 0 when the host has no cgroup2.
  [[nodiscard]] virtual int v2_fd() const = 0;
  [[nodiscard]] virtual uint64_t v2_id() const = 0;
  // True when the cgroup2 node is all there is (pure v2): a child cloned into it with
  // CLONE_INTO_CGROUP is fully placed and needs no add().
  [[nodiscard]] virtual bool v2_only() const = 0;
  // Files that a process moves itself in with by writing "0" (v1 `tasks`, one per hierarchy;
  // none when CLONE_INTO_CGROUP places it). The launcher opens them and the child writes: the
  // kernel checks the opener's credentials, and a thread moving itself skips the global
  // threadgroup lock that moving another pid takes (its RCU grace period cost ~1.5 ms at p50 and
  // ~10 ms at p90 per launch on this VM).
  [[nodiscard]] virtual std::vector<std::string> self_join_files() const = 0;
  // What CgroupBackend::create_deferred left for later: the remaining directories and the
  // limits. Idempotent; after a failure the cgroup is incomplete and should be removed.
  [[nodiscard]] virtual Result<void> finish() = 0;
  [[nodiscard]] virtual bool finished() const = 0;
  // The directory holding a controller's files ("memory", "pids", ...; "" for the v2 node).
  [[nodiscard]] virtual std::string dir(std::string_view controller) const = 0;
};

// A cgroup found under a backend's parent when it was claimed: a sandbox of a corrald that died.
struct StaleCgroup {
  std::string name;
  size_t processes = 0;  // killed
};

class CgroupBackend {
 public:
  virtual ~CgroupBackend() = default;
  // Makes the parent this corrald's alone (an exclusive lock, held until the backend goes;
  // kAlreadyExists if another corrald holds it) and reaps what a previous one left under it:
  // every cgroup there is killed and removed. Call once, before any plugin starts.
  // `keep`: the cgroups of runs being adopted (left alone).
  [[nodiscard]] virtual Result<std::vector<StaleCgroup>> claim(
      const std::vector<std::string>& keep = {}) = 0;
  // The existing cgroup `name` (a run a previous corrald launched and this one adopts), owned
  // from now on: removed, with whatever is in it, when the returned object goes.
  [[nodiscard]] virtual Result<std::unique_ptr<Cgroup>> adopt(const std::string& name) = 0;
  [[nodiscard]] virtual std::string_view kind() const = 0;
  // Only what a child must be cloned into (the cgroup2 node; nothing on a pure v1 host), so that
  // a launcher can finish() the rest while the child sets itself up. Limits are checked here.
  [[nodiscard]] virtual Result<std::unique_ptr<Cgroup>> create_deferred(
      const std::string& name, const CgroupLimits& limits) = 0;
  // Everything at once.
  [[nodiscard]] Result<std::unique_ptr<Cgroup>> create(const std::string& name,
                                                       const CgroupLimits& limits) {
    auto cg = create_deferred(name, limits);
    if (!cg) return cg;
    if (auto done = (*cg)->finish(); !done) return std::unexpected(done.error());
    return cg;
  }
  // The cgroup2 directory every plugin's node is created under ("" when the host has no
  // cgroup2): cgroup BPF programs attached there act for every plugin. Created if missing.
  [[nodiscard]] virtual Result<std::string> v2_parent() = 0;
  // Removes the backend's parent directories once no cgroup is left under them.
  [[nodiscard]] virtual Result<void> remove_parent() = 0;
};

// v2 on a unified host: plugin cgroups under `parent` (an absolute directory in the cgroup2
// tree, created if missing, with the controllers the limits need enabled down to it).
// v1/hybrid: plugin cgroups under <controller mount>/<parent> for memory, cpu, cpuacct, pids and
// freezer, plus <cgroup2 mount>/<parent> nodes on hybrid hosts (for BPF attribution and kill).
// `parent` for v1 is relative to each hierarchy's root.
[[nodiscard]] Result<std::unique_ptr<CgroupBackend>> make_v2_backend(std::string parent);
[[nodiscard]] Result<std::unique_ptr<CgroupBackend>> make_v1_backend(const CgroupLayout& layout,
                                                                     std::string parent);

// Waits until `cg` has no processes; kCgroupBusy-style error naming the survivors otherwise.
[[nodiscard]] Result<void> wait_empty(const Cgroup& cg, std::chrono::milliseconds wait);
// Parses a cgroup.procs file.
[[nodiscard]] std::vector<pid_t> parse_pids(std::string_view text);

}  // namespace corral::sandbox
