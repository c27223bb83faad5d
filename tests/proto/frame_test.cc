// Frame codec: round trips under every split of the byte stream, the cap enforced on the header
// before the body arrives, and the status code mapping both ways.
#include "proto/frame.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "corral/v1/control.pb.h"
#include "proto/status.h"

namespace corral::proto {
namespace {

using ::testing::HasSubstr;

v1::Request sample(uint64_t id) {
  v1::Request r;
  r.set_id(id);
  r.set_correlation_id("c-" + std::to_string(id));
  r.mutable_logs()->set_name("plugin-" + std::to_string(id));
  r.mutable_logs()->set_tail(static_cast<uint32_t>(id));
  return r;
}

std::string frame_of(const v1::Request& r) {
  auto f = encode_frame(r);
  EXPECT_TRUE(f.has_value());
  return *f;
}

TEST(Frame, HeaderIsBigEndianLength) {
  v1::Request r = sample(7);
  std::string f = frame_of(r);
  ASSERT_EQ(f.size(), 4 + r.ByteSizeLong());
  EXPECT_EQ(static_cast<unsigned char>(f[0]), 0);
  EXPECT_EQ(static_cast<unsigned char>(f[3]), r.ByteSizeLong());
}

TEST(Frame, RoundTripByteByByte) {
  std::string stream;
  for (uint64_t i = 1; i <= 5; ++i) stream += frame_of(sample(i));
  FrameDecoder d;
  uint64_t next = 1;
  for (char c : stream) {
    d.feed({&c, 1});
    for (;;) {
      auto f = d.next();
      ASSERT_TRUE(f.has_value());
      if (!f->has_value()) break;
      v1::Request r;
      ASSERT_TRUE(r.ParseFromString(**f));
      EXPECT_EQ(r.id(), next);
      EXPECT_EQ(r.logs().name(), "plugin-" + std::to_string(next));
      ++next;
    }
  }
  EXPECT_EQ(next, 6u);
  EXPECT_FALSE(d.mid_frame());
}

TEST(Frame, ManyFramesInOneFeed) {
  std::string stream;
  for (uint64_t i = 1; i <= 100; ++i) stream += frame_of(sample(i));
  FrameDecoder d;
  d.feed(stream);
  int n = 0;
  while (true) {
    auto f = d.next();
    ASSERT_TRUE(f.has_value());
    if (!f->has_value()) break;
    ++n;
  }
  EXPECT_EQ(n, 100);
}

TEST(Frame, ZeroLengthFrameIsAnEmptyPayload) {
  FrameDecoder d;
  d.feed(std::string(4, '\0'));
  auto f = d.next();
  ASSERT_TRUE(f.has_value());
  ASSERT_TRUE(f->has_value());
  EXPECT_TRUE((*f)->empty());
}

TEST(Frame, CapIsInclusiveAndCheckedOnTheHeaderAlone) {
  FrameDecoder d(10);
  std::string at_cap = std::string("\0\0\0\x0a", 4) + std::string(10, 'x');
  d.feed(at_cap);
  auto ok = d.next();
  ASSERT_TRUE(ok.has_value());
  ASSERT_TRUE(ok->has_value());
  EXPECT_EQ((*ok)->size(), 10u);

  FrameDecoder over(10);
  over.feed(std::string("\0\0\0\x0b", 4));  // only the header: no body yet
  auto err = over.next();
  ASSERT_FALSE(err.has_value());
  EXPECT_EQ(err.error().code, Code::kResourceExhausted);
  EXPECT_THAT(err.error().message, HasSubstr("frame of 11 bytes exceeds the cap of 10 bytes"));
}

TEST(Frame, HugeAnnouncedLengthIsRefused) {
  FrameDecoder d;
  d.feed("\xff\xff\xff\xff");
  auto f = d.next();
  ASSERT_FALSE(f.has_value());
  EXPECT_THAT(f.error().message, HasSubstr("4294967295"));
}

TEST(Frame, MidFrameTracksPartialInput) {
  FrameDecoder d;
  EXPECT_FALSE(d.mid_frame());
  std::string f = frame_of(sample(1));
  d.feed(f.substr(0, 2));
  EXPECT_TRUE(d.mid_frame());
  d.feed(f.substr(2, f.size() - 3));
  ASSERT_FALSE(d.next()->has_value());
  EXPECT_TRUE(d.mid_frame());
  d.feed(f.substr(f.size() - 1));
  ASSERT_TRUE(d.next()->has_value());
  EXPECT_FALSE(d.mid_frame());
}

TEST(Frame, EncodeRefusesOversizeMessages) {
  v1::Request r;
  r.mutable_logs()->set_name(std::string(2000, 'n'));
  auto f = encode_frame(r, 1024);
  ASSERT_FALSE(f.has_value());
  EXPECT_EQ(f.error().code, Code::kResourceExhausted);
  EXPECT_THAT(f.error().message, HasSubstr("exceeds the frame cap of 1024 bytes"));
}

TEST(Frame, LongStreamDoesNotGrowTheBufferForever) {
  FrameDecoder d;
  std::string f = frame_of(sample(3));
  std::string half = f.substr(0, f.size() / 2);
  for (int i = 0; i < 20000; ++i) {
    d.feed(f + half);  // always leave half a frame behind
    ASSERT_TRUE(d.next()->has_value());
    d.feed(f.substr(f.size() / 2));
    ASSERT_TRUE(d.next()->has_value());
    ASSERT_LE(d.buffered_bytes(), 2 * f.size());
  }
  EXPECT_FALSE(d.mid_frame());
  EXPECT_EQ(d.buffered_bytes(), 0u);
}

TEST(Status, MappingRoundTripsForEveryCode) {
  for (Code c : {Code::kOk, Code::kInvalidArgument, Code::kNotFound, Code::kAlreadyExists,
                 Code::kFailedPrecondition, Code::kPermissionDenied, Code::kResourceExhausted,
                 Code::kUnavailable, Code::kUnimplemented, Code::kInternal, Code::kProtocol}) {
    EXPECT_EQ(from_wire(to_wire(c)), c) << code_name(c);
  }
  EXPECT_EQ(from_wire(v1::FRAME_TOO_LARGE), Code::kProtocol);
  EXPECT_EQ(from_wire(v1::UNSUPPORTED_VERSION), Code::kProtocol);
  EXPECT_EQ(from_wire(v1::STATUS_UNSPECIFIED), Code::kInternal);
  v1::Response resp;
  set_error(resp, Error{Code::kNotFound, ENOENT, "opening x"});
  EXPECT_EQ(resp.status().code(), v1::NOT_FOUND);
  EXPECT_EQ(resp.status().message(), "opening x: No such file or directory");
}

}  // namespace
}  // namespace corral::proto
