// Journal: corrald's desired state as an append-only event journal in the store, with snapshots.
// append() commits the entry (fsync'd) before it changes the in-memory state, so a caller that
// applies and acknowledges only after append() succeeds never acknowledges what a crash could
// lose, and a failed commit changes nothing. An expected generation makes a write conditional
// (optimistic concurrency): it fails with CONFLICT when the plugin has moved on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/error.h"
#include "supervisor/store/desired_state.h"
#include "supervisor/store/sqlite.h"

namespace corral::supervisor::store {

struct JournalEntry {
  std::string plugin;
  v1::JournalBody body;
  std::string correlation_id;                   // the command (or signal) that caused it
  std::optional<uint64_t> expected_generation;  // fail unless the plugin is at this generation
};

class Journal {
 public:
  // Replays the latest snapshot plus every later entry. The tables must exist (Store creates
  // them).
  [[nodiscard]] static Result<Journal> open(Db& db, uint64_t snapshot_every = 1000);

  // Commits the entry; returns its sequence number. Internal writers pass no expected
  // generation; a busy store is retried for a few seconds before giving up.
  // kNormal leaves the fsync to the caller (Db::sync_wal before it acknowledges anything):
  // group commit.
  [[nodiscard]] Result<uint64_t> append(const JournalEntry& e, int64_t at_unix_ms,
                                        Sync sync = Sync::kFull);
  [[nodiscard]] const DesiredState& state() const { return state_; }
  // Entries replayed at open (after the snapshot), and the snapshot's seq.
  [[nodiscard]] uint64_t replayed() const { return replayed_; }
  [[nodiscard]] uint64_t snapshot_seq() const { return snapshot_seq_; }

  // Reads the journal again from the database (what a restart would see).
  [[nodiscard]] static Result<DesiredState> replay(Db& db, uint64_t* replayed = nullptr,
                                                   uint64_t* snapshot_seq = nullptr);

 private:
  Journal(Db& db, uint64_t every) : db_(&db), snapshot_every_(every) {}
  [[nodiscard]] Result<uint64_t> try_append(const JournalEntry& e, int64_t at_unix_ms, Sync sync);

  Db* db_;
  uint64_t snapshot_every_;
  DesiredState state_;
  uint64_t replayed_ = 0;
  uint64_t snapshot_seq_ = 0;
};

}  // namespace corral::supervisor::store
