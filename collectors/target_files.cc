// Target file access shared by the fallback collectors; see target_files.h.
#include "collectors/target_files.h"

#include <time.h>

#include "common/files.h"

namespace corral::collectors {

Result<std::optional<std::string>> read_optional(const std::string& path) {
  auto text = read_file(path, 1 << 20);
  if (text) return std::optional<std::string>(std::move(*text));
  if (text.error().errnum == ENOENT) return std::optional<std::string>();
  return std::unexpected(text.error());
}

Result<parsers::KeyValues> read_key_values(const std::string& path) {
  auto text = read_file(path, 1 << 20);
  if (!text) return std::unexpected(text.error());
  return parsers::key_values(*text);
}

Result<uint64_t> read_u64(const std::string& path) {
  auto text = read_file(path, 4096);
  if (!text) return std::unexpected(text.error());
  auto v = parsers::u64(*text);
  if (!v) return make_error(Code::kInternal, path + " does not hold a number: \"" + *text + "\"");
  return *v;
}

std::string procs_dir(const Target& t) {
  for (const std::string* d : {&t.v2_dir, &t.memory_dir, &t.pids_dir, &t.cpu_dir}) {
    if (!d->empty()) return *d;
  }
  return {};
}

Result<std::vector<pid_t>> target_procs(const Target& t) {
  std::string dir = procs_dir(t);
  if (dir.empty()) return make_error(Code::kFailedPrecondition, "target has no cgroup directory");
  auto text = read_file(dir + "/cgroup.procs");
  if (!text) return std::unexpected(text.error());
  return parsers::pid_list(*text);
}

Result<uint64_t> target_tasks(const Target& t) {
  std::string pids = t.v2_only ? t.v2_dir : t.pids_dir;
  if (!pids.empty()) {
    auto current = read_optional(pids + "/pids.current");
    if (!current) return std::unexpected(current.error());
    if (*current) {
      if (auto v = parsers::u64(**current)) return *v;
      return make_error(Code::kInternal, pids + "/pids.current does not hold a number");
    }
  }
  std::string file = !t.v2_dir.empty()       ? t.v2_dir + "/cgroup.threads"
                     : !procs_dir(t).empty() ? procs_dir(t) + "/tasks"
                                             : std::string();
  if (file.empty()) return make_error(Code::kFailedPrecondition, "target has no cgroup directory");
  auto text = read_file(file);
  if (!text) return std::unexpected(text.error());
  return parsers::pid_list(*text).size();
}

}  // namespace corral::collectors
