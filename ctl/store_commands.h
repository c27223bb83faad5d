// corralctl's audit and admin commands: `audit [verify]` through corrald, or `audit verify --db`
// offline on a store file (a backup, a stopped daemon's); `admin rotate-key`, `admin backup FILE`
// through corrald and `admin restore FILE`, which works only while corrald is stopped.
#pragma once

#include <cstdint>
#include <string>

namespace corral::ctl {

struct StoreCommand {
  std::string name;  // "audit", "audit verify", "admin rotate-key", "admin backup", "admin restore"
  std::string socket;
  bool json = false;
  uint32_t timeout_ms = 5000;
  std::string since, plugin;
  uint32_t limit = 0;
  std::string file;                                                        // backup / restore
  std::string db, keys;                                                    // offline verify
  std::string state_dir = "/var/lib/corral", runtime_dir = "/run/corral";  // restore
};

// Returns corralctl's exit code.
[[nodiscard]] int run_store_command(const StoreCommand& c);

}  // namespace corral::ctl
