// The signed-request MAC and client secret files: a golden signing input and MAC computed outside
// this code (printf + openssl dgst), what signing covers and what it does not, and the file checks
// of load_client_secret (hex, raw, too short, permissions, symlink, trailing newline).
#include "proto/request_signature.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace corral::proto {
namespace {

using ::testing::HasSubstr;

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string hex(const std::array<uint8_t, kMacBytes>& mac) {
  return hex(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
}

// The golden request. Its command encodes as 72070a037765621007 and its token as
// 0a11616c696365...20e0a499ffbc31 (checked with protoc --encode and by hand).
v1::Request golden_request() {
  v1::Request req;
  req.set_id(42);
  req.set_correlation_id("corr-1");  // not signed
  req.mutable_start()->set_name("web");
  req.mutable_start()->set_expected_generation(7);
  v1::RequestAuth& auth = *req.mutable_auth();
  auth.set_client_id("web");
  auth.mutable_token()->set_subject("alice@example.com");
  auth.mutable_token()->set_session_id("s-1");
  auth.mutable_token()->add_permissions("plugins.read");
  auth.mutable_token()->add_permissions("plugins.write");
  auth.mutable_token()->set_expires_unix_ms(1700000060000);
  std::string nonce;
  for (int i = 0; i < 16; ++i) nonce += static_cast<char>(i);
  auth.set_nonce(nonce);
  auth.set_timestamp_unix_ms(1700000000000);
  return req;
}

constexpr std::string_view kGoldenSecret = "corral-golden-test-secret-0123456789";

// Computed outside this code: the command and token bytes written by hand with printf and
// checked against protoc --encode, their digests from `openssl dgst -sha256`, the parts
// concatenated with printf into input.bin, then
//   openssl dgst -sha256 -mac HMAC -macopt hexkey:$(printf %s "$secret" | xxd -p) input.bin
// (and again with Python's hmac module: the same MAC).
constexpr std::string_view kGoldenInput =
    "00000011636f7272616c2d726571756573742d7631"                                 // domain
    "00000003776562"                                                             // client_id
    "00000008000000000000002a"                                                   // id 42
    "00000010000102030405060708090a0b0c0d0e0f"                                   // nonce
    "000000080000018bcfe56800"                                                   // 1700000000000
    "0000002079225e542ded5309fab84b7b3189a93c4333d9558733c207dad993e7b0cb152c"   // command
    "00000020dce78ad9ed3be672169130fbde6d721ca9303d432ab88a87a9d886c2b0151a69";  // token
constexpr std::string_view kGoldenMac =
    "6db20ea35c48f4b25f186fd9bb1bc6a6b262446740df90596c63cac9c05d45ef";

TEST(RequestSignature, GoldenSigningInputAndMac) {
  v1::Request req = golden_request();
  EXPECT_EQ(hex(signing_input(req)), kGoldenInput);
  EXPECT_EQ(hex(request_mac(kGoldenSecret, req)), kGoldenMac);
}

TEST(RequestSignature, CorrelationIdAndSignatureAreNotSigned) {
  v1::Request req = golden_request();
  req.set_correlation_id("something else");
  req.mutable_auth()->set_signature(std::string(32, 'x'));
  EXPECT_EQ(hex(request_mac(kGoldenSecret, req)), kGoldenMac);
}

TEST(RequestSignature, EveryPartChangesTheMac) {
  const std::string golden = hex(request_mac(kGoldenSecret, golden_request()));
  std::vector<std::function<void(v1::Request&)>> changes = {
      [](v1::Request& r) { r.set_id(43); },
      [](v1::Request& r) { r.mutable_start()->set_name("web2"); },
      [](v1::Request& r) { r.mutable_start()->clear_expected_generation(); },
      [](v1::Request& r) { r.mutable_stop()->set_name("web"); },  // same name, other command
      [](v1::Request& r) { r.mutable_auth()->set_client_id("web2"); },
      [](v1::Request& r) { r.mutable_auth()->mutable_nonce()->back() ^= 1; },
      [](v1::Request& r) { r.mutable_auth()->set_timestamp_unix_ms(1700000000001); },
      [](v1::Request& r) { r.mutable_auth()->mutable_token()->set_subject("mallory"); },
      [](v1::Request& r) { r.mutable_auth()->mutable_token()->add_permissions("*"); },
      [](v1::Request& r) { r.mutable_auth()->mutable_token()->set_expires_unix_ms(1); },
  };
  for (size_t i = 0; i < changes.size(); ++i) {
    v1::Request req = golden_request();
    changes[i](req);
    EXPECT_NE(hex(request_mac(kGoldenSecret, req)), golden) << "change " << i;
  }
  EXPECT_NE(hex(request_mac("another-secret-another-secret-xx", golden_request())), golden);
}

TEST(RequestSignature, SignRequestFillsAuthWithFreshNonces) {
  v1::Request a;
  a.set_id(1);
  a.mutable_list();
  v1::Request b = a;
  v1::AuthToken token;
  token.set_subject("alice");
  ASSERT_TRUE(sign_request(a, "web", kGoldenSecret, token, 1000).has_value());
  ASSERT_TRUE(sign_request(b, "web", kGoldenSecret, token, 1000).has_value());
  EXPECT_EQ(a.auth().client_id(), "web");
  EXPECT_EQ(a.auth().token().subject(), "alice");
  EXPECT_EQ(a.auth().timestamp_unix_ms(), 1000);
  EXPECT_EQ(a.auth().nonce().size(), kNonceBytes);
  EXPECT_EQ(a.auth().signature().size(), kMacBytes);
  EXPECT_NE(a.auth().nonce(), b.auth().nonce());
  EXPECT_TRUE(signature_matches(kGoldenSecret, a));
  EXPECT_FALSE(signature_matches("not-the-secret-not-the-secret-xx", a));
}

TEST(RequestSignature, ResigningWithItsOwnTokenKeepsTheToken) {
  v1::Request req;
  req.mutable_list();
  v1::AuthToken token;
  token.set_subject("alice");
  ASSERT_TRUE(sign_request(req, "web", kGoldenSecret, token, 1000).has_value());
  ASSERT_TRUE(sign_request(req, req.auth().client_id(), kGoldenSecret, req.auth().token(), 2000)
                  .has_value());
  EXPECT_EQ(req.auth().client_id(), "web");
  EXPECT_EQ(req.auth().token().subject(), "alice");
  EXPECT_TRUE(signature_matches(kGoldenSecret, req));
}

TEST(RequestSignature, SignRequestNeedsACommandAClientAndASecret) {
  v1::Request req;
  auto r = sign_request(req, "web", kGoldenSecret, {}, 1000);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, HasSubstr("no command"));
  req.mutable_list();
  EXPECT_FALSE(sign_request(req, "", kGoldenSecret, {}, 1000).has_value());
  EXPECT_FALSE(sign_request(req, "web", "", {}, 1000).has_value());
}

TEST(RequestSignature, SignatureOfTheWrongLengthNeverMatches) {
  v1::Request req = golden_request();
  auto mac = request_mac(kGoldenSecret, req);
  std::string sig(reinterpret_cast<const char*>(mac.data()), mac.size());
  req.mutable_auth()->set_signature(sig);
  EXPECT_TRUE(signature_matches(kGoldenSecret, req));
  req.mutable_auth()->set_signature(sig.substr(0, 16));
  EXPECT_FALSE(signature_matches(kGoldenSecret, req));
  req.mutable_auth()->set_signature(sig + "x");
  EXPECT_FALSE(signature_matches(kGoldenSecret, req));
  req.mutable_auth()->clear_signature();
  EXPECT_FALSE(signature_matches(kGoldenSecret, req));
}

// A newer client's command (a field this build does not know) is kept as an unknown field and
// still covered by the command digest, so corrald can verify it and then answer UNIMPLEMENTED.
TEST(RequestSignature, AnUnknownCommandIsSignedByItsBytes) {
  v1::Request req = golden_request();
  req.clear_start();
  std::string wire = req.SerializeAsString() + std::string("\xfa\x06\x03\x0a\x01x", 6);  // 111
  v1::Request parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  ASSERT_EQ(parsed.command_case(), v1::Request::COMMAND_NOT_SET);
  auto with_unknown = request_mac(kGoldenSecret, parsed);
  EXPECT_NE(hex(with_unknown), hex(request_mac(kGoldenSecret, req)));
  v1::Request reparsed;
  ASSERT_TRUE(reparsed.ParseFromString(parsed.SerializeAsString()));
  EXPECT_EQ(hex(request_mac(kGoldenSecret, reparsed)), hex(with_unknown));
}

// RunRequest.env is a map: its order in memory or on the wire must not change the digest.
TEST(RequestSignature, MapOrderDoesNotChangeTheMac) {
  v1::Request forward = golden_request();
  v1::Request backward = golden_request();
  forward.mutable_run()->set_exec("/bin/true");
  backward.mutable_run()->set_exec("/bin/true");
  for (int i = 0; i < 64; ++i) {
    (*forward.mutable_run()->mutable_env())["K" + std::to_string(i)] = std::to_string(i);
    (*backward.mutable_run()->mutable_env())["K" + std::to_string(63 - i)] = std::to_string(63 - i);
  }
  EXPECT_EQ(signing_input(forward), signing_input(backward));
  v1::Request parsed;
  ASSERT_TRUE(parsed.ParseFromString(backward.SerializeAsString()));
  EXPECT_EQ(hex(request_mac(kGoldenSecret, parsed)), hex(request_mac(kGoldenSecret, forward)));
}

class RequestSignatureSecretFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/corral-secret-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, std::string_view content, mode_t mode = 0600) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }

  std::string dir_;
};

constexpr std::string_view kHex64 =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1F";

TEST_F(RequestSignatureSecretFile, HexIsDecoded) {
  auto s = load_client_secret(write("web.key", kHex64));
  ASSERT_TRUE(s.has_value()) << s.error().message;
  ASSERT_EQ(s->size(), 32u);
  EXPECT_EQ((*s)[0], '\x00');
  EXPECT_EQ((*s)[31], '\x1f');
}

TEST_F(RequestSignatureSecretFile, TrailingNewlinesAreStripped) {
  auto hex_nl = load_client_secret(write("a.key", std::string(kHex64) + "\n"));
  ASSERT_TRUE(hex_nl.has_value()) << hex_nl.error().message;
  EXPECT_EQ(hex_nl->size(), 32u);
  auto raw_nl = load_client_secret(write("b.key", std::string(40, 'z') + "\r\n\n"));
  ASSERT_TRUE(raw_nl.has_value()) << raw_nl.error().message;
  EXPECT_EQ(*raw_nl, std::string(40, 'z'));
}

TEST_F(RequestSignatureSecretFile, RawBytesAreTakenAsTheyAre) {
  std::string raw(48, '\0');
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<char>(i * 37 + 200);
  auto s = load_client_secret(write("raw.key", raw));
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(*s, raw);
  // Fewer than 64 hex digits are not taken for hex: 40 ASCII bytes of secret.
  auto short_hex = load_client_secret(write("h40.key", std::string(40, 'a')));
  ASSERT_TRUE(short_hex.has_value());
  EXPECT_EQ(short_hex->size(), 40u);
}

TEST_F(RequestSignatureSecretFile, TooShortIsRefused) {
  auto raw = load_client_secret(write("short.key", "hunter2\n"));
  ASSERT_FALSE(raw.has_value());
  EXPECT_THAT(raw.error().message, HasSubstr("holds a 7-byte secret"));
  EXPECT_THAT(raw.error().message, HasSubstr("at least 32 bytes"));
  EXPECT_FALSE(load_client_secret(write("empty.key", "\n")).has_value());
  auto odd = load_client_secret(write("odd.key", std::string(kHex64) + "a"));
  ASSERT_FALSE(odd.has_value());
  EXPECT_THAT(odd.error().message, HasSubstr("65 hex digits"));
}

TEST_F(RequestSignatureSecretFile, GroupOrOtherAccessIsRefused) {
  std::string path = write("web.key", kHex64, 0644);
  auto s = load_client_secret(path);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().message, "\"" + path +
                                   "\" is mode 0644; it must not be readable by group or others "
                                   "(chmod 600)");
  EXPECT_FALSE(load_client_secret(write("g.key", kHex64, 0640)).has_value());
  EXPECT_FALSE(load_client_secret(write("w.key", kHex64, 0602)).has_value());
  EXPECT_TRUE(load_client_secret(write("ro.key", kHex64, 0400)).has_value());
}

TEST_F(RequestSignatureSecretFile, SymlinkIsRefused) {
  std::string target = write("real.key", kHex64);
  std::string link = dir_ + "/link.key";
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  auto s = load_client_secret(link);
  ASSERT_FALSE(s.has_value());
  EXPECT_THAT(s.error().message, HasSubstr("is a symlink"));
}

TEST_F(RequestSignatureSecretFile, DirectoryAndMissingFileAreRefused) {
  std::string sub = dir_ + "/sub";
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  auto d = load_client_secret(sub);
  ASSERT_FALSE(d.has_value());
  EXPECT_THAT(d.error().message, HasSubstr("not a regular file"));
  auto m = load_client_secret(dir_ + "/missing.key");
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().code, Code::kNotFound);
}

}  // namespace
}  // namespace corral::proto
