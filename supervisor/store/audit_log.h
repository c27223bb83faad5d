// AuditLog: the tamper-evident record of every control command and every automatic action, in
// the store. Each record carries the SHA-256 of the one before (a hash chain over every field,
// its sequence number included); every `checkpoint_every` records (and on demand) the newest
// hash is signed with corrald's Ed25519 key. verify_audit (audit_verify.h) checks both.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "supervisor/store/signing_key.h"
#include "supervisor/store/sqlite.h"

namespace corral::supervisor::store {

struct AuditRecord {
  uint64_t seq = 0;
  int64_t at_unix_ms = 0;
  std::string kind;  // "command" (a client's) | "action" (corrald's own)
  int64_t uid = -1;  // the peer's, from SO_PEERCRED; -1 for corrald's actions
  int64_t gid = -1;
  int64_t pid = 0;
  std::string exe;      // the peer's executable, read through its pidfd
  std::string command;  // "start", "stop", ... or the action ("transition", "restart")
  std::string plugin;
  std::string args_digest;  // hex SHA-256 of the request's command message
  std::string result;       // "ok" or the status ("permission denied", ...)
  std::string message;
  int64_t duration_us = 0;
  std::string correlation_id;
  std::string prev_hash;  // 32 raw bytes (zeros for the first record)
  std::string hash;       // 32 raw bytes
};

// The record's chain hash: SHA-256 over a fixed, length-prefixed encoding of prev_hash and every
// other field (hash itself excluded).
[[nodiscard]] std::string audit_hash(const AuditRecord& r);
// The bytes a checkpoint signs.
[[nodiscard]] std::string checkpoint_message(uint64_t seq, std::string_view hash, int64_t at_ms);

struct AuditQuery {
  int64_t since_unix_ms = 0;
  std::string plugin;     // empty: all
  uint32_t limit = 1000;  // newest `limit` matching records, oldest first
};

class AuditLog {
 public:
  // keys may be null (read-only use: query and verify only).
  [[nodiscard]] static Result<AuditLog> open(Db& db, KeyRing* keys,
                                             uint64_t checkpoint_every = 256);

  // Appends r (seq, prev_hash, hash filled in) in one transaction of the given durability; a
  // checkpoint is signed in the same transaction when one is due. Returns the seq.
  [[nodiscard]] Result<uint64_t> append(AuditRecord r, Sync sync);
  // Appends every record (in order) in one transaction: all or none. Returns the last seq.
  [[nodiscard]] Result<uint64_t> append_all(std::vector<AuditRecord>& records, Sync sync);
  // Signs the newest record unless it is already signed.
  [[nodiscard]] Result<void> checkpoint(int64_t now_unix_ms);
  // Signs a last checkpoint with the current key, rotates to a new one (recorded in the keys
  // table, the old private key deleted), and signs a first checkpoint with it. Returns its id.
  [[nodiscard]] Result<std::string> rotate_key(int64_t now_unix_ms);
  [[nodiscard]] Result<std::vector<AuditRecord>> query(const AuditQuery& q) const;
  // The seq of the first record stamped at or after since (last_seq() + 1 if none).
  [[nodiscard]] Result<uint64_t> first_seq_since(int64_t since_unix_ms) const;
  [[nodiscard]] uint64_t last_seq() const { return last_seq_; }
  [[nodiscard]] uint64_t signed_seq() const { return signed_seq_; }

 private:
  AuditLog(Db& db, KeyRing* keys, uint64_t every) : db_(&db), keys_(keys), every_(every) {}
  [[nodiscard]] Result<void> insert_checkpoint(int64_t now_unix_ms);
  [[nodiscard]] Result<void> record_key(const std::string& id, int64_t now_unix_ms);

  Db* db_;
  KeyRing* keys_;
  uint64_t every_;
  uint64_t last_seq_ = 0;
  std::string last_hash_ = std::string(32, '\0');
  uint64_t signed_seq_ = 0;
};

// Reads records as stored (for verification): every row, in seq order.
[[nodiscard]] Result<std::vector<AuditRecord>> read_all_records(Db& db);

}  // namespace corral::supervisor::store
