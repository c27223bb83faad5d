// The Router's Subscribe (protocol v2): events matching the filters after the client's last seq,
// read from the store page by page at the client's pace (then the few not yet written, from
// memory), then live as they happen. A live subscriber whose client has left more than the
// budget unread is dropped with a last frame that says why and where to resume; so is one that
// takes nothing for kStall during its backlog.
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "proto/status.h"
#include "supervisor/recovery/event_log.h"
#include "supervisor/router.h"
#include "supervisor/store_service.h"
#include "supervisor/stream_frames.h"

namespace corral::supervisor {

namespace {

constexpr size_t kPage = 512;
constexpr auto kStall = std::chrono::seconds(10);
constexpr auto kPoll = std::chrono::milliseconds(5);

struct Filter {
  std::set<std::string> plugins, types;
  int min_severity = -1;

  [[nodiscard]] bool matches(const v1::RecoveryEvent& e) const {
    if (!plugins.empty() && !plugins.contains(e.plugin())) return false;
    if (!types.empty() && !types.contains(e.type())) return false;
    return recovery::severity_rank(e.severity()) >= min_severity;
  }
};

class Subscription : public std::enable_shared_from_this<Subscription> {
 public:
  Subscription(boost::asio::io_context& io, const std::shared_ptr<Session>& s, Router& router,
               StoreService* store, recovery::RecoveryLog* log, Filter f, uint64_t after,
               bool follow, uint32_t max, size_t budget, v1::Response tmpl)
      : io_(io),
        timer_(io),
        session_(s),
        router_(router),
        store_(store),
        log_(log),
        filter_(std::move(f)),
        cursor_(after),
        follow_(follow),
        left_(max == 0 ? UINT64_MAX : max),
        budget_(budget),
        tmpl_(std::move(tmpl)),
        progress_(std::chrono::steady_clock::now()) {}

  void start() { pump(); }

 private:
  // The next events after the cursor: from the store while it has them, then from memory.
  Result<std::vector<v1::RecoveryEvent>> next_page() {
    if (store_ != nullptr && store_->stored_event_seq() > cursor_) {
      return store_->store().events().after(cursor_, kPage);
    }
    std::vector<v1::RecoveryEvent> out;
    for (const auto& e : log_->since(cursor_, "", kPage)) to_wire(e, out.emplace_back());
    return out;
  }

  void pump() {
    auto s = session_.lock();
    if (!s || s->closed()) return;
    if (s->queued_bytes() > budget_) {
      if (std::chrono::steady_clock::now() - progress_ > kStall) {
        return drop(
            *s, "its client took none of the backlog for " + std::to_string(kStall.count()) + " s");
      }
      timer_.expires_after(kPoll);
      timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec) self->pump();
      });
      return;
    }
    progress_ = std::chrono::steady_clock::now();
    auto page = next_page();
    if (!page) {
      v1::Response f = tmpl_;
      f.set_more(false);
      proto::set_error(f, page.error().wrap("subscribe: reading the stored events"));
      return s->send(f);
    }
    if (page->empty() || left_ == 0) return caught_up(*s);
    v1::Response f = tmpl_;
    auto* out = f.mutable_subscribe();
    for (auto& e : *page) {
      cursor_ = e.seq();
      if (!filter_.matches(e)) continue;
      *out->add_events() = std::move(e);
      if (--left_ == 0) break;
    }
    out->set_last_seq(cursor_);
    if (out->events_size() > 0) s->send(f);
    boost::asio::post(io_, [self = shared_from_this()] { self->pump(); });
  }

  void caught_up(Session& s) {
    if (!follow_) {
      v1::Response f = tmpl_;
      f.set_more(false);
      f.mutable_subscribe()->set_last_seq(cursor_);
      return s.send(f);
    }
    // Live from here: every event after the cursor reaches the listener (one thread).
    auto weak = weak_from_this();
    listener_ = log_->add_listener([weak](const recovery::RecoveryEvent& e) {
      if (auto self = weak.lock()) self->live(e);
    });
    s.on_close([self = shared_from_this()] { self->stop(); });
  }

  void live(const recovery::RecoveryEvent& e) {
    auto s = session_.lock();
    if (!s || s->closed()) return stop();
    if (e.seq <= cursor_) return;
    cursor_ = e.seq;
    v1::RecoveryEvent w;
    to_wire(e, w);
    if (!filter_.matches(w)) return;
    if (s->queued_bytes() > budget_) {
      return drop(*s, std::to_string(s->queued_bytes()) +
                          " bytes of events wait unread (the budget is " + std::to_string(budget_) +
                          ")");
    }
    v1::Response f = tmpl_;
    *f.mutable_subscribe()->add_events() = std::move(w);
    f.mutable_subscribe()->set_last_seq(cursor_);
    s->send(f);
  }

  void drop(Session& s, const std::string& why) {
    stop();
    std::string msg =
        "subscriber dropped: " + why + "; resume with after_seq " + std::to_string(cursor_);
    spdlog::warn("control: session {} (uid {}): {}", s.id(), s.peer().uid, msg);
    router_.subscriber_dropped(s, msg);
    v1::Response f = tmpl_;
    f.set_more(false);
    proto::set_error(f, Error{Code::kResourceExhausted, 0, msg});
    f.mutable_subscribe()->set_last_seq(cursor_);
    s.send(f);
    s.close_after_flush();
  }

  void stop() {
    timer_.cancel();
    if (listener_ != 0) log_->remove_listener(std::exchange(listener_, 0));
  }

  boost::asio::io_context& io_;
  boost::asio::steady_timer timer_;
  std::weak_ptr<Session> session_;
  Router& router_;
  StoreService* store_;
  recovery::RecoveryLog* log_;
  Filter filter_;
  uint64_t cursor_;
  bool follow_;
  uint64_t left_;
  size_t budget_;
  v1::Response tmpl_;
  std::chrono::steady_clock::time_point progress_;
  uint64_t listener_ = 0;
};

}  // namespace

void Router::subscriber_dropped(const Session& s, const std::string& why) {
  ++subscribers_dropped_;
  refused(s, "subscribe", why);
}

void Router::subscribe(const std::shared_ptr<Session>& s, const v1::SubscribeRequest& r,
                       v1::Response resp) {
  if (events_ == nullptr) {
    proto::set_error(resp, Error{Code::kFailedPrecondition, 0, "this corrald records no events"});
    return s->send(resp);
  }
  Filter f;
  f.plugins.insert(r.plugins().begin(), r.plugins().end());
  f.types.insert(r.types().begin(), r.types().end());
  f.min_severity = r.min_severity().empty() ? 0 : recovery::severity_rank(r.min_severity());
  const uint64_t first = store_ != nullptr
                             ? std::min(store_->store().events().first_seq(), events_->first_seq())
                             : events_->first_seq();
  auto* out = resp.mutable_subscribe();
  out->set_first_seq(first);
  out->set_last_seq(events_->last_seq());
  if (r.after_seq() > 0 && r.after_seq() + 1 < first) out->set_missed(first - r.after_seq() - 1);
  // The first frame says where the stream stands; events follow in frames of their own.
  resp.set_more(true);
  proto::set_ok(resp);
  s->send(resp);
  if (r.follow()) s->set_streaming();
  v1::Response tmpl = follow_frame(resp);
  auto sub = std::make_shared<Subscription>(io_, s, *this, store_, events_, std::move(f),
                                            r.after_seq(), r.follow(), r.follow() ? 0 : r.max(),
                                            subscriber_budget_, std::move(tmpl));
  sub->start();
}

}  // namespace corral::supervisor
