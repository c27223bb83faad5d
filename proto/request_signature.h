// Signed control requests (protocol v2), shared by clients and corrald: the exact bytes the
// HMAC-SHA256 covers (see the comment above AuthToken in control.proto), signing a request,
// checking a signature in constant time, and loading a client secret file safely.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"
#include "corral/v1/control.pb.h"

namespace corral::proto {

inline constexpr std::string_view kSigningDomain = "corral-request-v1";
inline constexpr size_t kMacBytes = 32;
inline constexpr size_t kNonceBytes = 16;  // what sign_request draws
inline constexpr size_t kMinClientSecretBytes = 32;

// Each part as a 4-byte big-endian length, then its bytes: kSigningDomain, auth.client_id, the
// request id (8 bytes big-endian), auth.nonce, auth.timestamp_unix_ms (8 bytes big-endian, two's
// complement), SHA-256 of the command (a copy of req without id, correlation_id and auth, so
// holding only the command field, serialized deterministically) and SHA-256 of auth.token
// (serialized deterministically). Unknown fields are kept, so a command newer than this build
// still verifies and is then refused as UNIMPLEMENTED. correlation_id is not signed.
[[nodiscard]] std::string signing_input(const v1::Request& req);

// HMAC-SHA256(secret, signing_input(req)). HMAC-SHA256 cannot fail short of a broken OpenSSL;
// this aborts then rather than return a predictable MAC.
[[nodiscard]] std::array<uint8_t, kMacBytes> request_mac(std::string_view secret,
                                                         const v1::Request& req);

// Fills req.auth: client_id, token, a fresh 16-byte nonce (RAND_bytes), timestamp and signature.
// Call it last, once the command and id are set; changing the request afterwards voids it.
[[nodiscard]] Result<void> sign_request(v1::Request& req, std::string_view client_id,
                                        std::string_view secret, const v1::AuthToken& token,
                                        int64_t now_unix_ms);

// Whether req.auth.signature is the request's MAC under secret (CRYPTO_memcmp). False for a
// signature that is not 32 bytes.
[[nodiscard]] bool signature_matches(std::string_view secret, const v1::Request& req);

// Reads a client secret: path must be a regular file (not a symlink), owned by root or this
// process's euid, with no group or other permission bits. Its content (trailing newlines
// stripped) is 64 or more hex digits, decoded, or else raw bytes; at least 32 bytes either way.
[[nodiscard]] Result<std::string> load_client_secret(const std::string& path);

}  // namespace corral::proto
