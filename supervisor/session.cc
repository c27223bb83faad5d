#include "supervisor/session.h"

#include <spdlog/spdlog.h>
#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>

#include "proto/status.h"
#include "supervisor/router.h"

namespace corral::supervisor {

namespace asio = boost::asio;

Session::Session(asio::local::stream_protocol::socket socket, uint64_t id, PeerCred peer,
                 Router& router, uint32_t max_frame_bytes)
    : socket_(std::move(socket)),
      id_(id),
      peer_(peer),
      router_(router),
      decoder_(max_frame_bytes) {}

void Session::start() { read(); }

void Session::read() {
  socket_.async_read_some(
      asio::buffer(buf_), [self = shared_from_this()](boost::system::error_code ec, size_t n) {
        if (self->closed_) return;
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
        self->decoder_.feed({self->buf_.data(), n});
        self->handle_frames();
        if (!self->closed_ && !self->close_when_flushed_) self->read();
      });
}

void Session::handle_frames() {
  while (!closed_ && !close_when_flushed_) {
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
    if (!frame->has_value()) return;
    v1::Request req;
    if (!req.ParseFromString(**frame)) {
      v1::Response resp;
      resp.mutable_status()->set_code(v1::MALFORMED_FRAME);
      resp.mutable_status()->set_message("malformed request: the " +
                                         std::to_string((*frame)->size()) +
                                         "-byte frame is not a corral.v1.Request");
      send(resp);
      continue;
    }
    router_.handle(shared_from_this(), std::move(req));
  }
}

void Session::send(const v1::Response& resp) {
  // The audit record comes first, even for a client that has gone: the command happened.
  for (auto it = audits_.begin(); it != audits_.end(); ++it) {
    if (it->request_id != resp.id()) continue;
    PendingAudit a = std::move(*it);
    audits_.erase(it);
    auto replaced = router_.audit(*this, a, resp);
    const v1::Response& out = replaced ? *replaced : resp;
    if (a.mutating && router_.durable_acks()) {
      held_.emplace_back(out, true);
      router_.when_durable([weak = weak_from_this()](const Result<void>& synced) {
        if (auto self = weak.lock()) self->release_held(synced);
      });
      return;
    }
    if (!held_.empty()) {
      held_.emplace_back(out, false);
      return;
    }
    return queue(out);
  }
  if (!held_.empty()) {
    held_.emplace_back(resp, false);
    return;
  }
  queue(resp);
}

void Session::release_held(const Result<void>& synced) {
  auto held = std::move(held_);
  held_.clear();
  for (auto& [resp, durable] : held) {
    if (durable && !synced && resp.status().code() == v1::OK) {
      proto::set_error(resp, synced.error().wrap("applied, but not known to be on disk"));
    }
    queue(resp);
  }
}

void Session::queue(const v1::Response& resp) {
  if (closed_ || close_when_flushed_) return;
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
    if (close_when_flushed_) close();
    return;
  }
  writing_ = true;
  asio::async_write(socket_, asio::buffer(out_.front()),
                    [self = shared_from_this()](boost::system::error_code ec, size_t) {
                      if (self->closed_) return;
                      if (ec) {
                        spdlog::debug("control: session {} write: {}", self->id_, ec.message());
                        self->close();
                        return;
                      }
                      self->out_bytes_ -= self->out_.front().size();
                      self->out_.pop_front();
                      self->write();
                    });
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
    (void)router_.audit(*this, a, gone);
  }
}

}  // namespace corral::supervisor
