// Backup and restore of a store. backup_store copies a live store with SQLite's online backup API
// (a consistent snapshot while corrald keeps writing) into a new file, never over an existing
// one. restore_store puts a backup in place of a stopped daemon's store after checking it is an
// intact Corral store; the store it replaces is kept beside it, not deleted.
#pragma once

#include <string>

#include "common/error.h"
#include "supervisor/store/sqlite.h"

namespace corral::supervisor::store {

struct BackupInfo {
  std::string path;
  int64_t bytes = 0;
  int64_t audit_records = 0;
  int64_t journal_entries = 0;
};

// dest must be absolute and not exist; it is written as dest.partial, fsync'd and renamed.
[[nodiscard]] Result<BackupInfo> backup_store(Db& db, const std::string& dest);

// Replaces <dir>/corral.db (and its WAL) with the backup; the old files are renamed to
// corral.db.before-restore-<unix seconds>. The caller must hold corrald's lock.
// Returns the path the old store was moved to ("" if there was none).
[[nodiscard]] Result<std::string> restore_store(const std::string& backup, const std::string& dir);

}  // namespace corral::supervisor::store
