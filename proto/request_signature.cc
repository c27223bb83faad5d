#include "proto/request_signature.h"

#include "common/hex.h"
#include "common/sha256.h"

#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>

#include "common/unique_fd.h"

namespace corral::proto {

namespace {

constexpr size_t kMaxSecretFileBytes = 64 << 10;
constexpr size_t kMinHexDigits = 2 * kMinClientSecretBytes;

void put_u32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

void put_u64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

// One part of the signing input: its length (4 bytes big-endian), then its bytes. Frames are
// capped far below 4 GiB, so the length always fits.
void put_part(std::string& out, std::string_view bytes) {
  put_u32(out, static_cast<uint32_t>(bytes.size()));
  out.append(bytes);
}

void put_u64_part(std::string& out, uint64_t v) {
  put_u32(out, 8);
  put_u64(out, v);
}

std::string serialize_deterministic(const google::protobuf::MessageLite& msg) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    // Fails only past 2 GiB (proto3 has no required fields); frames are capped far below.
    (void)msg.SerializeToCodedStream(&coded);
  }  // the CodedOutputStream trims `out` to what it wrote when it goes
  return out;
}

std::optional<std::array<uint8_t, kMacBytes>> hmac_sha256(std::string_view key,
                                                          std::string_view data) {
  // OpenSSL 3.0's HMAC() refuses a null key even when its length is 0.
  static const char kEmpty = 0;
  const void* key_ptr = key.empty() ? &kEmpty : key.data();
  std::array<uint8_t, kMacBytes> mac{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key_ptr, static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(),
           &len) == nullptr ||
      len != kMacBytes) {
    return std::nullopt;
  }
  return mac;
}

std::string quoted(const std::string& path) { return "\"" + path + "\""; }

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace

std::string signing_input(const v1::Request& req) {
  v1::Request command = req;
  command.clear_id();
  command.clear_correlation_id();
  command.clear_auth();
  const v1::RequestAuth& auth = req.auth();

  std::string out;
  out.reserve(4 * 7 + kSigningDomain.size() + auth.client_id().size() + 8 + auth.nonce().size() +
              8 + 2 * SHA256_DIGEST_LENGTH);
  put_part(out, kSigningDomain);
  put_part(out, auth.client_id());
  put_u64_part(out, req.id());
  put_part(out, auth.nonce());
  put_u64_part(out, static_cast<uint64_t>(auth.timestamp_unix_ms()));
  put_part(out, sha256(serialize_deterministic(command)));
  put_part(out, sha256(serialize_deterministic(auth.token())));
  return out;
}

std::array<uint8_t, kMacBytes> request_mac(std::string_view secret, const v1::Request& req) {
  auto mac = hmac_sha256(secret, signing_input(req));
  if (!mac) std::abort();  // see the header: never hand out a MAC that is not one
  return *mac;
}

Result<void> sign_request(v1::Request& req, std::string_view client_id, std::string_view secret,
                          const v1::AuthToken& token, int64_t now_unix_ms) {
  if (req.command_case() == v1::Request::COMMAND_NOT_SET) {
    return make_error(Code::kInvalidArgument,
                      "sign_request: the request has no command yet (set it before signing)");
  }
  if (client_id.empty()) return make_error(Code::kInvalidArgument, "sign_request: no client_id");
  if (secret.empty()) return make_error(Code::kInvalidArgument, "sign_request: empty secret");

  v1::AuthToken token_copy = token;  // token may be req's own (re-signing)
  std::string id_copy(client_id);
  v1::RequestAuth& auth = *req.mutable_auth();
  auth.Clear();
  auth.set_client_id(std::move(id_copy));
  *auth.mutable_token() = std::move(token_copy);
  unsigned char nonce[kNonceBytes];
  if (RAND_bytes(nonce, sizeof nonce) != 1) {
    req.clear_auth();
    return make_error(Code::kInternal, "sign_request: RAND_bytes could not make a nonce");
  }
  auth.set_nonce(reinterpret_cast<const char*>(nonce), sizeof nonce);
  auth.set_timestamp_unix_ms(now_unix_ms);
  auto mac = hmac_sha256(secret, signing_input(req));
  if (!mac) {
    req.clear_auth();
    return make_error(Code::kInternal, "sign_request: HMAC-SHA256 failed");
  }
  auth.set_signature(reinterpret_cast<const char*>(mac->data()), mac->size());
  return {};
}

bool signature_matches(std::string_view secret, const v1::Request& req) {
  const std::string& sig = req.auth().signature();
  if (sig.size() != kMacBytes) return false;
  auto mac = hmac_sha256(secret, signing_input(req));
  return mac && CRYPTO_memcmp(mac->data(), sig.data(), kMacBytes) == 0;
}

Result<std::string> load_client_secret(const std::string& path) {
  // Opened without following a symlink and checked through the fd, so that what is checked is
  // what is read.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
  if (!fd) {
    if (errno == ELOOP) {
      return make_error(Code::kPermissionDenied,
                        quoted(path) + " is a symlink; a client secret must be a regular file");
    }
    return sys_error("cannot open the client secret " + quoted(path));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return sys_error("cannot stat " + quoted(path));
  if (!S_ISREG(st.st_mode)) {
    return make_error(Code::kInvalidArgument,
                      quoted(path) + " is not a regular file; a client secret must be one");
  }
  if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
    return make_error(Code::kPermissionDenied,
                      quoted(path) + " is owned by uid " + std::to_string(st.st_uid) +
                          "; a client secret must be owned by root or by uid " +
                          std::to_string(::geteuid()));
  }
  if ((st.st_mode & 077) != 0) {
    return make_error(Code::kPermissionDenied,
                      quoted(path) + " is mode " + octal_mode(st.st_mode) +
                          "; it must not be readable by group or others (chmod 600)");
  }

  std::string content;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("cannot read " + quoted(path));
    }
    if (n == 0) break;
    content.append(buf, static_cast<size_t>(n));
    if (content.size() > kMaxSecretFileBytes) {
      return make_error(Code::kInvalidArgument,
                        quoted(path) + " is larger than " + std::to_string(kMaxSecretFileBytes) +
                            " bytes; it does not look like a client secret");
    }
  }
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) {
    content.pop_back();
  }

  std::string secret;
  if (content.size() >= kMinHexDigits && is_hex(content)) {
    if (content.size() % 2 != 0) {
      return make_error(Code::kInvalidArgument,
                        quoted(path) + " holds " + std::to_string(content.size()) +
                            " hex digits; a hex secret needs an even number");
    }
    secret = from_hex(content);
  } else {
    secret = std::move(content);
  }
  if (secret.size() < kMinClientSecretBytes) {
    return make_error(Code::kInvalidArgument,
                      quoted(path) + " holds a " + std::to_string(secret.size()) +
                          "-byte secret; a client secret must be at least " +
                          std::to_string(kMinClientSecretBytes) +
                          " bytes (e.g. openssl rand -hex 32)");
  }
  return secret;
}

}  // namespace corral::proto
