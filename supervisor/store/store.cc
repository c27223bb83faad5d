#include "supervisor/store/store.h"

#include <sys/stat.h>
#include <unistd.h>

#include "common/files.h"

namespace corral::supervisor::store {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE journal(
  seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, plugin TEXT NOT NULL,
  generation INTEGER NOT NULL, kind TEXT NOT NULL, body BLOB NOT NULL,
  correlation_id TEXT NOT NULL);
CREATE TABLE snapshots(seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, body BLOB NOT NULL);
CREATE TABLE audit(
  seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, kind TEXT NOT NULL, uid INTEGER NOT NULL,
  gid INTEGER NOT NULL, pid INTEGER NOT NULL, exe TEXT NOT NULL, command TEXT NOT NULL,
  plugin TEXT NOT NULL, args_digest TEXT NOT NULL, result TEXT NOT NULL, message TEXT NOT NULL,
  duration_us INTEGER NOT NULL, correlation_id TEXT NOT NULL, prev_hash BLOB NOT NULL,
  hash BLOB NOT NULL);
CREATE TABLE checkpoints(
  audit_seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, hash BLOB NOT NULL,
  key_id TEXT NOT NULL, signature BLOB NOT NULL);
CREATE TABLE keys(
  key_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, created_ms INTEGER NOT NULL,
  retired_ms INTEGER NOT NULL);
)sql";

}  // namespace

std::string store_db_path(const std::string& dir) { return dir + "/corral.db"; }

Result<void> ensure_schema(Db& db) {
  auto v = db.prepare("PRAGMA user_version");
  if (!v) return std::unexpected(v.error());
  if (auto r = v->step(); !r) return std::unexpected(r.error());
  int64_t version = v->int64(0);
  if (version == kSchemaVersion) {
    // Stores made before the audit table lost its time and plugin indexes (every command's
    // record paid for them; queries bisect and scan instead): drop them.
    if (auto r = db.exec("DROP INDEX IF EXISTS audit_at; DROP INDEX IF EXISTS audit_plugin"); !r) {
      return r;
    }
    return {};
  }
  if (version > kSchemaVersion) {
    return make_error(Code::kFailedPrecondition,
                      db.path() + " has schema version " + std::to_string(version) +
                          "; this corrald knows up to " + std::to_string(kSchemaVersion) +
                          " (a newer corrald wrote it)");
  }
  auto tables = db.prepare("SELECT count(*) FROM sqlite_master");
  if (!tables) return std::unexpected(tables.error());
  if (auto r = tables->step(); !r) return std::unexpected(r.error());
  if (tables->int64(0) != 0) {
    return make_error(Code::kFailedPrecondition,
                      db.path() + " is not a Corral store (it has tables but no schema version)");
  }
  auto txn = Txn::begin(db, Sync::kFull);
  if (!txn) return std::unexpected(txn.error());
  if (auto r = db.exec(kSchema); !r) return r;
  if (auto r = db.exec("PRAGMA user_version=" + std::to_string(kSchemaVersion)); !r) return r;
  return txn->commit();
}

Result<std::unique_ptr<Store>> Store::open(const std::string& dir, StoreOptions options) {
  if (auto r = make_dirs(dir, 0700); !r) return std::unexpected(r.error());
  if (::access(dir.c_str(), W_OK) != 0) {
    return sys_error("the store " + store_db_path(dir) +
                     " cannot be written (corrald journals every command before it acts)");
  }
  auto s = std::unique_ptr<Store>(new Store());
  auto keys = KeyRing::open(dir + "/keys");
  if (!keys) return std::unexpected(keys.error().wrap("the store's signing keys"));
  s->keys_ = std::move(*keys);
  auto db = Db::open(store_db_path(dir), true);
  if (!db) return std::unexpected(db.error());
  s->db_ = std::move(*db);
  if (::chmod(s->db_.path().c_str(), 0600) != 0) return sys_error("cannot chmod " + s->db_.path());
  if (auto r = ensure_schema(s->db_); !r) return std::unexpected(r.error());
  auto journal = Journal::open(s->db_, options.snapshot_every);
  if (!journal) return std::unexpected(journal.error());
  s->journal_ = std::make_unique<Journal>(std::move(*journal));
  auto audit = AuditLog::open(s->db_, &s->keys_, options.checkpoint_every);
  if (!audit) return std::unexpected(audit.error());
  s->audit_ = std::make_unique<AuditLog>(std::move(*audit));
  auto events = EventStore::open(s->db_);
  if (!events) return std::unexpected(events.error());
  s->events_ = std::make_unique<EventStore>(std::move(*events));
  return s;
}

}  // namespace corral::supervisor::store
