// BpfNetCollector: opens, loads and attaches the net skeleton (lsm_cgroup/socket_create only
// where the kernel takes it), and reads its maps: counters in one batch per sample, live
// unix/netlink sockets by running the iterators, denials from the ring buffer.
#include "collectors/bpf_net_collector.h"

#if CORRAL_HAVE_BPF

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <unordered_map>

#include "collectors/bpf_net_abi.h"
#include "collectors/bpf_support.h"
#include "common/unique_fd.h"
// The generated skeleton is C written for C compilers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wcast-align"
#include "net.skel.h"
#pragma GCC diagnostic pop

namespace corral::collectors {

namespace {

struct LinkDeleter {
  void operator()(bpf_link* l) const { bpf_link__destroy(l); }
};
using Link = std::unique_ptr<bpf_link, LinkDeleter>;

bool is_iter(const bpf_program* p) {
  return std::string_view(bpf_program__section_name(p)).starts_with("iter/");
}

// Opens the skeleton and loads it, the LSM program included or not.
Result<bpf::Skeleton<net_bpf>> open_and_load(const BpfNetOptions& o, bool with_lsm) {
  bpf::LibbpfLog log;
  bpf::Skeleton<net_bpf> skel(net_bpf::open());
  if (!skel) return std::unexpected(bpf::libbpf_error("opening the net BPF object", errno, &log));
  if (int err = bpf_map__set_max_entries(skel->maps.events, o.ring_bytes); err != 0) {
    return std::unexpected(bpf::libbpf_error(
        "sizing the net ring buffer to " + std::to_string(o.ring_bytes), err, &log));
  }
  if (int err = bpf_program__set_autoload(skel->progs.net_lsm_socket_create, with_lsm); err != 0) {
    return std::unexpected(bpf::libbpf_error("configuring lsm_cgroup/socket_create", err, &log));
  }
  if (int err = net_bpf::load(skel.get()); err != 0) {
    return std::unexpected(bpf::libbpf_error(
        with_lsm ? "loading the net BPF programs with lsm_cgroup" : "loading the net BPF programs",
        err, &log));
  }
  return skel;
}

}  // namespace

struct BpfNetCollector::Impl {
  bpf::Skeleton<net_bpf> skel;  // first: destroyed last
  std::unique_ptr<bpf::RingBuffer> ring;
  std::vector<std::pair<std::string, Link>> links;  // section name, link
  Link iter_unix, iter_netlink;
  UniqueFd stats;  // BPF_ENABLE_STATS while open
  std::string stats_error;
  std::string lsm_error;  // why lsm_cgroup/socket_create is not loaded ("" when it is)
  std::string lsm_log;    // and libbpf's words about it
  std::string drain_error;
  std::string attach_dir;
  std::vector<Event>* sink = nullptr;
  uint64_t lost_reported = 0;
  size_t ncpus = 1;

  [[nodiscard]] int map_fd(bpf_map* m) const { return bpf_map__fd(m); }
  Result<void> read_counters(std::span<const Target* const> targets,
                             std::unordered_map<uint64_t, net_counters>& out) const;
  Result<void> walk_live(std::span<const Target* const> targets,
                         std::unordered_map<uint64_t, net_iter_live>& out) const;
  void on_record(std::span<const std::byte> record);
};

namespace {

void add_into(net_counters& sum, const net_counters& cpu) {
  sum.inet4_live += cpu.inet4_live;
  sum.inet6_live += cpu.inet6_live;
  sum.created += cpu.created;
  sum.connects += cpu.connects;
  sum.connects_denied += cpu.connects_denied;
  sum.binds_denied += cpu.binds_denied;
  sum.sockets_denied += cpu.sockets_denied;
  sum.accepts += cpu.accepts;
  sum.tcp_state_changes += cpu.tcp_state_changes;
  sum.bytes_in += cpu.bytes_in;
  sum.bytes_out += cpu.bytes_out;
}

net_counters sum_cpus(const net_counters* per_cpu, size_t ncpus) {
  net_counters s{};
  for (size_t c = 0; c < ncpus; ++c) add_into(s, per_cpu[c]);
  return s;
}

uint64_t live(uint64_t wrapped_sum) {
  auto v = static_cast<int64_t>(wrapped_sum);  // +1/-1 on different CPUs, summed mod 2^64
  return v < 0 ? 0 : static_cast<uint64_t>(v);
}

}  // namespace

// One bpf_map_lookup_batch pass over every tracked cgroup; per-key lookups where the kernel has
// no batch for per-CPU hashes.
Result<void> BpfNetCollector::Impl::read_counters(
    std::span<const Target* const> targets, std::unordered_map<uint64_t, net_counters>& out) const {
  int fd = map_fd(skel->maps.counters);
  constexpr uint32_t kChunk = 256;
  std::vector<uint64_t> keys(kChunk);
  std::vector<net_counters> values(kChunk * ncpus);
  uint64_t cursor = 0;
  bool first = true;
  for (;;) {
    uint32_t count = kChunk;
    int err = bpf_map_lookup_batch(fd, first ? nullptr : &cursor, &cursor, keys.data(),
                                   values.data(), &count, nullptr);
    if (err != 0 && err != -ENOENT) {
      if (!first) return sys_error("bpf(BPF_MAP_LOOKUP_BATCH) of net counters", -err);
      break;  // no batch support: fall back below
    }
    for (uint32_t i = 0; i < count; ++i) out[keys[i]] = sum_cpus(&values[i * ncpus], ncpus);
    if (err == -ENOENT) return {};
    first = false;
  }
  for (const Target* t : targets) {
    if (int err = bpf_map_lookup_elem(fd, &t->cgroup_id, values.data()); err != 0) {
      if (err == -ENOENT) continue;
      return sys_error("bpf(BPF_MAP_LOOKUP_ELEM) of net counters of '" + t->name + "'", -err);
    }
    out[t->cgroup_id] = sum_cpus(values.data(), ncpus);
  }
  return {};
}

// Zeroes the targets' entries, runs both iterators once, reads the entries back.
Result<void> BpfNetCollector::Impl::walk_live(
    std::span<const Target* const> targets,
    std::unordered_map<uint64_t, net_iter_live>& out) const {
  int fd = map_fd(skel->maps.iter_live);
  const net_iter_live zero{};
  for (const Target* t : targets) {
    if (int err = bpf_map_update_elem(fd, &t->cgroup_id, &zero, BPF_EXIST);
        err != 0 && err != -ENOENT) {
      return sys_error("resetting live socket counts of '" + t->name + "'", -err);
    }
  }
  for (const Link* l : {&iter_unix, &iter_netlink}) {
    UniqueFd it(bpf_iter_create(bpf_link__fd(l->get())));
    if (!it) return sys_error("bpf(BPF_ITER_CREATE) for live sockets");
    char buf[256];
    for (;;) {
      ssize_t n = ::read(it.get(), buf, sizeof buf);
      if (n == 0) break;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return sys_error("running the live socket iterator");
    }
  }
  for (const Target* t : targets) {
    net_iter_live v{};
    if (bpf_map_lookup_elem(fd, &t->cgroup_id, &v) == 0) out[t->cgroup_id] = v;
  }
  return {};
}

void BpfNetCollector::Impl::on_record(std::span<const std::byte> record) {
  if (sink == nullptr) return;
  if (auto e = decode_net_event(record)) sink->push_back(std::move(*e));
}

BpfNetCollector::BpfNetCollector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BpfNetCollector::~BpfNetCollector() = default;

Result<std::unique_ptr<BpfNetCollector>> BpfNetCollector::create(const std::string& dir,
                                                                 const BpfNetOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->attach_dir = dir;
  int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0) return sys_error("counting possible CPUs", -ncpus);
  impl->ncpus = static_cast<size_t>(ncpus);

  auto skel = open_and_load(options, true);
  if (!skel) {
    impl->lsm_error = std::string("lsm_cgroup/socket_create does not load: ") +
                      std::strerror(skel.error().errnum);
    impl->lsm_log = skel.error().describe();
    skel = open_and_load(options, false);
    if (!skel) return std::unexpected(skel.error());
  }
  impl->skel = std::move(*skel);

  UniqueFd cg(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cg) return sys_error("opening cgroup2 directory " + dir);
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, impl->skel->obj) {
    if (!bpf_program__autoload(prog) || is_iter(prog)) continue;
    bpf::LibbpfLog log;
    Link link(bpf_program__attach_cgroup(prog, cg.get()));
    std::string section = bpf_program__section_name(prog);
    if (!link) {
      return std::unexpected(bpf::libbpf_error("attaching " + section + " to " + dir, errno, &log));
    }
    impl->links.emplace_back(section, std::move(link));
  }
  for (auto [p, out] : {std::pair{impl->skel->progs.net_iter_unix, &impl->iter_unix},
                        std::pair{impl->skel->progs.net_iter_netlink, &impl->iter_netlink}}) {
    bpf::LibbpfLog log;
    out->reset(bpf_program__attach_iter(p, nullptr));
    if (!*out) {
      return std::unexpected(
          bpf::libbpf_error(std::string("attaching ") + bpf_program__section_name(p), errno, &log));
    }
  }
  if (auto stats = bpf::enable_run_time_stats()) {
    impl->stats = std::move(*stats);
  } else {
    impl->stats_error = stats.error().describe();
  }
  Impl* raw = impl.get();
  auto ring = bpf::RingBuffer::create(bpf_map__fd(impl->skel->maps.events),
                                      [raw](std::span<const std::byte> r) { raw->on_record(r); });
  if (!ring) return std::unexpected(ring.error().wrap("net events"));
  impl->ring = std::move(*ring);
  return std::unique_ptr<BpfNetCollector>(new BpfNetCollector(std::move(impl)));
}

Result<void> BpfNetCollector::track(const Target& t) {
  if (t.cgroup_id == 0) {
    return make_error(Code::kFailedPrecondition, "target '" + t.name + "' has no cgroup2 node");
  }
  std::vector<net_counters> zero(impl_->ncpus);
  int err = bpf_map_update_elem(impl_->map_fd(impl_->skel->maps.counters), &t.cgroup_id,
                                zero.data(), BPF_NOEXIST);
  if (err != 0 && err != -EEXIST) return sys_error("tracking '" + t.name + "' (counters)", -err);
  const net_iter_live none{};
  err = bpf_map_update_elem(impl_->map_fd(impl_->skel->maps.iter_live), &t.cgroup_id, &none,
                            BPF_NOEXIST);
  if (err != 0 && err != -EEXIST) return sys_error("tracking '" + t.name + "' (live)", -err);
  return {};
}

void BpfNetCollector::untrack(const Target& t) {
  // ENOENT (never tracked) is the only expected failure, and there is nothing to undo then.
  (void)bpf_map_delete_elem(impl_->map_fd(impl_->skel->maps.counters), &t.cgroup_id);
  (void)bpf_map_delete_elem(impl_->map_fd(impl_->skel->maps.iter_live), &t.cgroup_id);
}

Result<void> BpfNetCollector::sample(std::span<const Target* const> targets,
                                     std::span<Sample* const> out, MetricSet which) {
  if (targets.size() != out.size()) {
    return make_error(Code::kInvalidArgument, "bpf-net: targets and samples differ in number");
  }
  std::unordered_map<uint64_t, net_counters> counters;
  if (auto r = impl_->read_counters(targets, counters); !r) return r;
  std::unordered_map<uint64_t, net_iter_live> live_socks;
  if (which.has(Metric::kSockets)) {
    if (auto r = impl_->walk_live(targets, live_socks); !r) return r;
  }
  for (size_t i = 0; i < targets.size(); ++i) {
    auto c = counters.find(targets[i]->cgroup_id);
    if (c == counters.end()) {
      return make_error(Code::kFailedPrecondition,
                        "bpf-net: target '" + targets[i]->name + "' is not tracked");
    }
    const net_counters& n = c->second;
    Sample& s = *out[i];
    if (which.has(Metric::kSockets)) {
      const net_iter_live l = live_socks[targets[i]->cgroup_id];
      s.sockets = SocketStats{live(n.inet4_live), live(n.inet6_live), l.unix_,
                              l.netlink,          n.created,          n.connects,
                              n.connects_denied,  n.accepts,          n.tcp_state_changes};
      s.set_source(Metric::kSockets, Source::kBpf);
    }
    if (which.has(Metric::kTraffic)) {
      s.traffic = TrafficStats{n.bytes_in, n.bytes_out};
      s.set_source(Metric::kTraffic, Source::kBpf);
    }
  }
  return {};
}

int BpfNetCollector::event_fd() const { return impl_->ring->fd(); }

void BpfNetCollector::drain_events(std::vector<Event>& out) {
  impl_->sink = &out;
  auto n = impl_->ring->drain();
  impl_->sink = nullptr;
  if (!n) impl_->drain_error = n.error().describe();
  if (auto e = lost_since(lost_events(), impl_->lost_reported, Source::kBpf, "ring buffer full")) {
    out.push_back(std::move(*e));
  }
}

uint64_t BpfNetCollector::lost_events() const {
  return __atomic_load_n(&impl_->skel->bss->lost_events, __ATOMIC_RELAXED);
}

Result<void> BpfNetCollector::set_policy(uint64_t cgroup_id, const NetPolicy& policy) {
  if (auto v = validate_net_policy(policy); !v) return v;
  const net_policy k = to_kernel_policy(policy);
  if (int err =
          bpf_map_update_elem(impl_->map_fd(impl_->skel->maps.policies), &cgroup_id, &k, BPF_ANY);
      err != 0) {
    return sys_error("setting the network policy of cgroup " + std::to_string(cgroup_id), -err);
  }
  return {};
}

Result<void> BpfNetCollector::clear_policy(uint64_t cgroup_id) {
  int err = bpf_map_delete_elem(impl_->map_fd(impl_->skel->maps.policies), &cgroup_id);
  if (err != 0 && err != -ENOENT) {
    return sys_error("clearing the network policy of cgroup " + std::to_string(cgroup_id), -err);
  }
  return {};
}

bool BpfNetCollector::families_enforced() const { return impl_->lsm_error.empty(); }

std::vector<std::pair<std::string, std::string>> BpfNetCollector::describe() const {
  std::vector<std::pair<std::string, std::string>> d;
  d.emplace_back("sockets",
                 "cgroup/sock_create + cgroup/sock_release (inet), sockops (accepts, "
                 "TCP states), iter/unix + iter/netlink (live, this netns)");
  d.emplace_back("traffic", "cgroup_skb/ingress + cgroup_skb/egress");
  d.emplace_back("policy",
                 "cgroup/connect4,connect6,sendmsg4,sendmsg6,bind4,bind6 on " + impl_->attach_dir);
  d.emplace_back("policy families", families_enforced()
                                        ? std::string("lsm_cgroup/socket_create")
                                        : "not enforced beyond inet (" + impl_->lsm_error + ")");
  if (!impl_->lsm_log.empty()) d.emplace_back("lsm_cgroup load", impl_->lsm_log);
  d.emplace_back("lost_events", std::to_string(lost_events()));
  if (!impl_->drain_error.empty()) d.emplace_back("last drain error", impl_->drain_error);
  if (!impl_->stats_error.empty()) d.emplace_back("run_time_ns", impl_->stats_error);
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, impl_->skel->obj) {
    if (!bpf_program__autoload(prog)) continue;
    std::string section = bpf_program__section_name(prog);
    auto st = bpf::prog_stats(bpf_program__fd(prog));
    if (!st) {
      d.emplace_back("run_time_ns " + section, st.error().describe());
      continue;
    }
    d.emplace_back("run_time_ns " + section, std::to_string(st->run_time_ns));
    d.emplace_back("run_cnt " + section, std::to_string(st->run_cnt));
  }
  return d;
}

}  // namespace corral::collectors

#else  // !CORRAL_HAVE_BPF

namespace corral::collectors {

struct BpfNetCollector::Impl {};

BpfNetCollector::BpfNetCollector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BpfNetCollector::~BpfNetCollector() = default;

Result<std::unique_ptr<BpfNetCollector>> BpfNetCollector::create(const std::string&,
                                                                 const BpfNetOptions&) {
  return make_error(Code::kUnimplemented,
                    "bpf-net: Corral was not built with BPF (CORRAL_BPF=OFF or no BTF, clang or "
                    "bpftool on the build host)");
}
Result<void> BpfNetCollector::track(const Target&) { return {}; }
void BpfNetCollector::untrack(const Target&) {}
Result<void> BpfNetCollector::sample(std::span<const Target* const>, std::span<Sample* const>,
                                     MetricSet) {
  return make_error(Code::kUnimplemented, "bpf-net: not built with BPF");
}
int BpfNetCollector::event_fd() const { return -1; }
void BpfNetCollector::drain_events(std::vector<Event>&) {}
uint64_t BpfNetCollector::lost_events() const { return 0; }
std::vector<std::pair<std::string, std::string>> BpfNetCollector::describe() const { return {}; }
Result<void> BpfNetCollector::set_policy(uint64_t, const NetPolicy&) {
  return make_error(Code::kUnimplemented, "bpf-net: not built with BPF");
}
Result<void> BpfNetCollector::clear_policy(uint64_t) {
  return make_error(Code::kUnimplemented, "bpf-net: not built with BPF");
}
bool BpfNetCollector::families_enforced() const { return false; }

}  // namespace corral::collectors

#endif
