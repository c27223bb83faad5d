// RunObserver: told of every plugin run's cgroup before its program starts and after it ends,
// so that per-run kernel state (telemetry tracking, the network allow-list) exists before the
// program's first instruction and is gone with the run. Called on the event loop.
#pragma once

#include <string>

#include "common/error.h"
#include "sandbox/cgroup.h"

namespace corral::supervisor {

struct Manifest;

class RunObserver {
 public:
  virtual ~RunObserver() = default;
  // The run's cgroup exists (its cgroup2 node at least) and nothing runs in it yet. An error
  // fails the launch (e.g. a network allow-list this host cannot enforce).
  [[nodiscard]] virtual Result<void> run_starting(const std::string& plugin,
                                                  const Manifest& manifest,
                                                  sandbox::Cgroup& cgroup) = 0;
  // The program runs (it has exec'd) and its cgroup is complete (a deferred cgroup's v1
  // directories exist now).
  virtual void run_started(const std::string& plugin, sandbox::Cgroup& cgroup) = 0;
  // The run is over (or its launch failed after run_starting); its cgroup is about to go.
  virtual void run_ended(const std::string& plugin) = 0;
  // Recovery's degrade: refuse (cut) or restore every connect and bind of the run, through its
  // cgroup's network programs. An error when this host cannot.
  [[nodiscard]] virtual Result<void> cut_network(const std::string& plugin, bool cut) = 0;
};

}  // namespace corral::supervisor
