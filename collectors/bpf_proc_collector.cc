// BpfProcCollector: track() fills proc.bpf.c's `tracked` and zeroes its per-CPU counters;
// sample() reads every tracked cgroup's counters in one batch and runs the fd iterator
// once for all targets; ring-buffer records become Events. Without BPF: create() says so.
#include "collectors/bpf_proc_collector.h"

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "common/files.h"

#ifdef CORRAL_HAVE_BPF
#include <bpf/bpf.h>

#include "bpf/proc.h"
#include "collectors/bpf_proc_loader.h"
#include "collectors/bpf_support.h"
#endif

namespace corral::collectors {

#ifndef CORRAL_HAVE_BPF

struct BpfProcCollector::State {};

Result<std::unique_ptr<BpfProcCollector>> BpfProcCollector::create(const BpfProcOptions&) {
  return make_error(Code::kUnimplemented,
                    "bpf-proc: Corral was built without BPF programs (CORRAL_BPF=OFF, or no "
                    "clang/bpftool/BTF on the build host); use the cgroupfs/procfs collectors");
}
BpfProcCollector::BpfProcCollector(std::unique_ptr<State> state) : s_(std::move(state)) {}
BpfProcCollector::~BpfProcCollector() = default;
MetricSet BpfProcCollector::metrics() const { return {}; }
Result<void> BpfProcCollector::track(const Target&) {
  return make_error(Code::kUnimplemented, "bpf-proc: not built with BPF");
}
void BpfProcCollector::untrack(const Target&) {}
Result<void> BpfProcCollector::sample(std::span<const Target* const>, std::span<Sample* const>,
                                      MetricSet) {
  return make_error(Code::kUnimplemented, "bpf-proc: not built with BPF");
}
int BpfProcCollector::event_fd() const { return -1; }
void BpfProcCollector::drain_events(std::vector<Event>&) {}
uint64_t BpfProcCollector::lost_events() const { return 0; }
std::vector<std::pair<std::string, std::string>> BpfProcCollector::describe() const {
  return {{"bpf-proc", "not built with BPF"}};
}

#else  // CORRAL_HAVE_BPF

static_assert(sizeof(corral_proc_stats) == 64);
static_assert(sizeof(corral_proc_tracked) == 32);
static_assert(sizeof(corral_proc_event) == 48);
static_assert(sizeof(corral_proc_oncpu) == 32);

using bpf::ProcHook;

struct BpfProcCollector::State {
  BpfProcOptions opts;
  std::unique_ptr<bpf::LoadedProc> proc;
  std::unique_ptr<bpf::RingBuffer> ring;
  UniqueFd run_time_stats;
  std::string run_time_stats_error;
  std::vector<Event>* sink = nullptr;  // set while drain_events() runs
  uint64_t lost_reported = 0;
  uint64_t fd_gen = 0;
  // The on-CPU time last reported per cgroup: what a sample reports never goes back (see the
  // running slices in sample()).
  std::unordered_map<uint64_t, uint64_t> oncpu_reported;
  std::string stats_reads = "none yet";
  std::string drain_error;
  unsigned cpus = 1;

  [[nodiscard]] const bpf::HookChoice& hook(ProcHook h) const {
    return proc->hooks[static_cast<size_t>(h)];
  }
  [[nodiscard]] bool has(ProcHook h) const { return hook(h).prog != nullptr; }
  [[nodiscard]] proc_bpf* skel() const { return proc->skel.get(); }
  void on_record(std::span<const std::byte> record);
};

namespace {

// Whether thread `tid` is running (state R) and last ran on `cpu`, per /proc/<tid>/stat.
bool running_on(uint32_t tid, size_t cpu) {
  auto stat = read_file("/proc/" + std::to_string(tid) + "/stat", 4096);
  if (!stat) return false;  // gone
  size_t close = stat->rfind(')');
  if (close == std::string::npos) return false;
  // After "pid (comm)": field 3 (state) is token 0, field 39 (processor) token 36.
  std::string_view rest(*stat);
  rest.remove_prefix(close + 1);
  size_t token = 0;
  char state = 0;
  while (!rest.empty()) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    size_t end = rest.find(' ');
    std::string_view field = rest.substr(0, end);
    if (token == 0) state = field.empty() ? 0 : field.front();
    if (token == 36) return state == 'R' && field == std::to_string(cpu);
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end);
    ++token;
  }
  return false;
}

// Thread `tid`'s se.sum_exec_runtime per /proc/<tid>/schedstat (brought up to date at every
// scheduler tick while it runs), or nothing when it is gone.
std::optional<uint64_t> runtime_of(uint32_t tid) {
  auto text = read_file("/proc/" + std::to_string(tid) + "/schedstat", 256);
  if (!text) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text->c_str(), &end, 10);
  if (errno != 0 || end == text->c_str()) return std::nullopt;
  return static_cast<uint64_t>(v);
}

bpf::Flavor parse_flavor(std::string_view s) {
  if (s == "raw_tp") return bpf::Flavor::kRawTp;
  if (s == "tracepoint") return bpf::Flavor::kTracepoint;
  return bpf::Flavor::kTpBtf;
}

std::string comm_of(const char* comm) { return std::string(comm, ::strnlen(comm, 16)); }

// Where the task's comm was not in the record (older mark_victim): /proc, while it lasts.
std::string proc_comm(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/comm", 64);
  if (!text) return "";
  std::string s = *text;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

Error target_error(const Target& t, std::string_view what) {
  return Error{Code::kFailedPrecondition, 0,
               "bpf-proc: target '" + t.name + "' (cgroup id " + std::to_string(t.cgroup_id) +
                   "): " + std::string(what),
               __FILE__, __LINE__};
}

}  // namespace

void BpfProcCollector::State::on_record(std::span<const std::byte> record) {
  if (sink == nullptr || record.size() < sizeof(corral_proc_event)) return;
  corral_proc_event r{};
  std::memcpy(&r, record.data(), sizeof r);
  Event e;
  e.source = Source::kBpf;
  e.cgroup_id = r.cgroup_id;
  e.at_ns = static_cast<int64_t>(r.at_ns);
  e.pid = r.pid;
  e.value = r.value;
  e.detail = comm_of(r.comm);
  if (r.kind == CORRAL_PROC_EXEC) {
    e.kind = EventKind::kExec;
  } else if (r.kind == CORRAL_PROC_OOM_KILL) {
    e.kind = EventKind::kOomKill;
    if (e.detail.empty()) e.detail = proc_comm(e.pid);
  } else {
    return;
  }
  sink->push_back(std::move(e));
}

Result<std::unique_ptr<BpfProcCollector>> BpfProcCollector::create(const BpfProcOptions& o) {
  auto state = std::make_unique<State>();
  state->opts = o;
  auto cpus = bpf::possible_cpus();
  if (!cpus) return std::unexpected(cpus.error());
  state->cpus = *cpus;
  if (o.run_time_stats) {
    // Before the load, so that every program's runs are accounted from the first.
    auto fd = bpf::enable_run_time_stats();
    if (fd) {
      state->run_time_stats = std::move(*fd);
    } else {
      state->run_time_stats_error = fd.error().describe();
    }
  }
  bpf::ProcLoadOptions lo;
  lo.ring_bytes = o.ring_bytes;
  lo.exec_events = o.exec_events;
  lo.best = parse_flavor(o.best_variant);
  lo.selftest_reject = o.selftest_reject;
  lo.fd_tables = o.fd_tables;
  lo.running_iter = o.running_iter;
  auto proc = bpf::load_proc(lo);
  if (!proc) return std::unexpected(proc.error().wrap("bpf-proc"));
  state->proc = std::move(*proc);
  State* raw = state.get();
  auto ring =
      bpf::RingBuffer::create(bpf_map__fd(raw->skel()->maps.events),
                              [raw](std::span<const std::byte> record) { raw->on_record(record); });
  if (!ring) return std::unexpected(ring.error().wrap("bpf-proc"));
  state->ring = std::move(*ring);
  return std::unique_ptr<BpfProcCollector>(new BpfProcCollector(std::move(state)));
}

BpfProcCollector::BpfProcCollector(std::unique_ptr<State> state) : s_(std::move(state)) {}
// The ring buffer consumer goes before the maps it reads (State's members in reverse order).
BpfProcCollector::~BpfProcCollector() = default;

MetricSet BpfProcCollector::metrics() const {
  MetricSet m;
  if (s_->has(ProcHook::kSwitch)) m.add(Metric::kSched);
  if (s_->has(ProcHook::kFork) || s_->has(ProcHook::kExec) || s_->has(ProcHook::kExit)) {
    m.add(Metric::kProcesses);
  }
  if (s_->has(ProcHook::kOom)) m.add(Metric::kOom);
  if (s_->has(ProcHook::kFds)) m.add(Metric::kFds);
  return m;
}

Result<void> BpfProcCollector::track(const Target& t) {
  if (t.cgroup_id == 0) return std::unexpected(target_error(t, "has no cgroup2 node to follow"));
  const size_t stride = (sizeof(corral_proc_stats) + 7) / 8 * 8;
  std::vector<std::byte> zero(stride * s_->cpus);
  // Counters first: the programs look them up once `tracked` has the id.
  if (bpf_map_update_elem(bpf_map__fd(s_->skel()->maps.stats), &t.cgroup_id, zero.data(),
                          BPF_ANY) != 0) {
    return sys_error("bpf-proc: creating the counters of '" + t.name + "'");
  }
  corral_proc_tracked tracked{};
  if (bpf_map_update_elem(bpf_map__fd(s_->skel()->maps.tracked), &t.cgroup_id, &tracked, BPF_ANY) !=
      0) {
    return sys_error("bpf-proc: tracking '" + t.name + "'");
  }
  return {};
}

void BpfProcCollector::untrack(const Target& t) {
  // ENOENT: never tracked; nothing else can fail for an existing hash map and an 8-byte key.
  if (bpf_map_delete_elem(bpf_map__fd(s_->skel()->maps.tracked), &t.cgroup_id) != 0 &&
      errno != ENOENT) {
    s_->drain_error = "untrack '" + t.name + "': " + std::strerror(errno);
  }
  if (bpf_map_delete_elem(bpf_map__fd(s_->skel()->maps.stats), &t.cgroup_id) != 0 &&
      errno != ENOENT) {
    s_->drain_error = "untrack '" + t.name + "': " + std::strerror(errno);
  }
  s_->oncpu_reported.erase(t.cgroup_id);
}

namespace {

// One pass of the fd iterator (iter/task or iter/task_file) over every task; counts land in
// `tracked`.
// One pass of an iterator program (it writes maps, prints nothing).
Result<void> run_iterator(proc_bpf* skel, bpf_link* iter, const char* what) {
  // Each running-slices pass has its own generation: entries it did not visit read as stale.
  if (std::string_view(what) == "running-slices") ++skel->bss->run_gen;
  UniqueFd fd(bpf_iter_create(bpf_link__fd(iter)));
  if (!fd)
    return sys_error(std::string("bpf-proc: bpf(BPF_ITER_CREATE) of the ") + what + " iterator");
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n == 0) return {};
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error(std::string("bpf-proc: reading the ") + what + " iterator");
  }
}

Result<void> run_fd_iterator(proc_bpf* skel, bpf_link* iter, uint64_t gen) {
  skel->bss->fd_gen = gen;
  skel->bss->iter_last_pid = 0;
  skel->bss->iter_last_hit = false;
  return run_iterator(skel, iter, "fd");
}

Result<uint64_t> count_lines(const std::string& path) {
  auto text = read_file(path);
  if (!text) return std::unexpected(text.error());
  uint64_t n = 0;
  for (char c : *text) n += c == '\n' ? 1 : 0;
  return n;
}

}  // namespace

Result<void> BpfProcCollector::sample(std::span<const Target* const> targets,
                                      std::span<Sample* const> out, MetricSet which) {
  if (targets.size() != out.size()) {
    return make_error(Code::kInvalidArgument, "bpf-proc: sample() needs one Sample per target");
  }
  MetricSet mine = metrics();
  const bool counters = (which.has(Metric::kSched) && mine.has(Metric::kSched)) ||
                        (which.has(Metric::kProcesses) && mine.has(Metric::kProcesses)) ||
                        (which.has(Metric::kOom) && mine.has(Metric::kOom));
  std::unordered_map<uint64_t, corral_proc_stats> sums;
  if (counters) {
    bpf_map* map = s_->skel()->maps.stats;
    auto entries =
        bpf::read_percpu_map(bpf_map__fd(map), sizeof(uint64_t), sizeof(corral_proc_stats),
                             bpf_map__max_entries(map), s_->opts.batch_reads);
    if (!entries) return std::unexpected(entries.error().wrap("bpf-proc: reading `stats`"));
    s_->stats_reads = entries->batched ? "batch" : "per-key";
    for (size_t i = 0; i < entries->count; ++i) {
      uint64_t id = 0;
      std::memcpy(&id, entries->key(i).data(), sizeof id);
      corral_proc_stats sum{};
      for (unsigned c = 0; c < entries->cpus; ++c) {
        corral_proc_stats v{};
        std::memcpy(&v, entries->value(i, c), sizeof v);
        sum.oncpu_ns += v.oncpu_ns;
        sum.runq_wait_ns += v.runq_wait_ns;
        sum.runq_waits += v.runq_waits;
        sum.runq_max_ns = std::max(sum.runq_max_ns, v.runq_max_ns);
        sum.forks += v.forks;
        sum.execs += v.execs;
        sum.exits += v.exits;
        sum.oom_kills += v.oom_kills;
      }
      sums[id] = sum;
    }
  }
  // Slices running now, read after the counters (a slice that ends in between shows at the next
  // sample): a task that never leaves its CPU still accrues on-CPU time.
  if (which.has(Metric::kSched) && mine.has(Metric::kSched)) {
    // A running slice is what the scheduler has charged the task since it switched in (its
    // sum_exec_runtime, which lags by at most one tick), like the slices BPF closes. The
    // running_slices iterator asks the kernel which tasks are on a CPU (task->on_cpu) and
    // credits a slice whose switch-in sched_switch did not see (it happens under contention,
    // cause unknown: no recursion miss is counted) from se.prev_sum_exec_runtime. Without it,
    // each CPU's recorded task is credited while /proc/<tid>/stat says it runs there (state R,
    // last CPU), through its schedstat; a slice with an unseen switch-in shows only once it
    // ends. Either way a cgroup's time never goes back.
    if (s_->proc->running_iter) {
      if (auto r = run_iterator(s_->skel(), s_->proc->running_iter.get(), "running-slices"); !r) {
        return r;
      }
      for (auto& [id, sum] : sums) {
        corral_proc_tracked tr{};
        if (bpf_map_lookup_elem(bpf_map__fd(s_->skel()->maps.tracked), &id, &tr) != 0) continue;
        if (tr.run_gen == s_->skel()->bss->run_gen) sum.oncpu_ns += tr.running_ns;
      }
    } else {
      std::vector<corral_proc_oncpu> slots(s_->cpus);
      uint32_t zero = 0;
      if (bpf_map_lookup_elem(bpf_map__fd(s_->skel()->maps.oncpu), &zero, slots.data()) != 0) {
        return sys_error("bpf-proc: reading `oncpu`");
      }
      for (size_t cpu = 0; cpu < slots.size(); ++cpu) {
        const corral_proc_oncpu& slot = slots[cpu];
        if (slot.since_ns == 0) continue;
        auto it = sums.find(slot.cgroup_id);
        if (it == sums.end() || !running_on(slot.pid, cpu)) continue;
        std::optional<uint64_t> runtime = runtime_of(slot.pid);
        if (runtime && *runtime > slot.runtime_ns) {
          it->second.oncpu_ns += *runtime - slot.runtime_ns;
        }
      }
    }
    for (auto& [id, sum] : sums) {
      uint64_t& reported = s_->oncpu_reported[id];
      sum.oncpu_ns = std::max<uint64_t>(sum.oncpu_ns, reported);
      reported = sum.oncpu_ns;
    }
  }
  const bool fds = which.has(Metric::kFds) && mine.has(Metric::kFds);
  if (fds) {
    if (auto r = run_fd_iterator(s_->skel(), s_->proc->iter.get(), ++s_->fd_gen); !r) return r;
  }
  for (size_t i = 0; i < targets.size(); ++i) {
    const Target& t = *targets[i];
    Sample& s = *out[i];
    corral_proc_tracked tracked{};
    if (bpf_map_lookup_elem(bpf_map__fd(s_->skel()->maps.tracked), &t.cgroup_id, &tracked) != 0) {
      return std::unexpected(target_error(t, "not tracked (track() it first)"));
    }
    corral_proc_stats c{};
    if (counters) {
      auto it = sums.find(t.cgroup_id);
      if (it == sums.end()) return std::unexpected(target_error(t, "has no counters"));
      c = it->second;
    }
    if (which.has(Metric::kSched) && mine.has(Metric::kSched)) {
      s.sched = SchedStats{c.oncpu_ns, c.runq_wait_ns, c.runq_waits, c.runq_max_ns};
      s.set_source(Metric::kSched, Source::kBpf);
    }
    if (which.has(Metric::kProcesses) && mine.has(Metric::kProcesses)) {
      s.processes.forks = c.forks;
      s.processes.execs = c.execs;
      s.processes.exits = c.exits;
      s.processes.tasks = 0;
      if (!t.v2_dir.empty()) {
        auto n = count_lines(t.v2_dir + "/cgroup.threads");
        if (!n) return std::unexpected(n.error().wrap("bpf-proc: target '" + t.name + "'"));
        s.processes.tasks = *n;
      }
      s.set_source(Metric::kProcesses, Source::kBpf);
    }
    if (which.has(Metric::kOom) && mine.has(Metric::kOom)) {
      s.oom.kills = c.oom_kills;
      s.set_source(Metric::kOom, Source::kBpf);
    }
    if (fds) {
      s.fds.open = tracked.fd_gen == s_->fd_gen ? tracked.fds : 0;
      s.set_source(Metric::kFds, Source::kBpf);
    }
  }
  return {};
}

int BpfProcCollector::event_fd() const { return s_->ring->fd(); }

void BpfProcCollector::drain_events(std::vector<Event>& out) {
  s_->sink = &out;
  auto n = s_->ring->drain();
  s_->sink = nullptr;
  if (!n) s_->drain_error = n.error().describe();
  if (auto e = lost_since(lost_events(), s_->lost_reported, Source::kBpf, "ring buffer full")) {
    out.push_back(std::move(*e));
  }
}

uint64_t BpfProcCollector::lost_events() const {
  std::vector<uint64_t> per_cpu(s_->cpus);
  uint32_t zero = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(s_->skel()->maps.ringbuf_lost), &zero, per_cpu.data()) != 0) {
    return s_->lost_reported;  // cannot fail for a one-entry array; keep what we know
  }
  uint64_t sum = 0;
  for (uint64_t v : per_cpu) sum += v;
  return sum;
}

std::vector<std::pair<std::string, std::string>> BpfProcCollector::describe() const {
  std::vector<std::pair<std::string, std::string>> d;
  auto hooks = [&](std::initializer_list<ProcHook> hs) {
    std::string v;
    for (ProcHook h : hs) {
      const std::string& sec = s_->hook(h).section;
      v += (v.empty() ? "" : " + ") +
           (sec.empty() ? std::string("none for ") + bpf::proc_hook_name(h) : sec);
    }
    return v;
  };
  d.emplace_back("sched", s_->has(ProcHook::kSwitch)
                              ? hooks({ProcHook::kSwitch, ProcHook::kWakeup, ProcHook::kWakeupNew})
                              : "unavailable");
  d.emplace_back("processes", hooks({ProcHook::kFork, ProcHook::kExec, ProcHook::kExit}) +
                                  "; tasks: cgroupfs cgroup.threads");
  std::string oom = "unavailable";
  if (s_->has(ProcHook::kOom)) {
    const bpf_program* p = s_->hook(ProcHook::kOom).prog;
    oom = s_->hook(ProcHook::kOom).section;
    if (p == s_->skel()->progs.oom_btf) oom += " (the victim's task)";
    if (p == s_->skel()->progs.oom_tp_kfunc) oom += " (victim by bpf_task_from_pid)";
    if (p == s_->skel()->progs.oom_tp) oom += " (cgroup of the task that ran the OOM killer)";
  }
  d.emplace_back("oom", oom);
  if (s_->has(ProcHook::kSwitch)) {
    d.emplace_back(
        "sched: slices without a seen switch-in",
        std::to_string(__atomic_load_n(&s_->skel()->bss->unseen_switch_ins, __ATOMIC_RELAXED)));
  }
  d.emplace_back("fds", s_->has(ProcHook::kFds) ? s_->hook(ProcHook::kFds).section : "unavailable");
  d.emplace_back("sched: running slices",
                 s_->has(ProcHook::kRunning)
                     ? s_->hook(ProcHook::kRunning).section + " (running_slices)"
                     : "/proc/<tid>/stat and schedstat of each CPU's last switched-in task");
  for (size_t h = 0; h < bpf::kProcHookCount; ++h) {
    const bpf::HookChoice& c = s_->proc->hooks[h];
    if (!c.refused.empty()) {
      d.emplace_back(std::string("refused ") + bpf::proc_hook_name(static_cast<ProcHook>(h)),
                     c.refused);
    }
  }
  for (size_t h = 0; h < bpf::kProcHookCount; ++h) {
    const bpf::HookChoice& c = s_->proc->hooks[h];
    if (c.prog == nullptr) continue;
    // Two iter/task programs: the running-slices one is named apart.
    const std::string key =
        c.section + (static_cast<ProcHook>(h) == ProcHook::kRunning ? " (running_slices)" : "");
    auto st = bpf::prog_stats(bpf_program__fd(c.prog));
    if (!st) {
      d.emplace_back("run_time_ns " + key, st.error().describe());
      continue;
    }
    d.emplace_back("run_time_ns " + key, std::to_string(st->run_time_ns));
    d.emplace_back("run_cnt " + key, std::to_string(st->run_cnt));
  }
  if (!s_->run_time_stats_error.empty()) d.emplace_back("run_time_stats", s_->run_time_stats_error);
  d.emplace_back("ring_buffer_bytes",
                 std::to_string(bpf_map__max_entries(s_->skel()->maps.events)));
  d.emplace_back("lost_events", std::to_string(lost_events()));
  d.emplace_back("stats_reads", s_->stats_reads);
  if (!s_->drain_error.empty()) d.emplace_back("last_error", s_->drain_error);
  return d;
}

#endif  // CORRAL_HAVE_BPF

}  // namespace corral::collectors
