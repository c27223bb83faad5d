// StoreService: corrald's use of its durable store. At start it registers the loaded manifests
// in the journal, replays the desired state onto the plugins (generations, quarantine and
// escalation, who is wanted up), and afterwards commits every mutating command before the Router
// applies it, audits every command before its answer, journals recovery's quarantines,
// escalations and breaker trips and audits its actions, and signs audit checkpoints on a timer
// and at shutdown.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "corral/v1/control.pb.h"
#include "sandbox/cgroup.h"
#include "supervisor/recovery/event_log.h"
#include "supervisor/run_journal.h"
#include "supervisor/session.h"
#include "supervisor/store/store.h"

namespace corral::supervisor {

class Plugin;
class PluginManager;

class StoreService final : public RunJournal {
 public:
  [[nodiscard]] static Result<std::unique_ptr<StoreService>> open(boost::asio::io_context& io,
                                                                  const std::string& dir,
                                                                  store::StoreOptions options = {});

  // Journals new, changed and vanished manifests, then restores each plugin's generation and
  // recovery phase from the desired state.
  [[nodiscard]] Result<void> reconcile(PluginManager& plugins);
  // Crash-only start: the runs the journal says are live are adopted where their init still is
  // the one recorded (the rest of the cgroup parent is reaped by claim, which this calls); runs
  // that ended while no corrald watched are recorded as exits (and not restarted if their
  // restart policy says so). Call after reconcile, before start_wanted.
  [[nodiscard]] Result<void> adopt_runs(PluginManager& plugins, sandbox::CgroupBackend* cgroups);
  // RunJournal.
  void run_started(const std::string& plugin, const v1::Run& run) override;
  void run_ended(const std::string& plugin, const std::string& status) override;
  // Starts every plugin the desired state wants up (or, if nothing was said, whose manifest says
  // autostart), unless it is quarantined or escalated.
  void start_wanted(PluginManager& plugins);

  // Commits an operator's command about p before it is applied: `wanted` is what it asks for
  // (nullopt: unchanged, e.g. reset). CONFLICT on a stale expected generation; any failure means
  // nothing may change.
  [[nodiscard]] Result<uint64_t> commit(Plugin& p, const std::string& command,
                                        std::optional<v1::Wanted> wanted,
                                        std::optional<uint64_t> expected_generation,
                                        const std::string& correlation_id);
  // Checks an expected generation without committing (a command that changes nothing).
  [[nodiscard]] Result<void> check_generation(const Plugin& p, std::optional<uint64_t> expected);

  // The audit record of a command's answer (before the answer is sent). While the store cannot
  // be written (full disk, read-only), records wait in a bounded backlog, in order, and go in
  // first once it can: kQueued. An error: not even queued (the backlog is full).
  using Audited = supervisor::Audited;
  // Records of the answers given in one event-loop turn go in one transaction at the end of the
  // turn (before any of them is sent); `done` runs then, with where the record went and, when
  // `durable` (a mutating command's answer), the result of the WAL fsync that follows it: group
  // commit. Mutating commands are committed with synchronous=NORMAL (in the page cache, safe from
  // a corrald crash) and acknowledged only after that fsync.
  using AuditDone = supervisor::AuditDone;
  void audit_command(const PeerCred& peer, const PendingAudit& a, const v1::Response& resp,
                     bool durable, AuditDone done);
  // A refusal that is not an answer to a request (a connection over its cap, a frame deadline,
  // an idle timeout, a dropped subscriber): recorded in the same turn's transaction.
  void audit_refusal(const PeerCred& peer, const std::string& what, const std::string& result,
                     const std::string& message);
  [[nodiscard]] size_t audit_backlog() const { return backlog_.size(); }
  // A recovery event: audited when it is an action; journaled when recovery state that must
  // outlive corrald changed.
  void on_recovery_event(const recovery::RecoveryEvent& e, PluginManager& plugins);
  // Keeps the event in the store's events table (in this turn's transaction), for Subscribe.
  void keep_event(const recovery::RecoveryEvent& e);
  // The newest event seq the store holds (written); events after it are still in the batch.
  [[nodiscard]] uint64_t stored_event_seq() const { return store_->events().last_seq(); }

  // One of corrald's own actions outside recovery (reaping a stale sandbox at start).
  void record_action(const std::string& plugin, const std::string& action,
                     const std::string& message);

  void start_checkpoints();
  // Signs the last checkpoint; the timer stops.
  void stop();

  // doctor's "store" lines: the database, journal and audit positions, the signing key.
  void fill_doctor(v1::DoctorResponse& out) const;
  void audit_query(const v1::AuditRequest& r, v1::Response& resp);
  void audit_verify(v1::Response& resp);
  void rotate_key(v1::Response& resp);
  void backup(const v1::BackupRequest& r, v1::Response& resp);

  [[nodiscard]] store::Store& store() { return *store_; }

 private:
  StoreService(boost::asio::io_context& io, std::unique_ptr<store::Store> s)
      : io_(io), store_(std::move(s)), timer_(io) {}
  [[nodiscard]] Result<uint64_t> append(const std::string& plugin, v1::JournalBody body,
                                        const std::string& correlation_id,
                                        std::optional<uint64_t> expected,
                                        store::Sync sync = store::Sync::kFull);
  void arm_checkpoint();
  void post_flush();
  // The turn's audit records in one transaction, then (if anyone waits for it) one WAL fsync.
  void run_flush();
  // Writes records: the backlog first. Queues what cannot be written now (unless full).
  [[nodiscard]] Result<Audited> write_audit(store::AuditRecord r, store::Sync sync);
  void flush_backlog();

  boost::asio::io_context& io_;
  std::unique_ptr<store::Store> store_;
  boost::asio::steady_timer timer_;
  bool stopped_ = false;
  std::deque<std::pair<store::AuditRecord, store::Sync>> backlog_;
  struct Batched {
    store::AuditRecord record;
    bool durable;
    AuditDone done;
  };
  std::vector<Batched> batch_;
  std::vector<v1::RecoveryEvent> event_batch_;
  uint64_t events_unstored_ = 0;
  bool flush_posted_ = false;
  uint64_t syncs_ = 0, synced_acks_ = 0, batches_ = 0, batched_records_ = 0;
  std::vector<std::string> stay_down_;  // ended while away, and their policy says no restart
  uint64_t backlog_dropped_ = 0;
};

// Commands that change desired state (journaled before they are applied).
[[nodiscard]] bool is_mutating(std::string_view command);

}  // namespace corral::supervisor
