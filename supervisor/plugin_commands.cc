// The Router's plugin commands: list, status, start, stop, restart, logs. Each validates its
// fields (naming the field in the error) before touching a plugin.
#include <spdlog/spdlog.h>

#include "proto/status.h"
#include "supervisor/plugin_manager.h"
#include "supervisor/router.h"
#include "supervisor/stream_frames.h"

namespace corral::supervisor {

namespace {

constexpr uint32_t kMaxTimeoutMs = 600000;
constexpr uint32_t kMaxTail = 100000;
constexpr uint32_t kDefaultTail = 100;

Result<std::chrono::milliseconds> stop_timeout(std::string_view field, uint32_t ms, Plugin& p) {
  if (ms > kMaxTimeoutMs) {
    return make_error(Code::kInvalidArgument, std::string(field) + " must be at most " +
                                                  std::to_string(kMaxTimeoutMs) + " ms, got " +
                                                  std::to_string(ms));
  }
  return ms == 0 ? p.manifest().stop_timeout : std::chrono::milliseconds(ms);
}

}  // namespace

Result<Plugin*> lookup_plugin(PluginManager& plugins, std::string_view field,
                              const std::string& name) {
  if (name.empty()) {
    return make_error(Code::kInvalidArgument, std::string(field) + " is required");
  }
  if (!valid_plugin_name(name)) {
    return make_error(Code::kInvalidArgument,
                      std::string(field) + ": \"" + name.substr(0, 80) +
                          "\" is not a valid plugin name (1-63 characters from A-Z a-z 0-9 _ . -)");
  }
  Plugin* p = plugins.find(name);
  if (p == nullptr) return make_error(Code::kNotFound, "no plugin named \"" + name + "\"");
  return p;
}

void to_wire(const LogLine& l, v1::LogLine& out) {
  out.set_seq(l.seq);
  out.set_at_unix_ms(l.at_unix_ms);
  out.set_stream(l.stream == LogStream::kStdout ? v1::STDOUT : v1::STDERR);
  out.set_text(l.text);
  out.set_truncated(l.truncated);
  out.set_note(l.note);
}

void Router::list(v1::Response& resp) {
  auto* out = resp.mutable_list();
  for (Plugin* p : plugins_.all()) p->fill_info(*out->add_plugins());
  proto::set_ok(resp);
}

void Router::status(const v1::StatusRequest& r, v1::Response& resp) {
  auto p = lookup_plugin(plugins_, "status.name", r.name());
  if (!p) return proto::set_error(resp, p.error());
  (*p)->fill_info(*resp.mutable_status_result()->mutable_plugin());
  proto::set_ok(resp);
}

std::string operator_of(const Session& s, const std::string& command) {
  return command + " by uid " + std::to_string(s.peer().uid) + " (pid " +
         std::to_string(s.peer().pid) + ")";
}

void Router::start(const Session& s, const v1::StartRequest& r, v1::Response& resp) {
  auto p = lookup_plugin(plugins_, "start.name", r.name());
  if (!p) return proto::set_error(resp, p.error());
  bool was_running = (*p)->state() == v1::RUNNING;
  auto st = (*p)->state();
  // Journaled only when it will act: a running plugin, or one start() refuses, changes nothing.
  bool acts = !was_running && st != v1::STOPPING && st != v1::QUARANTINED && st != v1::ESCALATED;
  if (!commit(**p, "start", acts, v1::WANTED_UP, expected_of(r), resp)) {
    (*p)->fill_info(*resp.mutable_start()->mutable_plugin());
    return;
  }
  if (!was_running) (*p)->note_operator(operator_of(s, "start"));
  auto started = (*p)->start();
  (*p)->fill_info(*resp.mutable_start()->mutable_plugin());
  if (!started) return proto::set_error(resp, started.error());
  proto::set_ok(resp, was_running ? "already running" : "started");
}

void Router::stop(const std::shared_ptr<Session>& s, const v1::StopRequest& r, v1::Response resp) {
  stop_or_restart(s, "stop", r.name(), r.timeout_ms(), false, expected_of(r), std::move(resp));
}

void Router::restart(const std::shared_ptr<Session>& s, const v1::RestartRequest& r,
                     v1::Response resp) {
  stop_or_restart(s, "restart", r.name(), r.timeout_ms(), true, expected_of(r), std::move(resp));
}

void Router::stop_or_restart(const std::shared_ptr<Session>& s, const std::string& command,
                             const std::string& name, uint32_t timeout_ms, bool restart,
                             std::optional<uint64_t> expected, v1::Response resp) {
  auto p = lookup_plugin(plugins_, command + ".name", name);
  auto timeout = p ? stop_timeout(command + ".timeout_ms", timeout_ms, **p)
                   : Result<std::chrono::milliseconds>(std::unexpected(p.error()));
  if (!timeout) {
    proto::set_error(resp, timeout.error());
    return s->send(resp);
  }
  Plugin* plugin = *p;
  if (!commit(*plugin, command, true, restart ? v1::WANTED_UP : v1::WANTED_DOWN, expected, resp)) {
    return s->send(resp);
  }
  bool was_running = plugin->running();
  plugin->note_operator(operator_of(*s, command));
  auto reply = [weak = std::weak_ptr<Session>(s), plugin, was_running, restart,
                resp = std::move(resp)](Result<void> done) mutable {
    auto session = weak.lock();
    if (!session) return;
    auto* info =
        restart ? resp.mutable_restart()->mutable_plugin() : resp.mutable_stop()->mutable_plugin();
    plugin->fill_info(*info);
    if (!done) {
      proto::set_error(resp, done.error());
    } else {
      proto::set_ok(resp, restart ? "restarted" : was_running ? "stopped" : "already stopped");
    }
    session->send(resp);
  };
  if (restart) {
    plugin->restart(*timeout, std::move(reply));
  } else {
    plugin->stop(*timeout, std::move(reply));
  }
}

void Router::logs(const std::shared_ptr<Session>& s, const v1::LogsRequest& r, v1::Response resp) {
  auto p = lookup_plugin(plugins_, "logs.name", r.name());
  if (!p) {
    proto::set_error(resp, p.error());
    return s->send(resp);
  }
  if (r.tail() > kMaxTail) {
    proto::set_error(resp, Error{Code::kInvalidArgument, 0,
                                 "logs.tail must be at most " + std::to_string(kMaxTail) +
                                     ", got " + std::to_string(r.tail())});
    return s->send(resp);
  }
  LogBuffer& buffer = (*p)->logs();
  resp.mutable_logs();  // an empty tail is still a logs result
  send_split([&](const v1::Response& f) { s->send(f); }, resp,
             buffer.tail(r.tail() == 0 ? kDefaultTail : r.tail()), max_frame_bytes_ / 2, r.follow(),
             [](const LogLine& l) { return l.text.size() + 64; },
             [](v1::Response& f, const LogLine& l) { to_wire(l, *f.mutable_logs()->add_lines()); },
             [](v1::Response& f) { f.mutable_logs()->clear_lines(); });
  if (!r.follow()) return;

  // Follow: one frame per new line until the client goes away.
  v1::Response tmpl = follow_frame(resp);
  uint64_t id = buffer.follow([weak = std::weak_ptr<Session>(s), tmpl](const LogLine& line) {
    auto session = weak.lock();
    if (!session || session->closed()) return;
    v1::Response frame = tmpl;
    to_wire(line, *frame.mutable_logs()->add_lines());
    session->send(frame);
  });
  s->on_close([&buffer, id] { buffer.unfollow(id); });
}

}  // namespace corral::supervisor
