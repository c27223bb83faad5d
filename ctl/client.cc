#include "ctl/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "proto/request_signature.h"
#include "proto/status.h"

namespace corral::ctl {

namespace {

using Clock = std::chrono::steady_clock;

// Waits for fd to become ready for events within the deadline (none if max()).
Result<void> wait_ready(int fd, short events, Clock::time_point deadline, const char* what) {
  for (;;) {
    int ms = -1;
    if (deadline != Clock::time_point::max()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        return make_error(Code::kUnavailable, std::string("timed out ") + what + " corrald");
      }
      ms = static_cast<int>(left.count());
    }
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, ms);
    if (rc > 0) return {};
    if (rc < 0 && errno != EINTR) return sys_error(std::string("poll while ") + what + " corrald");
  }
}

}  // namespace

std::string default_socket_path() {
  const char* env = std::getenv("CORRAL_SOCKET");
  if (env != nullptr && *env != '\0') return env;
  return "/run/corral/control.sock";
}

Error connect_error(const std::string& path, int err) {
  switch (err) {
    case ENOENT:
      return Error{Code::kUnavailable, 0, "corrald is not running: no socket at " + path};
    case ECONNREFUSED:
      return Error{Code::kUnavailable, 0,
                   "corrald is not running: connection refused at " + path + " (stale socket?)"};
    case EACCES:
    case EPERM:
      return Error{Code::kPermissionDenied, 0,
                   "cannot connect to " + path +
                       ": permission denied (corralctl needs root or membership in the socket's "
                       "group)"};
    case ENOTDIR:
      return Error{Code::kUnavailable, 0,
                   "corrald is not running: a component of " + path + " is not a directory"};
    case EAGAIN:
      return Error{Code::kUnavailable, 0,
                   "corrald at " + path + " is not accepting connections (its backlog is full)"};
    default:
      return Error{Code::kUnavailable, err, "cannot connect to " + path};
  }
}

Result<void> check_status(const v1::Response& resp) {
  if (resp.status().code() == v1::OK) return {};
  std::string msg = resp.status().message();
  if (msg.empty()) msg = v1::StatusCode_Name(resp.status().code());
  return std::unexpected(Error{proto::from_wire(resp.status().code()), 0, msg});
}

Client::Client(UniqueFd fd, ClientOptions options)
    : fd_(std::move(fd)), options_(std::move(options)), decoder_(options_.max_frame_bytes) {}

Result<Client> Client::connect(const ClientOptions& options) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (options.socket_path.empty() || options.socket_path.size() >= sizeof addr.sun_path) {
    return make_error(Code::kInvalidArgument, "socket path must be 1 to " +
                                                  std::to_string(sizeof addr.sun_path - 1) +
                                                  " bytes: \"" + options.socket_path + "\"");
  }
  std::memcpy(addr.sun_path, options.socket_path.c_str(), options.socket_path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return sys_error("socket()");
  // A unix-socket connect blocks while the listener's backlog is full; SO_SNDTIMEO bounds that
  // wait (the kernel then fails it with EAGAIN). Later I/O is bounded by poll() instead.
  auto set_send_timeout = [&](std::chrono::milliseconds t) {
    timeval tv{static_cast<time_t>(t.count() / 1000),
               static_cast<suseconds_t>((t.count() % 1000) * 1000)};
    return ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  };
  if (options.timeout.count() > 0 && set_send_timeout(options.timeout) != 0) {
    return sys_error("setsockopt(SO_SNDTIMEO)");
  }
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return std::unexpected(connect_error(options.socket_path, errno));
  if (options.timeout.count() > 0 && set_send_timeout(std::chrono::milliseconds(0)) != 0) {
    return sys_error("setsockopt(SO_SNDTIMEO)");
  }

  Client c(std::move(fd), options);
  v1::Request req;
  auto* h = req.mutable_hello();
  h->set_min_version(proto::kProtocolMinVersion);
  h->set_max_version(proto::kProtocolMaxVersion);
  h->set_client_name(options.client_name);
  auto resp = c.call(std::move(req));
  if (!resp) return std::unexpected(resp.error().wrap("Hello"));
  if (auto ok = check_status(*resp); !ok) return std::unexpected(ok.error().wrap("Hello refused"));
  if (!resp->has_hello() || resp->hello().version() < proto::kProtocolMinVersion ||
      resp->hello().version() > proto::kProtocolMaxVersion) {
    return make_error(Code::kProtocol, "Hello: corrald picked protocol version " +
                                           std::to_string(resp->hello().version()) +
                                           ", this client speaks " +
                                           std::to_string(proto::kProtocolMinVersion) + ".." +
                                           std::to_string(proto::kProtocolMaxVersion));
  }
  c.hello_ = resp->hello();
  return c;
}

Result<void> Client::send(v1::Request& req) {
  req.set_id(next_id_++);
  if (req.correlation_id().empty()) {
    req.set_correlation_id("ctl-" + std::to_string(::getpid()) + "-" + std::to_string(req.id()));
  }
  if (options_.sign && !req.has_hello()) {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const SignAs& s = *options_.sign;
    if (auto r = proto::sign_request(req, s.client_id, s.secret, s.token, now); !r) return r;
  }
  auto frame = proto::encode_frame(req, options_.max_frame_bytes);
  if (!frame) return std::unexpected(frame.error());
  auto deadline =
      options_.timeout.count() == 0 ? Clock::time_point::max() : Clock::now() + options_.timeout;
  size_t off = 0;
  while (off < frame->size()) {
    if (auto ok = wait_ready(fd_.get(), POLLOUT, deadline, "writing to"); !ok) return ok;
    ssize_t n =
        ::send(fd_.get(), frame->data() + off, frame->size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      if (errno == EPIPE || errno == ECONNRESET) return std::unexpected(closed_reason());
      return sys_error("writing to corrald");
    }
    off += static_cast<size_t>(n);
  }
  return {};
}

Result<v1::Response> Client::receive(uint64_t id) {
  auto deadline =
      options_.timeout.count() == 0 ? Clock::time_point::max() : Clock::now() + options_.timeout;
  for (;;) {
    auto frame = decoder_.next();
    if (!frame) {
      return make_error(Code::kProtocol, "response from corrald refused: " + frame.error().message);
    }
    if (frame->has_value()) {
      v1::Response resp;
      if (!resp.ParseFromString(**frame)) {
        return make_error(Code::kProtocol, "malformed response from corrald");
      }
      // id 0: the server could not attribute it (e.g. FRAME_TOO_LARGE); it concerns us too.
      if (resp.id() == id || resp.id() == 0) return resp;
      continue;  // a late response to an abandoned request
    }
    if (auto ok = wait_ready(fd_.get(), POLLIN, deadline, "waiting for"); !ok) {
      return std::unexpected(ok.error());
    }
    char buf[65536];
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      if (errno == ECONNRESET)
        return make_error(Code::kUnavailable, "corrald reset the connection");
      return sys_error("reading from corrald");
    }
    if (n == 0) {
      return make_error(Code::kUnavailable,
                        decoder_.mid_frame() ? "corrald closed the connection in the middle of a "
                                               "response"
                                             : "corrald closed the connection");
    }
    decoder_.feed({buf, static_cast<size_t>(n)});
  }
}

Error Client::closed_reason() {
  // corrald may have answered (e.g. "too many connections") and closed before we wrote: its
  // answer is still in our receive queue.
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT)) > 0) {
    decoder_.feed({buf, static_cast<size_t>(n)});
  }
  for (;;) {
    auto frame = decoder_.next();
    if (!frame || !frame->has_value()) break;
    v1::Response resp;
    if (!resp.ParseFromString(**frame)) break;
    if (auto ok = check_status(resp); !ok) return ok.error();
  }
  return Error{Code::kUnavailable, 0, "corrald closed the connection"};
}

Result<v1::Response> Client::call(v1::Request req) {
  if (auto ok = send(req); !ok) return std::unexpected(ok.error());
  return receive(req.id());
}

Result<void> Client::stream(v1::Request req,
                            const std::function<bool(const v1::Response&)>& on_response) {
  if (auto ok = send(req); !ok) return ok;
  for (;;) {
    auto resp = receive(req.id());
    if (!resp) return std::unexpected(resp.error());
    if (!on_response(*resp) || !resp->more()) return {};
  }
}

namespace {
// The manifest's stop timeout is unknown here (timeout_ms 0): then wait without a deadline.
std::chrono::milliseconds stop_deadline(std::chrono::milliseconds base, uint32_t timeout_ms) {
  if (base.count() == 0 || timeout_ms == 0) return std::chrono::milliseconds(0);
  return base + std::chrono::milliseconds(timeout_ms);
}

template <class T, class F>
Result<T> unary(Client& c, v1::Request req, F pick) {
  auto resp = c.call(std::move(req));
  if (!resp) return std::unexpected(resp.error());
  if (auto ok = check_status(*resp); !ok) return std::unexpected(ok.error());
  return pick(*resp);
}
}  // namespace

Result<v1::VersionResponse> Client::version() {
  v1::Request req;
  req.mutable_version();
  return unary<v1::VersionResponse>(*this, std::move(req),
                                    [](const v1::Response& r) { return r.version(); });
}

Result<v1::ListResponse> Client::list() {
  v1::Request req;
  req.mutable_list();
  return unary<v1::ListResponse>(*this, std::move(req),
                                 [](const v1::Response& r) { return r.list(); });
}

Result<v1::DoctorResponse> Client::doctor() {
  v1::Request req;
  req.mutable_doctor();
  return unary<v1::DoctorResponse>(*this, std::move(req),
                                   [](const v1::Response& r) { return r.doctor(); });
}

Result<v1::StatsResponse> Client::stats(const std::string& name) {
  v1::Request req;
  req.mutable_stats()->set_name(name);
  return unary<v1::StatsResponse>(*this, std::move(req),
                                  [](const v1::Response& r) { return r.stats(); });
}

Result<v1::HealthReport> Client::health(const std::string& name) {
  v1::Request req;
  req.mutable_health()->set_name(name);
  return unary<v1::HealthReport>(*this, std::move(req),
                                 [](const v1::Response& r) { return r.health().health(); });
}

Result<v1::BreakersResponse> Client::breakers() {
  v1::Request req;
  req.mutable_breakers();
  return unary<v1::BreakersResponse>(*this, std::move(req),
                                     [](const v1::Response& r) { return r.breakers(); });
}

Result<v1::ResetResponse> Client::reset(const std::string& name) {
  v1::Request req;
  req.mutable_reset()->set_name(name);
  return unary<v1::ResetResponse>(*this, std::move(req),
                                  [](const v1::Response& r) { return r.reset(); });
}

Result<v1::PluginInfo> Client::status(const std::string& name) {
  v1::Request req;
  req.mutable_status()->set_name(name);
  return unary<v1::PluginInfo>(*this, std::move(req),
                               [](const v1::Response& r) { return r.status_result().plugin(); });
}

Result<v1::PluginInfo> Client::start(const std::string& name) {
  v1::Request req;
  req.mutable_start()->set_name(name);
  return unary<v1::PluginInfo>(*this, std::move(req),
                               [](const v1::Response& r) { return r.start().plugin(); });
}

Result<v1::PluginInfo> Client::stop(const std::string& name, uint32_t timeout_ms) {
  v1::Request req;
  req.mutable_stop()->set_name(name);
  req.mutable_stop()->set_timeout_ms(timeout_ms);
  return wait_for_stop(std::move(req), timeout_ms);
}

Result<v1::PluginInfo> Client::restart(const std::string& name, uint32_t timeout_ms) {
  v1::Request req;
  req.mutable_restart()->set_name(name);
  req.mutable_restart()->set_timeout_ms(timeout_ms);
  return wait_for_stop(std::move(req), timeout_ms);
}

Result<v1::PluginInfo> Client::wait_for_stop(v1::Request req, uint32_t timeout_ms) {
  // The daemon answers once the plugin is down, which may take its whole stop timeout.
  auto saved = options_.timeout;
  options_.timeout = stop_deadline(saved, timeout_ms);
  auto info = unary<v1::PluginInfo>(*this, std::move(req), [](const v1::Response& r) {
    return r.has_stop() ? r.stop().plugin() : r.restart().plugin();
  });
  options_.timeout = saved;
  return info;
}

}  // namespace corral::ctl
