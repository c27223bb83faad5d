// The cgroup v2 backend (pure unified hosts) and the helpers both backends share. Plain cgroupfs
// rather than libcgroup: every operation here is one read or write of a documented file, and
// libcgroup's v2 support (Debian 12: 2.0.2) adds configuration daemons we do not want, no
// cgroup.kill, and no fd for CLONE_INTO_CGROUP.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>
#include <thread>

#include "common/files.h"
#include "common/unique_fd.h"
#include "sandbox/cgroup.h"
#include "sandbox/cgroup_internal.h"

namespace corral::sandbox {

std::vector<pid_t> parse_pids(std::string_view text) {
  std::vector<pid_t> out;
  std::istringstream in{std::string(text)};
  long v;
  while (in >> v) {
    if (v > 0) out.push_back(static_cast<pid_t>(v));
  }
  return out;
}

Result<void> wait_empty(const Cgroup& cg, std::chrono::milliseconds wait) {
  auto end = std::chrono::steady_clock::now() + wait;
  for (;;) {
    auto pids = cg.pids();
    if (!pids) return std::unexpected(pids.error());
    if (pids->empty()) return {};
    if (std::chrono::steady_clock::now() >= end) {
      return make_error(Code::kFailedPrecondition,
                        "cgroup " + cg.name() + " still has " + std::to_string(pids->size()) +
                            " process(es) after " + std::to_string(wait.count()) +
                            " ms, first pid " + std::to_string(pids->front()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

namespace internal {

Result<V2Node> V2Node::make(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0) {
    if (errno == EEXIST) {
      return make_error(Code::kAlreadyExists,
                        "cgroup " + dir + " already exists (left by a crashed run?)");
    }
    return sys_error("cannot create cgroup " + dir);
  }
  V2Node node;
  node.dir = dir;
  node.fd.reset(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!node.fd) {
    auto err = sys_error("cannot open cgroup " + dir);
    (void)::rmdir(dir.c_str());
    return err;
  }
  struct stat st {};
  if (::fstat(node.fd.get(), &st) != 0) return sys_error("cannot stat cgroup " + dir);
  node.id = st.st_ino;
  return node;
}

Result<V2Node> V2Node::open_existing(const std::string& dir) {
  V2Node node;
  node.fd.reset(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!node.fd) return sys_error("cannot open cgroup " + dir);
  struct stat st {};
  if (::fstat(node.fd.get(), &st) != 0) return sys_error("cannot stat cgroup " + dir);
  node.dir = dir;
  node.id = st.st_ino;
  return node;
}

Result<void> V2Node::kill() const {
  auto r = write_file(dir + "/cgroup.kill", "1");
  if (r || r.error().errnum != ENOENT) return r;
  // Kernels before 5.14 have no cgroup.kill: freeze, signal each member, thaw.
  if (auto f = write_file(dir + "/cgroup.freeze", "1"); !f) return f;
  auto text = read_file(dir + "/cgroup.procs");
  if (!text) return std::unexpected(text.error());
  for (pid_t p : parse_pids(*text)) (void)::kill(p, SIGKILL);
  return write_file(dir + "/cgroup.freeze", "0");
}

Result<void> V2Node::freeze(bool frozen) const {
  if (auto r = write_file(dir + "/cgroup.freeze", frozen ? "1" : "0"); !r) return r;
  return wait_for_line(dir + "/cgroup.events", frozen ? "frozen 1" : "frozen 0",
                       std::chrono::seconds(2));
}

Result<void> V2Node::remove() {
  if (dir.empty()) return {};
  fd.reset();
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) return sys_error("cannot remove cgroup " + dir);
  dir.clear();
  return {};
}

Result<void> wait_for_line(const std::string& file, std::string_view want,
                           std::chrono::milliseconds wait) {
  auto end = std::chrono::steady_clock::now() + wait;
  for (;;) {
    auto text = read_file(file);
    if (!text) return std::unexpected(text.error());
    if (text->find(want) != std::string::npos) return {};
    if (std::chrono::steady_clock::now() >= end) {
      return make_error(Code::kFailedPrecondition, file + " did not show \"" + std::string(want) +
                                                       "\" within " + std::to_string(wait.count()) +
                                                       " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace internal

namespace {

using internal::V2Node;

class V2Cgroup final : public Cgroup {
 public:
  V2Cgroup(std::string name, V2Node node) : name_(std::move(name)), node_(std::move(node)) {}
  ~V2Cgroup() override { (void)remove(std::chrono::seconds(5)); }

  const std::string& name() const override { return name_; }
  Result<void> add(pid_t pid) override {
    return write_file(node_.dir + "/cgroup.procs", std::to_string(pid));
  }
  Result<std::vector<pid_t>> pids() const override {
    auto text = read_file(node_.dir + "/cgroup.procs");
    if (!text) return std::unexpected(text.error());
    return parse_pids(*text);
  }
  Result<void> freeze(bool frozen) override { return node_.freeze(frozen); }
  Result<void> kill() override { return node_.kill(); }
  Result<void> remove(std::chrono::milliseconds wait) override {
    if (node_.dir.empty()) return {};
    if (auto r = kill(); !r && r.error().errnum != ENOENT) return r;
    if (auto r = wait_empty(*this, wait); !r) return r;
    return node_.remove();
  }
  int v2_fd() const override { return node_.fd.get(); }
  uint64_t v2_id() const override { return node_.id; }
  bool v2_only() const override { return true; }
  std::string dir(std::string_view) const override { return node_.dir; }
  std::vector<std::string> self_join_files() const override { return {}; }
  void defer(std::vector<std::pair<std::string, std::string>> knobs) {
    pending_ = std::move(knobs);
  }
  Result<void> finish() override {
    auto knobs = std::move(pending_);
    pending_.clear();
    for (const auto& [file, value] : knobs) {
      if (auto r = write_file(node_.dir + "/" + file, value); !r) {
        return std::unexpected(r.error().wrap("setting " + file + " of cgroup " + name_));
      }
    }
    return {};
  }
  bool finished() const override { return pending_.empty(); }

 private:
  std::string name_;
  V2Node node_;
  std::vector<std::pair<std::string, std::string>> pending_;  // limits not written yet
};

struct V2Knob {
  const char* controller;
  std::string file;
  std::string value;
};

std::vector<V2Knob> v2_knobs(const CgroupLimits& l) {
  std::vector<V2Knob> k;
  if (l.memory_max) k.push_back({"memory", "memory.max", std::to_string(*l.memory_max)});
  if (l.memory_high) k.push_back({"memory", "memory.high", std::to_string(*l.memory_high)});
  if (l.swap_max) k.push_back({"memory", "memory.swap.max", std::to_string(*l.swap_max)});
  if (l.cpu_max) {
    k.push_back({"cpu", "cpu.max",
                 std::to_string(l.cpu_max->quota_us) + " " + std::to_string(l.cpu_max->period_us)});
  }
  if (l.cpu_weight) k.push_back({"cpu", "cpu.weight", std::to_string(*l.cpu_weight)});
  if (l.pids_max) k.push_back({"pids", "pids.max", std::to_string(*l.pids_max)});
  if (l.io_weight) k.push_back({"io", "io.weight", "default " + std::to_string(*l.io_weight)});
  return k;
}

class V2Backend final : public CgroupBackend {
 public:
  explicit V2Backend(std::string parent) : parent_(std::move(parent)) {}
  std::string_view kind() const override { return "cgroup v2"; }

  Result<std::unique_ptr<Cgroup>> create_deferred(const std::string& name,
                                                  const CgroupLimits& limits) override {
    if (auto r = make_dirs(parent_); !r) return std::unexpected(r.error());
    auto knobs = v2_knobs(limits);
    if (auto r = enable_controllers(knobs); !r) return std::unexpected(r.error());
    auto node = V2Node::make(parent_ + "/" + name);
    if (!node) return std::unexpected(node.error());
    auto cg = std::make_unique<V2Cgroup>(name, std::move(*node));  // removes itself on failure
    std::vector<std::pair<std::string, std::string>> pending;
    for (auto& k : knobs) pending.emplace_back(std::move(k.file), std::move(k.value));
    cg->defer(std::move(pending));
    return std::unique_ptr<Cgroup>(std::move(cg));
  }

  Result<std::string> v2_parent() override {
    if (auto r = make_dirs(parent_); !r) return std::unexpected(r.error());
    return parent_;
  }
  Result<std::vector<StaleCgroup>> claim(const std::vector<std::string>& keep) override {
    return internal::claim_parents(parent_, {parent_}, {}, keep, lock_);
  }
  Result<std::unique_ptr<Cgroup>> adopt(const std::string& name) override {
    auto node = V2Node::open_existing(parent_ + "/" + name);
    if (!node) return std::unexpected(node.error());
    return std::unique_ptr<Cgroup>(std::make_unique<V2Cgroup>(name, std::move(*node)));
  }
  Result<void> remove_parent() override {
    if (::rmdir(parent_.c_str()) != 0 && errno != ENOENT) {
      return sys_error("cannot remove " + parent_);
    }
    return {};
  }

 private:
  Result<void> enable_controllers(const std::vector<V2Knob>& knobs) {
    std::vector<std::string> need;
    for (const auto& k : knobs) {
      if (std::find(need.begin(), need.end(), k.controller) == need.end()) {
        need.push_back(k.controller);
      }
    }
    auto available = v2_controllers(parent_);
    if (!available) return std::unexpected(available.error());
    std::string line;
    // Memory accounting for every plugin, limited or not (telemetry reads memory.current,
    // memory.stat and memory.events; systemd's MemoryAccounting= is on by default for the same
    // reason). Best effort: without the controller only the limits that need it fail.
    if (std::find(need.begin(), need.end(), "memory") == need.end() &&
        std::find(available->begin(), available->end(), "memory") != available->end()) {
      line = "+memory";
    }
    for (const auto& c : need) {
      if (std::find(available->begin(), available->end(), c) == available->end()) {
        std::string have;
        for (const auto& a : *available) have += (have.empty() ? "" : " ") + a;
        return make_error(Code::kFailedPrecondition,
                          "the " + c + " controller is not available in " + parent_ +
                              " (cgroup.controllers: \"" + have + "\"); " + c +
                              " limits cannot be enforced here");
      }
      line += (line.empty() ? "+" : " +") + c;
    }
    if (line.empty()) return {};
    return write_file(parent_ + "/cgroup.subtree_control", line);
  }

  std::string parent_;
  UniqueFd lock_;
};

}  // namespace

Result<std::unique_ptr<CgroupBackend>> make_v2_backend(std::string parent) {
  if (parent.empty() || parent[0] != '/') {
    return make_error(Code::kInvalidArgument, "cgroup v2 parent must be absolute: " + parent);
  }
  return std::unique_ptr<CgroupBackend>(std::make_unique<V2Backend>(std::move(parent)));
}

}  // namespace corral::sandbox
