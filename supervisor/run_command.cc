// Router::run: a one-shot sandboxed command. The run is a plugin while it lives (list, status,
// logs and stop see it); its output is streamed to the client that asked, its exit ends the
// stream, and it stays listed (EXITED, its logs readable) for the retention period before it is
// garbage-collected. The client going away kills it. A client uid has at most
// max_runs_per_uid live runs.
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "proto/status.h"
#include "supervisor/plugin_manager.h"
#include "supervisor/router.h"
#include "supervisor/run_manifest.h"

namespace corral::supervisor {

void Router::run(const std::shared_ptr<Session>& s, const v1::RunRequest& r, v1::Response resp) {
  const uid_t uid = s->peer().uid;
  if (live_runs_[uid] >= max_runs_per_uid_) {
    proto::set_error(
        resp, Error{Code::kResourceExhausted, 0,
                    "uid " + std::to_string(uid) + " has " + std::to_string(live_runs_[uid]) +
                        " one-shot runs going (the limit, [control] "
                        "max_runs_per_uid); wait for one to end"});
    return s->send(resp);
  }
  auto m = manifest_from_run(r, "run-" + std::to_string(++runs_));
  if (!m) {
    proto::set_error(resp, m.error());
    return s->send(resp);
  }
  std::string name = m->name;
  // A finished run kept for inspection gives its name up to a new one.
  if (auto kept = finished_runs_.find(name); kept != finished_runs_.end()) {
    kept->second->cancel();
    finished_runs_.erase(kept);
    (void)plugins_.remove(name);
  }
  Plugin* p = plugins_.add(std::move(*m));
  if (p == nullptr) {
    proto::set_error(resp, Error{Code::kAlreadyExists, 0,
                                 "run.name: a plugin named '" + name + "' already exists"});
    return s->send(resp);
  }
  spdlog::info("run {}: for session {} (uid {}): {}", name, s->id(), s->peer().uid, r.exec());

  v1::Response frame = resp;
  frame.set_more(true);
  proto::set_ok(frame);
  auto weak = std::weak_ptr<Session>(s);
  // Output as it comes, one frame per line (the client prints it as it arrives).
  uint64_t follower = p->logs().follow([weak, frame](const LogLine& line) {
    auto session = weak.lock();
    if (!session || session->closed()) return;
    v1::Response out = frame;
    to_wire(line, *out.mutable_run()->add_output());
    session->send(out);
  });
  auto live = std::make_shared<bool>(true);  // this run, not a later plugin of the same name
  ++live_runs_[uid];
  auto forget = [this, name, live, uid] {
    *live = false;
    if (--live_runs_[uid] == 0) live_runs_.erase(uid);
    // Kept for inspection, then collected; after the current handler either way: the plugin's
    // own callbacks may still be on the stack.
    auto timer = std::make_shared<boost::asio::steady_timer>(io_, run_retention_);
    finished_runs_[name] = timer;
    timer->async_wait([this, name, timer](boost::system::error_code ec) {
      if (ec) return;  // cancelled: the name went to a new run (or corrald is stopping)
      auto it = finished_runs_.find(name);
      if (it == finished_runs_.end() || it->second != timer) return;
      finished_runs_.erase(it);
      if (plugins_.remove(name)) {
        spdlog::debug("run {}: garbage-collected after its retention", name);
      } else {
        spdlog::warn("run {}: could not be garbage-collected", name);
      }
    });
  };
  p->on_next_exit([this, weak, frame, follower, name, p, forget](const sandbox::ExitStatus& st) {
    p->logs().unfollow(follower);
    if (auto session = weak.lock(); session && !session->closed()) {
      v1::Response last = frame;
      last.set_more(false);
      auto* e = last.mutable_run()->mutable_exit();
      e->set_signaled(st.signaled);
      e->set_code(st.code);
      e->set_description(st.describe());
      e->set_at_unix_ms(unix_now_ms());
      session->send(last);
    }
    spdlog::info("run {}: {}", name, st.describe());
    forget();
  });
  // The client gone: kill the run (no grace: nobody is left to see it stop).
  s->on_close([this, name, live] {
    if (!*live) return;
    Plugin* q = plugins_.find(name);
    if (q == nullptr || !q->running()) return;
    q->stop(std::chrono::milliseconds(0), [](Result<void>) {});
  });
  if (auto started = p->start(); !started) {
    p->logs().unfollow(follower);
    proto::set_error(resp, started.error());
    s->send(resp);
    forget();
    return;
  }
  v1::Response first = frame;
  first.mutable_run()->set_name(name);
  s->send(first);
}

}  // namespace corral::supervisor
