// A thin RAII layer over SQLite: Db owns a connection, Stmt a prepared statement, Txn a
// transaction that rolls back unless committed. Every failure comes back as an Error naming what
// was being done and SQLite's own words; a full disk or a read-only store maps to
// RESOURCE_EXHAUSTED / PERMISSION_DENIED so clients see why a mutating command was refused.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace corral::supervisor::store {

// How a commit must reach the disk: kFull fsyncs the WAL at the commit (survives power loss);
// kNormal leaves it in the page cache (survives a crash of corrald, not of the host).
enum class Sync { kFull, kNormal };

class Db;

class Stmt {
 public:
  Stmt() = default;
  Stmt(Stmt&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept;
  ~Stmt();

  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, std::string_view text);
  Stmt& bind_blob(int i, std::string_view bytes);
  Stmt& bind_null(int i);
  // Steps once: true with a row, false when done.
  [[nodiscard]] Result<bool> step();
  // Steps to completion (statements that return no rows).
  [[nodiscard]] Result<void> run();
  void reset();

  [[nodiscard]] int64_t int64(int col) const;
  [[nodiscard]] std::string text(int col) const;
  [[nodiscard]] std::string blob(int col) const;
  [[nodiscard]] bool is_null(int col) const;

 private:
  friend class Db;
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), stmt_(s) {}
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

class Db {
 public:
  // Opens (creating if asked) the database at path in WAL mode with foreign keys on and a busy
  // timeout, so a concurrent reader (sqlite3, a backup) delays a write instead of failing it.
  [[nodiscard]] static Result<Db> open(const std::string& path, bool create);
  Db() = default;
  Db(Db&& o) noexcept
      : db_(o.db_),
        path_(std::move(o.path_)),
        sync_(o.sync_),
        cache_(std::move(o.cache_)),
        wal_fd_(o.wal_fd_) {
    o.db_ = nullptr;
    o.wal_fd_ = -1;
  }
  Db& operator=(Db&& o) noexcept;
  ~Db();

  [[nodiscard]] Result<void> exec(const std::string& sql);
  [[nodiscard]] Result<Stmt> prepare(std::string_view sql);
  // A statement prepared once and kept (hot paths: one insert per command), reset for reuse.
  // Valid until the Db goes.
  [[nodiscard]] Result<Stmt*> cached(const std::string& sql);
  [[nodiscard]] Result<void> set_sync(Sync s);
  // fsync of the WAL file: every transaction committed so far (kNormal ones included) is on
  // the disk once it returns. One call covers any number of commits (group commit).
  [[nodiscard]] Result<void> sync_wal();
  [[nodiscard]] sqlite3* raw() const { return db_; }
  [[nodiscard]] const std::string& path() const { return path_; }
  // The Error for SQLite result code rc while doing `what`.
  [[nodiscard]] Error error(int rc, std::string_view what) const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
  std::optional<Sync> sync_;
  std::map<std::string, std::unique_ptr<Stmt>> cache_;
  int wal_fd_ = -1;
};

// BEGIN IMMEDIATE (the write lock now, so a commit cannot fail for a concurrent writer) ... COMMIT
// at the given durability; destroyed uncommitted, it rolls back.
class Txn {
 public:
  [[nodiscard]] static Result<Txn> begin(Db& db, Sync sync);
  Txn(Txn&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Txn& operator=(Txn&&) = delete;
  ~Txn();
  [[nodiscard]] Result<void> commit();

 private:
  explicit Txn(Db* db) : db_(db) {}
  Db* db_;
};

// An Error from a SQLite result code outside a connection (open failures).
[[nodiscard]] Error sqlite_error(int rc, std::string_view what, const char* detail = nullptr);

}  // namespace corral::supervisor::store
