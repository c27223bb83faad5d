// Loads bpf/proc.bpf.c choosing, for each hook, the first variant (tp_btf, then raw_tp, then
// tracepoint) that this kernel loads and attaches: feature detection by trying the real thing.
// The result owns the skeleton and its links as one value (links detached first). BPF builds only.
#pragma once

#include <bpf/libbpf.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "collectors/bpf_support.h"
#include "common/error.h"

// bpftool's generated C is not written for -Wold-style-cast and friends.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wcast-align"
#include "proc.skel.h"
#pragma GCC diagnostic pop

namespace corral::collectors::bpf {

enum class ProcHook : uint8_t {
  kSwitch,
  kWakeup,
  kWakeupNew,
  kFork,
  kExec,
  kExit,
  kOom,
  kFds,
  kRunning,  // slices running at sample time (an iterator; without it: /proc per slot)
};
inline constexpr size_t kProcHookCount = 9;

// Variants in order of preference.
enum class Flavor : uint8_t { kTpBtf, kRawTp, kTracepoint, kIter };

struct ProcLoadOptions {
  uint32_t ring_bytes = 256 * 1024;  // a power of two, at least a page
  bool exec_events = true;
  Flavor best = Flavor::kTpBtf;  // skip variants better than this (tests exercise fallbacks)
  bool selftest_reject = false;  // load only a program the verifier must refuse (tests)
  bool fd_tables = true;         // false: count fds with iter/task_file only (tests)
  bool running_iter = true;      // false: running slices from /proc per CPU slot (tests)
};

struct HookChoice {
  bpf_program* prog = nullptr;  // null: no variant works on this host
  std::string section;          // "tp_btf/sched_switch"
  std::string refused;          // why better variants were not taken ("" when the first was)
};

struct LinkDeleter {
  void operator()(bpf_link* l) const { bpf_link__destroy(l); }
};
using Link = std::unique_ptr<bpf_link, LinkDeleter>;

struct LoadedProc {
  Skeleton<proc_bpf> skel;
  std::array<HookChoice, kProcHookCount> hooks;
  std::vector<Link> links;  // declared after skel: detached before it is destroyed
  Link iter;                // the fd-counting iterator's link (bpf_iter_create from it)
  Link running_iter;        // the running-slices iterator's link, when it loaded
};

// The error of a failed load or attach carries libbpf's log, with the verifier's words.
[[nodiscard]] Result<std::unique_ptr<LoadedProc>> load_proc(const ProcLoadOptions& opts);

[[nodiscard]] const char* proc_hook_name(ProcHook h);  // "sched_switch", ...

}  // namespace corral::collectors::bpf
