#include "supervisor/store_service.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "common/files.h"
#include "proto/status.h"
#include "supervisor/manifest.h"
#include "supervisor/output_pipe.h"
#include "supervisor/plugin_manager.h"
#include "supervisor/router.h"
#include "supervisor/store/audit_verify.h"
#include "supervisor/store/backup.h"

namespace corral::supervisor {

namespace {

constexpr auto kCheckpointInterval = std::chrono::seconds(10);
constexpr uint32_t kDefaultAuditLimit = 1000;
constexpr uint32_t kMaxAuditLimit = 100000;
constexpr size_t kMaxBacklog = 100000;

// The store cannot take a write now, but may later (space freed, remounted read-write).
bool unwritable(const Error& e) {
  return e.code == Code::kResourceExhausted || e.code == Code::kPermissionDenied ||
         e.code == Code::kUnavailable;
}

std::string result_name(const v1::Response& resp) {
  if (resp.status().code() == v1::OK) return "ok";
  std::string n = v1::StatusCode_Name(resp.status().code());
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) {
    return c == '_' ? ' ' : static_cast<char>(std::tolower(c));
  });
  return n;
}

recovery::RecoveryPhase phase_of(v1::Phase p) {
  switch (p) {
    case v1::PHASE_QUARANTINED:
      return recovery::RecoveryPhase::kQuarantined;
    case v1::PHASE_ESCALATED:
      return recovery::RecoveryPhase::kEscalated;
    default:
      return recovery::RecoveryPhase::kNormal;
  }
}

}  // namespace

bool is_mutating(std::string_view command) {
  return command == "start" || command == "stop" || command == "restart" || command == "reset" ||
         command == "run" || command == "rotate_key" || command == "backup";
}

Result<std::unique_ptr<StoreService>> StoreService::open(boost::asio::io_context& io,
                                                         const std::string& dir,
                                                         store::StoreOptions options) {
  auto s = store::Store::open(dir, options);
  if (!s) return std::unexpected(s.error().wrap("opening corrald's store in " + dir));
  const auto& j = (*s)->journal();
  spdlog::info(
      "store: {} (journal at seq {}: snapshot {} + {} replayed; audit at seq {}; key {}{})",
      (*s)->path(), j.state().seq(), j.snapshot_seq(), j.replayed(), (*s)->audit().last_seq(),
      (*s)->keys().current().id(), (*s)->keys().created() ? ", new" : "");
  return std::unique_ptr<StoreService>(new StoreService(io, std::move(*s)));
}

Result<uint64_t> StoreService::append(const std::string& plugin, v1::JournalBody body,
                                      const std::string& correlation_id,
                                      std::optional<uint64_t> expected, store::Sync sync) {
  store::JournalEntry e;
  e.plugin = plugin;
  e.body = std::move(body);
  e.correlation_id = correlation_id;
  e.expected_generation = expected;
  return store_->journal().append(e, unix_now_ms(), sync);
}

Result<void> StoreService::reconcile(PluginManager& plugins) {
  const auto& state = store_->journal().state();
  for (Plugin* p : plugins.all()) {
    const auto& m = p->manifest();
    auto text = read_file(m.source, 1 << 20);
    std::string digest = store::to_hex(store::sha256(text ? *text : std::string()));
    const auto* rec = state.find(m.name);
    if (rec != nullptr && rec->registered() && rec->manifest_digest() == digest &&
        rec->manifest_path() == m.source) {
      continue;
    }
    v1::JournalBody b;
    b.mutable_registered()->set_manifest_digest(digest);
    b.mutable_registered()->set_manifest_path(m.source);
    if (auto r = append(m.name, std::move(b), "startup", std::nullopt); !r) {
      return std::unexpected(r.error().wrap("registering plugin \"" + m.name + "\""));
    }
  }
  std::vector<std::string> gone;
  for (const auto& [name, rec] : state.plugins()) {
    if (rec.registered() && plugins.find(name) == nullptr) gone.push_back(name);
  }
  for (const auto& name : gone) {
    v1::JournalBody b;
    b.mutable_unregistered();
    if (auto r = append(name, std::move(b), "startup", std::nullopt); !r) {
      return std::unexpected(r.error().wrap("unregistering plugin \"" + name + "\""));
    }
    spdlog::info("store: plugin {} has no manifest any more; unregistered", name);
  }
  for (Plugin* p : plugins.all()) {
    const auto* rec = state.find(p->name());
    if (rec == nullptr) continue;
    p->set_generation(rec->generation());
    auto phase = phase_of(rec->phase());
    if (phase != recovery::RecoveryPhase::kNormal || rec->breaker_trips() > 0) {
      p->restore(phase, rec->phase_cause(), rec->breaker_trips());
      if (phase != recovery::RecoveryPhase::kNormal) {
        spdlog::warn("store: plugin {} stays {} ({}) until `corralctl reset {}`", p->name(),
                     store::phase_name(rec->phase()), rec->phase_cause(), p->name());
      }
    }
  }
  return {};
}

void StoreService::run_started(const std::string& plugin, const v1::Run& run) {
  v1::JournalBody b;
  *b.mutable_run_started() = run;
  if (auto r = append(plugin, std::move(b), "run", std::nullopt, store::Sync::kNormal); !r) {
    spdlog::error(
        "store: cannot journal the run of {} (a restarted corrald will reap it, not "
        "adopt it): {}",
        plugin, r.error().describe());
  }
}

void StoreService::run_ended(const std::string& plugin, const std::string& status) {
  const auto* rec = store_->journal().state().find(plugin);
  if (rec == nullptr || !rec->has_live_run()) return;
  v1::JournalBody b;
  b.mutable_run_ended()->set_status(status);
  if (auto r = append(plugin, std::move(b), "run", std::nullopt, store::Sync::kNormal); !r) {
    spdlog::error("store: cannot journal the end of {}'s run: {}", plugin, r.error().describe());
  }
}

Result<void> StoreService::adopt_runs(PluginManager& plugins, sandbox::CgroupBackend* cgroups) {
  struct Live {
    Plugin* plugin;
    v1::Run run;
  };
  std::vector<Live> alive;
  std::vector<std::pair<Plugin*, v1::Run>> gone;
  std::vector<std::string> orphaned;  // live records of plugins with no manifest any more
  for (const auto& [name, rec] : store_->journal().state().plugins()) {
    if (!rec.has_live_run()) continue;
    Plugin* p = plugins.find(name);
    if (p == nullptr) {
      orphaned.push_back(name);
      continue;
    }
    const auto& run = rec.live_run();
    bool same = run.init_start_ticks() != 0 &&
                process_start_ticks(run.init_pid()) == run.init_start_ticks();
    if (same) {
      alive.push_back({p, run});
    } else {
      gone.emplace_back(p, run);
    }
  }
  std::vector<std::string> keep;
  for (const auto& l : alive) keep.push_back(l.plugin->name());
  if (cgroups != nullptr) {
    // Everything else under the parent is a sandbox no record vouches for: reaped.
    auto stale = cgroups->claim(keep);
    if (!stale) return std::unexpected(stale.error().wrap("claiming the cgroup parent"));
    for (const auto& s : *stale) {
      std::string what = "reaped the sandbox cgroup \"" + s.name + "\" a previous corrald left (" +
                         std::to_string(s.processes) + " process(es) killed)";
      spdlog::warn("cgroup: {}", what);
      record_action(s.name, "reap", what);
    }
  }
  for (auto& l : alive) {
    Plugin& p = *l.plugin;
    std::unique_ptr<sandbox::Cgroup> cg;
    Result<void> ok;
    if (cgroups != nullptr) {
      auto a = cgroups->adopt(p.name());
      if (a) {
        cg = std::move(*a);
        // The kernel's view must agree with the record: the init is in the run's cgroup.
        auto members = cg->pids();
        if (!members ||
            std::find(members->begin(), members->end(), l.run.init_pid()) == members->end()) {
          ok =
              make_error(Code::kFailedPrecondition, "init pid " + std::to_string(l.run.init_pid()) +
                                                        " is not in its cgroup " + cg->dir(""));
        }
      } else {
        ok = std::unexpected(a.error());
      }
    }
    if (ok) ok = p.adopt(l.run, std::move(cg));  // on failure the cgroup (and the run) goes
    if (!ok && ok.error().code == Code::kNotFound) {
      gone.emplace_back(&p, l.run);  // it exited just now: its exit file has the status
      continue;
    }
    if (ok) {
      record_action(p.name(), "adopt",
                    "adopted its running sandbox (init pid " + std::to_string(l.run.init_pid()) +
                        ") from a previous corrald");
      continue;
    }
    std::string why = ok.error().describe();
    spdlog::error(
        "plugin {}: cannot adopt its run (init pid {}): {}; it is killed and started "
        "again",
        p.name(), l.run.init_pid(), why);
    if (UniqueFd fd{static_cast<int>(::syscall(SYS_pidfd_open, l.run.init_pid(), 0))}) {
      if (process_start_ticks(l.run.init_pid()) == l.run.init_start_ticks()) {
        (void)::syscall(SYS_pidfd_send_signal, fd.get(), SIGKILL, nullptr, 0);
      }
    }
    record_action(p.name(), "reap", "could not adopt its run: " + why);
    run_ended(p.name(), "killed: not adoptable");
  }
  for (auto& [p, run] : gone) {
    // Ended while no corrald watched: the init wrote the program's status to its exit file.
    sandbox::ExitStatus st{true, SIGKILL};
    if (UniqueFd f{::open(run.exit_file().c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)}) {
      int raw = 0;
      if (::read(f.get(), &raw, sizeof raw) == static_cast<ssize_t>(sizeof raw)) {
        st = WIFEXITED(raw) ? sandbox::ExitStatus{false, WEXITSTATUS(raw)}
                            : sandbox::ExitStatus{true, WTERMSIG(raw)};
      }
    }
    (void)::unlink(run.exit_file().c_str());
    run_ended(p->name(), st.describe());
    p->exited_while_away(st);
    record_action(p->name(), "exit", "its run " + st.describe() + " while no corrald watched");
    const auto policy = p->manifest().restart.policy;
    bool restart =
        policy == RestartPolicy::kAlways || (policy == RestartPolicy::kOnFailure && !st.success());
    if (!restart) stay_down_.push_back(p->name());
  }
  for (const auto& name : orphaned) run_ended(name, "its manifest is gone");
  return {};
}

void StoreService::start_wanted(PluginManager& plugins) {
  const auto& state = store_->journal().state();
  for (Plugin* p : plugins.all()) {
    if (p->running()) continue;  // adopted
    if (std::find(stay_down_.begin(), stay_down_.end(), p->name()) != stay_down_.end()) continue;
    const auto* rec = state.find(p->name());
    bool up = p->manifest().autostart;
    if (rec != nullptr) {
      if (rec->phase() == v1::PHASE_QUARANTINED || rec->phase() == v1::PHASE_ESCALATED) continue;
      if (rec->wanted() == v1::WANTED_UP) up = true;
      if (rec->wanted() == v1::WANTED_DOWN) up = false;
    }
    // A failed launch is logged by the plugin and retried per its restart policy.
    if (up) (void)p->start();
  }
}

Result<void> StoreService::check_generation(const Plugin& p, std::optional<uint64_t> expected) {
  uint64_t gen = store_->journal().state().generation(p.name());
  if (expected && *expected != gen) {
    return make_error(Code::kConflict, "plugin \"" + p.name() + "\" is at generation " +
                                           std::to_string(gen) + ", not the expected " +
                                           std::to_string(*expected) +
                                           " (another client changed it; read it again and retry)");
  }
  return {};
}

Result<uint64_t> StoreService::commit(Plugin& p, const std::string& command,
                                      std::optional<v1::Wanted> wanted,
                                      std::optional<uint64_t> expected_generation,
                                      const std::string& correlation_id) {
  const auto* rec = store_->journal().state().find(p.name());
  v1::JournalBody b;
  b.mutable_wanted()->set_wanted(
      wanted.value_or(rec != nullptr ? rec->wanted() : v1::WANTED_UNSPECIFIED));
  b.mutable_wanted()->set_command(command);
  auto seq =
      append(p.name(), std::move(b), correlation_id, expected_generation, store::Sync::kNormal);
  if (!seq) return std::unexpected(seq.error().wrap(command + " not done"));
  p.set_generation(store_->journal().state().generation(p.name()));
  return seq;
}

void StoreService::flush_backlog() {
  while (!backlog_.empty()) {
    auto& [rec, sync] = backlog_.front();
    if (auto r = store_->audit().append(rec, sync); !r) return;
    backlog_.pop_front();
  }
  if (backlog_dropped_ > 0) {
    store::AuditRecord lost;
    lost.at_unix_ms = unix_now_ms();
    lost.kind = "action";
    lost.exe = "corrald";
    lost.command = "audit-backlog-overflow";
    lost.result = "lost";
    lost.message = std::to_string(backlog_dropped_) +
                   " audit record(s) were dropped while the store could not be written";
    if (store_->audit().append(lost, store::Sync::kFull)) backlog_dropped_ = 0;
  } else {
    spdlog::info("store: the audit backlog is written; the store takes writes again");
  }
}

Result<StoreService::Audited> StoreService::write_audit(store::AuditRecord r, store::Sync sync) {
  if (!backlog_.empty()) flush_backlog();
  if (backlog_.empty()) {
    auto seq = store_->audit().append(r, sync);
    if (seq) return Audited::kWritten;
    if (!unwritable(seq.error())) return std::unexpected(seq.error());
    spdlog::error("store: cannot write the audit trail ({}); records wait in memory until it can",
                  seq.error().describe());
  }
  if (backlog_.size() >= kMaxBacklog) {
    ++backlog_dropped_;
    return make_error(Code::kResourceExhausted,
                      "the audit trail cannot be written and its backlog is full");
  }
  backlog_.emplace_back(std::move(r), sync);
  return Audited::kQueued;
}

namespace {

store::AuditRecord command_record(const PeerCred& peer, const std::string& command,
                                  const std::string& plugin, const std::string& result,
                                  const std::string& message) {
  store::AuditRecord r;
  r.at_unix_ms = unix_now_ms();
  r.kind = "command";
  r.uid = peer.uid;
  r.gid = peer.gid;
  r.pid = peer.pid;
  r.exe = peer.exe;
  r.command = command;
  r.plugin = plugin;
  r.result = result;
  r.message = message.substr(0, 4096);
  return r;
}

}  // namespace

void StoreService::audit_command(const PeerCred& peer, const PendingAudit& a,
                                 const v1::Response& resp, bool durable, AuditDone done) {
  store::AuditRecord r =
      command_record(peer, a.command, a.plugin, result_name(resp), resp.status().message());
  r.at_unix_ms = a.at_unix_ms;
  r.args_digest = a.args_digest;
  r.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - a.started)
                      .count();
  r.correlation_id = a.correlation_id;
  batch_.push_back({std::move(r), durable, std::move(done)});
  post_flush();
}

void StoreService::audit_refusal(const PeerCred& peer, const std::string& what,
                                 const std::string& result, const std::string& message) {
  batch_.push_back({command_record(peer, what, "", result, message), false, nullptr});
  post_flush();
}

void StoreService::keep_event(const recovery::RecoveryEvent& e) {
  to_wire(e, event_batch_.emplace_back());
  post_flush();
}

void StoreService::on_recovery_event(const recovery::RecoveryEvent& e, PluginManager& plugins) {
  if (e.type == "signal") return;  // signals are not actions; operator ones are commands
  store::AuditRecord r;
  r.at_unix_ms = e.at_unix_ms;
  r.kind = "action";
  r.exe = "corrald";
  r.command = e.type;
  r.plugin = e.plugin;
  r.result = "ok";
  r.message = (e.what + ": " + e.cause).substr(0, 4096);
  r.correlation_id = e.signal_id != 0 ? "signal-" + std::to_string(e.signal_id) : std::string();
  if (auto a = write_audit(std::move(r), store::Sync::kNormal); !a) {
    spdlog::error("store: cannot audit {} {} of {}: {}", e.type, e.what, e.plugin,
                  a.error().describe());
  }
  v1::JournalBody b;
  if (e.type == "alert" && (e.what == "quarantined" || e.what == "escalated")) {
    b.mutable_phase()->set_phase(e.what == "quarantined" ? v1::PHASE_QUARANTINED
                                                         : v1::PHASE_ESCALATED);
    b.mutable_phase()->set_cause(e.cause);
  } else if (e.type == "transition" && e.what.ends_with("-> open")) {
    Plugin* p = plugins.find(e.plugin);
    if (p == nullptr) return;
    b.mutable_breaker()->set_trips(p->recovery().breaker().trips());
  } else {
    return;
  }
  std::string corr = "signal-" + std::to_string(e.signal_id);
  auto seq = append(e.plugin, std::move(b), corr, std::nullopt);
  if (!seq) {
    spdlog::error("store: cannot journal {} of {}: {} (it will not survive a restart)", e.what,
                  e.plugin, seq.error().describe());
    return;
  }
  if (Plugin* p = plugins.find(e.plugin)) {
    p->set_generation(store_->journal().state().generation(e.plugin));
  }
}

void StoreService::record_action(const std::string& plugin, const std::string& action,
                                 const std::string& message) {
  store::AuditRecord r;
  r.at_unix_ms = unix_now_ms();
  r.kind = "action";
  r.exe = "corrald";
  r.command = action;
  r.plugin = plugin;
  r.result = "ok";
  r.message = message.substr(0, 4096);
  if (auto a = write_audit(std::move(r), store::Sync::kFull); !a) {
    spdlog::error("store: cannot audit {} of {}: {}", action, plugin, a.error().describe());
  }
}

void StoreService::start_checkpoints() { arm_checkpoint(); }

void StoreService::post_flush() {
  if (flush_posted_) return;
  flush_posted_ = true;
  // After the handlers already queued: every answer ready in this turn joins the same
  // transaction and the same fsync.
  boost::asio::post(io_, [this] { run_flush(); });
}

void StoreService::run_flush() {
  flush_posted_ = false;
  if (!event_batch_.empty()) {
    auto events = std::move(event_batch_);
    event_batch_.clear();
    if (auto r = store_->events().append_all(events, store::Sync::kNormal); !r) {
      events_unstored_ += events.size();
      spdlog::error("store: {} event(s) not kept (subscribers resuming will miss them): {}",
                    events.size(), r.error().describe());
    }
  }
  auto batch = std::move(batch_);
  batch_.clear();
  if (batch.empty()) return;

  Result<Audited> audited = Audited::kWritten;
  {
    if (!backlog_.empty()) flush_backlog();
    std::vector<store::AuditRecord> records;
    records.reserve(batch.size());
    for (auto& b : batch) records.push_back(std::move(b.record));
    Result<uint64_t> wrote = make_error(Code::kUnavailable, "the audit backlog is not written yet");
    if (backlog_.empty()) wrote = store_->audit().append_all(records, store::Sync::kNormal);
    if (wrote) {
      ++batches_;
      batched_records_ += records.size();
    } else if (!backlog_.empty() || unwritable(wrote.error())) {
      if (backlog_.empty()) {
        spdlog::error(
            "store: cannot write the audit trail ({}); records wait in memory until it can",
            wrote.error().describe());
      }
      audited = Audited::kQueued;
      for (auto& r : records) {
        if (backlog_.size() >= kMaxBacklog) {
          ++backlog_dropped_;
          audited = make_error(Code::kResourceExhausted,
                               "the audit trail cannot be written and its backlog is full");
          continue;
        }
        backlog_.emplace_back(std::move(r), store::Sync::kNormal);
      }
    } else {
      audited = std::unexpected(wrote.error());
    }
  }
  bool sync = std::any_of(batch.begin(), batch.end(), [](const Batched& b) { return b.durable; });
  Result<void> synced;
  if (sync) {
    synced = store_->db().sync_wal();
    if (!synced) spdlog::error("store: {}", synced.error().describe());
    ++syncs_;
  }
  for (auto& b : batch) {
    if (b.durable) ++synced_acks_;
    if (b.done) b.done(audited, synced);
  }
}

void StoreService::arm_checkpoint() {
  timer_.expires_after(kCheckpointInterval);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    if (!backlog_.empty()) flush_backlog();
    if (auto r = store_->audit().checkpoint(unix_now_ms()); !r) {
      spdlog::error("store: cannot sign an audit checkpoint: {}", r.error().describe());
    }
    // The WAL into the database (PASSIVE: never waits for a reader such as a backup).
    if (auto r = store_->db().exec("PRAGMA wal_checkpoint(PASSIVE)"); !r) {
      spdlog::warn("store: WAL checkpoint: {}", r.error().describe());
    }
    arm_checkpoint();
  });
}

void StoreService::stop() {
  if (stopped_) return;
  stopped_ = true;
  run_flush();
  // Everything committed with synchronous=NORMAL (run ends, reads' audit records) to the disk
  // before corrald is gone.
  if (auto r = store_->db().sync_wal(); !r) spdlog::error("store: {}", r.error().describe());
  timer_.cancel();
  if (!backlog_.empty()) flush_backlog();
  if (!backlog_.empty()) {
    spdlog::error("store: {} audit record(s) could not be written before exit", backlog_.size());
  }
  if (auto r = store_->audit().checkpoint(unix_now_ms()); !r) {
    spdlog::error("store: cannot sign the last audit checkpoint: {}", r.error().describe());
  }
}

void StoreService::fill_doctor(v1::DoctorResponse& out) const {
  auto& active = *out.mutable_active();
  const auto& j = store_->journal();
  active["store"] = store_->path() + " (SQLite WAL; journal synchronous=FULL)";
  active["store.journal"] = "seq " + std::to_string(j.state().seq()) + ", " +
                            std::to_string(j.state().plugins().size()) + " plugin record(s)";
  active["store.audit"] = "seq " + std::to_string(store_->audit().last_seq()) +
                          ", signed through " + std::to_string(store_->audit().signed_seq()) +
                          (backlog_.empty() ? std::string()
                                            : ", " + std::to_string(backlog_.size()) +
                                                  " record(s) waiting: the store is not writable");
  active["store.group_commit"] = std::to_string(synced_acks_) + " durable answer(s) in " +
                                 std::to_string(syncs_) + " fsync(s)";
  active["store.events"] =
      std::to_string(store_->events().first_seq()) + ".." +
      std::to_string(store_->events().last_seq()) + " kept" +
      (events_unstored_ > 0 ? ", " + std::to_string(events_unstored_) + " could not be written"
                            : std::string());
  active["store.audit_batches"] = std::to_string(batched_records_) + " command record(s) in " +
                                  std::to_string(batches_) + " transaction(s)";
  active["store.key"] = "Ed25519 " + store_->keys().current().id() + " (" +
                        std::to_string(store_->keys().public_keys().size()) +
                        " public key(s) kept)";
}

void StoreService::audit_query(const v1::AuditRequest& r, v1::Response& resp) {
  if (r.limit() > kMaxAuditLimit) {
    return proto::set_error(
        resp, Error{Code::kInvalidArgument, 0,
                    "audit.limit must be at most " + std::to_string(kMaxAuditLimit) + ", got " +
                        std::to_string(r.limit())});
  }
  if (!r.plugin().empty() && !valid_plugin_name(r.plugin())) {
    return proto::set_error(resp, Error{Code::kInvalidArgument, 0,
                                        "audit.plugin: \"" + r.plugin().substr(0, 80) +
                                            "\" is not a valid plugin name"});
  }
  store::AuditQuery q;
  q.since_unix_ms = r.since_unix_ms();
  q.plugin = r.plugin();
  q.limit = r.limit() == 0 ? kDefaultAuditLimit : r.limit();
  auto recs = store_->audit().query(q);
  if (!recs) return proto::set_error(resp, recs.error().wrap("audit"));
  auto* out = resp.mutable_audit();
  for (const auto& x : *recs) {
    auto* o = out->add_records();
    o->set_seq(x.seq);
    o->set_at_unix_ms(x.at_unix_ms);
    o->set_kind(x.kind);
    o->set_uid(x.uid);
    o->set_gid(x.gid);
    o->set_pid(x.pid);
    o->set_exe(x.exe);
    o->set_command(x.command);
    o->set_plugin(x.plugin);
    o->set_args_digest(x.args_digest);
    o->set_result(x.result);
    o->set_message(x.message);
    o->set_duration_us(x.duration_us);
    o->set_correlation_id(x.correlation_id);
    o->set_hash(store::to_hex(x.hash));
  }
  out->set_last_seq(store_->audit().last_seq());
  out->set_signed_seq(store_->audit().signed_seq());
  proto::set_ok(resp);
}

void StoreService::audit_verify(v1::Response& resp) {
  // The trusted keys are the key directory's, re-read now (not the store's copy of them).
  auto ring = store::KeyRing::open_public(store_->keys().dir());
  if (!ring) return proto::set_error(resp, ring.error().wrap("audit verify"));
  auto rep = store::verify_audit(store_->db(), ring->public_keys());
  if (!rep) return proto::set_error(resp, rep.error().wrap("audit verify"));
  auto* out = resp.mutable_audit_verify();
  out->set_ok(rep->ok());
  out->set_records(rep->records);
  out->set_checkpoints(rep->checkpoints);
  out->set_last_seq(rep->last_seq);
  out->set_signed_through(rep->signed_through);
  for (const auto& p : rep->problems) {
    auto* o = out->add_problems();
    o->set_seq(p.seq);
    o->set_kind(p.kind);
    o->set_detail(p.detail);
  }
  for (const auto& [id, pub] : ring->public_keys()) out->add_trusted_keys(id);
  out->set_store(store_->path());
  proto::set_ok(resp);
}

void StoreService::rotate_key(v1::Response& resp) {
  std::string old = store_->keys().current().id();
  auto id = store_->audit().rotate_key(unix_now_ms());
  if (!id) return proto::set_error(resp, id.error().wrap("rotate-key"));
  spdlog::warn("store: signing key rotated: {} -> {}", old, *id);
  resp.mutable_rotate_key()->set_old_key_id(old);
  resp.mutable_rotate_key()->set_new_key_id(*id);
  proto::set_ok(resp);
}

void StoreService::backup(const v1::BackupRequest& r, v1::Response& resp) {
  auto info = store::backup_store(store_->db(), r.path());
  if (!info) return proto::set_error(resp, info.error());
  auto* out = resp.mutable_backup();
  out->set_path(info->path);
  out->set_bytes(info->bytes);
  out->set_audit_records(info->audit_records);
  out->set_journal_entries(info->journal_entries);
  proto::set_ok(resp);
}

}  // namespace corral::supervisor
