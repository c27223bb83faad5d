// PluginManager: owns every Plugin by name (stable addresses for the event loop's handlers),
// starts the autostart ones and stops them all on shutdown.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "supervisor/plugin.h"

namespace corral::supervisor {

class PluginManager {
 public:
  PluginManager(boost::asio::io_context& io, sandbox::Launcher& launcher, const Clock& clock,
                std::string log_dir, sandbox::CgroupBackend* cgroups, SandboxHost host = {});

  Plugin* add(Manifest manifest);
  // Forgets a plugin that is not running (a finished one-shot run). False if it runs or is absent.
  bool remove(std::string_view name);
  [[nodiscard]] Plugin* find(std::string_view name);
  [[nodiscard]] std::vector<Plugin*> all();  // sorted by name
  [[nodiscard]] size_t size() const { return plugins_.size(); }
  [[nodiscard]] const sandbox::Launcher& launcher() const { return launcher_; }

  void start_autostart();
  // Stops every plugin with its own stop timeout; done() once none runs.
  void stop_all(std::function<void()> done);

 private:
  boost::asio::io_context& io_;
  sandbox::Launcher& launcher_;
  const Clock& clock_;
  std::string log_dir_;
  sandbox::CgroupBackend* cgroups_;
  SandboxHost host_;
  std::map<std::string, std::unique_ptr<Plugin>, std::less<>> plugins_;
};

}  // namespace corral::supervisor
