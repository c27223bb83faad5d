// Router: validates each Request and dispatches it to its command handler. Enforces the protocol
// rules every command shares: Hello first, one negotiated version, request ids echoed, unknown
// commands answered UNIMPLEMENTED with their field number. The command table here is also what
// Hello advertises, so discovery can never disagree with dispatch.
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

#include "corral/v1/control.pb.h"
#include "corral/v1/store.pb.h"
#include "supervisor/log_buffer.h"
#include "supervisor/session.h"

namespace corral::supervisor {

class Plugin;
class PluginManager;
class TelemetryService;
class StoreService;
namespace recovery {
class RecoveryLog;
}

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
  // The audit record of a request's first answer, written before it is sent (Session::send).
  // A replacement answer when the record cannot be written: corrald does not acknowledge what
  // it cannot record.
  [[nodiscard]] std::optional<v1::Response> audit(const Session& s, const PendingAudit& a,
                                                  const v1::Response& resp);
  // Whether mutating answers wait for the group commit, and the wait (f at once without a store).
  [[nodiscard]] bool durable_acks() const { return store_ != nullptr; }
  void when_durable(std::function<void(const Result<void>&)> f);

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

// A captured line as it goes on the wire (logs, run).
void to_wire(const LogLine& l, v1::LogLine& out);

}  // namespace corral::supervisor
