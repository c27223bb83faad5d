#include "supervisor/router.h"

#include <spdlog/spdlog.h>

#include "proto/frame.h"
#include "proto/request_signature.h"
#include "proto/status.h"
#include "sandbox/host_probe.h"
#include "supervisor/manifest.h"
#include "supervisor/permissions.h"
#include "supervisor/plugin_manager.h"
#include "supervisor/recovery/event_log.h"
#include "supervisor/request_validation.h"
#include "supervisor/store_service.h"
#include "supervisor/telemetry_service.h"

#ifndef CORRAL_VERSION
#define CORRAL_VERSION "0.0.0"
#endif

namespace corral::supervisor {

namespace {

// name and the protocol version each command appeared in; field numbers come from the schema.
constexpr std::pair<const char*, uint32_t> kCommandVersions[] = {
    {"hello", 1}, {"version", 1},      {"list", 1},       {"status", 1}, {"start", 1},
    {"stop", 1},  {"restart", 1},      {"logs", 1},       {"doctor", 1}, {"run", 1},
    {"stats", 1}, {"health", 1},       {"breakers", 1},   {"reset", 1},  {"events", 1},
    {"audit", 1}, {"audit_verify", 1}, {"rotate_key", 1}, {"backup", 1}, {"subscribe", 2},
};

}  // namespace

Router::Router(boost::asio::io_context& io, PluginManager& plugins, uint32_t max_frame_bytes,
               std::map<std::string, std::string> features)
    : io_(io),
      plugins_(plugins),
      max_frame_bytes_(max_frame_bytes),
      features_(std::move(features)) {
  const auto* desc = v1::Request::descriptor();
  for (const auto& [name, since] : kCommandVersions) {
    const auto* field = desc->FindFieldByName(name);
    commands_.push_back({name, since, field != nullptr ? field->number() : 0});
  }
}

void Router::handle(const std::shared_ptr<Session>& session, v1::Request req) {
  v1::Response resp;
  resp.set_id(req.id());
  resp.set_correlation_id(req.correlation_id().empty()
                              ? "s" + std::to_string(session->id()) + "-" + std::to_string(req.id())
                              : req.correlation_id());
  if (store_ != nullptr) session->expect_audit(pending_audit_of(req, resp.correlation_id()));
  auto fail = [&](Code code, std::string msg) {
    proto::set_error(resp, Error{code, 0, std::move(msg), __FILE__, __LINE__});
    session->send(resp);
  };

  if (req.command_case() == v1::Request::COMMAND_NOT_SET) {
    const auto& unknown = req.GetReflection()->GetUnknownFields(req);
    if (unknown.field_count() > 0) {
      fail(Code::kUnimplemented, "unknown command: Request field " +
                                     std::to_string(unknown.field(0).number()) +
                                     " is not a command this server knows (protocol v" +
                                     std::to_string(proto::kProtocolMaxVersion) + ")");
    } else {
      fail(Code::kInvalidArgument, "request carries no command");
    }
    return;
  }
  if (req.command_case() == v1::Request::kHello) {
    hello(*session, req, resp);
    session->send(resp);
    if (resp.status().code() == v1::UNSUPPORTED_VERSION) session->close_after_flush();
    return;
  }
  if (session->version() == 0) {
    fail(Code::kFailedPrecondition, "the first request on a connection must be Hello");
    return;
  }
  if (draining_) {
    fail(Code::kUnavailable, "corrald is shutting down");
    return;
  }
  const std::string& command = req.GetDescriptor()->FindFieldByNumber(req.command_case())->name();
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("control: session {} uid {} request {} ({}) {}", session->id(),
                  session->peer().uid, req.id(), resp.correlation_id(), command);
  }
  for (const auto& c : commands_) {
    if (c.field_number == req.command_case() && c.since_version > session->version()) {
      fail(Code::kUnimplemented, command + " needs protocol v" + std::to_string(c.since_version) +
                                     "; this connection negotiated v" +
                                     std::to_string(session->version()));
      return;
    }
  }
  if (!admit(*session, req, command, resp)) {
    session->send(resp);
    return;
  }
  // Events recorded while the command runs belong to its correlation id.
  recovery::RecoveryLog::Context context(events_, resp.correlation_id());
  switch (req.command_case()) {
    case v1::Request::kVersion:
      version(resp);
      break;
    case v1::Request::kDoctor:
      doctor(resp);
      break;
    case v1::Request::kList:
      list(resp);
      break;
    case v1::Request::kStatus:
      status(req.status(), resp);
      break;
    case v1::Request::kStart:
      start(*session, req.start(), resp);
      break;
    case v1::Request::kStop:
      stop(session, req.stop(), std::move(resp));
      return;
    case v1::Request::kRestart:
      restart(session, req.restart(), std::move(resp));
      return;
    case v1::Request::kLogs:
      logs(session, req.logs(), std::move(resp));
      return;
    case v1::Request::kRun:
      run(session, req.run(), std::move(resp));
      return;
    case v1::Request::kStats:
      stats(req.stats(), resp);
      break;
    case v1::Request::kHealth:
      health(req.health(), resp);
      break;
    case v1::Request::kBreakers:
      breakers(resp);
      break;
    case v1::Request::kReset:
      reset(*session, req.reset(), resp);
      break;
    case v1::Request::kEvents:
      events(session, req.events(), std::move(resp));
      return;
    case v1::Request::kSubscribe:
      subscribe(session, req.subscribe(), std::move(resp));
      return;
    case v1::Request::kAudit:
    case v1::Request::kAuditVerify:
    case v1::Request::kRotateKey:
    case v1::Request::kBackup:
      audit_commands(*session, req, resp);
      break;
    default:
      fail(Code::kUnimplemented, "command not implemented");
      return;
  }
  session->send(std::move(resp));
}

void Router::hello(Session& s, const v1::Request& req, v1::Response& resp) {
  const auto& h = req.hello();
  if (s.version() != 0) {
    proto::set_error(resp, Error{Code::kFailedPrecondition, 0,
                                 "Hello already done on this connection (protocol v" +
                                     std::to_string(s.version()) + ")"});
    return;
  }
  if (h.max_version() == 0 || h.min_version() > h.max_version()) {
    proto::set_error(resp,
                     Error{Code::kInvalidArgument, 0,
                           "hello: min_version (" + std::to_string(h.min_version()) +
                               ") and max_version (" + std::to_string(h.max_version()) +
                               ") must satisfy 1 <= max_version and min_version <= max_version"});
    return;
  }
  uint32_t pick = std::min(h.max_version(), proto::kProtocolMaxVersion);
  if (pick < std::max(h.min_version(), proto::kProtocolMinVersion)) {
    resp.mutable_status()->set_code(v1::UNSUPPORTED_VERSION);
    resp.mutable_status()->set_message("no common protocol version: client speaks " +
                                       std::to_string(h.min_version()) + ".." +
                                       std::to_string(h.max_version()) + ", corrald speaks " +
                                       std::to_string(proto::kProtocolMinVersion) + ".." +
                                       std::to_string(proto::kProtocolMaxVersion));
    return;
  }
  s.set_version(pick);
  spdlog::debug("control: session {} ({}) speaks protocol v{}", s.id(), h.client_name(), pick);
  auto* out = resp.mutable_hello();
  out->set_version(pick);
  out->set_server_min_version(proto::kProtocolMinVersion);
  out->set_server_max_version(proto::kProtocolMaxVersion);
  out->set_server_version(CORRAL_VERSION);
  out->set_max_frame_bytes(max_frame_bytes_);
  const PeerAuth& pa = s.auth();
  for (const auto& c : commands_) {
    if (c.since_version > pick) continue;
    auto* ci = out->add_commands();
    ci->set_name(c.name);
    ci->set_since_version(c.since_version);
    ci->set_field_number(static_cast<uint32_t>(c.field_number));
    std::string perm(permission_for(c.name));
    ci->set_permission(perm);
    ci->set_allowed(auth_ == nullptr || perm.empty() || pa.permissions.contains(perm));
  }
  for (const auto& [k, v] : features_) (*out->mutable_features())[k] = v;
  auto* peer = out->mutable_peer();
  peer->set_uid(s.peer().uid);
  peer->set_gid(s.peer().gid);
  for (gid_t g : s.peer().groups) peer->add_groups(g);
  peer->set_exe(s.peer().exe);
  peer->set_identity_source(s.peer().identity_source);
  for (const auto& r : pa.roles) peer->add_roles(r);
  for (const auto& p : pa.permissions) peer->add_permissions(p);
  peer->set_requests_per_second(pa.rate.per_second);
  peer->set_burst(static_cast<uint32_t>(pa.rate.burst));
  out->set_frame_timeout_ms(static_cast<uint32_t>(limits_.frame_timeout.count()));
  out->set_idle_timeout_ms(static_cast<uint32_t>(limits_.idle_timeout.count()));
  for (const auto& p : known_permissions()) out->add_permissions(p);
  proto::set_ok(resp);
}

bool Router::admit(Session& s, const v1::Request& req, const std::string& command,
                   v1::Response& resp) {
  auto refuse = [&](uint64_t& counter, Code code, std::string msg) {
    ++counter;
    proto::set_error(resp, Error{code, 0, std::move(msg)});
    return false;
  };
  const std::string perm(permission_for(command));
  const PeerAuth& pa = s.auth();
  if (auth_ != nullptr && !perm.empty() && !pa.permissions.contains(perm)) {
    std::string who =
        "uid " + std::to_string(s.peer().uid) + " (gid " + std::to_string(s.peer().gid) + ")";
    std::string has;
    if (pa.roles.empty()) {
      has = " has no role in corrald's config ([[auth.grant]])";
    } else {
      std::string roles;
      for (const auto& r : pa.roles) roles += (roles.empty() ? "" : ", ") + r;
      has = " has role " + roles + " (" + join_permissions(pa.permissions) + ")";
    }
    return refuse(denied_, Code::kPermissionDenied,
                  "permission denied: " + command + " needs \"" + perm + "\"; " + who + has);
  }
  if (auto v = validate_request(req, s.version()); !v) {
    return refuse(invalid_, v.error().code, v.error().message);
  }
  if (!req.has_auth()) return true;
  if (auth_ == nullptr) {
    return refuse(unauthenticated_, Code::kUnauthenticated,
                  "auth: this corrald has no signing clients configured");
  }
  auto tok = auth_->verifier().verify(req, s.peer().uid);
  if (!tok) {
    return refuse(tok.error().code == Code::kPermissionDenied ? denied_ : unauthenticated_,
                  tok.error().code, tok.error().message);
  }
  s.note_on_behalf(req.id(),
                   tok->client_id + "/" + tok->subject +
                       (tok->session_id.empty() ? "" : " (session " + tok->session_id + ")"));
  if (!perm.empty() && !tok->permissions.contains(std::string(kAllPermissions)) &&
      !tok->permissions.contains(perm)) {
    return refuse(denied_, Code::kPermissionDenied,
                  "permission denied: " + command + " needs \"" + perm + "\"; the token of " +
                      tok->subject + " (client " + tok->client_id + ") grants " +
                      join_permissions(tok->permissions));
  }
  auto wait = limiter_.take_subject(tok->client_id + "/" + tok->subject, auth_->subject_rate());
  if (wait > Clock::duration::zero()) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(wait).count() + 1;
    return refuse(over_rate_, Code::kResourceExhausted,
                  "rate limit: " + tok->subject + " (client " + tok->client_id + ") is over " +
                      std::to_string(static_cast<int64_t>(auth_->subject_rate().per_second)) +
                      " requests/s; retry in " + std::to_string(ms) + " ms");
  }
  return true;
}

Clock::duration Router::throttle(const Session& s) {
  return limiter_.take_uid(s.peer().uid, s.auth().rate);
}

void Router::doctor(v1::Response& resp) {
  auto report = sandbox::probe_host();
  auto* out = resp.mutable_doctor();
  out->set_cgroup_mode(std::string(sandbox::cgroup_mode_name(report.cgroups.mode)));
  for (const auto& c : report.checks) {
    auto* check = out->add_checks();
    check->set_name(c.name);
    check->set_ok(c.ok);
    check->set_detail(c.detail);
    check->set_without(c.without);
  }
  for (const auto& [k, v] : features_) (*out->mutable_active())[k] = v;
  if (store_ != nullptr) store_->fill_doctor(*out);
  auto& active = *out->mutable_active();
  active["control.refused"] = std::to_string(denied_) + " denied, " +
                              std::to_string(unauthenticated_) + " unauthenticated, " +
                              std::to_string(invalid_) + " invalid, " + std::to_string(over_rate_) +
                              " over a subject's rate";
  active["control.rate_limit"] =
      std::to_string(limiter_.throttled()) + " request(s) slowed to their uid's rate, " +
      std::to_string(limiter_.refused_subjects()) + " refused over a subject's";
  active["control.subscribers_dropped"] = std::to_string(subscribers_dropped_);
  if (auth_ != nullptr) {
    active["control.auth"] = std::to_string(auth_->clients()) + " signing client(s), " +
                             std::to_string(auth_->verifier().nonces_held()) + " nonce(s) held";
  }
  if (telemetry_ != nullptr) {
    telemetry_->fill_doctor(*out);
  } else {
    (*out->mutable_active())["telemetry"] = "off ([telemetry] mode = \"off\")";
  }
  proto::set_ok(resp);
}

void Router::stats(const v1::StatsRequest& r, v1::Response& resp) {
  if (telemetry_ == nullptr) {
    proto::set_error(resp, Error{Code::kFailedPrecondition, 0,
                                 "telemetry is off in corrald's config ([telemetry] mode)"});
    return;
  }
  auto* out = resp.mutable_stats();
  out->set_lost_events(telemetry_->hub().lost_events());
  if (r.name().empty()) {
    for (Plugin* p : plugins_.all()) {
      v1::PluginStats st;
      if (telemetry_->fill_stats(p->name(), st)) *out->add_plugins() = std::move(st);
    }
    proto::set_ok(resp);
    return;
  }
  if (!valid_plugin_name(r.name())) {
    proto::set_error(resp, Error{Code::kInvalidArgument, 0,
                                 "stats: name \"" + r.name() + "\" is not a valid plugin name"});
    return;
  }
  Plugin* p = plugins_.find(r.name());
  if (p == nullptr) {
    proto::set_error(resp, Error{Code::kNotFound, 0, "no plugin named '" + r.name() + "'"});
    return;
  }
  if (!telemetry_->fill_stats(p->name(), *out->add_plugins())) {
    out->clear_plugins();
    std::string why = p->running() ? "its first sample comes within " +
                                         std::to_string(telemetry_->interval().count()) + " ms"
                                   : "it is not running";
    proto::set_error(
        resp, Error{Code::kFailedPrecondition, 0, "no telemetry for '" + r.name() + "': " + why});
    return;
  }
  proto::set_ok(resp);
}

void Router::version(v1::Response& resp) {
  auto* v = resp.mutable_version();
  v->set_server_version(CORRAL_VERSION);
  v->set_protocol_version(proto::kProtocolMaxVersion);
  v->set_build(std::string("g++ ") + __VERSION__);
  proto::set_ok(resp);
}

}  // namespace corral::supervisor
