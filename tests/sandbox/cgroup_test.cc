// Cgroup backends against the kernel: limits written where the kernel reads them, processes
// moved in, pids.max and memory limits enforced, freeze, kill reaching grandchildren, and no
// directory left behind. v1 runs on hosts with v1 controllers (this CI); the v2 node operations
// run on any cgroup2 mount; v2 limits need a v2 hierarchy with controllers (the VM lane).
#include "sandbox/cgroup.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include <cstdlib>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/files.h"
#include "sandbox/launcher.h"
#include "tests/sandbox/sandbox_test_util.h"

namespace corral::sandbox {
namespace {

using ::testing::HasSubstr;
using namespace testing;  // NOLINT: the helpers
using namespace std::chrono_literals;

bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

std::string read(const std::string& p) {
  auto t = read_file(p);
  return t ? *t : "<" + t.error().describe() + ">";
}

// A shell that waits for a line on stdin before running `script`, so the test can move it into
// a cgroup first.
struct Gated {
  Process proc;
  UniqueFd go;
  UniqueFd out;
};

Gated gated_sh(const std::string& script) {
  Pipe in = Pipe::make();
  Pipe out = Pipe::make();
  DirectLauncher launcher;
  LaunchSpec spec;
  spec.exec = "/bin/sh";
  spec.args = {"-c", "read go; " + script};
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.stdin_fd = in.r.get();
  spec.stdout_fd = out.w.get();
  spec.stderr_fd = out.w.get();
  auto p = launcher.launch(spec);
  if (!p) ADD_FAILURE() << p.error().describe();
  return {std::move(*p), std::move(in.w), std::move(out.r)};
}

void release(Gated& g) { ASSERT_EQ(::write(g.go.get(), "go\n", 3), 3); }

bool wait_until_pids(const Cgroup& cg, size_t n) {
  for (int i = 0; i < 500; ++i) {
    auto p = cg.pids();
    if (p && p->size() >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// Starts a shell in cg that tries to start 30 background sleeps; pids.max (5) must refuse it.
void expect_fork_bomb_contained(Cgroup& cg, const std::string& pids_dir) {
  Gated g = gated_sh(
      "i=0; while [ $i -lt 30 ]; do sleep 30 >/dev/null 2>&1 & i=$((i+1)); done; echo spawned");
  ASSERT_TRUE(cg.add(g.proc.pid()).has_value());
  release(g);
  std::string out = drain(g.out.get());  // EOF once the shell is gone
  EXPECT_THAT(out, HasSubstr("fork")) << "the shell must have been refused a fork";
  EXPECT_THAT(out, ::testing::Not(HasSubstr("spawned")));
  auto pids = cg.pids();
  ASSERT_TRUE(pids.has_value());
  EXPECT_LE(pids->size(), 5u);
  EXPECT_THAT(read(pids_dir + "/pids.events"), ::testing::ContainsRegex("max [1-9]"));
  ASSERT_TRUE(cg.remove(2s).has_value());
  auto st = g.proc.wait();
  ASSERT_TRUE(st.has_value());
  EXPECT_FALSE(st->success());
}

// Runs python3 allocating 256 MiB in cg (limited far below that): it must be OOM-killed.
void expect_oom_killed(Cgroup& cg, const std::string& counters_file) {
  Gated g = gated_sh("exec /usr/bin/python3 -c 'b = bytearray(256 << 20); print(len(b))'");
  ASSERT_TRUE(cg.add(g.proc.pid()).has_value());
  release(g);
  auto st = g.proc.wait();
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->signaled);
  EXPECT_EQ(st->code, SIGKILL) << st->describe();
  EXPECT_THAT(read(counters_file), ::testing::ContainsRegex("oom_kill [1-9]"));
}

// Delegates to a real cgroup but refuses add(): a launch can then only succeed if the child was
// cloned straight into the cgroup (CLONE_INTO_CGROUP) or moved itself in (v1 self_join_files).
class NoAdd final : public Cgroup {
 public:
  explicit NoAdd(Cgroup& inner) : inner_(inner) {}
  const std::string& name() const override { return inner_.name(); }
  Result<void> add(pid_t) override {
    return make_error(Code::kInternal, "add() must not be needed on a v2-only cgroup");
  }
  Result<std::vector<pid_t>> pids() const override { return inner_.pids(); }
  Result<void> freeze(bool f) override { return inner_.freeze(f); }
  Result<void> kill() override { return inner_.kill(); }
  Result<void> remove(std::chrono::milliseconds w) override { return inner_.remove(w); }
  int v2_fd() const override { return inner_.v2_fd(); }
  uint64_t v2_id() const override { return inner_.v2_id(); }
  bool v2_only() const override { return inner_.v2_only(); }
  std::string dir(std::string_view c) const override { return inner_.dir(c); }
  std::vector<std::string> self_join_files() const override { return inner_.self_join_files(); }
  Result<void> finish() override { return inner_.finish(); }
  bool finished() const override { return inner_.finished(); }

 private:
  Cgroup& inner_;
};

// Launches sh, which prints its /proc/self/cgroup and an empty line, then sleeps: in cg, and
// sandboxed when box is given. The process and what it printed, or the launch's error.
struct Shown {
  Process proc;
  std::string cgroups;
};
Result<Shown> show_cgroups(DirectLauncher& launcher, Cgroup* cg, const SandboxSpec* box = nullptr) {
  Pipe out = Pipe::make();
  LaunchSpec spec;
  spec.exec = "/bin/sh";
  spec.args = {"-c", "cat /proc/self/cgroup; echo; exec sleep 30"};
  spec.stdout_fd = out.w.get();
  spec.cgroup = cg;
  spec.sandbox = box;
  auto p = launcher.launch(spec);
  if (!p) return std::unexpected(p.error());
  out.w.reset();
  std::string seen = read_until(out.r.get(), "\n\n");
  return Shown{std::move(*p), std::move(seen)};
}

class CgroupV1 : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
    auto l = detect_cgroup_layout();
    ASSERT_TRUE(l.has_value());
    layout_ = *l;
    for (const char* c : {"memory", "pids", "cpu", "freezer"}) {
      if (!layout_.v1.contains(c)) GTEST_SKIP() << "needs the cgroup v1 " << c << " controller";
    }
    parent_ = "corral-test-" + std::to_string(::getpid());
    auto b = make_v1_backend(layout_, parent_);
    ASSERT_TRUE(b.has_value()) << b.error().describe();
    backend_ = std::move(*b);
  }
  void TearDown() override {
    if (!backend_) return;
    EXPECT_TRUE(backend_->remove_parent().has_value());
    for (const auto& [c, m] : layout_.v1) EXPECT_FALSE(exists(m + "/" + parent_)) << c;
    if (!layout_.unified.empty()) {
      EXPECT_FALSE(exists(layout_.unified + "/" + parent_));
    }
  }
  CgroupLayout layout_;
  std::string parent_;
  std::unique_ptr<CgroupBackend> backend_;
};

TEST_F(CgroupV1, LimitsAreWrittenWhereTheKernelReadsThem) {
  CgroupLimits l;
  l.memory_max = 64 << 20;
  l.cpu_max = CpuMax{50000, 100000};
  l.cpu_weight = 200;
  l.pids_max = 42;
  auto cg = backend_->create("limits", l);
  ASSERT_TRUE(cg.has_value()) << cg.error().describe();
  EXPECT_EQ(read((*cg)->dir("memory") + "/memory.limit_in_bytes"), "67108864\n");
  EXPECT_EQ(read((*cg)->dir("cpu") + "/cpu.cfs_quota_us"), "50000\n");
  EXPECT_EQ(read((*cg)->dir("cpu") + "/cpu.shares"), "2048\n");
  EXPECT_EQ(read((*cg)->dir("pids") + "/pids.max"), "42\n");
  std::string mem_dir = (*cg)->dir("memory");
  ASSERT_TRUE((*cg)->remove(1s).has_value());
  EXPECT_FALSE(exists(mem_dir));
}

TEST_F(CgroupV1, ProcessesMoveInAndTheKernelAgrees) {
  CgroupLimits l;
  l.pids_max = 100;
  auto cg = backend_->create("member", l);
  ASSERT_TRUE(cg.has_value()) << cg.error().describe();
  Gated g = gated_sh("exec sleep 30");
  ASSERT_TRUE((*cg)->add(g.proc.pid()).has_value());
  std::string self = read_proc(g.proc.pid(), "cgroup");
  EXPECT_THAT(self, HasSubstr(":memory:/" + parent_ + "/member\n"));
  EXPECT_THAT(self, HasSubstr(":pids:/" + parent_ + "/member\n"));
  if (!layout_.unified.empty()) {
    EXPECT_THAT(self, HasSubstr("0::/" + parent_ + "/member\n"));
    struct stat st {};
    ASSERT_EQ(::stat((*cg)->dir("").c_str(), &st), 0);
    EXPECT_EQ((*cg)->v2_id(), st.st_ino);
    EXPECT_GE((*cg)->v2_fd(), 0);
  }
  auto pids = (*cg)->pids();
  ASSERT_TRUE(pids.has_value());
  EXPECT_EQ(*pids, std::vector<pid_t>{g.proc.pid()});
}

// Only the hierarchies the limits need: on a hybrid host the cgroup2 node does freezing, killing
// and CPU accounting.
TEST_F(CgroupV1, DirectoriesOnlyWhereTheyAreNeeded) {
  auto plain = backend_->create("plain", {});
  ASSERT_TRUE(plain.has_value()) << plain.error().describe();
  EXPECT_FALSE((*plain)->dir("memory").empty());
  bool hybrid = !layout_.unified.empty();
  for (const char* c : {"cpu", "cpuacct", "pids", "freezer"}) {
    EXPECT_EQ((*plain)->dir(c).empty(), hybrid) << c;
    EXPECT_EQ(exists(layout_.v1.at(c) + "/" + parent_ + "/plain"), !hybrid) << c;
  }
  CgroupLimits l;
  l.cpu_weight = 200;
  l.pids_max = 10;
  auto limited = backend_->create("limited", l);
  ASSERT_TRUE(limited.has_value()) << limited.error().describe();
  for (const char* c : {"memory", "cpu", "cpuacct", "pids"}) {
    EXPECT_FALSE((*limited)->dir(c).empty()) << c;
  }
  EXPECT_EQ((*limited)->dir("freezer").empty(), hybrid);
}

TEST_F(CgroupV1, LauncherChildMovesItselfIn) {
  CgroupLimits l;
  l.pids_max = 100;
  auto cg = backend_->create("self", l);
  ASSERT_TRUE(cg.has_value()) << cg.error().describe();
  NoAdd strict(**cg);
  DirectLauncher launcher;
  auto shown = show_cgroups(launcher, &strict);
  ASSERT_TRUE(shown.has_value()) << shown.error().describe();
  const std::string& seen = shown->cgroups;
  for (const char* c : {"memory", "pids"}) {
    EXPECT_THAT(seen, HasSubstr(std::string(":") + c + ":/" + parent_ + "/self\n")) << c;
  }
  if (!layout_.unified.empty()) {
    EXPECT_THAT(seen, HasSubstr("0::/" + parent_ + "/self\n"));
  }
  auto pids = (*cg)->pids();
  ASSERT_TRUE(pids.has_value());
  EXPECT_THAT(*pids, ::testing::Contains(shown->proc.pid()));
}

// A deferred cgroup has only its cgroup2 node until the launch finishes it: the sandbox's child
// is cloned first, and joins the v1 hierarchies, limits written, when it is released.
TEST_F(CgroupV1, DeferredCreationIsFinishedByTheLaunch) {
  CgroupLimits l;
  l.memory_max = 64 << 20;
  l.pids_max = 50;
  for (bool sandboxed : {true, false}) {
    std::string name = sandboxed ? "deferred-sbx" : "deferred";
    auto cg = backend_->create_deferred(name, l);
    ASSERT_TRUE(cg.has_value()) << cg.error().describe();
    EXPECT_FALSE((*cg)->finished());
    EXPECT_FALSE(exists(layout_.v1.at("memory") + "/" + parent_ + "/" + name));
    SandboxSpec box;
    box.host_id_base = 0x7A200000;
    DirectLauncher launcher;
    auto shown = show_cgroups(launcher, cg->get(), sandboxed ? &box : nullptr);
    ASSERT_TRUE(shown.has_value()) << shown.error().describe();
    EXPECT_TRUE((*cg)->finished());
    EXPECT_EQ(read((*cg)->dir("memory") + "/memory.limit_in_bytes"), "67108864\n");
    EXPECT_EQ(read((*cg)->dir("pids") + "/pids.max"), "50\n");
    // The kernel's view from the host: the program (pid 2 inside a sandbox) is in every hierarchy.
    pid_t program = shown->proc.program_pid();
    ASSERT_GT(program, 0);
    std::string self = read_proc(program, "cgroup");
    for (const char* c : {"memory", "pids"}) {
      EXPECT_THAT(self, HasSubstr(std::string(":") + c + ":/" + parent_ + "/" + name + "\n")) << c;
    }
    // Inside a sandbox its cgroup namespace is rooted there: it sees itself at "/".
    EXPECT_THAT(shown->cgroups,
                HasSubstr(sandboxed ? ":memory:/\n" : ":memory:/" + parent_ + "/" + name));
  }
}

TEST_F(CgroupV1, PidsMaxStopsAForkBomb) {
  CgroupLimits l;
  l.pids_max = 5;
  auto cg = backend_->create("forkbomb", l);
  ASSERT_TRUE(cg.has_value()) << cg.error().describe();
  expect_fork_bomb_contained(**cg, (*cg)->dir("pids"));
}

TEST_F(CgroupV1, MemoryLimitOomKillsInsideTheGroup) {
  if (!exists("/usr/bin/python3")) GTEST_SKIP() << "needs /usr/bin/python3";
  CgroupLimits l;
  l.memory_max = 32 << 20;
  auto cg = backend_->create("oom", l);
  ASSERT_TRUE(cg.has_value()) << cg.error().describe();
  expect_oom_killed(**cg, (*cg)->dir("memory") + "/memory.oom_control");
}

TEST_F(CgroupV1, FreezeStopsTheGroupAndThawResumesIt) {
  auto cg = backend_->create("freeze", {});
  ASSERT_TRUE(cg.has_value()) << cg.error().describe();
  Gated g = gated_sh("exec sleep 30");
  ASSERT_TRUE((*cg)->add(g.proc.pid()).has_value());
  // v1's freezer, or on a hybrid host the cgroup2 node's.
  std::string v1 = (*cg)->dir("freezer");
  auto state = [&] {
    if (!v1.empty()) return read(v1 + "/freezer.state");
    std::string events = read((*cg)->dir("") + "/cgroup.events");
    return std::string(events.find("frozen 1") != std::string::npos ? "FROZEN\n" : "THAWED\n");
  };
  ASSERT_TRUE((*cg)->freeze(true).has_value());
  EXPECT_EQ(state(), "FROZEN\n");
  // Where the kernel holds it: v2's freezer traps it in signal delivery, v1's in the refrigerator.
  EXPECT_THAT(read_proc(g.proc.pid(), "wchan"),
              ::testing::ContainsRegex("get_signal|do_freezer_trap|refrigerator"));
  ASSERT_TRUE((*cg)->freeze(false).has_value());
  EXPECT_EQ(state(), "THAWED\n");
}

TEST_F(CgroupV1, KillReachesEveryProcessAndDropRemovesEverything) {
  std::vector<std::string> dirs;
  pid_t grandchild = 0;
  Gated g = gated_sh("sleep 30 & echo $!; exec sleep 30");
  {
    auto cg = backend_->create("dropme", {});
    ASSERT_TRUE(cg.has_value()) << cg.error().describe();
    for (const char* c : {"memory", "pids", "freezer", ""}) dirs.push_back((*cg)->dir(c));
    ASSERT_TRUE((*cg)->add(g.proc.pid()).has_value());
    release(g);
    grandchild = std::stoi(read_until(g.out.get(), "\n"));
    ASSERT_TRUE(wait_until_pids(**cg, 2));
  }  // the Cgroup is dropped: kill, wait, rmdir
  for (const auto& d : dirs) {
    if (!d.empty()) {
      EXPECT_FALSE(exists(d)) << d;
    }
  }
  EXPECT_TRUE(wait_dead(grandchild));
  auto st = g.proc.wait();
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->code, SIGKILL);
}

TEST_F(CgroupV1, LimitsTheHostCannotEnforceAreErrors) {
  CgroupLimits l;
  l.io_weight = 100;
  auto cg = backend_->create("io", l);
  ASSERT_FALSE(cg.has_value());
  EXPECT_THAT(cg.error().message, HasSubstr("io_weight needs cgroup v2"));
  auto dup = backend_->create("dup", {});
  ASSERT_TRUE(dup.has_value());
  auto again = backend_->create("dup", {});
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, Code::kAlreadyExists);
  EXPECT_TRUE(exists((*dup)->dir("memory"))) << "a failed create must not remove another's dirs";
}

class CgroupV2Node : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
    auto l = detect_cgroup_layout();
    ASSERT_TRUE(l.has_value());
    if (l->unified.empty()) GTEST_SKIP() << "needs a cgroup2 mount";
    parent_ = l->unified + "/corral-test-v2-" + std::to_string(::getpid());
    auto b = make_v2_backend(parent_);
    ASSERT_TRUE(b.has_value());
    backend_ = std::move(*b);
  }
  void TearDown() override {
    if (!backend_) return;
    EXPECT_TRUE(backend_->remove_parent().has_value());
    EXPECT_FALSE(exists(parent_));
  }
  std::string parent_;
  std::unique_ptr<CgroupBackend> backend_;
};

TEST_F(CgroupV2Node, AddFreezeKillRemove) {
  auto cg = backend_->create("node", {});
  ASSERT_TRUE(cg.has_value()) << cg.error().describe();
  Gated g = gated_sh("sleep 30 & echo $!; exec sleep 30");
  ASSERT_TRUE((*cg)->add(g.proc.pid()).has_value());
  release(g);
  pid_t grandchild = std::stoi(read_until(g.out.get(), "\n"));
  EXPECT_THAT(read_proc(grandchild, "cgroup"), HasSubstr("/corral-test-v2-"));
  ASSERT_TRUE((*cg)->freeze(true).has_value());
  EXPECT_THAT(read((*cg)->dir("") + "/cgroup.events"), HasSubstr("frozen 1"));
  ASSERT_TRUE((*cg)->freeze(false).has_value());
  std::string dir = (*cg)->dir("");
  ASSERT_TRUE((*cg)->remove(2s).has_value());
  EXPECT_FALSE(exists(dir));
  EXPECT_TRUE(wait_dead(grandchild));
  auto st = g.proc.wait();
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->code, SIGKILL);
}

TEST_F(CgroupV2Node, LauncherClonesStraightIntoTheCgroup) {
  auto cg = backend_->create("born", {});
  ASSERT_TRUE(cg.has_value()) << cg.error().describe();
  NoAdd strict(**cg);
  DirectLauncher launcher;
  auto shown = show_cgroups(launcher, &strict);
  ASSERT_TRUE(shown.has_value()) << shown.error().describe();
  EXPECT_THAT(shown->cgroups,
              HasSubstr("0::/" + parent_.substr(parent_.rfind('/') + 1) + "/born\n"));
  auto pids = (*cg)->pids();  // the shell, and perhaps `cat` still exiting
  ASSERT_TRUE(pids.has_value());
  EXPECT_THAT(*pids, ::testing::Contains(shown->proc.pid()));
}

TEST_F(CgroupV2Node, LimitWithoutItsControllerIsAClearError) {
  auto avail = v2_controllers(parent_.substr(0, parent_.rfind('/')));
  ASSERT_TRUE(avail.has_value());
  if (std::find(avail->begin(), avail->end(), "memory") != avail->end()) {
    GTEST_SKIP() << "this cgroup2 tree has the memory controller (covered by the v2 lane)";
  }
  CgroupLimits l;
  l.memory_max = 1 << 20;
  auto cg = backend_->create("nomem", l);
  ASSERT_FALSE(cg.has_value());
  EXPECT_THAT(cg.error().message, HasSubstr("the memory controller is not available"));
  EXPECT_FALSE(exists(parent_ + "/nomem"));
}

}  // namespace
}  // namespace corral::sandbox

namespace corral::sandbox {
namespace {

// v2 limits need a cgroup2 tree with controllers: a pure-v2 host, or the VM lane (tests/vm),
// which sets CORRAL_IN_VM=1 and lets this fixture enable controllers at the VM's root, as
// systemd does on a real host. On other hosts the root is never touched.
class CgroupV2Limits : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
    auto l = detect_cgroup_layout();
    ASSERT_TRUE(l.has_value());
    if (l->mode != CgroupMode::kUnified) GTEST_SKIP() << "needs a pure cgroup v2 host (v2 lane)";
    root_ = l->unified;
    if (std::getenv("CORRAL_IN_VM") != nullptr) {
      ASSERT_TRUE(write_file(root_ + "/cgroup.subtree_control", "+memory +pids +cpu").has_value());
    }
    auto avail = v2_controllers(root_);
    ASSERT_TRUE(avail.has_value());
    for (const char* c : {"memory", "pids", "cpu"}) {
      if (std::find(avail->begin(), avail->end(), c) == avail->end()) {
        GTEST_SKIP() << "needs the cgroup v2 " << c << " controller";
      }
    }
    parent_ = root_ + "/corral-test-" + std::to_string(::getpid());
    auto b = make_v2_backend(parent_);
    ASSERT_TRUE(b.has_value());
    backend_ = std::move(*b);
  }
  void TearDown() override {
    if (!backend_) return;
    EXPECT_TRUE(backend_->remove_parent().has_value());
    EXPECT_FALSE(exists(parent_));
  }
  std::string root_, parent_;
  std::unique_ptr<CgroupBackend> backend_;
};

TEST_F(CgroupV2Limits, LimitsAreWrittenWhereTheKernelReadsThem) {
  CgroupLimits l;
  l.memory_max = 64 << 20;
  l.memory_high = 48 << 20;
  l.cpu_max = CpuMax{50000, 100000};
  l.cpu_weight = 200;
  l.pids_max = 42;
  auto cg = backend_->create("limits", l);
  ASSERT_TRUE(cg.has_value()) << cg.error().describe();
  std::string d = (*cg)->dir("");
  EXPECT_EQ(read(d + "/memory.max"), "67108864\n");
  EXPECT_EQ(read(d + "/memory.high"), "50331648\n");
  EXPECT_EQ(read(d + "/cpu.max"), "50000 100000\n");
  EXPECT_EQ(read(d + "/cpu.weight"), "200\n");
  EXPECT_EQ(read(d + "/pids.max"), "42\n");
}

// Cloned straight into the node, limits written while the child sets itself up: they are in
// place by the time launch() returns, before the program has done anything.
TEST_F(CgroupV2Limits, DeferredLimitsAreInPlaceBeforeTheProgramRuns) {
  CgroupLimits l;
  l.pids_max = 5;
  l.memory_max = 64 << 20;
  auto cg = backend_->create_deferred("deferred", l);
  ASSERT_TRUE(cg.has_value()) << cg.error().describe();
  EXPECT_FALSE((*cg)->finished());
  EXPECT_EQ(read((*cg)->dir("") + "/pids.max"), "max\n");
  SandboxSpec box;
  box.host_id_base = 0x7A300000;
  DirectLauncher launcher;
  auto shown = show_cgroups(launcher, cg->get(), &box);
  ASSERT_TRUE(shown.has_value()) << shown.error().describe();
  EXPECT_TRUE((*cg)->finished());
  EXPECT_EQ(read((*cg)->dir("") + "/pids.max"), "5\n");
  EXPECT_EQ(read((*cg)->dir("") + "/memory.max"), "67108864\n");
  EXPECT_EQ(shown->cgroups, "0::/\n\n");  // its cgroup namespace's root
  auto pids = (*cg)->pids();
  ASSERT_TRUE(pids.has_value());
  EXPECT_THAT(*pids, ::testing::Contains(shown->proc.program_pid()));
}

TEST_F(CgroupV2Limits, PidsMaxStopsAForkBomb) {
  CgroupLimits l;
  l.pids_max = 5;
  auto cg = backend_->create("forkbomb", l);
  ASSERT_TRUE(cg.has_value()) << cg.error().describe();
  expect_fork_bomb_contained(**cg, (*cg)->dir(""));
}

TEST_F(CgroupV2Limits, MemoryMaxOomKillsInsideTheGroup) {
  if (!exists("/usr/bin/python3")) GTEST_SKIP() << "needs /usr/bin/python3";
  CgroupLimits l;
  l.memory_max = 32 << 20;
  l.swap_max = 0;
  auto cg = backend_->create("oom", l);
  ASSERT_TRUE(cg.has_value()) << cg.error().describe();
  expect_oom_killed(**cg, (*cg)->dir("") + "/memory.events");
}

TEST_F(CgroupV2Limits, CpuMaxThrottles) {
  CgroupLimits l;
  l.cpu_max = CpuMax{10000, 100000};  // 10% of one CPU
  auto cg = backend_->create("cpu", l);
  ASSERT_TRUE(cg.has_value()) << cg.error().describe();
  Gated g = gated_sh("while :; do :; done");
  ASSERT_TRUE((*cg)->add(g.proc.pid()).has_value());
  release(g);
  std::this_thread::sleep_for(1s);
  std::string stat = read((*cg)->dir("") + "/cpu.stat");
  EXPECT_THAT(stat, ::testing::ContainsRegex("nr_throttled [1-9]")) << stat;
  ASSERT_TRUE((*cg)->remove(2s).has_value());
}

}  // namespace
}  // namespace corral::sandbox
