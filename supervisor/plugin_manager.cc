#include "supervisor/plugin_manager.h"

#include <spdlog/spdlog.h>

namespace corral::supervisor {

PluginManager::PluginManager(boost::asio::io_context& io, sandbox::Launcher& launcher,
                             const Clock& clock, std::string log_dir,
                             sandbox::CgroupBackend* cgroups, SandboxHost host)
    : io_(io),
      launcher_(launcher),
      clock_(clock),
      log_dir_(std::move(log_dir)),
      cgroups_(cgroups),
      host_(std::move(host)) {}

Plugin* PluginManager::add(Manifest manifest) {
  std::string name = manifest.name;
  if (plugins_.contains(name)) return nullptr;
  auto [it, inserted] =
      plugins_.emplace(name, std::make_unique<Plugin>(io_, launcher_, clock_, std::move(manifest),
                                                      log_dir_, cgroups_, host_));
  return inserted ? it->second.get() : nullptr;
}

bool PluginManager::remove(std::string_view name) {
  auto it = plugins_.find(name);
  if (it == plugins_.end() || it->second->running()) return false;
  plugins_.erase(it);
  return true;
}

Plugin* PluginManager::find(std::string_view name) {
  auto it = plugins_.find(name);
  return it == plugins_.end() ? nullptr : it->second.get();
}

std::vector<Plugin*> PluginManager::all() {
  std::vector<Plugin*> out;
  out.reserve(plugins_.size());
  for (auto& [name, p] : plugins_) out.push_back(p.get());
  return out;
}

void PluginManager::start_autostart() {
  for (auto& [name, p] : plugins_) {
    if (!p->manifest().autostart) continue;
    // A failed launch is logged by the plugin and retried per its restart policy.
    (void)p->start();
  }
}

void PluginManager::stop_all(std::function<void()> done) {
  auto remaining = std::make_shared<size_t>(plugins_.size() + 1);
  auto one_done = [remaining, done = std::move(done)](Result<void>) {
    if (--*remaining == 0) done();
  };
  for (auto& [name, p] : plugins_) p->stop(p->manifest().stop_timeout, one_done);
  one_done({});
}

}  // namespace corral::supervisor
