// corral::ctl::Client: a blocking client for corrald's control socket that any program can link
// (plain POSIX sockets, no event loop). connect() performs the Hello exchange; call() sends one
// request and returns its response (a non-OK status is still a successful call); stream() reads
// every response of a streaming command. Convenience methods turn a non-OK status into an Error.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/error.h"
#include "common/unique_fd.h"
#include "corral/v1/control.pb.h"
#include "proto/frame.h"

namespace corral::ctl {

// Signing every request (protocol v2) as a client acting for a token's subject.
struct SignAs {
  std::string client_id;
  std::string secret;  // proto::load_client_secret
  v1::AuthToken token;
};

struct ClientOptions {
  std::string socket_path;
  std::chrono::milliseconds timeout{5000};  // per request; 0 means no deadline
  std::string client_name = "corral-client";
  uint32_t max_frame_bytes = proto::kDefaultMaxFrameBytes;
  std::optional<SignAs> sign;  // set: every request after Hello is signed
};

// $CORRAL_SOCKET if set and non-empty, else /run/corral/control.sock.
[[nodiscard]] std::string default_socket_path();

class Client {
 public:
  [[nodiscard]] static Result<Client> connect(const ClientOptions& options);

  [[nodiscard]] const v1::HelloResponse& hello() const { return hello_; }

  // Assigns the request id (and a correlation id if empty), sends, and waits for its response.
  [[nodiscard]] Result<v1::Response> call(v1::Request req);
  // For streaming commands: on_response gets every response for the request until one has
  // more=false or on_response returns false.
  [[nodiscard]] Result<void> stream(v1::Request req,
                                    const std::function<bool(const v1::Response&)>& on_response);

  [[nodiscard]] Result<v1::VersionResponse> version();
  [[nodiscard]] Result<v1::ListResponse> list();
  [[nodiscard]] Result<v1::DoctorResponse> doctor();
  // One plugin's telemetry (name), or every sampled plugin's (empty name).
  [[nodiscard]] Result<v1::StatsResponse> stats(const std::string& name);
  [[nodiscard]] Result<v1::PluginInfo> status(const std::string& name);
  [[nodiscard]] Result<v1::PluginInfo> start(const std::string& name);
  [[nodiscard]] Result<v1::PluginInfo> stop(const std::string& name, uint32_t timeout_ms = 0);
  [[nodiscard]] Result<v1::PluginInfo> restart(const std::string& name, uint32_t timeout_ms = 0);
  [[nodiscard]] Result<v1::HealthReport> health(const std::string& name);
  [[nodiscard]] Result<v1::BreakersResponse> breakers();
  [[nodiscard]] Result<v1::ResetResponse> reset(const std::string& name);

  // Sets the per-request deadline (0: none), e.g. for `logs --follow` or a long stop.
  void set_timeout(std::chrono::milliseconds t) { options_.timeout = t; }
  [[nodiscard]] int fd() const { return fd_.get(); }

 private:
  Client(UniqueFd fd, ClientOptions options);
  [[nodiscard]] Result<void> send(v1::Request& req);
  [[nodiscard]] Result<v1::Response> receive(uint64_t id);
  [[nodiscard]] Error closed_reason();
  [[nodiscard]] Result<v1::PluginInfo> wait_for_stop(v1::Request req, uint32_t timeout_ms);

  UniqueFd fd_;
  ClientOptions options_;
  proto::FrameDecoder decoder_;
  v1::HelloResponse hello_;
  uint64_t next_id_ = 1;
};

// Turns a non-OK response into an Error carrying the server's code and message.
[[nodiscard]] Result<void> check_status(const v1::Response& resp);
// The Error for a failed connect(2) to path with errno err.
[[nodiscard]] Error connect_error(const std::string& path, int err);

}  // namespace corral::ctl
