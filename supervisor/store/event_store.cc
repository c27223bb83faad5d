#include "supervisor/store/event_store.h"

#include <algorithm>

namespace corral::supervisor::store {

Result<EventStore> EventStore::open(Db& db, uint64_t retain) {
  // Added after schema version 1: created where missing (an older store simply had none).
  if (auto r = db.exec(
          "CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, "
          "body BLOB NOT NULL)");
      !r) {
    return std::unexpected(r.error().wrap("events table"));
  }
  EventStore s(db, std::max<uint64_t>(retain, 1));
  auto q = db.prepare("SELECT COALESCE(MIN(seq), 0), COALESCE(MAX(seq), 0) FROM events");
  if (!q) return std::unexpected(q.error());
  auto row = q->step();
  if (!row) return std::unexpected(row.error());
  if (*row && q->int64(1) > 0) {
    s.first_ = static_cast<uint64_t>(q->int64(0));
    s.last_ = static_cast<uint64_t>(q->int64(1));
  }
  return s;
}

Result<void> EventStore::append_all(const std::vector<v1::RecoveryEvent>& events, Sync sync) {
  if (events.empty()) return {};
  auto txn = Txn::begin(*db_, sync);
  if (!txn) return std::unexpected(txn.error().wrap("events"));
  auto ins = db_->cached("INSERT INTO events(seq, at_ms, body) VALUES (?1, ?2, ?3)");
  if (!ins) return std::unexpected(ins.error());
  uint64_t last = last_;
  for (const auto& e : events) {
    if (e.seq() <= last) {
      return make_error(Code::kInternal, "event seq " + std::to_string(e.seq()) +
                                             " is not after the store's " + std::to_string(last));
    }
    (*ins)->reset();
    (*ins)
        ->bind(1, static_cast<int64_t>(e.seq()))
        .bind(2, e.at_unix_ms())
        .bind_blob(3, e.SerializeAsString());
    if (auto r = (*ins)->run(); !r) return std::unexpected(r.error().wrap("events"));
    last = e.seq();
  }
  uint64_t first = first_ > last_ ? events.front().seq() : first_;
  if (last - first + 1 > retain_) {
    const uint64_t keep_from = last - retain_ + 1;
    auto del = db_->cached("DELETE FROM events WHERE seq < ?1");
    if (!del) return std::unexpected(del.error());
    (*del)->bind(1, static_cast<int64_t>(keep_from));
    if (auto r = (*del)->run(); !r) return std::unexpected(r.error().wrap("pruning events"));
    first = keep_from;
  }
  if (auto r = txn->commit(); !r) return std::unexpected(r.error().wrap("events"));
  first_ = first;
  last_ = last;
  return {};
}

Result<std::vector<v1::RecoveryEvent>> EventStore::after(uint64_t after, size_t limit) const {
  std::vector<v1::RecoveryEvent> out;
  auto q = db_->cached("SELECT body FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2");
  if (!q) return std::unexpected(q.error());
  (*q)->bind(1, static_cast<int64_t>(std::min<uint64_t>(after, INT64_MAX)))
      .bind(2, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  while (true) {
    auto row = (*q)->step();
    if (!row) {
      (*q)->reset();
      return std::unexpected(row.error());
    }
    if (!*row) break;
    v1::RecoveryEvent e;
    if (!e.ParseFromString((*q)->blob(0))) {
      (*q)->reset();
      return make_error(Code::kInternal, "events: a stored event does not parse");
    }
    out.push_back(std::move(e));
  }
  (*q)->reset();
  return out;
}

}  // namespace corral::supervisor::store
