// A scripted stand-in for corrald in tests: one connection on a real AF_UNIX socket in a fresh
// mkdtemp directory, served by a script on its own thread. The destructor joins the thread and
// removes the directory. Helpers read requests and write responses as whole frames.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "common/unique_fd.h"
#include "corral/v1/control.pb.h"
#include "ctl/client.h"
#include "proto/frame.h"

namespace corral::ctl::testing {

// Reads one request frame from fd (blocking); nullopt on EOF or garbage.
inline std::optional<v1::Request> read_request(int fd, proto::FrameDecoder& d) {
  for (;;) {
    auto f = d.next();
    if (!f) return std::nullopt;
    if (f->has_value()) {
      v1::Request r;
      if (!r.ParseFromString(**f)) return std::nullopt;
      return r;
    }
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return std::nullopt;
    d.feed({buf, static_cast<size_t>(n)});
  }
}

inline void write_response(int fd, const v1::Response& r) {
  auto f = proto::encode_frame(r);
  ASSERT_TRUE(f.has_value());
  ASSERT_EQ(::send(fd, f->data(), f->size(), MSG_NOSIGNAL), static_cast<ssize_t>(f->size()));
}

inline v1::Response reply_to(const v1::Request& req, v1::StatusCode code = v1::OK) {
  v1::Response r;
  r.set_id(req.id());
  r.set_correlation_id(req.correlation_id());
  r.mutable_status()->set_code(code);
  return r;
}

// Answers Hello like corrald v1 would, checking what the client offered.
inline void answer_hello(int fd, proto::FrameDecoder& d, const std::string& client = "unit") {
  auto req = read_request(fd, d);
  ASSERT_TRUE(req.has_value());
  ASSERT_TRUE(req->has_hello());
  EXPECT_EQ(req->hello().min_version(), proto::kProtocolMinVersion);
  EXPECT_EQ(req->hello().max_version(), proto::kProtocolMaxVersion);
  EXPECT_EQ(req->hello().client_name().substr(0, client.size()), client);
  auto r = reply_to(*req);
  r.mutable_hello()->set_version(1);
  r.mutable_hello()->set_server_min_version(1);
  r.mutable_hello()->set_server_max_version(1);
  r.mutable_hello()->set_server_version("9.9.9");
  r.mutable_hello()->set_max_frame_bytes(proto::kDefaultMaxFrameBytes);
  (*r.mutable_hello()->mutable_features())["launcher"] = "direct";
  write_response(fd, r);
}

class FakeServer {
 public:
  using Script = std::function<void(int fd, proto::FrameDecoder& d)>;
  explicit FakeServer(Script script) {
    char tmpl[] = "/tmp/corral-ctl-test.XXXXXX";
    const char* dir = ::mkdtemp(tmpl);
    EXPECT_NE(dir, nullptr);
    dir_ = dir != nullptr ? dir : "/tmp";
    path_ = dir_ + "/s.sock";
    listen_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    EXPECT_EQ(::bind(listen_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(listen_.get(), 4), 0);
    thread_ = std::thread([this, script = std::move(script)] {
      UniqueFd c(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c) return;
      proto::FrameDecoder d;
      script(c.get(), d);
    });
  }
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;
  ~FakeServer() {
    ::shutdown(listen_.get(), SHUT_RDWR);  // wakes accept() if no client came
    thread_.join();
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }

  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] ClientOptions options() const {
    ClientOptions o;
    o.socket_path = path_;
    o.timeout = std::chrono::seconds(2);
    o.client_name = "unit";
    return o;
  }

 private:
  std::string dir_, path_;
  UniqueFd listen_;
  std::thread thread_;
};

}  // namespace corral::ctl::testing
