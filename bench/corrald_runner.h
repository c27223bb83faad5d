// CorraldRunner: the build's real corrald (supervisor/corrald) on private directories under
// /tmp with a given config and plugin manifests, for the benchmarks that measure it from
// outside. Stops it with SIGTERM (SIGKILL after 60 s) and removes its directories when
// destroyed. Setup failures print and exit: benchmarks have no one to return them to.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>

#include "ctl/client.h"

namespace corral::bench {

class CorraldRunner {
 public:
  // manifests: file name (without .toml) -> its text. `tag` names the temporary directory.
  CorraldRunner(const std::string& tag, const std::string& config,
                const std::map<std::string, std::string>& manifests);
  ~CorraldRunner();
  CorraldRunner(const CorraldRunner&) = delete;
  CorraldRunner& operator=(const CorraldRunner&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] const std::string& socket() const { return socket_; }
  // A connected client (after Hello), or an error while corrald does not answer yet.
  [[nodiscard]] Result<ctl::Client> client(std::chrono::milliseconds timeout) const;
  // Plugins in state RUNNING, or -1 while corrald does not answer.
  [[nodiscard]] int running() const;
  [[nodiscard]] bool alive();
  // SIGTERM, then up to 60 s; the wait status (-1: it had to be killed).
  int stop();
  // SIGKILL (no chance to stop its plugins), and a new corrald on the same directories.
  void kill9();
  void respawn();
  [[nodiscard]] std::string log_tail() const;

 private:
  void spawn();
  std::string dir_, socket_;
  pid_t pid_ = -1;
  int status_ = -1;
};

}  // namespace corral::bench
