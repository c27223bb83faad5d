// Claiming a backend's parent directories: an exclusive flock on one of them (so two corralds
// never share plugin cgroups), then every cgroup found under them is a sandbox a previous
// corrald left when it died without stopping its plugins: its processes are killed and its
// directories removed, depth first, before any plugin of ours starts.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <thread>

#include "common/files.h"
#include "sandbox/cgroup.h"
#include "sandbox/cgroup_internal.h"

namespace corral::sandbox::internal {

namespace {

std::vector<std::string> subdirs(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
    out.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// Every pid in dir and below, SIGKILLed; returns them.
void kill_tree(const std::string& dir, std::set<pid_t>& seen) {
  if (auto text = read_file(dir + "/cgroup.procs")) {
    for (pid_t p : parse_pids(*text)) {
      seen.insert(p);
      (void)::kill(p, SIGKILL);  // it may be gone already
    }
  }
  for (const auto& sub : subdirs(dir)) kill_tree(dir + "/" + sub, seen);
}

Result<void> remove_tree(const std::string& dir, std::set<pid_t>& seen,
                         std::chrono::steady_clock::time_point end) {
  for (const auto& sub : subdirs(dir)) {
    if (auto r = remove_tree(dir + "/" + sub, seen, end); !r) return r;
  }
  for (;;) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return {};
    if (errno != EBUSY || std::chrono::steady_clock::now() >= end) {
      return sys_error("cannot remove the stale cgroup " + dir);
    }
    kill_tree(dir, seen);  // a process still exiting, or one that forked meanwhile
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace

Result<std::vector<StaleCgroup>> claim_parents(const std::string& lock_dir,
                                               const std::vector<std::string>& v2_bases,
                                               const std::vector<std::string>& v1_bases,
                                               const std::vector<std::string>& keep,
                                               UniqueFd& lock) {
  if (auto r = make_dirs(lock_dir); !r) return std::unexpected(r.error());
  UniqueFd fd(::open(lock_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return sys_error("cannot open " + lock_dir);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return make_error(Code::kAlreadyExists,
                        "another corrald uses the cgroup parent " + lock_dir +
                            " (its plugins' cgroups); give this one its own [cgroup] parent");
    }
    return sys_error("cannot lock " + lock_dir);
  }
  lock = std::move(fd);
  std::vector<StaleCgroup> out;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  // The cgroup2 nodes first: cgroup.kill takes a whole sandbox (init, program, descendants)
  // at once; the v1 directories then hold only processes already dying.
  std::vector<std::string> bases = v2_bases;
  bases.insert(bases.end(), v1_bases.begin(), v1_bases.end());
  for (const auto& base : bases) {
    for (const auto& name : subdirs(base)) {
      if (std::find(keep.begin(), keep.end(), name) != keep.end()) continue;
      std::string dir = base + "/" + name;
      std::set<pid_t> seen;
      bool v2 = std::find(v2_bases.begin(), v2_bases.end(), base) != v2_bases.end();
      if (v2) {
        if (auto text = read_file(dir + "/cgroup.procs")) {
          for (pid_t p : parse_pids(*text)) seen.insert(p);
        }
        V2Node node;
        node.dir = dir;
        (void)node.kill();  // falls back to signalling each member
      }
      kill_tree(dir, seen);
      if (auto r = remove_tree(dir, seen, end); !r) return std::unexpected(r.error());
      auto it = std::find_if(out.begin(), out.end(),
                             [&](const StaleCgroup& s) { return s.name == name; });
      if (it == out.end()) {
        out.push_back({name, seen.size()});
      } else {
        it->processes = std::max(it->processes, seen.size());
      }
    }
  }
  return out;
}

}  // namespace corral::sandbox::internal
