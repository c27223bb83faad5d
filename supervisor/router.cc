#include "supervisor/router.h"

#include <spdlog/spdlog.h>

#include "proto/frame.h"
#include "proto/status.h"
#include "sandbox/host_probe.h"
#include "supervisor/manifest.h"
#include "supervisor/plugin_manager.h"
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
    {"audit", 1}, {"audit_verify", 1}, {"rotate_key", 1}, {"backup", 1},
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
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("control: session {} uid {} request {} ({}) {}", session->id(),
                  session->peer().uid, req.id(), resp.correlation_id(),
                  req.GetDescriptor()->FindFieldByNumber(req.command_case())->name());
  }
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
  session->send(resp);
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
  for (const auto& c : commands_) {
    if (c.since_version > pick) continue;
    auto* ci = out->add_commands();
    ci->set_name(c.name);
    ci->set_since_version(c.since_version);
    ci->set_field_number(static_cast<uint32_t>(c.field_number));
  }
  for (const auto& [k, v] : features_) (*out->mutable_features())[k] = v;
  proto::set_ok(resp);
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
