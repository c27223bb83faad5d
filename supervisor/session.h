// Session: one control-socket connection. Reads frames through the shared FrameDecoder, hands
// each parsed Request to the Router, and writes Responses in order. An oversize frame is answered
// with FRAME_TOO_LARGE and the connection closed; an unparsable frame gets MALFORMED_FRAME and the
// connection stays usable. A peer that cannot keep up with its responses (more than kMaxQueued
// bytes pending) is disconnected rather than allowed to grow corrald's memory.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/local/stream_protocol.hpp>

#include "corral/v1/control.pb.h"
#include "proto/frame.h"

namespace corral::supervisor {

class Router;

struct PeerCred {
  pid_t pid = 0;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  std::string exe;  // read through a pidfd (peer_identity.h)
};

// A request whose first response must be in the audit trail before it is sent.
struct PendingAudit {
  uint64_t request_id = 0;
  std::string command;
  std::string plugin;
  std::string args_digest;
  std::string correlation_id;
  bool mutating = false;
  int64_t at_unix_ms = 0;
  std::chrono::steady_clock::time_point started{};
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  static constexpr size_t kMaxQueuedBytes = 8u << 20;

  Session(boost::asio::local::stream_protocol::socket socket, uint64_t id, PeerCred peer,
          Router& router, uint32_t max_frame_bytes);
  void start();
  // Queues one response frame. Ignored once the session is closed.
  void send(const v1::Response& resp);
  // Closes once every queued frame has been written.
  void close_after_flush();
  void close();
  // Runs when the session closes (e.g. to stop following a plugin's log).
  void on_close(std::function<void()> f) { on_close_.push_back(std::move(f)); }

  [[nodiscard]] bool closed() const { return closed_; }
  [[nodiscard]] uint64_t id() const { return id_; }
  [[nodiscard]] const PeerCred& peer() const { return peer_; }
  [[nodiscard]] uint32_t version() const { return version_; }  // 0 until Hello succeeded
  // The next response to this request id is audited (Router::audit) before it is queued.
  void expect_audit(PendingAudit a) { audits_.push_back(std::move(a)); }
  void set_version(uint32_t v) { version_ = v; }

 private:
  void read();
  void handle_frames();
  void queue(const v1::Response& resp);
  // The group commit is done: held answers go out in order (a failed sync fails the mutating
  // ones that waited for it).
  void release_held(const Result<void>& synced);
  void write();

  boost::asio::local::stream_protocol::socket socket_;
  uint64_t id_;
  PeerCred peer_;
  Router& router_;
  proto::FrameDecoder decoder_;
  std::array<char, 65536> buf_{};
  std::deque<std::string> out_;
  size_t out_bytes_ = 0;
  bool writing_ = false;
  bool close_when_flushed_ = false;
  bool closed_ = false;
  uint32_t version_ = 0;
  std::vector<std::function<void()>> on_close_;
  std::vector<PendingAudit> audits_;  // requests not answered yet, oldest first
  // Answers waiting for the group commit (a mutating command's), and any answer after one (so
  // that a connection's answers keep their order): (response, waits for durability).
  std::deque<std::pair<v1::Response, bool>> held_;
};

}  // namespace corral::supervisor
