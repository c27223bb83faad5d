// libFuzzer: the fallback collectors parse kernel files (cgroup control files, /proc/<pid>/
// cgroup, schedstat, mountinfo, fd links). Feed the same bytes to every parser. Invariants: none
// crashes or hangs; u64 agrees with the key-value parser; pid lists hold only positive pids; a
// mapped cgroup directory lies under its mount point.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "collectors/parsers.h"

using namespace corral::collectors::parsers;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto n = u64(text);
  auto kv = key_values(text);
  if (n && !kv.empty()) std::abort();  // a lone number is never a key-value line
  for (const auto& [k, v] : kv) {
    if (k.empty() || get(kv, k, v + 1) != v) std::abort();
  }
  (void)first_of(kv, {"total_rss", "rss"});
  if (auto l = limit(text); l && *l >= kV1Unlimited) std::abort();
  if (auto s = schedstat(text); s && text.find_first_of("0123456789") == text.npos) std::abort();
  auto cg = proc_cgroup(text);
  if (cg.unified && (cg.unified->empty() || (*cg.unified)[0] != '/')) std::abort();
  for (const auto& [ctrl, path] : cg.v1) {
    if (ctrl.empty() || path.empty() || path[0] != '/') std::abort();
  }
  auto mounts = cgroup_mounts(text);
  if (mounts.unified) {
    if (cg.unified) {
      if (auto dir = cgroup_dir(*mounts.unified, *cg.unified)) {
        if (!dir->starts_with(mounts.unified->mount_point)) std::abort();
      }
    }
  }
  for (pid_t p : pid_list(text)) {
    if (p <= 0) std::abort();
  }
  (void)socket_inode(text);
  return 0;
}
