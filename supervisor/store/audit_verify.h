// Verifies the audit trail in a store: the hash chain record by record (an edited record's hash
// no longer matches its content; a deleted one leaves a gap in the sequence; a moved one hashes
// right only at its old position) and every checkpoint's signature against trusted public keys.
// Each problem names the record (seq) and what happened to it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "supervisor/store/sqlite.h"

namespace corral::supervisor::store {

struct AuditProblem {
  uint64_t seq = 0;  // the record (or checkpoint's record) at fault
  std::string kind;  // "edited" | "deleted" | "reordered" | "unchained" | "checkpoint"
  std::string detail;
};

struct AuditVerifyReport {
  uint64_t records = 0;
  uint64_t checkpoints = 0;
  uint64_t last_seq = 0;
  uint64_t signed_through = 0;  // newest record covered by a good signature over an intact chain
  std::vector<AuditProblem> problems;
  [[nodiscard]] bool ok() const { return problems.empty(); }
  // Records after the newest checkpoint: chained but not yet signed.
  [[nodiscard]] uint64_t unsigned_tail() const { return last_seq - signed_through; }
};

// trusted: key id -> raw public key (the key directory's, not the store's own copy).
[[nodiscard]] Result<AuditVerifyReport> verify_audit(
    Db& db, const std::map<std::string, std::string>& trusted);

}  // namespace corral::supervisor::store
