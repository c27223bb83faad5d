// Store: corrald's durable state in one SQLite database (<state_dir>/corral.db, WAL) with the
// signing keys beside it (<state_dir>/keys). Creates or migrates the schema, then opens the
// Journal (desired state), the AuditLog and the KeyRing over it. One connection, used from the
// event loop thread only.
#pragma once

#include <memory>
#include <string>

#include "common/error.h"
#include "supervisor/store/audit_log.h"
#include "supervisor/store/event_store.h"
#include "supervisor/store/journal.h"
#include "supervisor/store/signing_key.h"
#include "supervisor/store/sqlite.h"

namespace corral::supervisor::store {

inline constexpr int kSchemaVersion = 1;

struct StoreOptions {
  uint64_t snapshot_every = 1000;   // journal entries between snapshots
  uint64_t checkpoint_every = 256;  // audit records between signed checkpoints
};

class Store {
 public:
  // dir: created 0700 if missing. Fails (naming the file) when the database is not a Corral
  // store or is from a newer schema.
  [[nodiscard]] static Result<std::unique_ptr<Store>> open(const std::string& dir,
                                                           StoreOptions options = {});
  [[nodiscard]] Journal& journal() { return *journal_; }
  [[nodiscard]] AuditLog& audit() { return *audit_; }
  [[nodiscard]] EventStore& events() { return *events_; }
  [[nodiscard]] KeyRing& keys() { return keys_; }
  [[nodiscard]] Db& db() { return db_; }
  [[nodiscard]] const std::string& path() const { return db_.path(); }

 private:
  Store() = default;
  Db db_;
  KeyRing keys_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<EventStore> events_;
};

// Creates the tables of a new store or checks an existing one's schema version.
[[nodiscard]] Result<void> ensure_schema(Db& db);
[[nodiscard]] std::string store_db_path(const std::string& dir);

}  // namespace corral::supervisor::store
