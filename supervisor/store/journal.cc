#include "supervisor/store/journal.h"

#include <chrono>
#include <thread>

namespace corral::supervisor::store {

Result<DesiredState> Journal::replay(Db& db, uint64_t* replayed, uint64_t* snapshot_seq) {
  DesiredState state;
  auto snap = db.prepare("SELECT seq, body FROM snapshots ORDER BY seq DESC LIMIT 1");
  if (!snap) return std::unexpected(snap.error());
  auto row = snap->step();
  if (!row) return std::unexpected(row.error());
  if (*row) {
    v1::Snapshot s;
    if (!s.ParseFromString(snap->blob(1))) {
      return make_error(Code::kInternal, "the store's snapshot at journal seq " +
                                             std::to_string(snap->int64(0)) + " does not parse");
    }
    state = DesiredState::from_snapshot(s);
  }
  if (snapshot_seq != nullptr) *snapshot_seq = state.seq();
  auto q = db.prepare("SELECT seq, at_ms, plugin, body FROM journal WHERE seq > ?1 ORDER BY seq");
  if (!q) return std::unexpected(q.error());
  q->bind(1, static_cast<int64_t>(state.seq()));
  uint64_t n = 0;
  for (;;) {
    auto r = q->step();
    if (!r) return std::unexpected(r.error());
    if (!*r) break;
    v1::JournalBody body;
    auto seq = static_cast<uint64_t>(q->int64(0));
    if (!body.ParseFromString(q->blob(3))) {
      return make_error(Code::kInternal,
                        "the store's journal entry " + std::to_string(seq) + " does not parse");
    }
    state.apply(seq, q->text(2), q->int64(1), body);
    ++n;
  }
  if (replayed != nullptr) *replayed = n;
  return state;
}

Result<Journal> Journal::open(Db& db, uint64_t snapshot_every) {
  Journal j(db, snapshot_every == 0 ? 1000 : snapshot_every);
  auto state = replay(db, &j.replayed_, &j.snapshot_seq_);
  if (!state) return std::unexpected(state.error().wrap("replaying the journal"));
  j.state_ = std::move(*state);
  return j;
}

Result<uint64_t> Journal::append(const JournalEntry& e, int64_t at_unix_ms, Sync sync) {
  // BEGIN IMMEDIATE waits out other writers for the busy timeout; a few more tries cover a
  // long backup holding the lock.
  for (int attempt = 0;; ++attempt) {
    auto r = try_append(e, at_unix_ms, sync);
    if (r || r.error().code != Code::kUnavailable || attempt == 2) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Result<uint64_t> Journal::try_append(const JournalEntry& e, int64_t at_unix_ms, Sync sync) {
  uint64_t gen = state_.generation(e.plugin);
  if (e.expected_generation && *e.expected_generation != gen) {
    return make_error(Code::kConflict, "plugin \"" + e.plugin + "\" is at generation " +
                                           std::to_string(gen) + ", not the expected " +
                                           std::to_string(*e.expected_generation) +
                                           " (another client changed it; read it again and retry)");
  }
  std::string body;
  if (!e.body.SerializeToString(&body)) {
    return make_error(Code::kInternal, "cannot serialize a journal entry");
  }
  auto txn = Txn::begin(*db_, sync);
  if (!txn) return std::unexpected(txn.error().wrap("journal"));
  uint64_t seq = state_.seq() + 1;
  auto ins = db_->prepare(
      "INSERT INTO journal(seq, at_ms, plugin, generation, kind, body, correlation_id) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!ins) return std::unexpected(ins.error());
  const auto* field = v1::JournalBody::descriptor()->FindFieldByNumber(e.body.entry_case());
  ins->bind(1, static_cast<int64_t>(seq))
      .bind(2, at_unix_ms)
      .bind(3, e.plugin)
      .bind(4, static_cast<int64_t>(gen))
      .bind(5, field != nullptr ? field->name() : std::string("none"))
      .bind_blob(6, body)
      .bind(7, e.correlation_id);
  DesiredState next = state_;
  next.apply(seq, e.plugin, at_unix_ms, e.body);
  ins->bind(4, static_cast<int64_t>(next.generation(e.plugin)));
  if (auto r = ins->run(); !r) return std::unexpected(r.error().wrap("journal"));
  if (seq % snapshot_every_ == 0) {
    std::string snap;
    if (!next.snapshot().SerializeToString(&snap)) {
      return make_error(Code::kInternal, "cannot serialize a snapshot");
    }
    auto s = db_->prepare("INSERT INTO snapshots(seq, at_ms, body) VALUES (?1, ?2, ?3)");
    if (!s) return std::unexpected(s.error());
    s->bind(1, static_cast<int64_t>(seq)).bind(2, at_unix_ms).bind_blob(3, snap);
    if (auto r = s->run(); !r) return std::unexpected(r.error().wrap("journal snapshot"));
  }
  if (auto r = txn->commit(); !r) return std::unexpected(r.error().wrap("journal"));
  // Only now, with the entry on disk, does the in-memory state move.
  state_ = std::move(next);
  return seq;
}

}  // namespace corral::supervisor::store
