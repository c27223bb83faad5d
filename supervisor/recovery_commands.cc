// The Router's recovery commands: health (one plugin's score, breaker, checks and trends),
// breakers (every plugin's), reset (operator reset), events (signals, transitions and actions,
// optionally followed as they happen).
#include <spdlog/spdlog.h>

#include <span>

#include "proto/status.h"
#include "supervisor/plugin_manager.h"
#include "supervisor/recovery/event_log.h"
#include "supervisor/router.h"
#include "supervisor/stream_frames.h"

namespace corral::supervisor {

namespace {

constexpr uint32_t kDefaultEvents = 1000;
constexpr uint32_t kMaxEvents = 100000;

}  // namespace

void to_wire(const recovery::RecoveryEvent& e, v1::RecoveryEvent& out) {
  out.set_seq(e.seq);
  out.set_at_unix_ms(e.at_unix_ms);
  out.set_plugin(e.plugin);
  out.set_type(e.type);
  out.set_what(e.what);
  out.set_cause(e.cause);
  out.set_signal_id(e.signal_id);
  out.set_at_monotonic_ns(e.at_ns);
  out.set_event_id("ev-" + std::to_string(e.seq));
  out.set_severity(e.severity);
  out.set_correlation_id(e.correlation_id);
  out.set_causation_id(e.causation_id);
}

void Router::health(const v1::HealthRequest& r, v1::Response& resp) {
  auto p = lookup_plugin(plugins_, "health.name", r.name());
  if (!p) return proto::set_error(resp, p.error());
  (*p)->fill_health(*resp.mutable_health()->mutable_health());
  proto::set_ok(resp);
}

void Router::breakers(v1::Response& resp) {
  auto* out = resp.mutable_breakers();
  for (Plugin* p : plugins_.all()) p->fill_breaker(*out->add_breakers());
  proto::set_ok(resp);
}

void Router::reset(const Session& s, const v1::ResetRequest& r, v1::Response& resp) {
  auto p = lookup_plugin(plugins_, "reset.name", r.name());
  if (!p) return proto::set_error(resp, p.error());
  if (!commit(**p, "reset", true, std::nullopt, expected_of(r), resp)) return;
  const std::string cause = "operator " + operator_of(s, "reset");
  spdlog::info("plugin {}: {}", r.name(), cause);
  auto ok = (*p)->reset(cause);
  (*p)->fill_info(*resp.mutable_reset()->mutable_plugin());
  (*p)->fill_breaker(*resp.mutable_reset()->mutable_breaker());
  if (!ok) return proto::set_error(resp, ok.error());
  proto::set_ok(resp, "reset");
}

void Router::events(const std::shared_ptr<Session>& s, const v1::EventsRequest& r,
                    v1::Response resp) {
  if (events_ == nullptr) {
    proto::set_error(resp, Error{Code::kFailedPrecondition, 0, "this corrald records no events"});
    return s->send(resp);
  }
  if (!r.plugin().empty()) {
    if (auto p = lookup_plugin(plugins_, "events.plugin", r.plugin()); !p) {
      proto::set_error(resp, p.error());
      return s->send(resp);
    }
  }
  if (r.max() > kMaxEvents) {
    proto::set_error(resp, Error{Code::kInvalidArgument, 0,
                                 "events.max must be at most " + std::to_string(kMaxEvents) +
                                     ", got " + std::to_string(r.max())});
    return s->send(resp);
  }
  auto* out = resp.mutable_events();
  // The newest `max`, oldest first.
  const uint32_t max = r.max() == 0 ? kDefaultEvents : r.max();
  auto held = events_->since(r.after_seq(), r.plugin(), kMaxEvents);
  size_t from = held.size() > max ? held.size() - max : 0;
  out->set_first_seq(events_->first_seq());
  out->set_last_seq(events_->last_seq());
  send_split([&](const v1::Response& f) { s->send(f); }, resp, std::span(held).subspan(from),
             max_frame_bytes_ / 2, r.follow(),
             [](const recovery::RecoveryEvent& e) {
               return e.what.size() + e.cause.size() + e.plugin.size() + 48;
             },
             [](v1::Response& f, const recovery::RecoveryEvent& e) {
               to_wire(e, *f.mutable_events()->add_events());
             },
             [](v1::Response& f) { f.mutable_events()->clear_events(); });
  if (!r.follow()) return;

  v1::Response tmpl = follow_frame(resp);
  recovery::RecoveryLog* log = events_;
  s->set_streaming();
  auto id = std::make_shared<uint64_t>(0);
  *id = log->add_listener([this, weak = std::weak_ptr<Session>(s), tmpl, id, log,
                           plugin = r.plugin()](const recovery::RecoveryEvent& e) {
    if (!plugin.empty() && e.plugin != plugin) return;
    auto session = weak.lock();
    if (!session || session->closed()) return;
    if (session->queued_bytes() > subscriber_budget_) {
      log->remove_listener(*id);
      std::string msg = "events follower dropped: " + std::to_string(session->queued_bytes()) +
                        " bytes wait unread; resume with after_seq " + std::to_string(e.seq - 1);
      subscriber_dropped(*session, msg);
      v1::Response last = tmpl;
      last.set_more(false);
      proto::set_error(last, Error{Code::kResourceExhausted, 0, msg});
      session->send(last);
      session->close_after_flush();
      return;
    }
    v1::Response frame = tmpl;
    auto* ev = frame.mutable_events();
    to_wire(e, *ev->add_events());
    ev->set_last_seq(e.seq);
    session->send(frame);
  });
  s->on_close([log, id] { log->remove_listener(*id); });
}

}  // namespace corral::supervisor
