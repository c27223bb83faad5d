// The client library against a scripted fake server on a real AF_UNIX socket: Hello, ids,
// statuses, streams, and every transport failure a user can meet, each with a precise Error.
#include "ctl/client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ctl/exit_codes.h"
#include "proto/frame.h"
#include "tests/ctl/fake_server.h"

namespace corral::ctl {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
using testing::answer_hello;
using testing::FakeServer;
using testing::read_request;
using testing::reply_to;
using testing::write_response;

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

TEST(Client, StreamStopsWhenTheCallbackSaysSo) {
  FakeServer server([&](int fd, proto::FrameDecoder& d) {
    answer_hello(fd, d);
    auto req = read_request(fd, d);
    ASSERT_TRUE(req.has_value());
    // All three in one write: the client hangs up after the second.
    auto r = reply_to(*req);
    r.set_more(true);
    std::string frames;
    for (int i = 0; i < 3; ++i) frames += *proto::encode_frame(r);
    ASSERT_EQ(::send(fd, frames.data(), frames.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(frames.size()));
  });
  auto c = Client::connect(server.options());
  ASSERT_TRUE(c.has_value());
  v1::Request req;
  req.mutable_logs()->set_follow(true);
  int seen = 0;
  auto ok = c->stream(req, [&](const v1::Response&) { return ++seen < 2; });
  ASSERT_TRUE(ok.has_value()) << ok.error().describe();
  EXPECT_EQ(seen, 2);
}

TEST(Client, ResponsesToOtherIdsAreSkipped) {
  FakeServer server([&](int fd, proto::FrameDecoder& d) {
    answer_hello(fd, d);
    auto req = read_request(fd, d);
    ASSERT_TRUE(req.has_value());
    auto stale = reply_to(*req, v1::INTERNAL);
    stale.set_id(req->id() + 100);  // e.g. a late answer to an abandoned request
    write_response(fd, stale);
    auto r = reply_to(*req);
    r.mutable_version()->set_server_version("9.9.9");
    write_response(fd, r);
  });
  auto c = Client::connect(server.options());
  ASSERT_TRUE(c.has_value());
  auto v = c->version();
  ASSERT_TRUE(v.has_value()) << v.error().describe();
  EXPECT_EQ(v->server_version(), "9.9.9");
}

TEST(Client, ServerHangingUpBetweenFramesSaysSo) {
  FakeServer server([&](int fd, proto::FrameDecoder& d) {
    answer_hello(fd, d);
    ASSERT_TRUE(read_request(fd, d).has_value());
  });
  auto c = Client::connect(server.options());
  ASSERT_TRUE(c.has_value());
  auto l = c->list();
  ASSERT_FALSE(l.has_value());
  EXPECT_EQ(l.error().code, Code::kUnavailable);
  EXPECT_EQ(l.error().message, "corrald closed the connection");
}

TEST(Client, TooManyConnectionsIsReportedNotJustAHangUp) {
  // corrald at its connection cap answers (id 0) and closes without reading the Hello.
  FakeServer server([&](int fd, proto::FrameDecoder&) {
    v1::Response r;
    r.mutable_status()->set_code(v1::RESOURCE_EXHAUSTED);
    r.mutable_status()->set_message("too many connections (256)");
    write_response(fd, r);
  });
  auto c = Client::connect(server.options());
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, Code::kResourceExhausted);
  EXPECT_THAT(c.error().message, HasSubstr("too many connections (256)"));
  EXPECT_EQ(exit_code_for(c.error()), kExitTempFail);
}

TEST(Client, HelloPickingAVersionWeDoNotSpeakIsAProtocolError) {
  FakeServer server([&](int fd, proto::FrameDecoder& d) {
    auto req = read_request(fd, d);
    ASSERT_TRUE(req.has_value());
    auto r = reply_to(*req);
    r.mutable_hello()->set_version(7);
    write_response(fd, r);
  });
  auto c = Client::connect(server.options());
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, Code::kProtocol);
  EXPECT_THAT(c.error().message, HasSubstr("protocol version 7"));
}

TEST(Client, ZeroTimeoutWaitsAsLongAsItTakes) {
  FakeServer server([&](int fd, proto::FrameDecoder& d) {
    answer_hello(fd, d);
    auto req = read_request(fd, d);
    ASSERT_TRUE(req.has_value());
    std::this_thread::sleep_for(300ms);
    write_response(fd, reply_to(*req));
  });
  auto o = server.options();
  o.timeout = 0ms;
  auto c = Client::connect(o);
  ASSERT_TRUE(c.has_value());
  auto l = c->list();
  EXPECT_TRUE(l.has_value()) << l.error().describe();
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
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());

  o.socket_path = "/" + std::string(200, 'x');
  c = Client::connect(o);
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, Code::kInvalidArgument);
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
