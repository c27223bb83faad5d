// Protocol abuse against a real corrald: every bad input gets a precise error or a clean close,
// and the daemon keeps serving every other client afterwards.
#include <sys/socket.h>

#include <gmock/gmock.h>

#include "proto/frame.h"
#include "tests/e2e/corrald_fixture.h"

namespace corral::e2e {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

class Protocol : public CorraldFixture {
 protected:
  void SetUp() override {
    CorraldFixture::SetUp();
    write_manifest("p.toml", "name = \"p\"\nexec = \"/bin/sleep\"\nargs = [\"600\"]\n");
    start_daemon({"--log-level", "debug"});
  }
  // After each abuse, a well-behaved client must still be served.
  void expect_still_serving() {
    auto c = client();
    auto list = c.list();
    ASSERT_TRUE(list.has_value()) << list.error().describe();
    EXPECT_EQ(list->plugins_size(), 1);
  }
  UniqueFd hello_done() {
    UniqueFd fd = raw_connect();
    EXPECT_TRUE(send_request(fd.get(), hello_request()));
    auto r = read_response(fd.get());
    EXPECT_TRUE(r && r->status().code() == v1::OK);
    return fd;
  }
};

TEST_F(Protocol, HelloNegotiatesAndDiscoversCommands) {
  UniqueFd fd = raw_connect();
  v1::Request req = hello_request(1, 9);
  req.set_id(42);
  req.set_correlation_id("corr-1");
  ASSERT_TRUE(send_request(fd.get(), req));
  auto r = read_response(fd.get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->id(), 42u);
  EXPECT_EQ(r->correlation_id(), "corr-1");
  EXPECT_EQ(r->status().code(), v1::OK);
  const auto& h = r->hello();
  EXPECT_EQ(h.version(), 2u);
  EXPECT_EQ(h.server_max_version(), 2u);
  EXPECT_EQ(h.max_frame_bytes(), 1u << 20);
  std::vector<std::string> names;
  for (const auto& c : h.commands()) {
    names.push_back(c.name());
    EXPECT_LE(c.since_version(), 2u);
    EXPECT_GT(c.field_number(), 0u);
  }
  EXPECT_THAT(names, ::testing::IsSupersetOf({"hello", "version", "list", "status", "start", "stop",
                                              "restart", "logs", "doctor", "health", "breakers",
                                              "reset", "events"}));
  EXPECT_EQ(h.features().at("launcher"), "direct");
}

TEST_F(Protocol, NoCommonVersionIsRefusedAndClosed) {
  UniqueFd fd = raw_connect();
  ASSERT_TRUE(send_request(fd.get(), hello_request(5, 7)));
  auto r = read_response(fd.get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status().code(), v1::UNSUPPORTED_VERSION);
  EXPECT_THAT(r->status().message(), HasSubstr("client speaks 5..7, corrald speaks 1..2"));
  EXPECT_TRUE(peer_closed(fd.get()));
  expect_still_serving();
}

TEST_F(Protocol, BadHelloRangeIsInvalid) {
  UniqueFd fd = raw_connect();
  ASSERT_TRUE(send_request(fd.get(), hello_request(3, 2)));
  auto r = read_response(fd.get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status().code(), v1::INVALID_ARGUMENT);
}

TEST_F(Protocol, CommandBeforeHelloIsRefused) {
  UniqueFd fd = raw_connect();
  v1::Request req;
  req.set_id(7);
  req.mutable_list();
  ASSERT_TRUE(send_request(fd.get(), req));
  auto r = read_response(fd.get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->id(), 7u);
  EXPECT_EQ(r->status().code(), v1::FAILED_PRECONDITION);
  EXPECT_THAT(r->status().message(), HasSubstr("must be Hello"));
}

TEST_F(Protocol, MalformedFrameGetsAnErrorAndTheConnectionStaysUsable) {
  UniqueFd fd = hello_done();
  std::string garbage = "\xff\xff\xff\xff\xff";
  std::string frame = {0, 0, 0, static_cast<char>(garbage.size())};
  ASSERT_TRUE(send_all(fd.get(), frame + garbage));
  auto r = read_response(fd.get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status().code(), v1::MALFORMED_FRAME);
  EXPECT_THAT(r->status().message(), HasSubstr("5-byte frame is not a corral.v1.Request"));
  v1::Request req;
  req.set_id(9);
  req.mutable_list();
  ASSERT_TRUE(send_request(fd.get(), req));
  r = read_response(fd.get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status().code(), v1::OK);
  EXPECT_EQ(r->list().plugins_size(), 1);
}

TEST_F(Protocol, OversizeFrameIsRefusedBeforeItsBodyAndClosed) {
  UniqueFd fd = hello_done();
  uint32_t len = (1u << 20) + 1;
  std::string hdr = {static_cast<char>(len >> 24), static_cast<char>(len >> 16),
                     static_cast<char>(len >> 8), static_cast<char>(len)};
  ASSERT_TRUE(send_all(fd.get(), hdr));  // no body: the refusal must not wait for it
  auto r = read_response(fd.get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status().code(), v1::FRAME_TOO_LARGE);
  EXPECT_THAT(r->status().message(), HasSubstr("1048577 bytes exceeds the cap of 1048576"));
  EXPECT_TRUE(peer_closed(fd.get()));
  expect_still_serving();
}

TEST_F(Protocol, UnknownCommandIsUnimplementedAndNamesTheField) {
  UniqueFd fd = hello_done();
  // Request{id=5 (field 1), field 99 = empty message}: a command from a newer protocol.
  std::string body = {0x08, 0x05, static_cast<char>(0x9a), 0x06, 0x00};
  std::string frame = {0, 0, 0, static_cast<char>(body.size())};
  ASSERT_TRUE(send_all(fd.get(), frame + body));
  auto r = read_response(fd.get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->id(), 5u);
  EXPECT_EQ(r->status().code(), v1::UNIMPLEMENTED);
  EXPECT_THAT(r->status().message(), HasSubstr("Request field 99"));
}

TEST_F(Protocol, EmptyRequestHasNoCommand) {
  UniqueFd fd = hello_done();
  ASSERT_TRUE(send_all(fd.get(), std::string(4, '\0')));
  auto r = read_response(fd.get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status().code(), v1::INVALID_ARGUMENT);
  EXPECT_THAT(r->status().message(), HasSubstr("no command"));
}

TEST_F(Protocol, UnknownAndInvalidPluginNames) {
  auto c = client();
  auto r = c.status("nope");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kNotFound);
  EXPECT_THAT(r.error().message, HasSubstr("no plugin named \"nope\""));

  r = c.status("../etc/passwd");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_THAT(r.error().message, HasSubstr("status.name"));

  r = c.status("");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_THAT(r.error().message, HasSubstr("status.name: required"));

  v1::Request req;
  req.mutable_stop()->set_name("p");
  req.mutable_stop()->set_timeout_ms(700000);
  auto resp = c.call(req);
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->status().code(), v1::INVALID_ARGUMENT);
  EXPECT_THAT(resp->status().message(), HasSubstr("stop.timeout_ms: 700000; at most 600000"));

  req.Clear();
  req.mutable_logs()->set_name("p");
  req.mutable_logs()->set_tail(1000000);
  resp = c.call(req);
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->status().code(), v1::INVALID_ARGUMENT);
  EXPECT_THAT(resp->status().message(), HasSubstr("logs.tail"));
}

TEST_F(Protocol, DisconnectMidFrameLeavesOthersServed) {
  {
    UniqueFd fd = hello_done();
    ASSERT_TRUE(send_all(fd.get(), std::string("\0\0", 2)));  // half a header
  }
  {
    UniqueFd fd = hello_done();
    std::string partial = {0, 0, 0, 100, 0x08, 0x01};  // header promises 100, sends 2
    ASSERT_TRUE(send_all(fd.get(), partial));
  }
  {
    UniqueFd fd = raw_connect();  // connect and vanish without a byte
  }
  expect_still_serving();
  EXPECT_TRUE(wait_until(
      [&] { return daemon_log().find("hung up in the middle of a frame") != std::string::npos; }));
}

TEST_F(Protocol, ManyRequestsPipelinedOnOneConnectionAreAnsweredInOrder) {
  UniqueFd fd = hello_done();
  std::string batch;
  for (uint64_t i = 100; i < 150; ++i) {
    v1::Request req;
    req.set_id(i);
    req.mutable_status()->set_name(i % 2 ? "p" : "missing");
    batch += *proto::encode_frame(req);
  }
  ASSERT_TRUE(send_all(fd.get(), batch));
  for (uint64_t i = 100; i < 150; ++i) {
    auto r = read_response(fd.get());
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->id(), i);
    EXPECT_EQ(r->status().code(), i % 2 ? v1::OK : v1::NOT_FOUND);
  }
}

TEST_F(Protocol, ClientThatNeverReadsIsDisconnectedNotBuffered) {
  UniqueFd fd = hello_done();
  int small = 4096;
  ASSERT_EQ(::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  // Ask for the same status over and over without reading a single answer.
  v1::Request req;
  req.mutable_list();
  std::string frame = *proto::encode_frame(req);
  std::string batch;
  for (int i = 0; i < 2000; ++i) batch += frame;
  bool closed = false;
  for (int round = 0; round < 200 && !closed; ++round) {
    closed = !send_all(fd.get(), batch);
  }
  EXPECT_TRUE(closed || wait_until([&] {
                return daemon_log().find("is not reading its responses") != std::string::npos;
              }));
  expect_still_serving();
}

}  // namespace
}  // namespace corral::e2e
