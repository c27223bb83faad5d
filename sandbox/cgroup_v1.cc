// The cgroup v1 / hybrid backend: one directory per controller hierarchy it needs (memory, cpu,
// cpuacct, pids, freezer; see wanted()) under <mount>/<parent>/<name>, and on hybrid hosts a
// cgroup2 node as well, which gives the plugin a cgroup id for BPF attribution, CPU accounting,
// freezing and a cgroup.kill that reaches every process.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>

#include "common/files.h"
#include "sandbox/cgroup.h"
#include "sandbox/cgroup_internal.h"

namespace corral::sandbox {

namespace {

using internal::V2Node;

constexpr const char* kControllers[] = {"memory", "cpu", "cpuacct", "pids", "freezer"};

class V1Cgroup final : public Cgroup {
 public:
  explicit V1Cgroup(std::string name) : name_(std::move(name)) {}
  ~V1Cgroup() override { (void)remove(std::chrono::seconds(5)); }

  // Creates the directory for one controller; remembered for removal even if later steps fail.
  Result<void> make_dir(const std::string& controller, const std::string& dir) {
    if (::mkdir(dir.c_str(), 0755) != 0) {
      if (errno == EEXIST) {
        return make_error(Code::kAlreadyExists,
                          "cgroup " + dir + " already exists (left by a crashed run?)");
      }
      return sys_error("cannot create cgroup " + dir);
    }
    dirs_.emplace_back(controller, dir);
    return {};
  }
  void set_v2(V2Node node) { v2_ = std::move(node); }
  void adopt_dir(const std::string& controller, const std::string& dir) {
    dirs_.emplace_back(controller, dir);
  }
  void defer(std::function<Result<void>(V1Cgroup&)> rest) { pending_ = std::move(rest); }
  Result<void> finish() override {
    if (!pending_) return {};
    auto rest = std::move(pending_);
    pending_ = nullptr;
    return rest(*this);
  }
  bool finished() const override { return !pending_; }
  [[nodiscard]] bool has_dir(const std::string& d) const {
    return std::any_of(dirs_.begin(), dirs_.end(), [&](const auto& e) { return e.second == d; });
  }
  void alias(const std::string& controller, const std::string& d) {
    aliases_.emplace_back(controller, d);
  }

  const std::string& name() const override { return name_; }

  Result<void> add(pid_t pid) override {
    std::string p = std::to_string(pid);
    for (const auto& [ctrl, dir] : dirs_) {
      if (auto r = write_file(dir + "/cgroup.procs", p); !r) return r;
    }
    if (v2_) return write_file(v2_->dir + "/cgroup.procs", p);
    return {};
  }

  std::vector<std::string> self_join_files() const override {
    std::vector<std::string> out;
    out.reserve(dirs_.size());
    for (const auto& [ctrl, dir] : dirs_) out.push_back(dir + "/tasks");
    return out;  // the cgroup2 node: CLONE_INTO_CGROUP
  }

  Result<std::vector<pid_t>> pids() const override {
    std::string file = (v2_ ? v2_->dir : dirs_.front().second) + "/cgroup.procs";
    auto text = read_file(file);
    if (!text) return std::unexpected(text.error());
    return parse_pids(*text);
  }

  Result<void> freeze(bool frozen) override {
    std::string f = dir("freezer");
    if (f.empty() && v2_) return v2_->freeze(frozen);
    if (f.empty()) return make_error(Code::kFailedPrecondition, "no freezer controller mounted");
    if (auto r = write_file(f + "/freezer.state", frozen ? "FROZEN" : "THAWED"); !r) return r;
    return internal::wait_for_line(f + "/freezer.state", frozen ? "FROZEN" : "THAWED",
                                   std::chrono::seconds(2));
  }

  Result<void> kill() override {
    if (v2_) return v2_->kill();
    // No cgroup.kill in v1: freeze so nothing forks while we signal, then thaw to let them die.
    bool frozen = !dir("freezer").empty() && freeze(true).has_value();
    auto list = pids();
    if (list) {
      for (pid_t p : *list) (void)::kill(p, SIGKILL);
    }
    if (frozen) (void)freeze(false);
    return list ? Result<void>{} : std::unexpected(list.error());
  }

  // SIGKILL to whatever a v1 directory still lists (best effort: it may be gone already).
  static void kill_v1_tasks(const std::string& dir) {
    auto text = read_file(dir + "/cgroup.procs");
    if (!text) return;
    for (pid_t p : parse_pids(*text)) (void)::kill(p, SIGKILL);
  }

  Result<void> remove(std::chrono::milliseconds wait) override {
    if (dirs_.empty() && !v2_) return {};
    if (!dirs_.empty() || v2_) {
      if (auto r = kill(); !r && r.error().errnum != ENOENT) return r;
      if (auto r = wait_empty(*this, wait); !r && r.error().errnum != ENOENT) return r;
    }
    // The cgroup2 node is empty; a v1 directory can still hold a process that joined only the
    // v1 hierarchies and is exiting (a health probe's): busy is retried until the deadline.
    const auto end = std::chrono::steady_clock::now() + wait;
    while (!dirs_.empty()) {
      const auto& dir = dirs_.back().second;
      if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) {
        if (errno == EBUSY && std::chrono::steady_clock::now() < end) {
          kill_v1_tasks(dir);
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
          continue;
        }
        return sys_error("cannot remove cgroup " + dir);
      }
      dirs_.pop_back();
    }
    if (v2_) {
      if (auto r = v2_->remove(); !r) return r;
      v2_.reset();
    }
    return {};
  }

  int v2_fd() const override { return v2_ ? v2_->fd.get() : -1; }
  uint64_t v2_id() const override { return v2_ ? v2_->id : 0; }
  bool v2_only() const override { return false; }
  std::string dir(std::string_view controller) const override {
    if (controller.empty()) return v2_ ? v2_->dir : std::string();
    for (const auto* list : {&dirs_, &aliases_}) {
      for (const auto& [c, d] : *list) {
        if (c == controller) return d;
      }
    }
    return {};
  }

 private:
  std::string name_;
  std::vector<std::pair<std::string, std::string>> dirs_;     // made by us: removed on exit
  std::vector<std::pair<std::string, std::string>> aliases_;  // co-mounted: same directory
  std::optional<V2Node> v2_;
  std::function<Result<void>(V1Cgroup&)> pending_;  // create_deferred's second half
};

struct V1Knob {
  const char* controller;
  std::string file;
  std::string value;
};

Result<std::vector<V1Knob>> v1_knobs(const CgroupLimits& l) {
  std::vector<V1Knob> k;
  if (l.memory_max) {
    k.push_back({"memory", "memory.limit_in_bytes", std::to_string(*l.memory_max)});
  }
  if (l.swap_max) {
    if (!l.memory_max) {
      return make_error(Code::kInvalidArgument, "swap_max needs memory_max on cgroup v1");
    }
    k.push_back(
        {"memory", "memory.memsw.limit_in_bytes", std::to_string(*l.memory_max + *l.swap_max)});
  }
  if (l.memory_high) {
    k.push_back({"memory", "memory.soft_limit_in_bytes", std::to_string(*l.memory_high)});
  }
  if (l.cpu_max) {
    k.push_back({"cpu", "cpu.cfs_period_us", std::to_string(l.cpu_max->period_us)});
    k.push_back({"cpu", "cpu.cfs_quota_us", std::to_string(l.cpu_max->quota_us)});
  }
  if (l.cpu_weight) {
    // v2 weight 100 is v1's 1024 shares; v1 needs at least 2.
    uint64_t shares = std::max<uint64_t>(2, uint64_t{*l.cpu_weight} * 1024 / 100);
    k.push_back({"cpu", "cpu.shares", std::to_string(shares)});
  }
  if (l.pids_max) k.push_back({"pids", "pids.max", std::to_string(*l.pids_max)});
  if (l.io_weight) {
    return make_error(Code::kFailedPrecondition,
                      "io_weight needs cgroup v2; this host's blkio (v1) has no equivalent");
  }
  return k;
}

class V1Backend final : public CgroupBackend {
 public:
  V1Backend(CgroupLayout layout, std::string parent)
      : layout_(std::move(layout)), parent_(std::move(parent)) {}
  std::string_view kind() const override {
    return layout_.unified.empty() ? "cgroup v1" : "cgroup v1 + cgroup2 (hybrid)";
  }

  Result<std::unique_ptr<Cgroup>> create_deferred(const std::string& name,
                                                  const CgroupLimits& limits) override {
    auto knobs = v1_knobs(limits);
    if (!knobs) return std::unexpected(knobs.error());
    for (const auto& k : *knobs) {
      if (!layout_.v1.contains(k.controller)) {
        return make_error(Code::kFailedPrecondition, std::string("the ") + k.controller +
                                                         " controller is not mounted; " + k.file +
                                                         " cannot be enforced here");
      }
    }
    auto cg = std::make_unique<V1Cgroup>(name);  // removes what exists if a step fails
    if (!layout_.unified.empty()) {
      std::string base = layout_.unified + "/" + parent_;
      if (auto r = make_dirs(base); !r) return std::unexpected(r.error());
      auto node = V2Node::make(base + "/" + name);
      if (!node) return std::unexpected(node.error());
      cg->set_v2(std::move(*node));
    }
    // The v1 hierarchies: mount points and names are copied, so the cgroup may outlive us.
    std::vector<std::pair<std::string, std::string>> hierarchies;  // controller, its base
    for (const char* ctrl : kControllers) {
      auto it = layout_.v1.find(ctrl);
      if (it != layout_.v1.end() && wanted(ctrl, limits)) {
        hierarchies.emplace_back(ctrl, it->second + "/" + parent_);
      }
    }
    cg->defer([name, hierarchies = std::move(hierarchies),
               knobs = std::move(*knobs)](V1Cgroup& c) -> Result<void> {
      for (const auto& [ctrl, base] : hierarchies) {
        if (auto r = make_dirs(base); !r) return r;
        std::string dir = base + "/" + name;
        if (c.has_dir(dir)) {
          c.alias(ctrl, dir);  // co-mounted with a controller already handled (cpu,cpuacct)
          continue;
        }
        if (auto r = c.make_dir(ctrl, dir); !r) return r;
      }
      for (const auto& k : knobs) {
        if (auto r = write_file(c.dir(k.controller) + "/" + k.file, k.value); !r) {
          return std::unexpected(r.error().wrap("setting " + k.file + " of cgroup " + name));
        }
      }
      return {};
    });
    return std::unique_ptr<Cgroup>(std::move(cg));
  }

  Result<std::string> v2_parent() override {
    if (layout_.unified.empty()) return std::string();
    std::string base = layout_.unified + "/" + parent_;
    if (auto r = make_dirs(base); !r) return std::unexpected(r.error());
    return base;
  }
  Result<std::unique_ptr<Cgroup>> adopt(const std::string& name) override {
    auto cg = std::make_unique<V1Cgroup>(name);
    if (!layout_.unified.empty()) {
      auto node = V2Node::open_existing(layout_.unified + "/" + parent_ + "/" + name);
      if (!node) return std::unexpected(node.error());
      cg->set_v2(std::move(*node));
    }
    for (const char* ctrl : kControllers) {
      auto it = layout_.v1.find(ctrl);
      if (it == layout_.v1.end()) continue;
      std::string dir = it->second + "/" + parent_ + "/" + name;
      struct stat st {};
      if (::stat(dir.c_str(), &st) != 0) continue;  // a hierarchy this run did not need
      if (cg->has_dir(dir)) {
        cg->alias(ctrl, dir);
      } else {
        cg->adopt_dir(ctrl, dir);
      }
    }
    return std::unique_ptr<Cgroup>(std::move(cg));
  }
  Result<std::vector<StaleCgroup>> claim(const std::vector<std::string>& keep) override {
    std::vector<std::string> v2, v1;
    if (!layout_.unified.empty()) v2.push_back(layout_.unified + "/" + parent_);
    for (const char* ctrl : kControllers) {
      auto it = layout_.v1.find(ctrl);
      if (it == layout_.v1.end()) continue;
      std::string base = it->second + "/" + parent_;
      if (std::find(v1.begin(), v1.end(), base) == v1.end()) v1.push_back(base);
    }
    // Locked: the cgroup2 node if there is one, else the first v1 hierarchy's.
    std::string lock_dir = v2.empty() ? v1.front() : v2.front();
    return internal::claim_parents(lock_dir, v2, v1, keep, lock_);
  }
  Result<void> remove_parent() override {
    for (const char* ctrl : kControllers) {
      auto it = layout_.v1.find(ctrl);
      if (it == layout_.v1.end()) continue;
      std::string base = it->second + "/" + parent_;
      if (::rmdir(base.c_str()) != 0 && errno != ENOENT) return sys_error("cannot remove " + base);
    }
    if (!layout_.unified.empty()) {
      std::string base = layout_.unified + "/" + parent_;
      if (::rmdir(base.c_str()) != 0 && errno != ENOENT) return sys_error("cannot remove " + base);
    }
    return {};
  }

 private:
  // Only the hierarchies a cgroup needs: every one a process joins costs the launch a css_set
  // and the controller's attach work (the cpu controller alone ~150 us here). memory always
  // (usage, OOM kills); on hybrid hosts the cgroup2 node already gives freezing, killing and CPU
  // accounting (cpu.stat), so cpu/cpuacct and pids only when a limit needs them, no freezer.
  [[nodiscard]] bool wanted(std::string_view ctrl, const CgroupLimits& l) const {
    if (ctrl == "memory" || layout_.unified.empty()) return true;
    if (ctrl == "cpu" || ctrl == "cpuacct") return l.cpu_max || l.cpu_weight;
    if (ctrl == "pids") return l.pids_max.has_value();
    return false;  // freezer
  }

  CgroupLayout layout_;
  std::string parent_;
  UniqueFd lock_;
};

}  // namespace

Result<std::unique_ptr<CgroupBackend>> make_v1_backend(const CgroupLayout& layout,
                                                       std::string parent) {
  if (layout.v1.empty()) {
    return make_error(Code::kFailedPrecondition, "no cgroup v1 controller is mounted");
  }
  if (parent.empty() || parent[0] == '/' || parent.find("..") != std::string::npos) {
    return make_error(Code::kInvalidArgument,
                      "cgroup v1 parent must be relative to the hierarchy root: " + parent);
  }
  return std::unique_ptr<CgroupBackend>(std::make_unique<V1Backend>(layout, std::move(parent)));
}

}  // namespace corral::sandbox
