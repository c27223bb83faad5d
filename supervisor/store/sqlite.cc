#include "supervisor/store/sqlite.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace corral::supervisor::store {

namespace {

Code code_of(int rc, int sys_errno) {
  if (sys_errno == ENOSPC || sys_errno == EDQUOT) return Code::kResourceExhausted;
  if (sys_errno == EROFS || sys_errno == EACCES || sys_errno == EPERM) {
    return Code::kPermissionDenied;
  }
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return Code::kResourceExhausted;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return Code::kPermissionDenied;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
      return Code::kUnavailable;
    case SQLITE_CONSTRAINT:
      return Code::kFailedPrecondition;
    default:
      return Code::kInternal;
  }
}

std::string hint_of(int rc, int sys_errno) {
  if (sys_errno == ENOSPC || (rc & 0xff) == SQLITE_FULL) return " (the store's disk is full)";
  if (sys_errno == EROFS || (rc & 0xff) == SQLITE_READONLY) return " (the store is read-only)";
  return "";
}

}  // namespace

Error sqlite_error(int rc, std::string_view what, const char* detail) {
  std::string msg = std::string(what) + ": " + (detail != nullptr ? detail : sqlite3_errstr(rc));
  return Error{code_of(rc, 0), 0, msg + hint_of(rc, 0), __FILE__, __LINE__};
}

Error Db::error(int rc, std::string_view what) const {
  int sys = db_ != nullptr ? sqlite3_system_errno(db_) : 0;
  std::string msg =
      std::string(what) + ": " + (db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
  return Error{code_of(rc, sys), sys, msg + hint_of(rc, sys), __FILE__, __LINE__};
}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    db_ = o.db_;
    stmt_ = std::exchange(o.stmt_, nullptr);
  }
  return *this;
}

Stmt::~Stmt() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

Stmt& Stmt::bind(int i, int64_t v) {
  (void)sqlite3_bind_int64(stmt_, i, v);  // only SQLITE_RANGE, a programming error caught by tests
  return *this;
}

Stmt& Stmt::bind(int i, std::string_view text) {
  (void)sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::bind_blob(int i, std::string_view bytes) {
  (void)sqlite3_bind_blob(stmt_, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::bind_null(int i) {
  (void)sqlite3_bind_null(stmt_, i);
  return *this;
}

Result<bool> Stmt::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  int sys = sqlite3_system_errno(db_);
  std::string msg = std::string("running \"") + sqlite3_sql(stmt_) + "\": " + sqlite3_errmsg(db_);
  return std::unexpected(Error{code_of(rc, sys), sys, msg + hint_of(rc, sys), __FILE__, __LINE__});
}

Result<void> Stmt::run() {
  for (;;) {
    auto r = step();
    if (!r) return std::unexpected(r.error());
    if (!*r) return {};
  }
}

void Stmt::reset() {
  (void)sqlite3_reset(stmt_);  // repeats the last step's error, already reported
  (void)sqlite3_clear_bindings(stmt_);
}

int64_t Stmt::int64(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Stmt::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p == nullptr ? std::string()
                      : std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
}

std::string Stmt::blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p == nullptr ? std::string()
                      : std::string(static_cast<const char*>(p), static_cast<size_t>(n));
}

bool Stmt::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

Db& Db::operator=(Db&& o) noexcept {
  if (this != &o) {
    cache_.clear();
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = std::exchange(o.db_, nullptr);
    path_ = std::move(o.path_);
    sync_ = o.sync_;
    cache_ = std::move(o.cache_);
    if (wal_fd_ >= 0) ::close(wal_fd_);
    wal_fd_ = std::exchange(o.wal_fd_, -1);
  }
  return *this;
}

Db::~Db() {
  if (wal_fd_ >= 0) ::close(wal_fd_);
  cache_.clear();  // statements before the connection
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Result<Db> Db::open(const std::string& path, bool create) {
  Db db;
  db.path_ = path;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db.db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error e = db.db_ != nullptr ? db.error(rc, "opening the store " + path)
                                : sqlite_error(rc, "opening the store " + path);
    return std::unexpected(std::move(e));
  }
  (void)sqlite3_extended_result_codes(db.db_, 1);
  if (int b = sqlite3_busy_timeout(db.db_, 5000); b != SQLITE_OK) {
    return std::unexpected(db.error(b, "setting the store's busy timeout"));
  }
  // WAL: readers (corralctl audit, a backup) never block the writer, and a commit is one append.
  auto mode = db.prepare("PRAGMA journal_mode=WAL");
  if (!mode) return std::unexpected(mode.error());
  auto row = mode->step();
  if (!row) return std::unexpected(row.error());
  if (!*row || mode->text(0) != "wal") {
    return make_error(Code::kInternal, "the store " + path + " cannot use WAL journaling (" +
                                           (*row ? mode->text(0) : std::string("?")) + ")");
  }
  if (auto r = db.exec("PRAGMA foreign_keys=ON"); !r) return std::unexpected(r.error());
  // Checkpoint the WAL at 16384 pages (64 MiB) rather than SQLite's 1000: each checkpoint is an
  // fsync of the database, and corrald writes a small transaction per event-loop turn. corrald
  // checkpoints on its own timer too (StoreService), away from the commands' path.
  if (auto r = db.exec("PRAGMA wal_autocheckpoint=16384"); !r) return std::unexpected(r.error());
  if (auto r = db.set_sync(Sync::kFull); !r) return std::unexpected(r.error());
  return db;
}

Result<void> Db::exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    int sys = sqlite3_system_errno(db_);
    std::string msg =
        "running \"" + sql.substr(0, 60) + "\": " + (err != nullptr ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    return std::unexpected(
        Error{code_of(rc, sys), sys, msg + hint_of(rc, sys), __FILE__, __LINE__});
  }
  return {};
}

Result<Stmt> Db::prepare(std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &s, nullptr);
  if (rc != SQLITE_OK)
    return std::unexpected(error(rc, "preparing \"" + std::string(sql.substr(0, 60)) + "\""));
  return Stmt(db_, s);
}

Result<void> Db::sync_wal() {
  if (wal_fd_ < 0) {
    std::string wal = path_ + "-wal";
    wal_fd_ = ::open(wal.c_str(), O_RDONLY | O_CLOEXEC);
    if (wal_fd_ < 0) return sys_error("cannot open " + wal + " to sync it");
  }
  // fsync flushes the file, whichever descriptor names it; SQLite rewrites the WAL in place
  // (the same inode) after each checkpoint.
  if (::fsync(wal_fd_) != 0) return sys_error("cannot sync the store's WAL " + path_ + "-wal");
  return {};
}

Result<Stmt*> Db::cached(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    it->second->reset();
    return it->second.get();
  }
  auto s = prepare(sql);
  if (!s) return std::unexpected(s.error());
  auto [pos, inserted] = cache_.emplace(sql, std::make_unique<Stmt>(std::move(*s)));
  return pos->second.get();
}

Result<void> Db::set_sync(Sync s) {
  if (sync_ == s) return {};
  if (auto r = exec(s == Sync::kFull ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
      !r) {
    return r;
  }
  sync_ = s;
  return {};
}

Result<Txn> Txn::begin(Db& db, Sync sync) {
  if (auto r = db.set_sync(sync); !r) return std::unexpected(r.error());
  auto begin = db.cached("BEGIN IMMEDIATE");
  if (!begin) return std::unexpected(begin.error());
  if (auto r = (*begin)->run(); !r) return std::unexpected(r.error());
  return Txn(&db);
}

Txn::~Txn() {
  if (db_ != nullptr) (void)db_->exec("ROLLBACK");  // nothing to do if it fails: the txn is gone
}

Result<void> Txn::commit() {
  Db* db = std::exchange(db_, nullptr);
  auto commit = db->cached("COMMIT");
  Result<void> r = commit ? (*commit)->run() : Result<void>(std::unexpected(commit.error()));
  if (!r) {
    (void)db->exec("ROLLBACK");  // a failed COMMIT may leave the transaction open
    return r;
  }
  return {};
}

}  // namespace corral::supervisor::store
