// Helpers shared by the collector tests: a tc_workload (the ground-truth program) launched into
// a test's cgroup, and the collectors::Target of a sandbox::Cgroup as corrald fills it.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "collectors/telemetry.h"
#include "sandbox/cgroup.h"
#include "sandbox/launcher.h"
#include "tests/sandbox/sandbox_test_util.h"

namespace corral::collectors::testing {

// A running tc_workload and what it printed so far.
struct Workload {
  sandbox::Process proc;
  UniqueFd out;
  std::string printed;
};

inline Target target_of(const std::string& name, const sandbox::Cgroup& cg,
                        const sandbox::CgroupLimits& limits) {
  Target t;
  t.name = name;
  t.cgroup_id = cg.v2_id();
  t.v2_dir = cg.dir("");
  t.v2_only = cg.v2_only();
  t.memory_dir = cg.dir("memory");
  t.cpu_dir = cg.dir("cpu");
  t.pids_dir = cg.dir("pids");
  t.memory_limit = limits.memory_max.value_or(0);
  return t;
}

// Reads w's output until `what` appears (or the deadline), failing the test if it does not.
inline void wait_for(Workload& w, const std::string& what, std::chrono::milliseconds deadline) {
  if (what.empty()) return;
  w.printed += sandbox::testing::read_until(w.out.get(), what, deadline);
  EXPECT_NE(w.printed.find(what), std::string::npos) << w.printed;
}

// Starts tc_workload ARGS in `cgroup` (stdout and stderr on one pipe), then waits for `until`.
// A failed launch fails the test (bad_expected_access ends it).
inline Workload launch_workload(sandbox::Launcher& launcher, sandbox::Cgroup* cgroup,
                                std::vector<std::string> args, const std::string& until,
                                std::chrono::milliseconds deadline) {
  auto out = sandbox::testing::Pipe::make();
  sandbox::LaunchSpec spec;
  spec.exec = std::string(CORRAL_TESTCASES_DIR) + "/tc_workload";
  spec.args = std::move(args);
  spec.stdout_fd = out.w.get();
  spec.stderr_fd = out.w.get();
  spec.cgroup = cgroup;
  auto p = launcher.launch(spec);
  EXPECT_TRUE(p.has_value()) << p.error().describe();
  out.w.reset();
  Workload w{std::move(p).value(), std::move(out.r), ""};  // a failed launch throws: the test fails
  wait_for(w, until, deadline);
  return w;
}

// The cgroups of one test and the workloads running in them. clear() ends the workloads, then
// removes every cgroup (killing what is left), failing the test if one cannot be removed.
class TestRuns {
 public:
  ~TestRuns() { clear(); }

  // A cgroup made by `backend` under its parent, and its Target.
  Target make_target(sandbox::CgroupBackend& backend, const std::string& name,
                     const sandbox::CgroupLimits& limits = {}) {
    auto cg = backend.create(name, limits);
    if (!cg) {
      ADD_FAILURE() << cg.error().describe();
      return {};
    }
    Target t = target_of(name, **cg, limits);
    by_name_[name] = cg->get();
    cgroups_.push_back(std::move(*cg));
    return t;
  }
  sandbox::Cgroup* cgroup(const Target& t) { return by_name_[t.name]; }

  // Starts tc_workload ARGS in t's cgroup and waits for `until`.
  Workload& launch(const Target& t, std::vector<std::string> args, const std::string& until,
                   std::chrono::milliseconds deadline) {
    workloads_.push_back(launch_workload(launcher_, cgroup(t), std::move(args), until, deadline));
    return workloads_.back();
  }
  [[nodiscard]] Workload& last() { return workloads_.back(); }

  void clear() {
    workloads_.clear();
    for (auto& cg : cgroups_) EXPECT_TRUE(cg->remove(std::chrono::seconds(5)).has_value());
    cgroups_.clear();
    by_name_.clear();
  }

 private:
  std::vector<std::unique_ptr<sandbox::Cgroup>> cgroups_;
  std::map<std::string, sandbox::Cgroup*> by_name_;
  std::deque<Workload> workloads_;
  sandbox::DirectLauncher launcher_;
};

}  // namespace corral::collectors::testing
