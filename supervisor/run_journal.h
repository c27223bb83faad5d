// RunJournal: where a Plugin records each live sandboxed run (its init's pid and start time, its
// exit file, its id range) and its end, so that a corrald started after this one died adopts the
// run instead of killing it. The StoreService journals them.
#pragma once

#include <string>

#include "corral/v1/store.pb.h"

namespace corral::supervisor {

class RunJournal {
 public:
  virtual ~RunJournal() = default;
  virtual void run_started(const std::string& plugin, const v1::Run& run) = 0;
  virtual void run_ended(const std::string& plugin, const std::string& status) = 0;
};

// The start time of pid (field 22 of /proc/<pid>/stat, in clock ticks), or 0 when it is gone
// (or a zombie: exited, its parent yet to reap it).
[[nodiscard]] uint64_t process_start_ticks(int pid);

}  // namespace corral::supervisor
