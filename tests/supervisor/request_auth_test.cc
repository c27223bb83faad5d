// RequestVerifier with a manual clock: a signed request verifies and yields its token; forgery,
// tampering, replay, skew, expiry, unknown clients and disallowed uids are refused with messages
// naming the field; the nonce cache stays bounded by the skew window and refuses when full.
#include "supervisor/request_auth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "proto/request_signature.h"

namespace corral::supervisor {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kSkew = 30'000;
constexpr std::string_view kWebSecret = "web-secret-web-secret-web-secret-0001";
constexpr std::string_view kCiSecret = "ci-secret-ci-secret-ci-secret-ci-0002";
constexpr uid_t kWebUid = 1000;

std::vector<ClientSecret> clients() {
  return {{"web", std::string(kWebSecret), {kWebUid, 1002}}, {"ci", std::string(kCiSecret), {}}};
}

v1::AuthToken token(int64_t expires = kT0 + 3'600'000) {
  v1::AuthToken t;
  t.set_subject("alice@example.com");
  t.set_session_id("sess-9");
  t.add_permissions("plugins.read");
  t.add_permissions("plugins.control");
  t.set_expires_unix_ms(expires);
  return t;
}

v1::Request start(std::string_view name, uint64_t id = 7) {
  v1::Request req;
  req.set_id(id);
  req.mutable_start()->set_name(std::string(name));
  return req;
}

class RequestAuth : public ::testing::Test {
 protected:
  RequestVerifier make(size_t max_nonces = 200000) {
    return RequestVerifier(clients(), kSkew, max_nonces, [this] { return now_; });
  }

  // A request signed now (plus offset) by client id with secret.
  v1::Request signed_start(std::string_view name = "web", int64_t offset_ms = 0,
                           std::string_view id = "web", std::string_view secret = kWebSecret,
                           const v1::AuthToken& t = token()) {
    v1::Request req = start(name);
    auto ok = proto::sign_request(req, id, secret, t, now_ + offset_ms);
    EXPECT_TRUE(ok.has_value()) << ok.error().message;
    return req;
  }

  // Sets auth.signature to the request's MAC under secret after the caller changed it.
  static void resign_mac(v1::Request& req, std::string_view secret) {
    auto mac = proto::request_mac(secret, req);
    req.mutable_auth()->set_signature(reinterpret_cast<const char*>(mac.data()), mac.size());
  }

  int64_t now_ = kT0;
  RequestVerifier v_ = make();
};

void expect_refused(const Result<VerifiedToken>& r, Code code, std::string_view message) {
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, code) << r.error().message;
  EXPECT_EQ(r.error().message, message);
}

constexpr std::string_view kMismatch =
    "auth.signature does not match: a wrong secret, or the request was changed after signing";

TEST_F(RequestAuth, SignedRequestVerifiesAndReturnsTheToken) {
  auto r = v_.verify(signed_start(), kWebUid);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->client_id, "web");
  EXPECT_EQ(r->subject, "alice@example.com");
  EXPECT_EQ(r->session_id, "sess-9");
  EXPECT_THAT(r->permissions, ElementsAre("plugins.control", "plugins.read"));
  EXPECT_EQ(r->expires_unix_ms, kT0 + 3'600'000);
  EXPECT_EQ(v_.nonces_held(), 1u);
  EXPECT_EQ(v_.refused(), 0u);
}

TEST_F(RequestAuth, WildcardPermissionIsKept) {
  v1::AuthToken t = token();
  t.clear_permissions();
  t.add_permissions("*");
  auto r = v_.verify(signed_start("web", 0, "ci", kCiSecret, t), 4242);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_THAT(r->permissions, ElementsAre("*"));
}

TEST_F(RequestAuth, ForgedWithAnotherSecretIsRefused) {
  v1::Request req = signed_start("web", 0, "web", "not-the-web-secret-not-the-web-secret");
  expect_refused(v_.verify(req, kWebUid), Code::kUnauthenticated, kMismatch);
  // Another client's (valid) secret does not sign for this one either.
  req = signed_start("web", 0, "web", kCiSecret);
  expect_refused(v_.verify(req, kWebUid), Code::kUnauthenticated, kMismatch);
  EXPECT_EQ(v_.nonces_held(), 0u);  // forged requests leave nothing behind
  EXPECT_EQ(v_.refused(), 2u);
}

TEST_F(RequestAuth, CommandChangedAfterSigningIsRefused) {
  v1::Request req = signed_start("web");
  req.mutable_start()->set_name("database");
  expect_refused(v_.verify(req, kWebUid), Code::kUnauthenticated, kMismatch);

  req = signed_start("web");
  std::string name = req.start().name();
  req.mutable_stop()->set_name(name);  // the same plugin, another command
  expect_refused(v_.verify(req, kWebUid), Code::kUnauthenticated, kMismatch);
}

TEST_F(RequestAuth, TokenChangedAfterSigningIsRefused) {
  v1::Request req = signed_start();
  req.mutable_auth()->mutable_token()->add_permissions("*");
  expect_refused(v_.verify(req, kWebUid), Code::kUnauthenticated, kMismatch);

  req = signed_start();
  req.mutable_auth()->mutable_token()->set_subject("root@example.com");
  expect_refused(v_.verify(req, kWebUid), Code::kUnauthenticated, kMismatch);

  req = signed_start();
  req.mutable_auth()->mutable_token()->set_expires_unix_ms(kT0 + 86'400'000);
  expect_refused(v_.verify(req, kWebUid), Code::kUnauthenticated, kMismatch);
}

TEST_F(RequestAuth, RequestIdNonceAndTimestampChangedAfterSigningAreRefused) {
  v1::Request req = signed_start();
  req.set_id(req.id() + 1);
  expect_refused(v_.verify(req, kWebUid), Code::kUnauthenticated, kMismatch);

  req = signed_start();
  (*req.mutable_auth()->mutable_nonce())[0] ^= 0x01;
  expect_refused(v_.verify(req, kWebUid), Code::kUnauthenticated, kMismatch);

  req = signed_start();
  req.mutable_auth()->set_timestamp_unix_ms(req.auth().timestamp_unix_ms() + 1);
  expect_refused(v_.verify(req, kWebUid), Code::kUnauthenticated, kMismatch);

  // The correlation id is only for logs: not signed.
  req = signed_start();
  req.set_correlation_id("chosen-later");
  EXPECT_TRUE(v_.verify(req, kWebUid).has_value());
}

TEST_F(RequestAuth, ReplayIsRefused) {
  v1::Request req = signed_start();
  ASSERT_TRUE(v_.verify(req, kWebUid).has_value());
  now_ += 10'000;
  expect_refused(v_.verify(req, kWebUid), Code::kUnauthenticated,
                 "auth.nonce was already used (a replayed request)");
  now_ += 20'000;  // exactly at the edge of the window: still remembered
  expect_refused(v_.verify(req, kWebUid), Code::kUnauthenticated,
                 "auth.nonce was already used (a replayed request)");
}

TEST_F(RequestAuth, ReplayAfterTheWindowIsRefusedAsTooOld) {
  v1::Request req = signed_start();
  ASSERT_TRUE(v_.verify(req, kWebUid).has_value());
  now_ += kSkew + 1;
  expect_refused(v_.verify(req, kWebUid), Code::kUnauthenticated,
                 "auth.timestamp_unix_ms is 30.001 s in the past; corrald accepts 30 s of skew");
  EXPECT_EQ(v_.nonces_held(), 0u);  // forgotten: its timestamp alone refuses it now
}

TEST_F(RequestAuth, ClockGoingBackDoesNotReopenAReplay) {
  v1::Request req = signed_start();
  ASSERT_TRUE(v_.verify(req, kWebUid).has_value());
  now_ += 600'000;  // the wall clock jumps ten minutes ahead: the nonce is forgotten...
  ASSERT_TRUE(v_.verify(signed_start(), kWebUid).has_value());
  EXPECT_EQ(v_.nonces_held(), 1u);
  now_ = kT0 + 1'000;  // ...and back again, into the first request's window
  auto r = v_.verify(req, kWebUid);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kUnauthenticated);
  EXPECT_THAT(r.error().message, HasSubstr("already forgotten"));
  // A request signed after the jump back, newer than what was forgotten, still verifies.
  now_ = kT0 + 2'000;
  EXPECT_TRUE(v_.verify(signed_start(), kWebUid).has_value());
}

TEST_F(RequestAuth, AnotherClientMayUseTheSameNonceBytes) {
  v1::Request web = signed_start("web", 0, "web", kWebSecret);
  v1::Request ci = start("web");
  *ci.mutable_auth() = web.auth();
  ci.mutable_auth()->set_client_id("ci");
  resign_mac(ci, kCiSecret);
  ASSERT_EQ(ci.auth().nonce(), web.auth().nonce());
  EXPECT_TRUE(v_.verify(web, kWebUid).has_value());
  EXPECT_TRUE(v_.verify(ci, kWebUid).has_value());
  EXPECT_EQ(v_.nonces_held(), 2u);
  expect_refused(v_.verify(ci, kWebUid), Code::kUnauthenticated,
                 "auth.nonce was already used (a replayed request)");
}

TEST_F(RequestAuth, ExpiredTokenIsRefused) {
  expect_refused(v_.verify(signed_start("web", 0, "web", kWebSecret, token(kT0 - 3'200)), kWebUid),
                 Code::kUnauthenticated, "auth.token expired 3.2 s ago");
  auto at_expiry = v_.verify(signed_start("web", 0, "web", kWebSecret, token(kT0)), kWebUid);
  ASSERT_FALSE(at_expiry.has_value());
  EXPECT_THAT(at_expiry.error().message, HasSubstr("auth.token expired"));
  EXPECT_TRUE(
      v_.verify(signed_start("web", 0, "web", kWebSecret, token(kT0 + 1)), kWebUid).has_value());
  v1::AuthToken never = token();
  never.clear_expires_unix_ms();
  expect_refused(v_.verify(signed_start("web", 0, "web", kWebSecret, never), kWebUid),
                 Code::kUnauthenticated,
                 "auth.token.expires_unix_ms is not set; a token must say when it expires");
  // Expiry is checked after the signature: an expired token's nonce is not remembered.
  EXPECT_EQ(v_.nonces_held(), 1u);
}

TEST_F(RequestAuth, TimestampsAtTheSkewBoundAreAcceptedAndPastItRefused) {
  EXPECT_TRUE(v_.verify(signed_start("web", -kSkew), kWebUid).has_value());
  EXPECT_TRUE(v_.verify(signed_start("web", +kSkew), kWebUid).has_value());
  expect_refused(v_.verify(signed_start("web", -kSkew - 1), kWebUid), Code::kUnauthenticated,
                 "auth.timestamp_unix_ms is 30.001 s in the past; corrald accepts 30 s of skew");
  expect_refused(v_.verify(signed_start("web", kSkew + 1), kWebUid), Code::kUnauthenticated,
                 "auth.timestamp_unix_ms is 30.001 s in the future; corrald accepts 30 s of skew");
  expect_refused(v_.verify(signed_start("web", -45'000), kWebUid), Code::kUnauthenticated,
                 "auth.timestamp_unix_ms is 45.0 s in the past; corrald accepts 30 s of skew");
  expect_refused(v_.verify(signed_start("web", 45'000), kWebUid), Code::kUnauthenticated,
                 "auth.timestamp_unix_ms is 45.0 s in the future; corrald accepts 30 s of skew");
}

TEST_F(RequestAuth, ExtremeTimestampsDoNotOverflow) {
  for (int64_t ts : {INT64_MIN, INT64_MIN + 1, int64_t{-1}, int64_t{0}, INT64_MAX}) {
    v1::Request req = start("web");
    ASSERT_TRUE(proto::sign_request(req, "web", kWebSecret, token(), ts).has_value());
    auto r = v_.verify(req, kWebUid);
    ASSERT_FALSE(r.has_value()) << ts;
    EXPECT_EQ(r.error().code, Code::kUnauthenticated);
    EXPECT_THAT(r.error().message, HasSubstr("auth.timestamp_unix_ms is "));
  }
}

TEST_F(RequestAuth, UnknownClientIsRefused) {
  v1::Request req = signed_start("web", 0, "x");
  expect_refused(v_.verify(req, kWebUid), Code::kUnauthenticated,
                 "auth.client_id \"x\" is not a client in corrald's config ([[auth.client]])");
  req = signed_start("web", 0, std::string("we\nb\"", 5));
  expect_refused(
      v_.verify(req, kWebUid), Code::kUnauthenticated,
      "auth.client_id \"we\\x0ab\\x22\" is not a client in corrald's config ([[auth.client]])");
  v1::Request bare = start("web");
  expect_refused(v_.verify(bare, kWebUid), Code::kUnauthenticated,
                 "the request has no auth block to verify");
}

TEST_F(RequestAuth, PeerUidMustBeOneOfTheClients) {
  expect_refused(v_.verify(signed_start(), 1001), Code::kPermissionDenied,
                 "uid 1001 may not sign as client \"web\"");
  EXPECT_TRUE(v_.verify(signed_start(), 1002).has_value());
  // "ci" lists no uids: any peer may sign as it.
  EXPECT_TRUE(v_.verify(signed_start("web", 0, "ci", kCiSecret), 0).has_value());
  EXPECT_TRUE(v_.verify(signed_start("web", 0, "ci", kCiSecret), 65534).has_value());
}

TEST_F(RequestAuth, MalformedSignatureAndNonceAreRefused) {
  v1::Request req = signed_start();
  req.mutable_auth()->set_signature("short");
  expect_refused(v_.verify(req, kWebUid), Code::kUnauthenticated,
                 "auth.signature is 5 bytes; an HMAC-SHA256 signature is 32");
  for (size_t n : {size_t{0}, size_t{15}, size_t{65}, size_t{4096}}) {
    req = signed_start();
    req.mutable_auth()->set_nonce(std::string(n, 'n'));
    resign_mac(req, kWebSecret);  // correctly signed, but the nonce is out of bounds
    expect_refused(
        v_.verify(req, kWebUid), Code::kUnauthenticated,
        "auth.nonce is " + std::to_string(n) + " bytes; it must be 16 to 64 random bytes");
  }
  req = signed_start();
  req.mutable_auth()->set_nonce(std::string(64, 'n'));
  resign_mac(req, kWebSecret);
  EXPECT_TRUE(v_.verify(req, kWebUid).has_value());
}

TEST_F(RequestAuth, NonceCacheStaysBoundedByTheSkewWindow) {
  // 100k requests over 10 minutes of simulated time: one every 6 ms, so a 30 s window holds at
  // most 30000 / 6 + 1 = 5001 of them.
  constexpr int kRequests = 100'000;
  constexpr int64_t kStepMs = 6;
  size_t most = 0;
  for (int i = 0; i < kRequests; ++i) {
    // Clients' clocks wander: timestamps up to 20 s behind or 5 s ahead of corrald's.
    int64_t offset = (i * 7919 % 25'001) - 20'000;
    auto r = v_.verify(signed_start("web", offset), kWebUid);
    ASSERT_TRUE(r.has_value()) << i << ": " << r.error().message;
    most = std::max(most, v_.nonces_held());
    now_ += kStepMs;
  }
  EXPECT_EQ(now_ - kT0, kRequests * kStepMs);
  // A held nonce's timestamp is at least now - 30 s and at most 5 s ahead of when it was
  // accepted, so it was accepted within the last 35 s: at most 35000 / 6 + 1 of them.
  EXPECT_LE(most, static_cast<size_t>((kSkew + 5'000) / kStepMs + 1));
  EXPECT_GT(most, static_cast<size_t>(kSkew / kStepMs / 2));
  EXPECT_EQ(v_.refused(), 0u);
  now_ += kSkew + 5'001;
  (void)v_.verify(signed_start(), kWebUid);
  EXPECT_EQ(v_.nonces_held(), 1u);
}

TEST_F(RequestAuth, NonceCacheOfInOrderRequestsHoldsOneWindow) {
  size_t most = 0;
  for (int i = 0; i < 100'000; ++i) {
    ASSERT_TRUE(v_.verify(signed_start(), kWebUid).has_value()) << i;
    most = std::max(most, v_.nonces_held());
    now_ += 6;
  }
  EXPECT_EQ(most, static_cast<size_t>(kSkew / 6 + 1));
}

TEST_F(RequestAuth, FullCacheOfLiveNoncesRefusesUntilTheyAge) {
  RequestVerifier small = make(3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(small.verify(signed_start(), kWebUid).has_value());
  now_ += 1'000;
  expect_refused(small.verify(signed_start(), kWebUid), Code::kResourceExhausted,
                 "too many signed requests in the skew window (3 within 30 s); retry shortly");
  // Forged requests are refused before they reach the cache.
  expect_refused(small.verify(signed_start("web", 0, "web", kCiSecret), kWebUid),
                 Code::kUnauthenticated, kMismatch);
  EXPECT_EQ(small.nonces_held(), 3u);
  EXPECT_EQ(small.refused(), 2u);
  now_ = kT0 + kSkew + 1;  // the first three leave the window
  EXPECT_TRUE(small.verify(signed_start(), kWebUid).has_value());
  EXPECT_EQ(small.nonces_held(), 1u);
}

}  // namespace
}  // namespace corral::supervisor
