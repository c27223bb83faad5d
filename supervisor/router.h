// Router: authorizes, validates and dispatches each Request to its command handler. Enforces the
// rules every command shares: Hello first, one negotiated version, the peer's role holds the
// command's permission (and a signed request's token too), every field valid, request ids
// echoed, unknown commands answered UNIMPLEMENTED with their field number. The command table
// here is also what Hello advertises, so discovery can never disagree with dispatch.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/clock.h"
#include "corral/v1/control.pb.h"
#include "corral/v1/store.pb.h"
#include "supervisor/log_buffer.h"
#include "supervisor/peer_auth.h"
#include "supervisor/rate_limiter.h"
#include "supervisor/session.h"

namespace corral::supervisor {

class Plugin;
class PluginManager;
class TelemetryService;
class StoreService;
namespace recovery {
class RecoveryLog;
struct RecoveryEvent;
}  // namespace recovery

struct CommandInfo {
  std::string name;  // Request.command field name
  uint32_t since_version;
  int field_number;
};

class Router {
 public:
  Router(boost::asio::io_context& io, PluginManager& plugins, uint32_t max_frame_bytes,
         std::map<std::string, std::string> features);

  void handle(const std::shared_ptr<Session>& session, v1::Request req);
  [[nodiscard]] const std::vector<CommandInfo>& commands() const { return commands_; }
  // Refuse new commands (shutdown): answered UNAVAILABLE.
  void set_draining() { draining_ = true; }
  // Stats and doctor's telemetry lines come from here; null: telemetry is off.
  void set_telemetry(const TelemetryService* t) { telemetry_ = t; }
  // Events (`corralctl events`) come from here; null: none are recorded.
  void set_recovery_log(recovery::RecoveryLog* log) { events_ = log; }
  // One-shot runs: live ones per client uid, and how long a finished one is kept.
  void set_run_limits(uint32_t per_uid, std::chrono::milliseconds retention) {
    max_runs_per_uid_ = per_uid;
    run_retention_ = retention;
  }
  // The journal and audit trail; null: nothing is journaled or audited (unit tests).
  void set_store(StoreService* s) { store_ = s; }
  // Peers' roles and the verifier of signed requests; null: every peer is admin (unit tests).
  void set_authorizer(Authorizer* a) { auth_ = a; }
  // The audit record of a request's first answer, written (in this turn's batch) before it is
  // sent (Session::send); `done` gets a replacement answer when the record cannot be written
  // (corrald does not acknowledge what it cannot record), after the group commit for a mutating
  // command. Without a store, done runs at once.
  void audit(const Session& s, const PendingAudit& a, const v1::Response& resp, AuditDone done);
  // A refusal that is no answer (frame deadline, idle, connection cap, dropped subscriber).
  void refused(const Session& s, const std::string& what, const std::string& message);
  // The wait before the session's next request may be handled (its uid's token bucket); zero:
  // a token was taken.
  [[nodiscard]] Clock::duration throttle(const Session& s);
  // A subscriber fell behind: counted (doctor) and audited.
  void subscriber_dropped(const Session& s, const std::string& why);
  void set_subscriber_budget(size_t bytes) { subscriber_budget_ = bytes; }
  void set_limits(SessionLimits l) { limits_ = l; }

 private:
  void hello(Session& s, const v1::Request& req, v1::Response& resp);
  void version(v1::Response& resp);
  void doctor(v1::Response& resp);
  void list(v1::Response& resp);
  void status(const v1::StatusRequest& r, v1::Response& resp);
  void start(const Session& s, const v1::StartRequest& r, v1::Response& resp);
  void stop(const std::shared_ptr<Session>& s, const v1::StopRequest& r, v1::Response resp);
  void restart(const std::shared_ptr<Session>& s, const v1::RestartRequest& r, v1::Response resp);
  void logs(const std::shared_ptr<Session>& s, const v1::LogsRequest& r, v1::Response resp);
  void run(const std::shared_ptr<Session>& s, const v1::RunRequest& r, v1::Response resp);
  void stats(const v1::StatsRequest& r, v1::Response& resp);
  void health(const v1::HealthRequest& r, v1::Response& resp);
  void breakers(v1::Response& resp);
  void reset(const Session& s, const v1::ResetRequest& r, v1::Response& resp);
  void events(const std::shared_ptr<Session>& s, const v1::EventsRequest& r, v1::Response resp);
  void subscribe(const std::shared_ptr<Session>& s, const v1::SubscribeRequest& r,
                 v1::Response resp);
  // The permission check (peer role, then a signed request's token), validation and the signed
  // request's subject bucket. False: resp carries the refusal.
  bool admit(Session& s, const v1::Request& req, const std::string& command, v1::Response& resp);
  void stop_or_restart(const std::shared_ptr<Session>& s, const std::string& command,
                       const std::string& name, uint32_t timeout_ms, bool restart,
                       std::optional<uint64_t> expected, v1::Response resp);
  // Before a mutating command acts: its journal entry committed (when `acts`; otherwise only
  // the expected generation checked). False: resp carries the error and nothing may change.
  bool commit(Plugin& p, const std::string& command, bool acts, std::optional<v1::Wanted> wanted,
              std::optional<uint64_t> expected, v1::Response& resp);
  void audit_commands(const Session& s, const v1::Request& req, v1::Response& resp);

  boost::asio::io_context& io_;
  PluginManager& plugins_;
  uint64_t runs_ = 0;  // one-shot runs so far, for their default names
  uint32_t max_runs_per_uid_ = 16;
  std::chrono::milliseconds run_retention_{600000};
  std::map<uid_t, uint32_t> live_runs_;  // one-shot runs not yet ended, per client uid
  // Finished runs kept for inspection until their retention ends (name -> its timer).
  std::map<std::string, std::shared_ptr<boost::asio::steady_timer>> finished_runs_;
  uint32_t max_frame_bytes_;
  std::map<std::string, std::string> features_;
  std::vector<CommandInfo> commands_;
  bool draining_ = false;
  Authorizer* auth_ = nullptr;
  RateLimiter limiter_;
  size_t subscriber_budget_ = 1u << 20;
  SessionLimits limits_;
  uint64_t denied_ = 0, unauthenticated_ = 0, invalid_ = 0, over_rate_ = 0,
           subscribers_dropped_ = 0;
  const TelemetryService* telemetry_ = nullptr;
  recovery::RecoveryLog* events_ = nullptr;
  StoreService* store_ = nullptr;
};

// A mutating request's expected_generation, if it carries one.
template <class R>
[[nodiscard]] std::optional<uint64_t> expected_of(const R& r) {
  return r.has_expected_generation() ? std::optional<uint64_t>(r.expected_generation())
                                     : std::nullopt;
}

// "stop by uid 0 (pid 42)": who asked, for the events.
[[nodiscard]] std::string operator_of(const Session& s, const std::string& command);
// The plugin a request names in `field`, or the error naming the field.
[[nodiscard]] Result<Plugin*> lookup_plugin(PluginManager& plugins, std::string_view field,
                                            const std::string& name);

// What the audit trail records of a request: its command, the plugin it names, a digest of its
// arguments and its correlation id.
[[nodiscard]] PendingAudit pending_audit_of(const v1::Request& req, const std::string& correlation);

// The answer to send once the record of `resp` went where `audited` says (and, for a mutating
// command, the WAL fsync gave `synced`); nullopt: resp itself. corrald does not acknowledge what
// it cannot record.
[[nodiscard]] std::optional<v1::Response> answer_after_audit(const PendingAudit& a,
                                                             const v1::Response& resp,
                                                             Result<Audited> audited,
                                                             const Result<void>& synced);

// A captured line as it goes on the wire (logs, run).
void to_wire(const LogLine& l, v1::LogLine& out);
// A recovery event as it goes on the wire (events, subscribe) and into the store.
void to_wire(const recovery::RecoveryEvent& e, v1::RecoveryEvent& out);

}  // namespace corral::supervisor
