// LivenessProber: runs one plugin run's liveness probe on the event loop. Every period (after
// the initial delay) it connects to the probe's unix socket and waits for the plugin to write
// at least one byte, or runs the probe's command inside the sandbox and waits for its exit
// (0: healthy), all within the timeout, and reports each attempt's result. Stops (and cancels
// an attempt in flight, killing its command) when destroyed.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/error.h"
#include "sandbox/process.h"
#include "supervisor/manifest_recovery.h"

namespace corral::supervisor {

class LivenessProber {
 public:
  // ok, what happened ("answered in 0.3 ms", "connect: Connection refused", "no answer within
  // 1000 ms").
  using Report = std::function<void(bool ok, const std::string& detail)>;

  // Starts the exec probe's command (sandbox::exec_in_sandbox with the run's sandbox).
  using Spawn = std::function<Result<sandbox::Process>()>;

  // `path`: the socket as corrald reaches it (through /proc/<pid>/root for a sandbox); `spawn`
  // for an exec probe.
  LivenessProber(boost::asio::io_context& io, LivenessProbe probe, std::string path, Spawn spawn,
                 Report report);
  ~LivenessProber();
  LivenessProber(const LivenessProber&) = delete;
  LivenessProber& operator=(const LivenessProber&) = delete;

 private:
  struct Attempt;
  void arm(std::chrono::milliseconds after);
  void probe();
  void probe_exec(const std::shared_ptr<Attempt>& a);
  void finish(const std::shared_ptr<Attempt>& a, bool ok, std::string detail);

  boost::asio::io_context& io_;
  LivenessProbe probe_;
  std::string path_;
  Spawn spawn_;
  Report report_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<Attempt> current_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace corral::supervisor
