#include "supervisor/liveness_probe.h"

#include <fcntl.h>

#include <cstdio>
#include <cstring>
#include <optional>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>

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
  std::optional<sandbox::Process> proc;  // an exec probe's command (its waiter)
  std::unique_ptr<asio::posix::stream_descriptor> exit_watch;
};

namespace {
std::string took_since(Clock::time_point t0) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.2f ms",
                std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  return buf;
}
}  // namespace

LivenessProber::LivenessProber(asio::io_context& io, LivenessProbe probe, std::string path,
                               Spawn spawn, Report report)
    : io_(io),
      probe_(std::move(probe)),
      path_(std::move(path)),
      spawn_(std::move(spawn)),
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
    current_->exit_watch.reset();
    current_->proc.reset();  // kills and reaps the probe's command
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
  a->exit_watch.reset();
  a->proc.reset();  // a command still running (a timeout) is killed and reaped
  current_.reset();
  arm(probe_.period);
  report_(ok, detail);  // last: the report may destroy this prober
}

void LivenessProber::probe() {
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
  if (!probe_.exec.empty()) {
    probe_exec(a);
    return;
  }
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
              finish(a, true, "answered in " + took_since(a->started));
            });
      });
}

void LivenessProber::probe_exec(const std::shared_ptr<Attempt>& a) {
  Result<sandbox::Process> proc =
      spawn_ ? spawn_() : make_error(Code::kInternal, "exec probe: nothing to spawn with");
  if (!proc) {
    asio::post(io_, [this, a, alive = std::weak_ptr<bool>(alive_), why = proc.error().describe()] {
      if (auto l = alive.lock(); l && *l && !a->done) finish(a, false, why);
    });
    return;
  }
  a->proc.emplace(std::move(*proc));
  int dup = ::fcntl(a->proc->pidfd(), F_DUPFD_CLOEXEC, 3);
  if (dup < 0) {
    std::string why = std::string("exec probe: dup of its pidfd: ") + std::strerror(errno);
    asio::post(io_, [this, a, alive = std::weak_ptr<bool>(alive_), why] {
      if (auto l = alive.lock(); l && *l && !a->done) finish(a, false, why);
    });
    return;
  }
  a->exit_watch = std::make_unique<asio::posix::stream_descriptor>(io_, dup);
  a->exit_watch->async_wait(
      asio::posix::stream_descriptor::wait_read,
      [this, a, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
        auto l = alive.lock();
        if (ec || !l || !*l || a->done || !a->proc) return;
        auto st = a->proc->try_wait();
        if (!st || !st->has_value()) {
          finish(a, false, st ? "exec probe: woken before its exit" : st.error().describe());
          return;
        }
        const sandbox::ExitStatus& s = **st;
        if (s.success()) {
          finish(a, true, "exited 0 in " + took_since(a->started));
        } else if (!s.signaled && s.code == 127) {
          finish(a, false, "exec probe: cannot run " + probe_.exec[0] + " (exit 127)");
        } else {
          finish(a, false, "exec probe " + s.describe());
        }
      });
}

}  // namespace corral::supervisor
