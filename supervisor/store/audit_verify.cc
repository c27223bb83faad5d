#include "supervisor/store/audit_verify.h"

#include <unordered_map>

#include "supervisor/store/audit_log.h"
#include "supervisor/store/signing_key.h"

namespace corral::supervisor::store {

namespace {

// The position a record was hashed at, if it is not where it sits now (a moved record).
std::optional<uint64_t> original_seq(AuditRecord r, uint64_t lo, uint64_t hi) {
  constexpr uint64_t kWindow = 4096;
  uint64_t from = r.seq > kWindow ? r.seq - kWindow : 1;
  uint64_t to = std::min(hi + 1, r.seq + kWindow);
  for (uint64_t s = std::max(from, lo); s <= to; ++s) {
    if (s == r.seq) continue;
    AuditRecord c = r;
    c.seq = s;
    if (audit_hash(c) == r.hash) return s;
  }
  return std::nullopt;
}

}  // namespace

Result<AuditVerifyReport> verify_audit(Db& db, const std::map<std::string, std::string>& trusted) {
  auto records = read_all_records(db);
  if (!records) return std::unexpected(records.error());
  AuditVerifyReport rep;
  rep.records = records->size();
  if (!records->empty()) rep.last_seq = records->back().seq;
  uint64_t lo = records->empty() ? 1 : records->front().seq;

  // Per record: its content hash and its link to the one before. first_bad is the first seq
  // from which the chain cannot be trusted.
  std::unordered_map<uint64_t, std::string> hash_at;
  uint64_t first_bad = UINT64_MAX;
  auto bad = [&](uint64_t seq, std::string kind, std::string detail) {
    rep.problems.push_back({seq, std::move(kind), std::move(detail)});
    first_bad = std::min(first_bad, seq);
  };
  if (!records->empty() && lo != 1) {
    bad(1, "deleted",
        "records 1.." + std::to_string(lo - 1) + " are missing (the trail starts at " +
            std::to_string(lo) + ")");
  }
  const AuditRecord* prev = nullptr;
  bool prev_flagged = false;  // the record before was reported: its link says nothing more
  for (const auto& r : *records) {
    hash_at[r.seq] = r.hash;
    if (prev != nullptr && r.seq != prev->seq + 1) {
      bad(prev->seq + 1, "deleted",
          r.seq == prev->seq + 2 ? "record " + std::to_string(prev->seq + 1) + " is missing"
                                 : "records " + std::to_string(prev->seq + 1) + ".." +
                                       std::to_string(r.seq - 1) + " are missing");
    }
    bool content_ok = audit_hash(r) == r.hash;
    if (!content_ok) {
      auto moved = original_seq(r, lo, rep.last_seq);
      if (moved) {
        bad(r.seq, "reordered",
            "record " + std::to_string(r.seq) + " holds record " + std::to_string(*moved) +
                " (moved from position " + std::to_string(*moved) + ")");
      } else {
        bad(r.seq, "edited",
            "record " + std::to_string(r.seq) +
                "'s content does not match its hash (a field was changed)");
      }
    } else if (prev != nullptr && !prev_flagged && r.seq == prev->seq + 1 &&
               r.prev_hash != prev->hash) {
      bad(prev->seq, "unchained",
          "record " + std::to_string(r.seq) + " does not follow record " +
              std::to_string(prev->seq) + " (record " + std::to_string(prev->seq) +
              " was changed and re-hashed, or the chain was rewritten)");
    } else if (prev == nullptr && r.seq == 1 && r.prev_hash != std::string(32, '\0')) {
      bad(r.seq, "unchained", "record 1 does not start the chain");
    }
    prev_flagged = !content_ok;
    prev = &r;
  }

  auto cps = db.prepare(
      "SELECT audit_seq, at_ms, hash, key_id, signature FROM checkpoints ORDER BY audit_seq");
  if (!cps) return std::unexpected(cps.error());
  for (;;) {
    auto row = cps->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    ++rep.checkpoints;
    auto seq = static_cast<uint64_t>(cps->int64(0));
    std::string hash = cps->blob(2), key_id = cps->text(3), sig = cps->blob(4);
    std::string where = "checkpoint at record " + std::to_string(seq);
    auto key = trusted.find(key_id);
    if (key == trusted.end()) {
      bad(seq, "checkpoint",
          where + " is signed by key " + key_id + ", which is not a trusted key");
      continue;
    }
    if (!verify_signature(key->second, checkpoint_message(seq, hash, cps->int64(1)), sig)) {
      bad(seq, "checkpoint", where + ": the signature (key " + key_id + ") does not verify");
      continue;
    }
    auto it = hash_at.find(seq);
    if (it == hash_at.end()) {
      bad(seq, "deleted",
          where + " signs record " + std::to_string(seq) +
              ", which is missing (records were deleted from the end)");
      continue;
    }
    if (it->second != hash) {
      bad(seq, "checkpoint",
          where + " signed a different record " + std::to_string(seq) +
              " (records up to it were rewritten)");
      continue;
    }
    if (seq < first_bad) rep.signed_through = std::max(rep.signed_through, seq);
  }
  return rep;
}

}  // namespace corral::supervisor::store
