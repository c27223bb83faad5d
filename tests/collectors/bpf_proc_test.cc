// Ground truth for BpfProcCollector: tc_workload does a known amount of work (CPU, forks, execs,
// fds, an OOM) inside real cgroups made under corral/ by the sandbox backend, and the BPF
// counters and events must match it. Every test removes its cgroups; skips name what is missing.
#include "collectors/bpf_proc_collector.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/files.h"
#include "sandbox/cgroup.h"
#include "sandbox/launcher.h"
#include "tests/collectors/workload_util.h"
#include "tests/sandbox/sandbox_test_util.h"

namespace corral::collectors {
namespace {

using namespace std::chrono_literals;
using sandbox::testing::Pipe;
using sandbox::testing::read_until;
using ::testing::HasSubstr;

int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string describe_value(const Collector& c, const std::string& key) {
  for (const auto& [k, v] : c.describe()) {
    if (k == key) return v;
  }
  return "";
}

using testing::Workload;

class BpfProc : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (cgroups, BPF)";
    auto l = sandbox::detect_cgroup_layout();
    ASSERT_TRUE(l.has_value()) << l.error().describe();
    layout_ = *l;
    if (layout_.unified.empty()) GTEST_SKIP() << "needs a cgroup2 mount (BPF attributes by it)";
    parent_ = "corral/bpf-proc-test-" + std::to_string(::getpid());
    // Test processes share "corral" (ctest runs two at once): deciding whether we make it,
    // and making it, happens under an exclusive lock; each then holds a shared one until its
    // TearDown, where the last one out (the only one to get the lock exclusively) removes what
    // a test made, as the marker file says.
    lock_ = UniqueFd(::open(kParentLock, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    ASSERT_TRUE(lock_) << kParentLock << ": " << std::strerror(errno);
    ASSERT_EQ(::flock(lock_.get(), LOCK_EX), 0) << std::strerror(errno);
    struct stat st {};
    made_corral_ = ::stat((layout_.unified + "/corral").c_str(), &st) != 0;
    if (made_corral_) {
      ASSERT_TRUE(write_file_atomic(kParentMade, "bpf_proc_test\n", 0600).has_value());
    }
    // The VM lane (CORRAL_IN_VM=1) boots without controllers enabled at its root; it is the
    // VM's own root, enabled as systemd would. Elsewhere the root is never touched.
    if (layout_.mode == sandbox::CgroupMode::kUnified && std::getenv("CORRAL_IN_VM") != nullptr) {
      auto w = write_file(layout_.unified + "/cgroup.subtree_control", "+memory +pids +cpu");
      ASSERT_TRUE(w.has_value()) << w.error().describe();
    }
    if (layout_.mode == sandbox::CgroupMode::kUnified && made_corral_) {
      // Ours: delegate what the v2 backend enables one level further down.
      ASSERT_TRUE(make_dirs(layout_.unified + "/corral").has_value());
      auto offered = sandbox::v2_controllers(layout_.unified + "/corral");
      ASSERT_TRUE(offered.has_value()) << offered.error().describe();
      for (const std::string& ctrl : *offered) {
        if (ctrl != "memory" && ctrl != "pids" && ctrl != "cpu") continue;
        auto w = write_file(layout_.unified + "/corral/cgroup.subtree_control", "+" + ctrl);
        EXPECT_TRUE(w.has_value()) << w.error().describe();
      }
    }
    auto b = layout_.mode == sandbox::CgroupMode::kUnified
                 ? sandbox::make_v2_backend(layout_.unified + "/" + parent_)
                 : sandbox::make_v1_backend(layout_, parent_);
    ASSERT_TRUE(b.has_value()) << b.error().describe();
    backend_ = std::move(*b);
    // Our directories exist now (the v1 backend makes its parents as it creates cgroups, which
    // the shared lock keeps others from removing under us).
    ASSERT_EQ(::flock(lock_.get(), LOCK_SH), 0) << std::strerror(errno);
  }
  void TearDown() override {
    runs_.clear();
    if (backend_) {
      EXPECT_TRUE(backend_->remove_parent().has_value());
    }
    if (!lock_) return;
    if (::flock(lock_.get(), LOCK_EX | LOCK_NB) == 0 && ::access(kParentMade, F_OK) == 0) {
      // Nobody else is inside, and a test made "corral": remove it (only empty ones go).
      (void)::rmdir((layout_.unified + "/corral").c_str());
      for (const auto& [ctrl, mount] : layout_.v1) (void)::rmdir((mount + "/corral").c_str());
      (void)::unlink(kParentMade);
    }
    lock_.reset();  // releases the lock
  }

  // The collector, or a skip when this build or host has no BPF.
  std::unique_ptr<BpfProcCollector> collector(const BpfProcOptions& o = {}) {
    auto c = BpfProcCollector::create(o);
    if (!c && c.error().code == Code::kUnimplemented) {
      skip_ = "built without BPF: " + c.error().describe();
      return nullptr;
    }
    EXPECT_TRUE(c.has_value()) << c.error().describe();
    return c ? std::move(*c) : nullptr;
  }

  Target make_target(const std::string& name, const sandbox::CgroupLimits& limits = {}) {
    return runs_.make_target(*backend_, name, limits);
  }
  Workload& launch(const Target& t, std::vector<std::string> args,
                   const std::string& until = "ready\n") {
    return runs_.launch(t, std::move(args), until, 150s);
  }
  void wait_for(Workload& w, const std::string& what) { testing::wait_for(w, what, 150s); }

  Sample sample(Collector& c, const Target& t, MetricSet which = MetricSet::all()) {
    Sample s;
    const Target* ts[] = {&t};
    Sample* ss[] = {&s};
    which = [&] {
      MetricSet m;
      for (Metric x : {Metric::kSched, Metric::kProcesses, Metric::kOom, Metric::kFds}) {
        if (which.has(x) && c.metrics().has(x)) m.add(x);
      }
      return m;
    }();
    auto r = c.sample(ts, ss, which);
    EXPECT_TRUE(r.has_value()) << r.error().describe();
    return s;
  }

  // Drains until `done` says so or the deadline passes, waiting on event_fd.
  template <class Done>
  std::vector<Event> events_until(Collector& c, Done done, std::chrono::milliseconds deadline) {
    std::vector<Event> all;
    auto end = std::chrono::steady_clock::now() + deadline;
    for (;;) {
      c.drain_events(all);
      if (done(all) || std::chrono::steady_clock::now() >= end) return all;
      pollfd p{c.event_fd(), POLLIN, 0};
      (void)::poll(&p, 1, 20);
    }
  }
  std::vector<Event> drain(Collector& c) {
    std::vector<Event> out;
    c.drain_events(out);
    return out;
  }

  sandbox::CgroupLayout layout_;
  std::string parent_;
  bool made_corral_ = false;
  UniqueFd lock_;  // flock: shared while this test uses "corral"
  static constexpr const char* kParentLock = "/tmp/corral-bpf-proc-test.lock";
  static constexpr const char* kParentMade = "/tmp/corral-bpf-proc-test.made";
  std::string skip_;
  std::unique_ptr<sandbox::CgroupBackend> backend_;
  testing::TestRuns runs_;
};

#define COLLECTOR_OR_SKIP(var, ...)          \
  auto var = collector(__VA_ARGS__);         \
  if (!skip_.empty()) GTEST_SKIP() << skip_; \
  ASSERT_NE(var, nullptr)

size_t count(const std::vector<Event>& es, EventKind k, uint64_t cgroup_id) {
  size_t n = 0;
  for (const Event& e : es) n += e.kind == k && e.cgroup_id == cgroup_id ? 1 : 0;
  return n;
}

TEST_F(BpfProc, OnCpuTimeMatchesACpuBurn) {
  COLLECTOR_OR_SKIP(c);
  Target t = make_target("cpu");
  ASSERT_TRUE(c->track(t).has_value());
  Workload& w = launch(t, {"fds", "0", "sleep", "200", "cpu", "300"}, "fds 0\n");
  Sample before = sample(*c, t);  // the launch and exec cost CPU too (~40 ms each under TCG)
  wait_for(w, "ready\n");
  Sample s = sample(*c, t);
  s.sched.oncpu_ns -= before.sched.oncpu_ns;
  ASSERT_EQ(s.source_of(Metric::kSched), Source::kBpf);
  const double ms = static_cast<double>(s.sched.oncpu_ns) / 1e6;
  std::cout << "on-CPU " << ms << " ms for `cpu 300` (" << w.printed.substr(0, 40)
            << "); runq waits " << s.sched.runq_waits << ", total "
            << static_cast<double>(s.sched.runq_wait_ns) / 1e6 << " ms, max "
            << static_cast<double>(s.sched.runq_max_ns) / 1e6 << " ms\n";
  EXPECT_NEAR(ms, 300.0, 45.0);
  EXPECT_GT(s.sched.runq_waits, 0u);
  EXPECT_LE(s.sched.runq_max_ns, s.sched.runq_wait_ns);
  EXPECT_LT(s.sched.runq_wait_ns / s.sched.runq_waits, 100'000'000u) << "mean wait under 100 ms";
}

// A task that has not left its CPU since it started still shows its running slice. The kernel's
// own view is the yardstick: /proc/<pid>/schedstat's sum_exec_runtime (which includes the current
// slice) read just before and just after the sample bounds what BPF may report. Wall time is not:
// under a loaded CI (ASan, two ctest jobs on two CPUs) the burner gets far less than a CPU.
// Iterator: the running_slices pass (task->on_cpu), exact every time, even for a slice whose
// switch-in sched_switch missed. Procfs: each CPU's recorded task through /proc; a slice with a
// missed switch-in shows only once it ends, so there a low reading must catch up once the
// burner is stopped (SIGSTOP ends its slice).
class BpfProcRunning : public BpfProc, public ::testing::WithParamInterface<bool> {};

TEST_P(BpfProcRunning, OnCpuTimeIncludesTheRunningSlice) {
  BpfProcOptions o;
  o.running_iter = GetParam();
  COLLECTOR_OR_SKIP(c, o);
  {
    auto d = c->describe();
    std::map<std::string, std::string> m(d.begin(), d.end());
    if (GetParam()) {
      ASSERT_EQ(m["sched: running slices"], "iter/task (running_slices)")
          << m["refused running slices"];
    } else {
      ASSERT_THAT(m["sched: running slices"], HasSubstr("/proc/<tid>/stat"));
    }
  }
  Target t = make_target("running");
  ASSERT_TRUE(c->track(t).has_value());
  Workload& w = launch(t, {"fds", "0", "cpu", "3000"}, "fds 0\n");
  auto runtime_ns = [&]() -> uint64_t {
    auto text = read_file("/proc/" + std::to_string(w.proc.pid()) + "/schedstat");
    EXPECT_TRUE(text.has_value()) << text.error().describe();
    return text ? std::strtoull(text->c_str(), nullptr, 10) : 0;
  };
  std::this_thread::sleep_for(300ms);
  bool late = false;
  for (int round = 0; round < 2; ++round) {
    const uint64_t lo = runtime_ns();
    Sample s = sample(*c, t);
    const uint64_t hi = runtime_ns();
    auto d = c->describe();
    std::map<std::string, std::string> m(d.begin(), d.end());
    std::cout << "round " << round << ": kernel " << static_cast<double>(lo) / 1e6 << ".."
              << static_cast<double>(hi) / 1e6 << " ms, BPF "
              << static_cast<double>(s.sched.oncpu_ns) / 1e6
              << " ms; slices without a seen switch-in: "
              << m["sched: slices without a seen switch-in"] << "\n";
    EXPECT_GT(lo, 50'000'000u) << "the burner ran at least 50 ms";
    // Slack below: what the task ran before it joined the cgroup (a hybrid host moves it there
    // after clone) is in its schedstat but not the cgroup's. Above: the sample's own time.
    EXPECT_LE(s.sched.oncpu_ns, hi + 20'000'000u) << "a stale slice was credited";
    if (s.sched.oncpu_ns + 5'000'000u < lo) {
      EXPECT_FALSE(GetParam()) << "the running slice is missing";
      late = true;
    }
    std::this_thread::sleep_for(200ms);
  }
  if (!late) return;
  // Procfs, a slice was missing: stopping the burner ends it, and then it must be counted.
  ASSERT_EQ(::kill(w.proc.pid(), SIGSTOP), 0);
  std::this_thread::sleep_for(50ms);
  const uint64_t lo = runtime_ns();
  Sample s = sample(*c, t);
  std::cout << "stopped: kernel " << static_cast<double>(lo) / 1e6 << " ms, BPF "
            << static_cast<double>(s.sched.oncpu_ns) / 1e6 << " ms\n";
  EXPECT_GE(s.sched.oncpu_ns + 5'000'000u, lo) << "the ended slice was not counted";
  EXPECT_LE(s.sched.oncpu_ns, lo + 20'000'000u);
  ASSERT_EQ(::kill(w.proc.pid(), SIGCONT), 0);
}

INSTANTIATE_TEST_SUITE_P(Slices, BpfProcRunning, ::testing::Bool(), [](const auto& p) {
  return std::string(p.param ? "Iterator" : "Procfs");
});

// The host's stolen time so far (/proc/stat "cpu" line, 8th value), in USER_HZ ticks.
static uint64_t steal_ticks() {
  auto text = read_file("/proc/stat", 4096);
  if (!text) return 0;
  std::istringstream in(*text);
  std::string cpu;
  uint64_t v[8] = {};
  in >> cpu;
  for (uint64_t& x : v) in >> x;
  return v[7];
}

// Two burners pinned to nothing on 2 CPUs plus a third: someone must wait in the run queue.
TEST_F(BpfProc, RunQueueLatencyGrowsUnderContention) {
  COLLECTOR_OR_SKIP(c);
  Target t = make_target("runq");
  ASSERT_TRUE(c->track(t).has_value());
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  // Under emulation (the cgroup-v2 lane) a launch takes a second or more.
  const bool in_vm = std::getenv("CORRAL_IN_VM") != nullptr;
  std::vector<Workload*> ws;
  for (long i = 0; i < cpus + 1; ++i) {
    // The sleep lets every burner start before any burns, even where a launch is slow (the
    // emulated cgroup-v2 lane): they must overlap for anyone to wait.
    ws.push_back(
        &launch(t, {"fds", "0", "sleep", in_vm ? "6000" : "1500", "cpu", "200"}, "fds 0\n"));
  }
  const uint64_t steal_before = steal_ticks();
  Sample before = sample(*c, t);
  for (Workload* w : ws) wait_for(*w, "ready\n");
  Sample s = sample(*c, t);
  const uint64_t steal = steal_ticks() - steal_before;
  s.sched.oncpu_ns -= before.sched.oncpu_ns;
  s.sched.runq_wait_ns -= before.sched.runq_wait_ns;
  std::cout << cpus + 1 << " burners of 200 ms on " << cpus << " CPUs: on-CPU "
            << static_cast<double>(s.sched.oncpu_ns) / 1e6 << " ms, runq wait "
            << static_cast<double>(s.sched.runq_wait_ns) / 1e6 << " ms over " << s.sched.runq_waits
            << " waits, max " << static_cast<double>(s.sched.runq_max_ns) / 1e6
            << " ms; the hypervisor stole " << steal << " ticks meanwhile\n";
  // On-CPU time is what the scheduler charged (stolen time is not the task's, as in cpu.stat).
  EXPECT_NEAR(static_cast<double>(s.sched.oncpu_ns) / 1e6, 200.0 * static_cast<double>(cpus + 1),
              0.15 * 200.0 * static_cast<double>(cpus + 1));
  EXPECT_GT(s.sched.runq_wait_ns, 10'000'000u) << "someone waited at least 10 ms in total";
}

TEST_F(BpfProc, ForksAndExitsAreCountedExactly) {
  COLLECTOR_OR_SKIP(c);
  Target t = make_target("fork");
  ASSERT_TRUE(c->track(t).has_value());
  Workload& w = launch(t, {"fds", "0", "sleep", "300", "fork", "50", "threads", "4"}, "fds 0\n");
  Sample before = sample(*c, t);
  wait_for(w, "ready\n");
  Sample after = sample(*c, t);
  EXPECT_EQ(after.processes.forks - before.processes.forks, 50u) << "threads are not forks";
  EXPECT_EQ(after.processes.exits - before.processes.exits, 50u);
  EXPECT_EQ(after.processes.tasks, 5u) << "the workload and its 4 threads";
  EXPECT_EQ(after.source_of(Metric::kProcesses), Source::kBpf);
}

TEST_F(BpfProc, ExecsAreCountedAndReported) {
  COLLECTOR_OR_SKIP(c);
  Target t = make_target("exec");
  ASSERT_TRUE(c->track(t).has_value());
  Workload& w = launch(t, {"fds", "0", "sleep", "300", "exec", "20"}, "fds 0\n");
  Sample before = sample(*c, t);
  std::vector<Event> launch_events = drain(*c);
  EXPECT_EQ(count(launch_events, EventKind::kExec, t.cgroup_id), 1u) << "tc_workload's own exec";
  wait_for(w, "ready\n");
  Sample after = sample(*c, t);
  EXPECT_EQ(after.processes.execs - before.processes.execs, 20u);
  std::vector<Event> es = events_until(
      *c, [&](auto& all) { return count(all, EventKind::kExec, t.cgroup_id) >= 20; }, 2s);
  EXPECT_EQ(count(es, EventKind::kExec, t.cgroup_id), 20u);
  for (const Event& e : es) {
    if (e.kind != EventKind::kExec) continue;
    EXPECT_EQ(e.detail, "true");
    EXPECT_EQ(e.source, Source::kBpf);
    EXPECT_GT(e.pid, 0);
    EXPECT_NE(e.pid, w.proc.pid());
  }
  EXPECT_EQ(c->lost_events(), 0u);
}

// Both ways of counting: each process's fd table bitmap (iter/task, preferred) and each open
// file (iter/task_file, the fallback).
class BpfProcFds : public BpfProc, public ::testing::WithParamInterface<bool> {};

TEST_P(BpfProcFds, OpenFdsAreCountedPerCgroup) {
  BpfProcOptions o;
  o.fd_tables = GetParam();
  COLLECTOR_OR_SKIP(c, o);
  auto d = c->describe();
  std::map<std::string, std::string> m(d.begin(), d.end());
  EXPECT_EQ(m["fds"], GetParam() ? "iter/task" : "iter/task_file") << m["refused open fds"];
  Target base = make_target("fds0");
  Target many = make_target("fds100");
  ASSERT_TRUE(c->track(base).has_value());
  ASSERT_TRUE(c->track(many).has_value());
  launch(base, {"fds", "0", "threads", "3"});
  launch(many, {"fds", "100", "threads", "3"});
  const Target* ts[] = {&base, &many};
  Sample s0, s1;
  Sample* ss[] = {&s0, &s1};
  auto r = c->sample(ts, ss, MetricSet{Metric::kFds});
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  std::cout << "fds: baseline " << s0.fds.open << ", with 100 more " << s1.fds.open << "\n";
  EXPECT_GT(s0.fds.open, 0u);
  EXPECT_EQ(s1.fds.open, s0.fds.open + 100) << "threads share the table: counted once";
  // A second pass gives the same answer (the generation resets the counts).
  ASSERT_TRUE(c->sample(ts, ss, MetricSet{Metric::kFds}).has_value());
  EXPECT_EQ(s1.fds.open, s0.fds.open + 100);
  // The kernel's own count agrees: /proc/<pid>/fd of the workload with 100 more.
  size_t listed = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(
           "/proc/" + std::to_string(runs_.last().proc.pid()) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++listed;
  }
  EXPECT_EQ(s1.fds.open, listed);
}

INSTANTIATE_TEST_SUITE_P(Counting, BpfProcFds, ::testing::Bool(), [](const auto& p) {
  return std::string(p.param ? "FdTables" : "TaskFile");
});

class BpfProcOom : public BpfProc, public ::testing::WithParamInterface<const char*> {};

TEST_P(BpfProcOom, OomKillNamesTheVictimAndItsCgroup) {
  BpfProcOptions o;
  o.best_variant = GetParam();
  COLLECTOR_OR_SKIP(c, o);
  ASSERT_TRUE(c->metrics().has(Metric::kOom)) << describe_value(*c, "refused mark_victim");
  std::cout << "oom hook: " << describe_value(*c, "oom") << "\n";
  if (layout_.mode == sandbox::CgroupMode::kUnified) {
    auto offered = sandbox::v2_controllers(layout_.unified + "/corral");
    if (!offered || std::find(offered->begin(), offered->end(), "memory") == offered->end()) {
      GTEST_SKIP() << "needs the cgroup v2 memory controller in " << layout_.unified << "/corral";
    }
  }
  sandbox::CgroupLimits l;
  l.memory_max = 32 << 20;
  Target t = make_target("oom", l);
  Target other = make_target("bystander");
  ASSERT_TRUE(c->track(t).has_value());
  ASSERT_TRUE(c->track(other).has_value());
  Workload& w = launch(t, {"oom"}, "oom\n");
  std::vector<Event> es = events_until(
      *c, [&](auto& all) { return count(all, EventKind::kOomKill, t.cgroup_id) > 0; }, 20s);
  int64_t arrived = now_ns();
  ASSERT_EQ(count(es, EventKind::kOomKill, t.cgroup_id), 1u);
  for (const Event& e : es) {
    if (e.kind != EventKind::kOomKill) continue;
    EXPECT_EQ(e.pid, w.proc.pid());
    EXPECT_EQ(e.detail, "tc_workload");
    EXPECT_LT(arrived - e.at_ns, 1'000'000'000) << "delivered within 1 s of the kill";
    std::cout << "victim " << e.pid << " rss " << e.value / 1024 << " KiB, delivered after "
              << static_cast<double>(arrived - e.at_ns) / 1e6 << " ms\n";
    if (e.value != 0) {
      EXPECT_GT(e.value, 16u << 20);
      EXPECT_LT(e.value, 64u << 20);
    }
  }
  auto st = w.proc.wait();
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->signaled);
  EXPECT_EQ(sample(*c, t).oom.kills, 1u);
  EXPECT_EQ(sample(*c, other).oom.kills, 0u);
}

INSTANTIATE_TEST_SUITE_P(Variants, BpfProcOom, ::testing::Values("tp_btf", "tracepoint"));

TEST_F(BpfProc, UntrackedCgroupsAreNotCounted) {
  COLLECTOR_OR_SKIP(c);
  Target seen = make_target("seen");
  Target unseen = make_target("unseen");
  ASSERT_TRUE(c->track(seen).has_value());
  launch(unseen, {"fork", "10", "exec", "3", "cpu", "50"});
  launch(seen, {"fork", "2"});
  EXPECT_EQ(count(drain(*c), EventKind::kExec, unseen.cgroup_id), 0u);
  Sample s;
  const Target* ts[] = {&unseen};
  Sample* ss[] = {&s};
  auto r = c->sample(ts, ss, MetricSet{Metric::kProcesses});
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, HasSubstr("'unseen'"));
  // Tracked afterwards: it starts from zero.
  ASSERT_TRUE(c->track(unseen).has_value());
  Sample late = sample(*c, unseen);
  EXPECT_EQ(late.processes.forks, 0u);
  EXPECT_EQ(late.sched.oncpu_ns, 0u);
  EXPECT_EQ(sample(*c, seen).processes.forks, 3u) << "2, and the launch's clone into the cgroup";
  c->untrack(seen);
  const Target* ts2[] = {&seen};
  EXPECT_FALSE(c->sample(ts2, ss, MetricSet{Metric::kProcesses}).has_value());
}

TEST_F(BpfProc, AFullRingBufferCountsWhatItDropped) {
  BpfProcOptions o;
  o.ring_bytes = 4096;  // about 70 records
  COLLECTOR_OR_SKIP(c, o);
  Target t = make_target("flood");
  ASSERT_TRUE(c->track(t).has_value());
  Workload& w = launch(t, {"fds", "0", "sleep", "300", "exec", "400"}, "fds 0\n");
  (void)drain(*c);
  ASSERT_EQ(c->lost_events(), 0u);
  wait_for(w, "ready\n");
  std::vector<Event> es = drain(*c);
  size_t delivered = count(es, EventKind::kExec, t.cgroup_id);
  uint64_t lost_reported = 0;
  for (const Event& e : es) lost_reported += e.kind == EventKind::kLost ? e.value : 0;
  std::cout << "exec 400 into a 4 KiB ring: delivered " << delivered << ", lost "
            << c->lost_events() << "\n";
  EXPECT_GT(c->lost_events(), 0u);
  EXPECT_EQ(lost_reported, c->lost_events()) << "a kLost event carries the growth";
  EXPECT_EQ(delivered + c->lost_events(), 400u);
  std::vector<Event> again = drain(*c);
  EXPECT_EQ(count(again, EventKind::kLost, 0), 0u) << "no kLost without new losses";
}

TEST_F(BpfProc, PerKeyReadsAgreeWithBatchReads) {
  BpfProcOptions per_key;
  per_key.batch_reads = false;
  COLLECTOR_OR_SKIP(a);
  COLLECTOR_OR_SKIP(b, per_key);
  Target t = make_target("reads");
  ASSERT_TRUE(a->track(t).has_value());
  ASSERT_TRUE(b->track(t).has_value());
  launch(t, {"fork", "7", "exec", "3"});
  Sample sa = sample(*a, t), sb = sample(*b, t);
  EXPECT_EQ(sa.processes.forks, sb.processes.forks);
  EXPECT_EQ(sa.processes.execs, sb.processes.execs);
  EXPECT_EQ(sa.processes.execs, 4u) << "3 and the workload's own";
  EXPECT_EQ(describe_value(*a, "stats_reads"), "batch");
  EXPECT_EQ(describe_value(*b, "stats_reads"), "per-key");
}

// The raw_tp variants count the same as tp_btf.
TEST_F(BpfProc, RawTracepointFallbackCountsTheSame) {
  BpfProcOptions o;
  o.best_variant = "raw_tp";
  COLLECTOR_OR_SKIP(c, o);
  EXPECT_EQ(describe_value(*c, "sched"),
            "raw_tp/sched_switch + raw_tp/sched_wakeup + raw_tp/sched_wakeup_new");
  Target t = make_target("raw");
  ASSERT_TRUE(c->track(t).has_value());
  Workload& w = launch(t,
                       {"fds", "0", "sleep", "300", "fork", "30", "exec", "5", "fds", "1", "sleep",
                        "300", "cpu", "100"},
                       "fds 0\n");
  Sample before = sample(*c, t);
  wait_for(w, "fds 1\n");
  Sample mid = sample(*c, t);
  wait_for(w, "ready\n");
  Sample after = sample(*c, t);
  EXPECT_EQ(mid.processes.forks - before.processes.forks, 35u);
  EXPECT_EQ(mid.processes.execs - before.processes.execs, 5u);
  EXPECT_NEAR(static_cast<double>(after.sched.oncpu_ns - mid.sched.oncpu_ns) / 1e6, 100.0, 15.0);
}

TEST_F(BpfProc, DescribeNamesHooksAndRunTimes) {
  COLLECTOR_OR_SKIP(c);
  Target t = make_target("describe");
  ASSERT_TRUE(c->track(t).has_value());
  launch(t, {"fork", "5", "exec", "2", "fds", "3", "cpu", "20"});
  (void)sample(*c, t);
  auto d = c->describe();
  std::map<std::string, std::string> m(d.begin(), d.end());
  for (const auto& [k, v] : d) std::cout << "  " << k << ": " << v << "\n";
  EXPECT_THAT(m["sched"], HasSubstr("sched_switch"));
  EXPECT_THAT(m["processes"], HasSubstr("sched_process_exec"));
  EXPECT_THAT(m["oom"], HasSubstr("mark_victim"));
  EXPECT_EQ(m["fds"], "iter/task") << m["refused open fds"];
  const std::string sw = "run_cnt " + m["sched"].substr(0, m["sched"].find(' '));
  ASSERT_TRUE(m.contains(sw)) << sw;
  EXPECT_GT(std::stoull(m[sw]), 0u);
  EXPECT_GT(std::stoull(m["run_cnt iter/task"]), 0u);
  EXPECT_EQ(m["ring_buffer_bytes"], "262144");
}

TEST_F(BpfProc, AVerifierRefusalIsReportedInTheKernelsWords) {
  BpfProcOptions o;
  o.selftest_reject = true;
  auto c = BpfProcCollector::create(o);
  if (!c && c.error().code == Code::kUnimplemented) GTEST_SKIP() << c.error().describe();
  ASSERT_FALSE(c.has_value());
  std::cout << c.error().describe() << "\n";
  EXPECT_THAT(c.error().describe(), HasSubstr("selftest_reject"));
  EXPECT_THAT(c.error().describe(), HasSubstr("invalid mem access"));  // the verifier's verdict
}

TEST_F(BpfProc, TrackRefusesATargetWithoutACgroup2Node) {
  COLLECTOR_OR_SKIP(c);
  Target t;
  t.name = "v1-only";
  auto r = c->track(t);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, HasSubstr("'v1-only'"));
}

}  // namespace
}  // namespace corral::collectors
