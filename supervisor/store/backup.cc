#include "supervisor/store/backup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "common/unique_fd.h"
#include "supervisor/store/store.h"

namespace corral::supervisor::store {

namespace {

Result<void> fsync_path(const std::string& path, int flags) {
  UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
  if (!fd) return sys_error("cannot open " + path);
  if (::fsync(fd.get()) != 0) return sys_error("cannot fsync " + path);
  return {};
}

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

Result<int64_t> count(Db& db, const char* table) {
  auto s = db.prepare(std::string("SELECT count(*) FROM ") + table);
  if (!s) return std::unexpected(s.error());
  if (auto r = s->step(); !r) return std::unexpected(r.error());
  return s->int64(0);
}

}  // namespace

Result<BackupInfo> backup_store(Db& db, const std::string& dest) {
  if (dest.empty() || dest[0] != '/') {
    return make_error(Code::kInvalidArgument,
                      "backup: the file must be an absolute path, got \"" + dest + "\"");
  }
  struct stat st {};
  if (::lstat(dest.c_str(), &st) == 0) {
    return make_error(Code::kAlreadyExists,
                      "backup: " + dest + " exists; corrald never overwrites a file");
  }
  std::string partial = dest + ".partial";
  {
    // Created here, exclusively and without following links, so the backup cannot be aimed at
    // an existing file through a symlink.
    UniqueFd fd(
        ::open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return sys_error("backup: cannot create " + partial);
  }
  auto cleanup = [&] { (void)::unlink(partial.c_str()); };
  sqlite3* out = nullptr;
  int rc = sqlite3_open_v2(partial.c_str(), &out, SQLITE_OPEN_READWRITE, nullptr);
  if (rc != SQLITE_OK) {
    Error e = sqlite_error(rc, "backup: opening " + partial,
                           out != nullptr ? sqlite3_errmsg(out) : nullptr);
    sqlite3_close_v2(out);
    cleanup();
    return std::unexpected(e);
  }
  sqlite3_backup* b = sqlite3_backup_init(out, "main", db.raw(), "main");
  if (b == nullptr) {
    Error e = sqlite_error(sqlite3_errcode(out), "backup: starting", sqlite3_errmsg(out));
    sqlite3_close_v2(out);
    cleanup();
    return std::unexpected(e);
  }
  rc = sqlite3_backup_step(b, -1);  // all pages in one step: one consistent read transaction
  int fin = sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE || fin != SQLITE_OK) {
    Error e = sqlite_error(rc != SQLITE_DONE ? rc : fin, "backup: copying to " + partial,
                           sqlite3_errmsg(out));
    sqlite3_close_v2(out);
    cleanup();
    return std::unexpected(e);
  }
  // The copy is in rollback-journal mode; make it a WAL store like the original.
  rc = sqlite3_exec(out, "PRAGMA journal_mode=DELETE", nullptr, nullptr, nullptr);
  sqlite3_close_v2(out);
  if (rc != SQLITE_OK) {
    cleanup();
    return std::unexpected(sqlite_error(rc, "backup: finishing " + partial));
  }
  if (auto r = fsync_path(partial, O_RDONLY); !r) {
    cleanup();
    return std::unexpected(r.error());
  }
  if (::renameat2(AT_FDCWD, partial.c_str(), AT_FDCWD, dest.c_str(), RENAME_NOREPLACE) != 0) {
    int e = errno;
    cleanup();
    return sys_error("backup: cannot rename " + partial + " to " + dest, e);
  }
  if (auto r = fsync_path(parent_of(dest), O_RDONLY | O_DIRECTORY); !r)
    return std::unexpected(r.error());
  BackupInfo info;
  info.path = dest;
  if (::stat(dest.c_str(), &st) == 0) info.bytes = st.st_size;
  auto check = Db::open(dest, false);
  if (!check) return std::unexpected(check.error().wrap("backup: reopening " + dest));
  auto a = count(*check, "audit");
  auto j = count(*check, "journal");
  if (!a || !j)
    return std::unexpected((!a ? a.error() : j.error()).wrap("backup: reading " + dest));
  info.audit_records = *a;
  info.journal_entries = *j;
  return info;
}

Result<std::string> restore_store(const std::string& backup, const std::string& dir) {
  {
    auto db = Db::open(backup, false);
    if (!db) return std::unexpected(db.error().wrap("restore"));
    auto s = db->prepare("PRAGMA integrity_check");
    if (!s) return std::unexpected(s.error());
    auto row = s->step();
    if (!row) return std::unexpected(row.error().wrap("restore: checking " + backup));
    if (!*row || s->text(0) != "ok") {
      return make_error(Code::kFailedPrecondition, "restore: " + backup + " is damaged: " +
                                                       (*row ? s->text(0) : std::string("?")));
    }
    s->reset();
    auto v = db->prepare("PRAGMA user_version");
    if (!v) return std::unexpected(v.error());
    if (auto r = v->step(); !r) return std::unexpected(r.error());
    if (v->int64(0) != kSchemaVersion) {
      return make_error(Code::kFailedPrecondition,
                        "restore: " + backup + " is not a Corral store of schema " +
                            std::to_string(kSchemaVersion) + " (user_version " +
                            std::to_string(v->int64(0)) + ")");
    }
    v->reset();
    // Opening put it in WAL mode; fold the WAL back so one file carries everything.
    if (auto r = db->exec("PRAGMA wal_checkpoint(TRUNCATE)"); !r) return std::unexpected(r.error());
  }
  std::string live = store_db_path(dir);
  std::string staged = live + ".restoring";
  (void)::unlink(staged.c_str());
  {
    UniqueFd in(::open(backup.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in) return sys_error("restore: cannot open " + backup);
    UniqueFd out(
        ::open(staged.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) return sys_error("restore: cannot create " + staged);
    char buf[1 << 16];
    for (;;) {
      ssize_t n = ::read(in.get(), buf, sizeof buf);
      if (n < 0) return sys_error("restore: cannot read " + backup);
      if (n == 0) break;
      if (::write(out.get(), buf, static_cast<size_t>(n)) != n)
        return sys_error("restore: cannot write " + staged);
    }
    if (::fsync(out.get()) != 0) return sys_error("restore: cannot fsync " + staged);
  }
  std::string kept;
  struct stat st {};
  if (::stat(live.c_str(), &st) == 0) {
    kept = live + ".before-restore-" + std::to_string(std::time(nullptr));
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::string from = live + suffix, to = kept + suffix;
      if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
        return sys_error("restore: cannot move " + from + " aside");
      }
    }
  }
  if (::rename(staged.c_str(), live.c_str()) != 0)
    return sys_error("restore: cannot put " + live + " in place");
  if (auto r = fsync_path(dir, O_RDONLY | O_DIRECTORY); !r) return std::unexpected(r.error());
  return kept;
}

}  // namespace corral::supervisor::store
