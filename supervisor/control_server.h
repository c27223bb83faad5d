// ControlServer: the listening unix socket. Binds it safely (refuses a path held by a live daemon,
// replaces a stale one, creates it with the configured mode and group), accepts connections up to
// max_connections in all and max_connections_per_uid per peer uid (a refusal is answered and
// audited), records each peer's credentials and roles, and closes every session on shutdown.
#pragma once

#include <sys/stat.h>

#include <list>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/error.h"
#include "supervisor/config.h"
#include "supervisor/session.h"

namespace corral::supervisor {

class ControlServer {
 public:
  [[nodiscard]] static Result<std::unique_ptr<ControlServer>> create(boost::asio::io_context& io,
                                                                     const DaemonConfig& config,
                                                                     Router& router);
  ~ControlServer();

  // Peers' roles; null: every peer is admin (unit tests).
  void set_authorizer(const Authorizer* a) { authorizer_ = a; }
  void start();
  // Stops accepting and closes every session.
  void shutdown();
  [[nodiscard]] size_t sessions() const;

 private:
  ControlServer(boost::asio::io_context& io, std::string path, dev_t dev, ino_t ino,
                const DaemonConfig& config, Router& router);
  void accept();

  boost::asio::io_context& io_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::string path_;
  dev_t dev_;
  ino_t ino_;
  uint32_t max_frame_bytes_;
  uint32_t max_connections_;
  uint32_t max_per_uid_;
  SessionLimits limits_;
  Router& router_;
  const Authorizer* authorizer_ = nullptr;
  std::map<uid_t, uint32_t> per_uid_;
  std::list<std::weak_ptr<Session>> sessions_;
  uint64_t next_session_ = 1;
  bool stopped_ = false;
};

}  // namespace corral::supervisor
