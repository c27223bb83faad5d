#include "supervisor/store/audit_log.h"

namespace corral::supervisor::store {

namespace {

void put_u64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out += static_cast<char>((v >> (i * 8)) & 0xff);
}

void put_bytes(std::string& out, std::string_view s) {
  put_u64(out, s.size());
  out.append(s);
}

constexpr const char* kColumns =
    "seq, at_ms, kind, uid, gid, pid, exe, command, plugin, args_digest, result, message, "
    "duration_us, correlation_id, prev_hash, hash";

AuditRecord row_of(const Stmt& s);

// Every row the statement yields, as records.
Result<std::vector<AuditRecord>> rows_of(Stmt& s) {
  std::vector<AuditRecord> out;
  for (;;) {
    auto r = s.step();
    if (!r) return std::unexpected(r.error());
    if (!*r) return out;
    out.push_back(row_of(s));
  }
}

AuditRecord row_of(const Stmt& s) {
  AuditRecord r;
  r.seq = static_cast<uint64_t>(s.int64(0));
  r.at_unix_ms = s.int64(1);
  r.kind = s.text(2);
  r.uid = s.int64(3);
  r.gid = s.int64(4);
  r.pid = s.int64(5);
  r.exe = s.text(6);
  r.command = s.text(7);
  r.plugin = s.text(8);
  r.args_digest = s.text(9);
  r.result = s.text(10);
  r.message = s.text(11);
  r.duration_us = s.int64(12);
  r.correlation_id = s.text(13);
  r.prev_hash = s.blob(14);
  r.hash = s.blob(15);
  return r;
}

}  // namespace

std::string audit_hash(const AuditRecord& r) {
  std::string m = "corral-audit-v1";
  put_bytes(m, r.prev_hash);
  put_u64(m, r.seq);
  put_u64(m, static_cast<uint64_t>(r.at_unix_ms));
  put_bytes(m, r.kind);
  put_u64(m, static_cast<uint64_t>(r.uid));
  put_u64(m, static_cast<uint64_t>(r.gid));
  put_u64(m, static_cast<uint64_t>(r.pid));
  put_bytes(m, r.exe);
  put_bytes(m, r.command);
  put_bytes(m, r.plugin);
  put_bytes(m, r.args_digest);
  put_bytes(m, r.result);
  put_bytes(m, r.message);
  put_u64(m, static_cast<uint64_t>(r.duration_us));
  put_bytes(m, r.correlation_id);
  return sha256(m);
}

std::string checkpoint_message(uint64_t seq, std::string_view hash, int64_t at_ms) {
  std::string m = "corral-audit-checkpoint-v1";
  put_u64(m, seq);
  put_bytes(m, hash);
  put_u64(m, static_cast<uint64_t>(at_ms));
  return m;
}

Result<AuditLog> AuditLog::open(Db& db, KeyRing* keys, uint64_t checkpoint_every) {
  AuditLog log(db, keys, checkpoint_every == 0 ? 256 : checkpoint_every);
  auto last = db.prepare("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
  if (!last) return std::unexpected(last.error());
  auto row = last->step();
  if (!row) return std::unexpected(row.error());
  if (*row) {
    log.last_seq_ = static_cast<uint64_t>(last->int64(0));
    log.last_hash_ = last->blob(1);
  }
  auto cp = db.prepare("SELECT MAX(audit_seq) FROM checkpoints");
  if (!cp) return std::unexpected(cp.error());
  if (auto r = cp->step(); !r) return std::unexpected(r.error());
  log.signed_seq_ = cp->is_null(0) ? 0 : static_cast<uint64_t>(cp->int64(0));
  if (keys != nullptr && keys->can_sign()) {
    if (auto r = log.record_key(keys->current().id(), 0); !r) return std::unexpected(r.error());
  }
  return log;
}

Result<void> AuditLog::record_key(const std::string& id, int64_t now_unix_ms) {
  auto s = db_->prepare(
      "INSERT OR IGNORE INTO keys(key_id, public_key, created_ms, retired_ms) VALUES (?1, ?2, ?3, "
      "0)");
  if (!s) return std::unexpected(s.error());
  s->bind(1, id).bind(2, to_hex(keys_->public_keys().at(id))).bind(3, now_unix_ms);
  return s->run();
}

Result<void> AuditLog::insert_checkpoint(int64_t now_unix_ms) {
  if (keys_ == nullptr || !keys_->can_sign()) {
    return make_error(Code::kFailedPrecondition, "no signing key loaded");
  }
  auto sig = keys_->current().sign(checkpoint_message(last_seq_, last_hash_, now_unix_ms));
  if (!sig) return std::unexpected(sig.error());
  auto s = db_->prepare(
      "INSERT OR REPLACE INTO checkpoints(audit_seq, at_ms, hash, key_id, signature) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!s) return std::unexpected(s.error());
  s->bind(1, static_cast<int64_t>(last_seq_))
      .bind(2, now_unix_ms)
      .bind_blob(3, last_hash_)
      .bind(4, keys_->current().id())
      .bind_blob(5, *sig);
  return s->run();
}

Result<uint64_t> AuditLog::append(AuditRecord r, Sync sync) {
  std::vector<AuditRecord> one;
  one.push_back(std::move(r));
  return append_all(one, sync);
}

Result<uint64_t> AuditLog::append_all(std::vector<AuditRecord>& records, Sync sync) {
  if (records.empty()) return last_seq_;
  const uint64_t prev_seq = last_seq_;
  const std::string prev_hash = last_hash_;
  const uint64_t prev_signed = signed_seq_;
  auto undo = [&](Error e) {
    last_seq_ = prev_seq;
    last_hash_ = prev_hash;
    signed_seq_ = prev_signed;
    return std::unexpected(std::move(e));
  };
  auto txn = Txn::begin(*db_, sync);
  if (!txn) return std::unexpected(txn.error().wrap("audit"));
  auto ins = db_->cached(std::string("INSERT INTO audit(") + kColumns +
                         ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
                         "?15, ?16)");
  if (!ins) return std::unexpected(ins.error());
  for (AuditRecord& r : records) {
    r.seq = last_seq_ + 1;
    r.prev_hash = last_hash_;
    r.hash = audit_hash(r);
    (*ins)->reset();
    (*ins)
        ->bind(1, static_cast<int64_t>(r.seq))
        .bind(2, r.at_unix_ms)
        .bind(3, r.kind)
        .bind(4, r.uid)
        .bind(5, r.gid)
        .bind(6, r.pid)
        .bind(7, r.exe)
        .bind(8, r.command)
        .bind(9, r.plugin)
        .bind(10, r.args_digest)
        .bind(11, r.result)
        .bind(12, r.message)
        .bind(13, r.duration_us)
        .bind(14, r.correlation_id)
        .bind_blob(15, r.prev_hash)
        .bind_blob(16, r.hash);
    if (auto x = (*ins)->run(); !x) return undo(x.error().wrap("audit"));
    last_seq_ = r.seq;
    last_hash_ = r.hash;
    // signed_seq_ moves with the checkpoint rows in this transaction (undone if it fails).
    if (keys_ != nullptr && keys_->can_sign() && last_seq_ - signed_seq_ >= every_) {
      if (auto x = insert_checkpoint(r.at_unix_ms); !x) {
        return undo(x.error().wrap("audit checkpoint"));
      }
      signed_seq_ = last_seq_;
    }
  }
  if (auto x = txn->commit(); !x) return undo(x.error().wrap("audit"));
  return last_seq_;
}

Result<void> AuditLog::checkpoint(int64_t now_unix_ms) {
  if (last_seq_ == 0 || signed_seq_ == last_seq_) return {};
  auto txn = Txn::begin(*db_, Sync::kFull);
  if (!txn) return std::unexpected(txn.error().wrap("audit checkpoint"));
  if (auto r = insert_checkpoint(now_unix_ms); !r) return r;
  if (auto r = txn->commit(); !r) return r;
  signed_seq_ = last_seq_;
  return {};
}

Result<std::string> AuditLog::rotate_key(int64_t now_unix_ms) {
  if (keys_ == nullptr || !keys_->can_sign()) {
    return make_error(Code::kFailedPrecondition, "no signing key loaded");
  }
  if (auto r = checkpoint(now_unix_ms); !r) return std::unexpected(r.error());
  std::string old = keys_->current().id();
  auto id = keys_->rotate();
  if (!id) return std::unexpected(id.error());
  auto txn = Txn::begin(*db_, Sync::kFull);
  if (!txn) return std::unexpected(txn.error());
  auto retire = db_->prepare("UPDATE keys SET retired_ms = ?2 WHERE key_id = ?1");
  if (!retire) return std::unexpected(retire.error());
  retire->bind(1, old).bind(2, now_unix_ms);
  if (auto r = retire->run(); !r) return std::unexpected(r.error());
  if (auto r = record_key(*id, now_unix_ms); !r) return std::unexpected(r.error());
  if (last_seq_ > 0) {
    if (auto r = insert_checkpoint(now_unix_ms); !r) return std::unexpected(r.error());
  }
  if (auto r = txn->commit(); !r) return std::unexpected(r.error());
  signed_seq_ = last_seq_;
  return *id;
}

Result<uint64_t> AuditLog::first_seq_since(int64_t since_unix_ms) const {
  // Records are appended in time order (stamped on corrald's one thread), so the first one at
  // or after `since` is found by bisecting seq; the table keeps no index on time, which would
  // cost every command a third B-tree update.
  auto at = db_->prepare("SELECT at_ms FROM audit WHERE seq = ?1");
  if (!at) return std::unexpected(at.error());
  uint64_t lo = 1, hi = last_seq_ + 1;  // the answer is in [lo, hi]
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    at->reset();
    at->bind(1, static_cast<int64_t>(mid));
    auto row = at->step();
    if (!row) return std::unexpected(row.error());
    if (*row && at->int64(0) >= since_unix_ms) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

Result<std::vector<AuditRecord>> AuditLog::query(const AuditQuery& q) const {
  uint64_t from = 1;
  if (q.since_unix_ms > 0) {
    auto f = first_seq_since(q.since_unix_ms);
    if (!f) return std::unexpected(f.error());
    from = *f;
  }
  auto s = db_->prepare(std::string("SELECT * FROM (SELECT ") + kColumns +
                        " FROM audit WHERE seq >= ?1 AND at_ms >= ?4 AND (?2 = '' OR plugin = ?2) "
                        "ORDER BY seq DESC LIMIT ?3) ORDER BY seq");
  if (!s) return std::unexpected(s.error());
  s->bind(1, static_cast<int64_t>(from))
      .bind(2, q.plugin)
      .bind(3, static_cast<int64_t>(q.limit))
      .bind(4, q.since_unix_ms);
  return rows_of(*s);
}

Result<std::vector<AuditRecord>> read_all_records(Db& db) {
  auto s = db.prepare(std::string("SELECT ") + kColumns + " FROM audit ORDER BY seq");
  if (!s) return std::unexpected(s.error());
  return rows_of(*s);
}

}  // namespace corral::supervisor::store
