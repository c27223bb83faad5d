// Daemon: composes corrald. Takes the runtime-dir lock, loads manifests, opens the control socket,
// starts autostart plugins, tells systemd it is ready (and pings its watchdog), and on SIGTERM or
// SIGINT drains: refuses new commands, closes sessions, stops every plugin, then returns 0. On
// SIGUSR2 it exits leaving its plugins running, for the next corrald to adopt (an upgrade).
#pragma once

#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/clock.h"
#include "common/unique_fd.h"
#include "sandbox/launcher.h"
#include "supervisor/config.h"
#include "supervisor/control_server.h"
#include "supervisor/plugin_manager.h"
#include "supervisor/router.h"
#include "supervisor/store_service.h"
#include "supervisor/telemetry_service.h"

namespace corral::supervisor {

class Daemon {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Daemon>> create(DaemonConfig config);
  ~Daemon();
  // Runs the event loop until shutdown; returns the process exit code.
  int run();

 private:
  explicit Daemon(DaemonConfig config);
  [[nodiscard]] Result<void> init();
  void on_signal(int signo);
  void shutdown(const char* why);
  [[noreturn]] void detach();
  void arm_watchdog();

  DaemonConfig config_;
  boost::asio::io_context io_;  // declared first: destroyed last, after everything using it
  UniqueFd lock_;
  sandbox::DirectLauncher launcher_;
  std::unique_ptr<sandbox::CgroupBackend> cgroups_;  // null when cgroups are off or absent
  std::unique_ptr<IdAllocator> ids_;                 // sandbox id ranges, one per plugin
  std::unique_ptr<TelemetryService> telemetry_;      // null when off; outlives the plugins
  std::unique_ptr<recovery::RecoveryLog> events_;    // outlives the plugins that append to it
  std::unique_ptr<StoreService> store_;              // outlives the plugins, router and sessions
  std::unique_ptr<Authorizer> auth_;                 // outlives the router
  std::unique_ptr<PluginManager> plugins_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<ControlServer> server_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer watchdog_;
  std::chrono::microseconds watchdog_interval_{0};
  bool stopping_ = false;
};

// Takes an exclusive, non-blocking lock on path and writes our pid into it.
[[nodiscard]] Result<UniqueFd> take_lock(const std::string& path);

}  // namespace corral::supervisor
