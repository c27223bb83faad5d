// corrald: the Corral supervisor daemon. Parses flags (which override the config file), then either
// validates config and manifests (--check-config) or runs the Daemon.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "supervisor/config.h"
#include "supervisor/daemon.h"
#include "supervisor/logging.h"
#include "supervisor/manifest.h"

namespace {

using corral::supervisor::DaemonConfig;

struct Flags {
  std::string config;
  std::string socket, runtime_dir, state_dir, plugins_dir, log_format, log_level;
  bool check_config = false;
};

corral::Result<DaemonConfig> resolve_config(const Flags& f) {
  bool explicit_config = !f.config.empty();
  auto config = corral::supervisor::load_daemon_config(
      explicit_config ? f.config : corral::supervisor::kDefaultConfigPath, explicit_config);
  if (!config) return config;
  // Paths given as flags are relative to the working directory, as for any command.
  auto abs = [](const std::string& p) {
    std::error_code ec;
    auto a = std::filesystem::absolute(p, ec);
    return ec ? p : a.lexically_normal().string();
  };
  if (!f.runtime_dir.empty()) config->runtime_dir = abs(f.runtime_dir);
  if (!f.state_dir.empty()) config->state_dir = abs(f.state_dir);
  if (!f.plugins_dir.empty()) config->plugins_dir = abs(f.plugins_dir);
  if (!f.socket.empty()) config->socket = abs(f.socket);
  if (!f.log_format.empty()) {
    auto fmt = corral::supervisor::parse_log_format(f.log_format);
    if (!fmt) return std::unexpected(fmt.error().wrap("--log-format"));
    config->log_format = *fmt;
  }
  if (!f.log_level.empty()) {
    if (auto ok = corral::supervisor::check_log_level(f.log_level); !ok) {
      return std::unexpected(ok.error().wrap("--log-level"));
    }
    config->log_level = f.log_level;
  }
  if (auto ok = corral::supervisor::validate_daemon_config(*config); !ok) {
    return std::unexpected(ok.error());
  }
  return config;
}

// Prints every problem in the config and manifests; returns the exit code.
int check_config(const DaemonConfig& config) {
  auto set = corral::supervisor::load_manifests(config.plugins_dir);
  if (!set) {
    std::cerr << set.error().describe() << "\n";
    return 1;
  }
  std::vector<std::string> problems = set->problems;
  for (const auto& m : set->manifests) {
    if (auto ok = corral::supervisor::check_manifest_on_host(m); !ok) {
      problems.push_back(ok.error().describe());
    }
  }
  for (const auto& p : problems) std::cerr << p << "\n";
  std::cout << (problems.empty() ? "ok" : "invalid") << ": config and " << set->manifests.size()
            << " valid plugin manifest(s) in " << config.plugins_dir << ", " << problems.size()
            << " problem(s)\n";
  return problems.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"corrald: the Corral plugin supervisor daemon"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--config", f.config, "config file (default /etc/corral/corrald.toml)");
  app.add_option("--socket", f.socket, "control socket path");
  app.add_option("--runtime-dir", f.runtime_dir, "runtime directory (lock, default socket)");
  app.add_option("--state-dir", f.state_dir, "state directory (plugin logs)");
  app.add_option("--plugins-dir", f.plugins_dir, "directory of plugin manifests (*.toml)");
  app.add_option("--log-format", f.log_format, "text or json");
  app.add_option("--log-level", f.log_level, "trace, debug, info, warn or error");
  app.add_flag("--check-config", f.check_config, "validate the config and manifests, then exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  auto config = resolve_config(f);
  if (!config) {
    std::cerr << "corrald: invalid configuration:\n" << config.error().describe() << "\n";
    return 1;
  }
  if (f.check_config) return check_config(*config);

  if (auto ok = corral::supervisor::setup_logging(config->log_format, config->log_level); !ok) {
    std::cerr << "corrald: " << ok.error().describe() << "\n";
    return 1;
  }
  // Writes to a vanished client must fail with EPIPE, not kill the daemon.
  std::signal(SIGPIPE, SIG_IGN);

  auto daemon = corral::supervisor::Daemon::create(*config);
  if (!daemon) {
    spdlog::critical("cannot start: {}", daemon.error().describe());
    return 1;
  }
  return (*daemon)->run();
}
