// Loads bpf/proc.bpf.c with every hook's preferred variant in one load; when the kernel refuses
// a program or an attach, that hook moves on to its next variant and the load is retried (two
// loads on a 6.1 kernel). Errors carry libbpf's log (the verifier's words).
#ifdef CORRAL_HAVE_BPF
#include "collectors/bpf_proc_loader.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

namespace corral::collectors::bpf {

namespace {

constexpr int kNone = -1;
using Picks = std::array<int, kProcHookCount>;

std::vector<bpf_program*> candidates(proc_bpf* s, ProcHook h) {
  auto& p = s->progs;
  switch (h) {
    case ProcHook::kSwitch:
      return {p.switch_btf, p.switch_raw};
    case ProcHook::kWakeup:
      return {p.wakeup_btf, p.wakeup_raw};
    case ProcHook::kWakeupNew:
      return {p.wakeup_new_btf, p.wakeup_new_raw};
    case ProcHook::kFork:
      return {p.fork_btf, p.fork_raw};
    case ProcHook::kExec:
      return {p.exec_btf, p.exec_raw};
    case ProcHook::kExit:
      return {p.exit_btf, p.exit_raw};
    case ProcHook::kOom:
      return {p.oom_btf, p.oom_tp_kfunc, p.oom_tp};
    case ProcHook::kFds:
      return {p.count_fd_tables, p.count_fds};
    case ProcHook::kRunning:
      return {p.running_slices};
  }
  return {};
}

std::string section(const bpf_program* prog) {
  std::string_view s = bpf_program__section_name(prog);
  if (s.starts_with('?')) s.remove_prefix(1);
  return std::string(s);
}

Flavor flavor(const bpf_program* prog) {
  std::string s = section(prog);
  if (s.starts_with("tp_btf/")) return Flavor::kTpBtf;
  if (s.starts_with("raw_tp/")) return Flavor::kRawTp;
  if (s.starts_with("iter/")) return Flavor::kIter;
  return Flavor::kTracepoint;
}

bool allowed(const ProcLoadOptions& o, const bpf_program* prog) {
  const std::string_view name = bpf_program__name(prog);
  if (!o.fd_tables && name == "count_fd_tables") return false;
  if (!o.running_iter && name == "running_slices") return false;
  Flavor f = flavor(prog);
  return f == Flavor::kIter || f >= o.best;
}

// One load with `picks`; on failure *blamed is the hook whose program the kernel refused (libbpf
// names it in its log) or failed to attach, kNone when the failure is nobody's in particular.
Result<std::unique_ptr<LoadedProc>> attempt(const ProcLoadOptions& o, const Picks& picks,
                                            int* blamed) {
  *blamed = kNone;
  LibbpfLog log;
  auto loaded = std::make_unique<LoadedProc>();
  loaded->skel.reset(proc_bpf::open());
  if (!loaded->skel) return std::unexpected(libbpf_error("opening proc.bpf.o", errno, &log));
  proc_bpf* s = loaded->skel.get();
  s->rodata->self_tgid = static_cast<__u32>(::getpid());
  long page = ::sysconf(_SC_PAGESIZE);
  s->rodata->page_size = page > 0 ? static_cast<__u64>(page) : 4096;
  s->rodata->exec_events = o.exec_events;
  if (int err = bpf_map__set_max_entries(s->maps.events, o.ring_bytes); err != 0) {
    return std::unexpected(libbpf_error("sizing the ring buffer", err, &log));
  }
  std::string chosen;
  for (size_t h = 0; h < kProcHookCount; ++h) {
    auto progs = candidates(s, static_cast<ProcHook>(h));
    for (size_t i = 0; i < progs.size(); ++i) {
      bool on = picks[h] == static_cast<int>(i);
      if (int err = bpf_program__set_autoload(progs[i], on); err != 0) {
        return std::unexpected(libbpf_error("bpf_program__set_autoload", err, &log));
      }
      if (on) {
        loaded->hooks[h].prog = progs[i];
        loaded->hooks[h].section = section(progs[i]);
        chosen += (chosen.empty() ? "" : ", ") + loaded->hooks[h].section;
      }
    }
  }
  if (o.selftest_reject) {
    if (int err = bpf_program__set_autoload(s->progs.selftest_reject, true); err != 0) {
      return std::unexpected(libbpf_error("bpf_program__set_autoload", err, &log));
    }
    chosen += (chosen.empty() ? "" : ", ") + std::string("selftest_reject");
  }
  if (int err = proc_bpf::load(s); err != 0) {
    std::string text = log.tail(1 << 20);
    for (size_t h = 0; h < kProcHookCount; ++h) {
      const bpf_program* p = loaded->hooks[h].prog;
      if (p == nullptr) continue;
      if (text.find("prog '" + std::string(bpf_program__name(p)) + "'") != std::string::npos) {
        *blamed = static_cast<int>(h);
        break;
      }
    }
    return std::unexpected(libbpf_error("loading proc.bpf.o (" + chosen + ")", err, &log));
  }
  for (size_t h = 0; h < kProcHookCount; ++h) {
    HookChoice& c = loaded->hooks[h];
    if (c.prog == nullptr) continue;
    if (static_cast<ProcHook>(h) == ProcHook::kFds ||
        static_cast<ProcHook>(h) == ProcHook::kRunning) {
      Link& iter = static_cast<ProcHook>(h) == ProcHook::kFds ? loaded->iter : loaded->running_iter;
      iter.reset(bpf_program__attach_iter(c.prog, nullptr));
      if (!iter) {
        *blamed = static_cast<int>(h);
        return std::unexpected(libbpf_error("attaching " + c.section, errno, &log));
      }
      continue;
    }
    Link link(bpf_program__attach(c.prog));
    if (!link) {
      *blamed = static_cast<int>(h);
      return std::unexpected(libbpf_error("attaching " + c.section, errno, &log));
    }
    loaded->links.push_back(std::move(link));
  }
  return loaded;
}

}  // namespace

const char* proc_hook_name(ProcHook h) {
  switch (h) {
    case ProcHook::kSwitch:
      return "sched_switch";
    case ProcHook::kWakeup:
      return "sched_wakeup";
    case ProcHook::kWakeupNew:
      return "sched_wakeup_new";
    case ProcHook::kFork:
      return "sched_process_fork";
    case ProcHook::kExec:
      return "sched_process_exec";
    case ProcHook::kExit:
      return "sched_process_exit";
    case ProcHook::kOom:
      return "mark_victim";
    case ProcHook::kFds:
      return "open fds";
    case ProcHook::kRunning:
      return "running slices";
  }
  return "?";
}

Result<std::unique_ptr<LoadedProc>> load_proc(const ProcLoadOptions& o) {
  int blamed = kNone;
  if (o.selftest_reject) {
    Picks none;
    none.fill(kNone);
    return attempt(o, none, &blamed);
  }
  Skeleton<proc_bpf> names(proc_bpf::open());
  if (!names) return std::unexpected(libbpf_error("opening proc.bpf.o", errno));
  // Each failure is pinned on one hook, which moves on to its next allowed variant (or to none:
  // its metric is then unavailable); a failure nobody can be blamed for ends the search.
  Picks picks;
  std::array<std::string, kProcHookCount> refused;
  for (size_t h = 0; h < kProcHookCount; ++h) {
    picks[h] = kNone;
    auto progs = candidates(names.get(), static_cast<ProcHook>(h));
    for (size_t i = 0; i < progs.size() && picks[h] == kNone; ++i) {
      if (allowed(o, progs[i])) picks[h] = static_cast<int>(i);
    }
  }
  for (;;) {
    auto r = attempt(o, picks, &blamed);
    if (r) {
      for (size_t h = 0; h < kProcHookCount; ++h) (*r)->hooks[h].refused = refused[h];
      return r;
    }
    if (blamed == kNone) return r;
    auto h = static_cast<size_t>(blamed);
    auto progs = candidates(names.get(), static_cast<ProcHook>(h));
    refused[h] += (refused[h].empty() ? "" : "; ") + section(progs[static_cast<size_t>(picks[h])]) +
                  ": " + r.error().describe();
    int next = kNone;
    for (size_t i = static_cast<size_t>(picks[h]) + 1; i < progs.size() && next == kNone; ++i) {
      if (allowed(o, progs[i])) next = static_cast<int>(i);
    }
    picks[h] = next;
    if (std::all_of(picks.begin(), picks.end(), [](int p) { return p == kNone; })) {
      return std::unexpected(r.error().wrap("no hook of proc.bpf.c works on this kernel"));
    }
  }
}

}  // namespace corral::collectors::bpf
#endif  // CORRAL_HAVE_BPF
