// The client library against a scripted fake server on a real AF_UNIX socket: Hello, ids,
// statuses, streams, and every transport failure a user can meet, each with a precise Error.
#include "ctl/client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ctl/exit_codes.h"
#include "proto/frame.h"

namespace corral::ctl {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// Reads one request frame from fd (blocking); nullopt on EOF.
std::optional<v1::Request> read_request(int fd, proto::FrameDecoder& d) {
  for (;;) {
    auto f = d.next();
    if (f && f->has_value()) {
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

void write_response(int fd, const v1::Response& r) {
  auto f = proto::encode_frame(r);
  ASSERT_TRUE(f.has_value());
  ASSERT_EQ(::write(fd, f->data(), f->size()), static_cast<ssize_t>(f->size()));
}

v1::Response reply_to(const v1::Request& req, v1::StatusCode code = v1::OK) {
  v1::Response r;
  r.set_id(req.id());
  r.set_correlation_id(req.correlation_id());
  r.mutable_status()->set_code(code);
  return r;
}

// A one-connection server run by a script on its own thread.
class FakeServer {
 public:
  using Script = std::function<void(int fd, proto::FrameDecoder& d)>;
  explicit FakeServer(Script script) {
    char tmpl[] = "/tmp/corral-ctl-test.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/s.sock";
    listen_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    EXPECT_EQ(::bind(listen_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(listen_.get(), 4), 0);
    thread_ = std::thread([this, script] {
      UniqueFd c(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c) return;
      proto::FrameDecoder d;
      script(c.get(), d);
    });
  }
  ~FakeServer() {
    ::shutdown(listen_.get(), SHUT_RDWR);
    thread_.join();
    std::string rm = "rm -rf '" + dir_ + "'";
    EXPECT_EQ(std::system(rm.c_str()), 0);
  }
  [[nodiscard]] ClientOptions options() const {
    ClientOptions o;
    o.socket_path = path_;
    o.timeout = 2s;
    o.client_name = "unit";
    return o;
  }

 private:
  std::string dir_, path_;
  UniqueFd listen_;
  std::thread thread_;
};

// Answers Hello like corrald v1 would.
void answer_hello(int fd, proto::FrameDecoder& d) {
  auto req = read_request(fd, d);
  ASSERT_TRUE(req.has_value());
  ASSERT_TRUE(req->has_hello());
  EXPECT_EQ(req->hello().min_version(), 1u);
  EXPECT_EQ(req->hello().max_version(), 1u);
  EXPECT_EQ(req->hello().client_name(), "unit");
  auto r = reply_to(*req);
  r.mutable_hello()->set_version(1);
  r.mutable_hello()->set_server_version("9.9.9");
  (*r.mutable_hello()->mutable_features())["launcher"] = "direct";
  write_response(fd, r);
}

TEST(Client, HelloIdsAndCorrelationIds) {
  std::vector<uint64_t> ids;
  std::vector<std::string> corr;
  FakeServer server([&](int fd, proto::FrameDecoder& d) {
    answer_hello(fd, d);
    for (int i = 0; i < 3; ++i) {
      auto req = read_request(fd, d);
      ASSERT_TRUE(req.has_value());
      ids.push_back(req->id());
      corr.push_back(req->correlation_id());
      auto r = reply_to(*req);
      r.mutable_list()->add_plugins()->set_name("p" + std::to_string(i));
      write_response(fd, r);
    }
  });
  auto c = Client::connect(server.options());
  ASSERT_TRUE(c.has_value()) << c.error().describe();
  EXPECT_EQ(c->hello().server_version(), "9.9.9");
  EXPECT_EQ(c->hello().features().at("launcher"), "direct");
  for (int i = 0; i < 2; ++i) {
    auto l = c->list();
    ASSERT_TRUE(l.has_value());
    EXPECT_EQ(l->plugins(0).name(), "p" + std::to_string(i));
  }
  v1::Request req;
  req.set_correlation_id("mine");
  req.mutable_list();
  auto resp = c->call(req);
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->correlation_id(), "mine");
  EXPECT_EQ(ids, (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_THAT(corr[0], HasSubstr("ctl-"));
  EXPECT_NE(corr[0], corr[1]);
  EXPECT_EQ(corr[2], "mine");
}

TEST(Client, NonOkStatusIsAResponseAndAnErrorFromConvenienceCalls) {
  FakeServer server([&](int fd, proto::FrameDecoder& d) {
    answer_hello(fd, d);
    for (int i = 0; i < 2; ++i) {
      auto req = read_request(fd, d);
      ASSERT_TRUE(req.has_value());
      auto r = reply_to(*req, v1::NOT_FOUND);
      r.mutable_status()->set_message("no plugin named \"x\"");
      write_response(fd, r);
    }
  });
  auto c = Client::connect(server.options());
  ASSERT_TRUE(c.has_value());
  v1::Request req;
  req.mutable_status()->set_name("x");
  auto resp = c->call(req);
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->status().code(), v1::NOT_FOUND);
  auto st = c->status("x");
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, Code::kNotFound);
  EXPECT_EQ(st.error().message, "no plugin named \"x\"");
  EXPECT_EQ(exit_code_for(st.error()), kExitNotFound);
}

TEST(Client, StreamDeliversEveryFrameUntilMoreIsFalse) {
  FakeServer server([&](int fd, proto::FrameDecoder& d) {
    answer_hello(fd, d);
    auto req = read_request(fd, d);
    ASSERT_TRUE(req.has_value());
    for (int i = 0; i < 5; ++i) {
      auto r = reply_to(*req);
      r.set_more(i < 4);
      r.mutable_logs()->add_lines()->set_seq(static_cast<uint64_t>(i));
      write_response(fd, r);
    }
  });
  auto c = Client::connect(server.options());
  ASSERT_TRUE(c.has_value());
  v1::Request req;
  req.mutable_logs()->set_name("p");
  std::vector<uint64_t> seqs;
  auto ok = c->stream(req, [&](const v1::Response& r) {
    seqs.push_back(r.logs().lines(0).seq());
    return true;
  });
  ASSERT_TRUE(ok.has_value()) << ok.error().describe();
  EXPECT_EQ(seqs, (std::vector<uint64_t>{0, 1, 2, 3, 4}));
}

TEST(Client, ServerClosingMidResponseIsAClearError) {
  FakeServer server([&](int fd, proto::FrameDecoder& d) {
    answer_hello(fd, d);
    ASSERT_TRUE(read_request(fd, d).has_value());
    ASSERT_EQ(::write(fd, "\0\0\0\x20\x08", 5), 5);  // promises 32 bytes, sends 1, hangs up
  });
  auto c = Client::connect(server.options());
  ASSERT_TRUE(c.has_value());
  auto l = c->list();
  ASSERT_FALSE(l.has_value());
  EXPECT_EQ(l.error().code, Code::kUnavailable);
  EXPECT_THAT(l.error().message, HasSubstr("in the middle of a response"));
  EXPECT_EQ(exit_code_for(l.error()), kExitUnavailable);
}

TEST(Client, SilentServerTimesOut) {
  FakeServer server([&](int fd, proto::FrameDecoder& d) {
    answer_hello(fd, d);
    ASSERT_TRUE(read_request(fd, d).has_value());
    std::this_thread::sleep_for(1s);  // never answers
  });
  auto o = server.options();
  o.timeout = 200ms;
  auto c = Client::connect(o);
  ASSERT_TRUE(c.has_value());
  auto t0 = std::chrono::steady_clock::now();
  auto l = c->list();
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(l.has_value());
  EXPECT_THAT(l.error().message, HasSubstr("timed out"));
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 900ms);
}

TEST(Client, UnsupportedVersionIsAProtocolError) {
  FakeServer server([&](int fd, proto::FrameDecoder& d) {
    auto req = read_request(fd, d);
    ASSERT_TRUE(req.has_value());
    auto r = reply_to(*req, v1::UNSUPPORTED_VERSION);
    r.mutable_status()->set_message(
        "no common protocol version: client speaks 1..1, corrald "
        "speaks 2..3");
    write_response(fd, r);
  });
  auto c = Client::connect(server.options());
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, Code::kProtocol);
  EXPECT_THAT(c.error().message, HasSubstr("corrald speaks 2..3"));
  EXPECT_EQ(exit_code_for(c.error()), kExitProtocol);
}

TEST(Client, OversizeResponseIsRefused) {
  FakeServer server([&](int fd, proto::FrameDecoder& d) {
    answer_hello(fd, d);
    ASSERT_TRUE(read_request(fd, d).has_value());
    ASSERT_EQ(::write(fd, "\x7f\0\0\0", 4), 4);
  });
  auto c = Client::connect(server.options());
  ASSERT_TRUE(c.has_value());
  auto l = c->list();
  ASSERT_FALSE(l.has_value());
  EXPECT_EQ(l.error().code, Code::kProtocol);
  EXPECT_THAT(l.error().message, HasSubstr("exceeds the cap"));
}

TEST(Client, NoSocketAndStaleSocket) {
  ClientOptions o;
  o.socket_path = "/tmp/corral-ctl-test-missing/s.sock";
  auto c = Client::connect(o);
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, Code::kUnavailable);
  EXPECT_EQ(c.error().message,
            "corrald is not running: no socket at /tmp/corral-ctl-test-missing/s.sock");

  char tmpl[] = "/tmp/corral-ctl-stale.XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string path = dir + "/s.sock";
  {
    UniqueFd s(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  }  // bound, never listened, closed: a stale socket file
  o.socket_path = path;
  c = Client::connect(o);
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().message, HasSubstr("connection refused at " + path));
  EXPECT_EQ(std::system(("rm -rf '" + dir + "'").c_str()), 0);

  o.socket_path = "/" + std::string(200, 'x');
  c = Client::connect(o);
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, Code::kInvalidArgument);
}

TEST(Client, ConnectErrorsAndExitCodes) {
  auto e = connect_error("/run/corral/control.sock", EACCES);
  EXPECT_EQ(e.code, Code::kPermissionDenied);
  EXPECT_THAT(e.message, HasSubstr("permission denied"));
  EXPECT_EQ(exit_code_for(e), kExitPermission);
  EXPECT_EQ(exit_code_for(Error{Code::kInvalidArgument, 0, "x"}), kExitInvalid);
  EXPECT_EQ(exit_code_for(Error{Code::kFailedPrecondition, 0, "x"}), kExitInvalid);
  EXPECT_EQ(exit_code_for(Error{Code::kResourceExhausted, 0, "x"}), kExitTempFail);
  EXPECT_EQ(exit_code_for(Error{Code::kUnimplemented, 0, "x"}), kExitProtocol);
  EXPECT_EQ(exit_code_for(Error{Code::kInternal, 0, "x"}), kExitFailure);
}

TEST(Client, DefaultSocketPathHonoursTheEnvironment) {
  ::unsetenv("CORRAL_SOCKET");
  EXPECT_EQ(default_socket_path(), "/run/corral/control.sock");
  ::setenv("CORRAL_SOCKET", "/tmp/x.sock", 1);
  EXPECT_EQ(default_socket_path(), "/tmp/x.sock");
  ::setenv("CORRAL_SOCKET", "", 1);
  EXPECT_EQ(default_socket_path(), "/run/corral/control.sock");
  ::unsetenv("CORRAL_SOCKET");
}

}  // namespace
}  // namespace corral::ctl
