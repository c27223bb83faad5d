#include "supervisor/session.h"

#include <spdlog/spdlog.h>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "proto/status.h"
#include "supervisor/router.h"

namespace corral::supervisor {

namespace asio = boost::asio;
using std::chrono::steady_clock;

Session::Session(asio::local::stream_protocol::socket socket, uint64_t id, PeerCred peer,
                 PeerAuth auth, Router& router, uint32_t max_frame_bytes, SessionLimits limits)
    : socket_(std::move(socket)),
      id_(id),
      peer_(std::move(peer)),
      auth_(std::move(auth)),
      router_(router),
      decoder_(max_frame_bytes),
      limits_(limits),
      park_timer_(socket_.get_executor()),
      watchdog_(socket_.get_executor()),
      last_activity_(steady_clock::now()) {}

void Session::start() {
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  arm_watchdog();
  read();
}

void Session::read() {
  if (reading_ || closed_ || close_when_flushed_) return;
  reading_ = true;
  if (decoder_.mid_frame() && !frame_started_) frame_started_ = steady_clock::now();
  // Wait for readability, then read: a request-response peer has sent nothing yet when its
  // answer just went out, so reading at once (asio's speculative read) would only cost a
  // syscall that says EAGAIN.
  socket_.async_wait(
      asio::socket_base::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
        self->reading_ = false;
        if (self->closed_) return;
        size_t n = 0;
        if (!ec) n = self->socket_.read_some(asio::buffer(self->buf_), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) {
          self->read();
          return;
        }
        if (ec) {
          if (ec == asio::error::eof && self->decoder_.mid_frame()) {
            spdlog::info("control: session {} (pid {}) hung up in the middle of a frame", self->id_,
                         self->peer_.pid);
          } else if (ec != asio::error::eof && ec != asio::error::connection_reset) {
            spdlog::debug("control: session {} read: {}", self->id_, ec.message());
          }
          self->close();
          return;
        }
        self->last_activity_ = steady_clock::now();
        self->decoder_.feed({self->buf_.data(), n});
        self->pump();
      });
}

void Session::pump() {
  int handled = 0;
  while (!closed_ && !close_when_flushed_) {
    if (parked_) {
      auto wait = router_.throttle(*this);
      if (wait > steady_clock::duration::zero()) {
        park_timer_.expires_after(wait);
        park_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
          if (!ec && !self->closed_) self->pump();
        });
        return;
      }
      v1::Request req = std::move(*parked_);
      parked_.reset();
      dispatch(std::move(req));
      ++handled;
      continue;
    }
    if (handled >= kFramesPerTurn) {
      // Let every other connection's ready work run before this one's next requests.
      if (!pump_posted_) {
        pump_posted_ = true;
        asio::post(socket_.get_executor(), [self = shared_from_this()] {
          self->pump_posted_ = false;
          self->pump();
        });
      }
      return;
    }
    auto frame = decoder_.next();
    if (!frame) {
      spdlog::warn("control: session {} (pid {} uid {}): {}; closing", id_, peer_.pid, peer_.uid,
                   frame.error().message);
      v1::Response resp;
      resp.mutable_status()->set_code(v1::FRAME_TOO_LARGE);
      resp.mutable_status()->set_message(frame.error().message);
      send(resp);
      close_after_flush();
      return;
    }
    if (!frame->has_value()) break;
    frame_started_.reset();
    v1::Request req;
    if (!req.ParseFromString(**frame)) {
      v1::Response resp;
      resp.mutable_status()->set_code(v1::MALFORMED_FRAME);
      resp.mutable_status()->set_message("malformed request: the " +
                                         std::to_string((*frame)->size()) +
                                         "-byte frame is not a corral.v1.Request");
      send(resp);
      ++handled;
      continue;
    }
    parked_ = std::move(req);
  }
  read();
}

void Session::dispatch(v1::Request req) { router_.handle(shared_from_this(), std::move(req)); }

void Session::note_on_behalf(uint64_t id, std::string who) {
  for (auto& a : audits_) {
    if (a.request_id == id) a.on_behalf = std::move(who);
  }
}

void Session::send(v1::Response resp) {
  // The audit record comes first, even for a client that has gone: the command happened.
  for (auto it = audits_.begin(); it != audits_.end(); ++it) {
    if (it->request_id != resp.id()) continue;
    const uint64_t n = ++held_seq_;
    held_.push_back({n, std::move(resp), false, std::move(*it)});
    audits_.erase(it);
    // Holds the session until the turn's records are written (its last answer may be held).
    router_.audit(
        *this, held_.back().audit, held_.back().resp,
        [self = shared_from_this(), n](const Result<Audited>& audited, const Result<void>& synced) {
          self->audited(n, audited, synced);
        });
    return;
  }
  if (!held_.empty()) {
    held_.push_back({++held_seq_, std::move(resp), true, {}});
    return;
  }
  queue(resp);
}

void Session::audited(uint64_t n, const Result<Audited>& audited, const Result<void>& synced) {
  for (auto& h : held_) {
    if (h.n != n) continue;
    if (auto replacement = answer_after_audit(h.audit, h.resp, audited, synced)) {
      h.resp = std::move(*replacement);
    }
    h.ready = true;
    break;
  }
  while (!held_.empty() && held_.front().ready) {
    Held h = std::move(held_.front());
    held_.pop_front();
    queue(h.resp);
  }
  if (close_when_flushed_ && !writing_) write();
}

void Session::queue(const v1::Response& resp) {
  // After close_after_flush, the answers held for their audit records still go out.
  if (closed_) return;
  auto frame = proto::encode_frame(resp, decoder_.max_frame_bytes());
  if (!frame) {
    // Only a huge response can fail here; tell the client instead of dropping it silently.
    v1::Response err;
    err.set_id(resp.id());
    err.set_correlation_id(resp.correlation_id());
    proto::set_error(err, frame.error().wrap("response too large"));
    frame = proto::encode_frame(err, decoder_.max_frame_bytes());
    if (!frame) return;
  }
  out_bytes_ += frame->size();
  out_.push_back(std::move(*frame));
  if (out_bytes_ > kMaxQueuedBytes) {
    spdlog::warn(
        "control: session {} (pid {}) is not reading its responses ({} bytes queued); "
        "disconnecting it",
        id_, peer_.pid, out_bytes_);
    close();
    return;
  }
  if (!writing_) write();
}

void Session::write() {
  if (out_.empty()) {
    writing_ = false;
    if (close_when_flushed_ && held_.empty()) close();
    return;
  }
  writing_ = true;
  // Everything queued so far in one write.
  auto frames = std::make_shared<std::vector<std::string>>();
  size_t bytes = 0;
  while (!out_.empty() && frames->size() < 64) {
    bytes += out_.front().size();
    frames->push_back(std::move(out_.front()));
    out_.pop_front();
  }
  std::vector<asio::const_buffer> bufs;
  bufs.reserve(frames->size());
  for (const auto& f : *frames) bufs.emplace_back(asio::buffer(f));
  asio::async_write(
      socket_, bufs,
      [self = shared_from_this(), frames, bytes](boost::system::error_code ec, size_t) {
        if (self->closed_) return;
        if (ec) {
          spdlog::debug("control: session {} write: {}", self->id_, ec.message());
          self->close();
          return;
        }
        self->out_bytes_ -= bytes;
        self->last_activity_ = steady_clock::now();
        self->write();
      });
}

void Session::arm_watchdog() {
  auto period = std::min(limits_.frame_timeout, limits_.idle_timeout) / 4;
  period = std::clamp(period, std::chrono::milliseconds(5), std::chrono::milliseconds(1000));
  watchdog_.expires_after(period);
  watchdog_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock(); self && !self->closed_) self->watchdog();
  });
}

void Session::watchdog() {
  const auto now = steady_clock::now();
  if (reading_ && frame_started_ && now - *frame_started_ >= limits_.frame_timeout) {
    std::string msg =
        "read deadline: a frame begun " +
        std::to_string(
            std::chrono::duration_cast<std::chrono::milliseconds>(now - *frame_started_).count()) +
        " ms ago is still incomplete (the limit is " +
        std::to_string(limits_.frame_timeout.count()) + " ms); closing";
    spdlog::warn("control: session {} (pid {} uid {}): {}", id_, peer_.pid, peer_.uid, msg);
    router_.refused(*this, "frame_timeout", msg);
    v1::Response resp;
    proto::set_error(resp, Error{Code::kResourceExhausted, 0, msg});
    queue(resp);
    close_after_flush();
    return;
  }
  const bool quiet = reading_ && !frame_started_ && !parked_ && audits_.empty() && held_.empty() &&
                     out_.empty() && !writing_ && !streaming_;
  if (quiet && now - last_activity_ >= limits_.idle_timeout) {
    std::string msg = "idle for " + std::to_string(limits_.idle_timeout.count()) +
                      " ms with nothing in flight; closing";
    spdlog::info("control: session {} (pid {} uid {}): {}", id_, peer_.pid, peer_.uid, msg);
    router_.refused(*this, "idle_timeout", msg);
    close();
    return;
  }
  arm_watchdog();
}

void Session::close_after_flush() {
  close_when_flushed_ = true;
  if (!writing_) write();
}

void Session::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_both, ignored);
  socket_.close(ignored);
  park_timer_.cancel();
  watchdog_.cancel();
  auto callbacks = std::move(on_close_);
  on_close_.clear();
  for (auto& f : callbacks) f();
  out_.clear();
  out_bytes_ = 0;
  // Requests never answered are audited as such.
  auto pending = std::move(audits_);
  audits_.clear();
  for (auto& a : pending) {
    v1::Response gone;
    gone.set_id(a.request_id);
    gone.mutable_status()->set_code(v1::UNAVAILABLE);
    gone.mutable_status()->set_message("the client closed the connection before the answer");
    router_.audit(*this, a, gone, nullptr);  // nothing waits: the session is closed
  }
}

}  // namespace corral::supervisor
