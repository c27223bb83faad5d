// BpfNetCollector: the loader of bpf/net.bpf.c. Attaches its cgroup programs once to corrald's
// parent cgroup2 directory (links, so BPF_F_ALLOW_MULTI semantics: other programs there keep
// running) and from then on enforces per-plugin network allow-lists (NetPolicy, keyed by the
// plugin's cgroup2 id) and counts sockets and bytes of tracked plugins. Detached when dropped.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/net_policy.h"
#include "collectors/telemetry.h"
#include "common/error.h"

namespace corral::collectors {

struct BpfNetOptions {
  // The event ring buffer: a power of two, at least the page size (tests make it small to
  // provoke losses).
  uint32_t ring_bytes = 256 * 1024;
};

class BpfNetCollector final : public Collector {
 public:
  // Loads and attaches everything, or says why not (with the verifier's words). Without BPF in
  // the build: a kUnimplemented error.
  [[nodiscard]] static Result<std::unique_ptr<BpfNetCollector>> create(
      const std::string& attach_cgroup_dir, const BpfNetOptions& options = {});
  ~BpfNetCollector() override;
  BpfNetCollector(const BpfNetCollector&) = delete;
  BpfNetCollector& operator=(const BpfNetCollector&) = delete;

  [[nodiscard]] std::string_view name() const override { return "bpf-net"; }
  [[nodiscard]] Source source() const override { return Source::kBpf; }
  [[nodiscard]] MetricSet metrics() const override { return {Metric::kSockets, Metric::kTraffic}; }
  [[nodiscard]] Result<void> track(const Target& t) override;
  void untrack(const Target& t) override;
  // SocketStats: inet4/inet6 live and `created` count TCP/UDP/raw inet sockets (cgroup/sock_create
  // and sock_release); unix_ and other (netlink) are the live sockets in the collector's network
  // namespace, walked at sample time. connects_denied counts connect and sendto refusals.
  [[nodiscard]] Result<void> sample(std::span<const Target* const> targets,
                                    std::span<Sample* const> out, MetricSet which) override;
  [[nodiscard]] int event_fd() const override;
  void drain_events(std::vector<Event>& out) override;
  [[nodiscard]] uint64_t lost_events() const override;
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> describe() const override;

  // Polices the cgroup (any cgroup2 id below the attach directory; tracked or not) from now on.
  [[nodiscard]] Result<void> set_policy(uint64_t cgroup_id, const NetPolicy& policy);
  // Back to unpoliced; no error when it was not policed.
  [[nodiscard]] Result<void> clear_policy(uint64_t cgroup_id);
  // Whether socket families other than inet/unix are refused to policed cgroups (needs the
  // kernel's BPF-LSM: lsm_cgroup/socket_create); raw/ICMP/SCTP inet sockets always are.
  [[nodiscard]] bool families_enforced() const;

  struct Impl;

 private:
  explicit BpfNetCollector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace corral::collectors
