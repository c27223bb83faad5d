#include "supervisor/control_server.h"

#include "supervisor/peer_identity.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/unique_fd.h"
#include "proto/status.h"
#include "supervisor/router.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

namespace corral::supervisor {

namespace asio = boost::asio;
using asio::local::stream_protocol;

namespace {

// Binds and listens on path with the given mode; returns the listening fd.
Result<UniqueFd> bind_socket(const std::string& path, mode_t mode) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return make_error(Code::kInvalidArgument, "socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return make_error(Code::kAlreadyExists,
                        path + " exists and is not a socket; not removing it");
    }
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!probe) return sys_error("socket()");
    if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      return make_error(Code::kAlreadyExists,
                        "another daemon is listening on " + path + "; refusing to replace it");
    }
    if (errno != ECONNREFUSED) return sys_error("probing existing socket " + path);
    spdlog::info("control: replacing stale socket {}", path);
    if (::unlink(path.c_str()) != 0) return sys_error("removing stale socket " + path);
  } else if (errno != ENOENT) {
    return sys_error("checking " + path);
  }

  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return sys_error("socket()");
  // Create the socket with its final mode: never a window where it is wider than configured.
  mode_t old = ::umask(static_cast<mode_t>(~mode & 0777));
  int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int bind_errno = errno;
  ::umask(old);
  if (rc != 0) return sys_error("binding " + path, bind_errno);
  if (::listen(fd.get(), 128) != 0) return sys_error("listening on " + path);
  return fd;
}

// The kernel's word on who connected: SO_PEERCRED, SO_PEERGROUPS and the executable through a
// pidfd (SO_PEERPIDFD where the kernel has it).
Result<PeerCred> peer_of(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return sys_error("SO_PEERCRED");
  }
  PeerCred peer;
  peer.pid = cred.pid;
  peer.uid = cred.uid;
  peer.gid = cred.gid;
  std::vector<gid_t> groups(64);
  for (;;) {
    socklen_t glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) == 0) {
      groups.resize(glen / sizeof(gid_t));
      break;
    }
    if (errno != ERANGE || groups.size() >= 65536) return sys_error("SO_PEERGROUPS");
    groups.resize(std::max<size_t>(glen / sizeof(gid_t), groups.size() * 2));
  }
  peer.groups = std::move(groups);
  auto id = identify_peer(fd, cred.pid);
  peer.exe = std::move(id.exe);
  peer.identity_source = std::move(id.source);
  return peer;
}

}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::create(asio::io_context& io,
                                                             const DaemonConfig& config,
                                                             Router& router) {
  std::string path = config.socket_path();
  auto fd = bind_socket(path, config.socket_mode);
  if (!fd) return std::unexpected(fd.error());
  if (!config.socket_group.empty()) {
    group* g = ::getgrnam(config.socket_group.c_str());
    if (g == nullptr) {
      (void)::unlink(path.c_str());
      return make_error(Code::kInvalidArgument,
                        "control.socket_group: no group named \"" + config.socket_group + "\"");
    }
    if (::chown(path.c_str(), 0, g->gr_gid) != 0) {
      auto err = sys_error("setting group of " + path + " to " + config.socket_group);
      (void)::unlink(path.c_str());
      return err;
    }
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return sys_error("stat " + path);
  auto server = std::unique_ptr<ControlServer>(
      new ControlServer(io, path, st.st_dev, st.st_ino, config, router));
  boost::system::error_code ec;
  server->acceptor_.assign(stream_protocol(), fd->release(), ec);
  if (ec) return make_error(Code::kInternal, "cannot adopt listening socket: " + ec.message());
  return server;
}

ControlServer::ControlServer(asio::io_context& io, std::string path, dev_t dev, ino_t ino,
                             const DaemonConfig& config, Router& router)
    : io_(io),
      acceptor_(io),
      path_(std::move(path)),
      dev_(dev),
      ino_(ino),
      max_frame_bytes_(config.max_frame_bytes),
      max_connections_(config.max_connections),
      max_per_uid_(config.max_connections_per_uid),
      limits_{std::chrono::milliseconds(config.frame_timeout_ms),
              std::chrono::milliseconds(config.idle_timeout_ms)},
      router_(router) {}

ControlServer::~ControlServer() {
  shutdown();
  // Remove the socket only if it is still the one we created.
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
    if (::unlink(path_.c_str()) != 0) {
      spdlog::warn("control: cannot remove {}: {}", path_, std::strerror(errno));
    }
  }
}

void ControlServer::start() {
  spdlog::info("control: listening on {}", path_);
  accept();
}

size_t ControlServer::sessions() const {
  size_t n = 0;
  for (const auto& w : sessions_) {
    if (auto s = w.lock(); s && !s->closed()) ++n;
  }
  return n;
}

void ControlServer::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, stream_protocol::socket socket) {
    if (stopped_) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      spdlog::warn("control: accept: {}", ec.message());
      // EMFILE and friends: back off briefly instead of spinning.
      auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
      timer->async_wait([this, timer](boost::system::error_code) {
        if (!stopped_) accept();
      });
      return;
    }
    auto peer = peer_of(socket.native_handle());
    if (!peer) {
      spdlog::warn("control: {}; refusing the connection", peer.error().describe());
      accept();
      return;
    }
    sessions_.remove_if([](const std::weak_ptr<Session>& w) {
      auto s = w.lock();
      return !s || s->closed();
    });
    PeerAuth auth = authorizer_ != nullptr
                        ? authorizer_->resolve(peer->uid, peer->gid, peer->groups)
                        : PeerAuth{{"admin"}, {}, {}};
    const uid_t uid = peer->uid;
    auto session = std::make_shared<Session>(std::move(socket), next_session_++, std::move(*peer),
                                             std::move(auth), router_, max_frame_bytes_, limits_);
    std::string refusal;
    if (sessions_.size() >= max_connections_) {
      refusal = "too many connections: " + std::to_string(sessions_.size()) + " open, the cap is " +
                std::to_string(max_connections_);
    } else if (per_uid_[uid] >= max_per_uid_) {
      refusal = "too many connections from uid " + std::to_string(uid) + ": " +
                std::to_string(per_uid_[uid]) + " open, the cap per uid is " +
                std::to_string(max_per_uid_);
    }
    if (!refusal.empty()) {
      spdlog::warn("control: {}; refusing pid {}", refusal, session->peer().pid);
      router_.refused(*session, "connect", refusal);
      v1::Response resp;
      proto::set_error(resp, Error{Code::kResourceExhausted, 0, refusal});
      session->send(resp);
      session->close_after_flush();
    } else {
      spdlog::debug("control: session {} from pid {} uid {} gid {}", session->id(),
                    session->peer().pid, uid, session->peer().gid);
      ++per_uid_[uid];
      session->on_close([this, uid] {
        if (auto it = per_uid_.find(uid); it != per_uid_.end() && --it->second == 0) {
          per_uid_.erase(it);
        }
      });
      sessions_.push_back(session);
      session->start();
    }
    accept();
  });
}

void ControlServer::shutdown() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (auto& w : sessions_) {
    if (auto s = w.lock()) s->close();
  }
  sessions_.clear();
}

}  // namespace corral::supervisor
