// EventStore: every recovery event (signals, breaker transitions, actions, alerts) kept in the
// store's `events` table under its corrald-wide seq, so that a subscriber resumes after the last
// seq it saw across reconnects and corrald restarts. The newest `retain` events are kept; older
// ones are pruned in the same transaction that appends past the limit.
#pragma once

#include <cstdint>
#include <vector>

#include "common/error.h"
#include "corral/v1/control.pb.h"
#include "supervisor/store/sqlite.h"

namespace corral::supervisor::store {

class EventStore {
 public:
  [[nodiscard]] static Result<EventStore> open(Db& db, uint64_t retain = 100000);

  // Appends events (their seqs increasing, above last_seq()) in one transaction.
  [[nodiscard]] Result<void> append_all(const std::vector<v1::RecoveryEvent>& events, Sync sync);
  // Events with seq > after, oldest first, at most limit.
  [[nodiscard]] Result<std::vector<v1::RecoveryEvent>> after(uint64_t after, size_t limit) const;
  [[nodiscard]] uint64_t first_seq() const { return first_; }  // last_seq() + 1 when empty
  [[nodiscard]] uint64_t last_seq() const { return last_; }

 private:
  EventStore(Db& db, uint64_t retain) : db_(&db), retain_(retain) {}
  Db* db_;
  uint64_t retain_;
  uint64_t first_ = 1;
  uint64_t last_ = 0;
};

}  // namespace corral::supervisor::store
