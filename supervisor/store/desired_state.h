// DesiredState: what the journal says corrald should be doing, one PluginRecord per plugin ever
// registered. Pure: built by applying journal entries in sequence order (or loaded from a
// snapshot and then applied), so replay after a crash gives exactly what was acknowledged.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "corral/v1/store.pb.h"

namespace corral::supervisor::store {

class DesiredState {
 public:
  // Applies entry `seq` about `plugin` (seq must be above every seq applied so far).
  void apply(uint64_t seq, const std::string& plugin, int64_t at_unix_ms,
             const v1::JournalBody& body);
  [[nodiscard]] const v1::PluginRecord* find(const std::string& plugin) const;
  // Changes to what is wanted of the plugin so far (0 for one never mentioned).
  [[nodiscard]] uint64_t generation(const std::string& plugin) const;
  [[nodiscard]] uint64_t seq() const { return seq_; }
  [[nodiscard]] const std::map<std::string, v1::PluginRecord>& plugins() const { return plugins_; }

  [[nodiscard]] v1::Snapshot snapshot() const;
  [[nodiscard]] static DesiredState from_snapshot(const v1::Snapshot& s);

 private:
  uint64_t seq_ = 0;
  std::map<std::string, v1::PluginRecord> plugins_;
};

[[nodiscard]] const char* wanted_name(v1::Wanted w);
[[nodiscard]] const char* phase_name(v1::Phase p);

}  // namespace corral::supervisor::store
