// Session: one control-socket connection. Reads frames through the shared FrameDecoder, hands
// each parsed Request to the Router, and writes Responses in order, each after its audit record.
// An oversize frame is answered with FRAME_TOO_LARGE and the connection closed; an unparsable
// frame gets MALFORMED_FRAME and the connection stays usable. Fairness: at most kFramesPerTurn
// requests per event-loop turn, and a peer uid over its rate is not read until its bucket has a
// token (backpressure, not refusal). A frame begun must complete within the frame timeout; an
// idle connection is closed. A peer that cannot keep up with its responses (more than
// kMaxQueuedBytes pending) is disconnected rather than allowed to grow corrald's memory.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/local/stream_protocol.hpp>

#include "corral/v1/control.pb.h"
#include "proto/frame.h"
#include "supervisor/peer_auth.h"

namespace corral::supervisor {

class Router;

struct PeerCred {
  pid_t pid = 0;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  std::string exe;              // read through a pidfd (peer_identity.h)
  std::vector<gid_t> groups;    // SO_PEERGROUPS: supplementary groups at connect time
  std::string identity_source;  // "SO_PEERPIDFD" | "pidfd_open"
};

// Where an audit record went: written to the store, or queued in memory while the store
// cannot be written; and the callback that hears it (with the group commit's fsync result).
enum class Audited { kWritten, kQueued };
using AuditDone = std::function<void(const Result<Audited>& audited, const Result<void>& synced)>;

struct SessionLimits {
  std::chrono::milliseconds frame_timeout{5000};
  std::chrono::milliseconds idle_timeout{300000};
};

// A request whose first response must be in the audit trail before it is sent.
struct PendingAudit {
  uint64_t request_id = 0;
  std::string command;
  std::string plugin;
  std::string args_digest;
  std::string correlation_id;
  std::string on_behalf;  // a signed request's "client/subject (session)"
  bool mutating = false;
  int64_t at_unix_ms = 0;
  std::chrono::steady_clock::time_point started{};
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  static constexpr size_t kMaxQueuedBytes = 8u << 20;
  static constexpr int kFramesPerTurn = 16;

  Session(boost::asio::local::stream_protocol::socket socket, uint64_t id, PeerCred peer,
          PeerAuth auth, Router& router, uint32_t max_frame_bytes, SessionLimits limits);
  void start();
  // Queues one response frame. Ignored once the session is closed.
  void send(v1::Response resp);
  // Closes once every queued frame has been written.
  void close_after_flush();
  void close();
  // Runs when the session closes (e.g. to stop following a plugin's log).
  void on_close(std::function<void()> f) { on_close_.push_back(std::move(f)); }

  [[nodiscard]] bool closed() const { return closed_; }
  [[nodiscard]] uint64_t id() const { return id_; }
  [[nodiscard]] const PeerCred& peer() const { return peer_; }
  [[nodiscard]] const PeerAuth& auth() const { return auth_; }
  // Response bytes queued and not yet taken by the peer.
  [[nodiscard]] size_t queued_bytes() const { return out_bytes_; }
  // A stream (follow, subscribe, run) is open: the connection is not idle while it waits.
  void set_streaming() { streaming_ = true; }
  [[nodiscard]] uint32_t version() const { return version_; }  // 0 until Hello succeeded
  // The next response to this request id is audited (Router::audit) before it is queued.
  void expect_audit(PendingAudit a) { audits_.push_back(std::move(a)); }
  // Adds to the pending audit of request `id` (the subject of a signed request).
  void note_on_behalf(uint64_t id, std::string who);
  void set_version(uint32_t v) { version_ = v; }

 private:
  void read();
  // Handles buffered frames until it needs bytes (then reads), the turn's share is used (then
  // continues in a later turn) or the uid's bucket is empty (then waits for a token).
  void pump();
  void dispatch(v1::Request req);
  void queue(const v1::Response& resp);
  // An audited answer's record is written: it (or its replacement) may go out, after every
  // answer queued before it.
  void audited(uint64_t n, const Result<Audited>& audited, const Result<void>& synced);
  void write();
  void arm_watchdog();
  void watchdog();

  boost::asio::local::stream_protocol::socket socket_;
  uint64_t id_;
  PeerCred peer_;
  PeerAuth auth_;
  Router& router_;
  proto::FrameDecoder decoder_;
  SessionLimits limits_;
  bool reading_ = false;
  bool pump_posted_ = false;
  bool streaming_ = false;
  std::optional<v1::Request> parked_;  // waits for a token of the uid's bucket
  boost::asio::steady_timer park_timer_;
  boost::asio::steady_timer watchdog_;
  std::chrono::steady_clock::time_point last_activity_;
  std::optional<std::chrono::steady_clock::time_point> frame_started_;
  std::array<char, 65536> buf_{};
  std::deque<std::string> out_;
  size_t out_bytes_ = 0;
  bool writing_ = false;
  bool close_when_flushed_ = false;
  bool closed_ = false;
  uint32_t version_ = 0;
  std::vector<std::function<void()>> on_close_;
  std::vector<PendingAudit> audits_;  // requests not answered yet, oldest first
  // Answers waiting for their audit record (and a mutating command's for the group commit), and
  // any answer after one, so that a connection's answers keep their order.
  struct Held {
    uint64_t n;
    v1::Response resp;
    bool ready;
    PendingAudit audit;  // the request's, when resp waits for its record
  };
  std::deque<Held> held_;
  uint64_t held_seq_ = 0;
};

}  // namespace corral::supervisor
