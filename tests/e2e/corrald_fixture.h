// CorraldFixture: starts a real corrald binary on a private temporary runtime/state/plugins
// directory, and offers the client library, the real corralctl binary and raw socket access to
// drive it. TearDown sends SIGTERM, checks a clean exit 0 and removes everything it made.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/unique_fd.h"
#include "ctl/client.h"

namespace corral::e2e {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs argv (argv[0] is a path), waits for it, and captures its stdout and stderr.
CommandResult run_command(const std::vector<std::string>& argv,
                          const std::vector<std::string>& extra_env = {});

// Polls pred every 20 ms until it holds or the deadline passes.
bool wait_until(const std::function<bool()>& pred,
                std::chrono::milliseconds deadline = std::chrono::seconds(10));

bool process_alive(pid_t pid);

// Whether the kernel holds pid frozen (its v1 freezer or cgroup2 cgroup.events), or nullopt if
// no freezer state is found.
std::optional<bool> cgroup_frozen(pid_t pid);

class CorraldFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Writes plugins/<file> before start_daemon().
  void write_manifest(const std::string& file, const std::string& toml);
  // Starts corrald and waits until its socket answers. Extra flags are appended.
  void start_daemon(const std::vector<std::string>& extra_flags = {},
                    const std::vector<std::string>& extra_env = {});
  // SIGKILL, as a crash: corrald gets no chance to stop its plugins. Waits for it.
  void kill_daemon();
  // SIGTERM, wait; returns corrald's exit status (as from waitpid) or -1 on timeout.
  int stop_daemon(std::chrono::milliseconds deadline = std::chrono::seconds(30));

  [[nodiscard]] ctl::Client client();
  CommandResult ctl(const std::vector<std::string>& args);
  [[nodiscard]] v1::PluginInfo status(const std::string& name);
  // Waits until the plugin reaches state (and, if pred given, pred holds).
  bool wait_state(const std::string& name, v1::PluginState state,
                  std::chrono::milliseconds deadline = std::chrono::seconds(10));
  [[nodiscard]] std::string daemon_log() const;
  // A plugin's captured lines (ring tail), one per line.
  [[nodiscard]] std::string plugin_log(const std::string& name);
  // Waits for a line "<prefix><pid>" in a plugin's log and returns the pid (0 on timeout).
  // The host pid of the number a plugin printed after `prefix` (its own pid namespace's view).
  [[nodiscard]] pid_t pid_from_log(const std::string& name, const std::string& prefix);
  // The host pid of the process that has pid `inner` in name's sandbox (found in its cgroup).
  [[nodiscard]] pid_t host_pid(const std::string& name, pid_t inner);
  // The [cgroup] section every test config needs: a parent unique to this test process, so
  // daemons running side by side never share plugin cgroups.
  [[nodiscard]] std::string cgroup_section() const;
  // A raw connected socket (no Hello) for protocol abuse tests.
  [[nodiscard]] UniqueFd raw_connect() const;

  // Appended to the config start_daemon() writes (e.g. a [telemetry] section).
  std::string extra_config_;
  std::string dir_, socket_, plugins_dir_, state_dir_, runtime_dir_, log_path_;
  pid_t daemon_pid_ = -1;
};

// Raw protocol helpers over a blocking socket with a deadline.
bool send_all(int fd, std::string_view bytes);
// Reads one frame's payload; empty optional on EOF/timeout.
std::optional<std::string> read_frame(int fd, std::chrono::milliseconds deadline);
bool send_request(int fd, const v1::Request& req);
std::optional<v1::Response> read_response(
    int fd, std::chrono::milliseconds deadline = std::chrono::seconds(5));
// True if the peer closed the connection (EOF) within the deadline.
bool peer_closed(int fd, std::chrono::milliseconds deadline = std::chrono::seconds(5));
v1::Request hello_request(uint32_t min = 1, uint32_t max = 1);

}  // namespace corral::e2e
