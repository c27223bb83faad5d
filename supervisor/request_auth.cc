#include "supervisor/request_auth.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "proto/request_signature.h"

namespace corral::supervisor {

namespace {

constexpr size_t kMinNonceBytes = 16;
constexpr size_t kMaxNonceBytes = 64;
constexpr size_t kMaxQuotedBytes = 64;

// a - b, saturated: timestamps come from the peer and may be anything.
int64_t sub_sat(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r)) return b < 0 ? INT64_MAX : INT64_MIN;
  return r;
}

// A peer's string for a message: quoted, non-printable bytes escaped, long ones cut.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMaxQuotedBytes; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > kMaxQuotedBytes) out += "...";
  return out + "\"";
}

// "45.0" for 45000 ms; three decimals when one would hide how far past the bound it is.
std::string seconds_past(int64_t ms, int64_t bound_ms) {
  char buf[32];
  bool close = ms - bound_ms < 100;
  std::snprintf(buf, sizeof buf, close ? "%.3f" : "%.1f", static_cast<double>(ms) / 1000.0);
  return buf;
}

std::string seconds(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(ms) / 1000.0);
  return buf;
}

[[nodiscard]] std::unexpected<Error> unauthenticated(
    std::string message, std::source_location loc = std::source_location::current()) {
  return make_error(Code::kUnauthenticated, std::move(message), loc);
}

}  // namespace

int64_t system_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

RequestVerifier::RequestVerifier(std::vector<ClientSecret> clients, int64_t max_skew_ms,
                                 size_t max_nonces, Clock clock)
    : clients_(std::move(clients)),
      max_skew_ms_(std::max<int64_t>(max_skew_ms, 0)),
      max_nonces_(max_nonces),
      clock_(clock ? std::move(clock) : Clock(system_unix_ms)) {
  for (size_t i = 0; i < clients_.size(); ++i) by_id_.emplace(clients_[i].id, i);
}

Result<VerifiedToken> RequestVerifier::verify(const v1::Request& req, uid_t peer_uid) {
  auto r = check(req, peer_uid);
  if (!r) ++refused_;
  return r;
}

void RequestVerifier::prune(int64_t now) {
  int64_t oldest_kept = sub_sat(now, max_skew_ms_);
  while (!by_timestamp_.empty() && by_timestamp_.begin()->first < oldest_kept) {
    auto first = by_timestamp_.begin();
    forgotten_through_ = std::max(forgotten_through_, first->first);
    seen_.erase(first->second);
    by_timestamp_.erase(first);
  }
}

Result<VerifiedToken> RequestVerifier::check(const v1::Request& req, uid_t peer_uid) {
  if (!req.has_auth()) return unauthenticated("the request has no auth block to verify");
  const v1::RequestAuth& auth = req.auth();

  auto known = by_id_.find(auth.client_id());
  if (known == by_id_.end()) {
    return unauthenticated("auth.client_id " + quoted(auth.client_id()) +
                           " is not a client in corrald's config ([[auth.client]])");
  }
  const size_t index = known->second;
  const ClientSecret& client = clients_[index];
  if (!client.uids.empty() &&
      std::find(client.uids.begin(), client.uids.end(), peer_uid) == client.uids.end()) {
    return make_error(Code::kPermissionDenied, "uid " + std::to_string(peer_uid) +
                                                   " may not sign as client " + quoted(client.id));
  }

  const int64_t now = clock_();
  prune(now);
  const int64_t ts = auth.timestamp_unix_ms();
  if (int64_t age = sub_sat(now, ts); age > max_skew_ms_) {
    return unauthenticated("auth.timestamp_unix_ms is " + seconds_past(age, max_skew_ms_) +
                           " s in the past; corrald accepts " + seconds(max_skew_ms_) +
                           " s of skew");
  }
  if (int64_t ahead = sub_sat(ts, now); ahead > max_skew_ms_) {
    return unauthenticated("auth.timestamp_unix_ms is " + seconds_past(ahead, max_skew_ms_) +
                           " s in the future; corrald accepts " + seconds(max_skew_ms_) +
                           " s of skew");
  }
  if (ts <= forgotten_through_) {
    return unauthenticated(
        "auth.timestamp_unix_ms is no newer than nonces corrald has already forgotten (did the "
        "clock go back?); sign the request again");
  }

  if (auth.signature().size() != proto::kMacBytes) {
    return unauthenticated("auth.signature is " + std::to_string(auth.signature().size()) +
                           " bytes; an HMAC-SHA256 signature is 32");
  }
  if (auth.nonce().size() < kMinNonceBytes || auth.nonce().size() > kMaxNonceBytes) {
    return unauthenticated("auth.nonce is " + std::to_string(auth.nonce().size()) +
                           " bytes; it must be 16 to 64 random bytes");
  }
  if (!proto::signature_matches(client.secret, req)) {
    return unauthenticated(
        "auth.signature does not match: a wrong secret, or the request was changed after "
        "signing");
  }

  const v1::AuthToken& token = auth.token();
  if (token.expires_unix_ms() <= 0) {
    return unauthenticated(
        "auth.token.expires_unix_ms is not set; a token must say when it expires");
  }
  if (now >= token.expires_unix_ms()) {
    return unauthenticated("auth.token expired " +
                           seconds_past(sub_sat(now, token.expires_unix_ms()), 0) + " s ago");
  }

  NonceKey key{index, auth.nonce()};
  if (seen_.contains(key)) {
    return unauthenticated("auth.nonce was already used (a replayed request)");
  }
  if (seen_.size() >= max_nonces_) {
    return make_error(Code::kResourceExhausted, "too many signed requests in the skew window (" +
                                                    std::to_string(seen_.size()) + " within " +
                                                    seconds(max_skew_ms_) + " s); retry shortly");
  }
  auto held = seen_.insert(std::move(key)).first;
  by_timestamp_.emplace(ts, held);

  VerifiedToken out;
  out.client_id = client.id;
  out.subject = token.subject();
  out.session_id = token.session_id();
  out.permissions.insert(token.permissions().begin(), token.permissions().end());
  out.expires_unix_ms = token.expires_unix_ms();
  return out;
}

}  // namespace corral::supervisor
