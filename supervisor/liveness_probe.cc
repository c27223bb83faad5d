#include "supervisor/liveness_probe.h"

#include <cstdio>

#include <boost/asio/local/stream_protocol.hpp>

namespace corral::supervisor {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct LivenessProber::Attempt {
  explicit Attempt(asio::io_context& io) : socket(io), deadline(io) {}
  asio::local::stream_protocol::socket socket;
  asio::steady_timer deadline;
  Clock::time_point started = Clock::now();
  char byte = 0;
  bool done = false;
};

LivenessProber::LivenessProber(asio::io_context& io, LivenessProbe probe, std::string path,
                               Report report)
    : io_(io),
      probe_(std::move(probe)),
      path_(std::move(path)),
      report_(std::move(report)),
      timer_(io) {
  arm(probe_.initial_delay);
}

LivenessProber::~LivenessProber() {
  *alive_ = false;
  timer_.cancel();
  if (current_) {
    current_->done = true;
    boost::system::error_code ec;
    current_->socket.close(ec);
    current_->deadline.cancel();
  }
}

void LivenessProber::arm(std::chrono::milliseconds after) {
  timer_.expires_after(after);
  timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
    auto a = alive.lock();
    if (ec || !a || !*a) return;
    probe();
  });
}

void LivenessProber::finish(const std::shared_ptr<Attempt>& a, bool ok, std::string detail) {
  if (a->done) return;
  a->done = true;
  boost::system::error_code ec;
  a->socket.close(ec);
  a->deadline.cancel();
  current_.reset();
  arm(probe_.period);
  report_(ok, detail);  // last: the report may destroy this prober
}

void LivenessProber::probe() {
  ++attempts_;
  auto a = std::make_shared<Attempt>(io_);
  current_ = a;
  auto alive = std::weak_ptr<bool>(alive_);
  auto live = [alive] {
    auto p = alive.lock();
    return p && *p;
  };
  a->deadline.expires_after(probe_.timeout);
  a->deadline.async_wait([this, a, live](boost::system::error_code ec) {
    if (ec || !live() || a->done) return;
    finish(a, false, "no answer within " + std::to_string(probe_.timeout.count()) + " ms");
  });
  a->socket.async_connect(
      asio::local::stream_protocol::endpoint(path_), [this, a, live](boost::system::error_code ec) {
        if (!live() || a->done) return;
        if (ec) {
          finish(a, false, "connect to " + path_ + ": " + ec.message());
          return;
        }
        a->socket.async_read_some(
            asio::buffer(&a->byte, 1), [this, a, live](boost::system::error_code rec, size_t n) {
              if (!live() || a->done) return;
              if (rec || n == 0) {
                finish(a, false,
                       rec == asio::error::eof ? std::string("closed without answering")
                                               : "read: " + rec.message());
                return;
              }
              char took[48];
              std::snprintf(
                  took, sizeof took, "answered in %.2f ms",
                  std::chrono::duration<double, std::milli>(Clock::now() - a->started).count());
              finish(a, true, took);
            });
      });
}

}  // namespace corral::supervisor
