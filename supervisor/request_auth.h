// RequestVerifier: corrald's check of a signed request (Request.auth) against the client secrets
// in its config: known client, allowed peer uid, timestamp within the skew, signature, unexpired
// token, unused nonce; returns the token it vouches for. Not thread-safe (one per io thread).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "corral/v1/control.pb.h"

namespace corral::supervisor {

struct ClientSecret {
  std::string id;
  std::string secret;
  std::vector<uid_t> uids;  // the peers that may sign as this client; empty: any peer
};

struct VerifiedToken {
  std::string client_id, subject, session_id;
  std::set<std::string> permissions;  // as the token says ("*" kept); the caller intersects
  int64_t expires_unix_ms = 0;        // with the peer's role
};

// The wall clock in unix milliseconds.
[[nodiscard]] int64_t system_unix_ms();

class RequestVerifier {
 public:
  using Clock = std::function<int64_t()>;  // unix ms; injectable for tests

  // Client ids are unique (config validation refuses duplicates); the first of a repeated id wins.
  explicit RequestVerifier(std::vector<ClientSecret> clients, int64_t max_skew_ms = 30000,
                           size_t max_nonces = 200000, Clock clock = system_unix_ms);

  // Checks, in order: auth.client_id is a configured client; peer_uid may sign as it
  // (kPermissionDenied); auth.timestamp_unix_ms within ±max_skew_ms of now; auth.signature; the
  // token has not expired; the nonce is new for this client. Every other refusal is
  // kUnauthenticated, except a nonce cache full of live nonces (kResourceExhausted). A nonce is
  // remembered only once the signature matched, and forgotten once its timestamp leaves the
  // skew window (a request that old is refused anyway).
  [[nodiscard]] Result<VerifiedToken> verify(const v1::Request& req, uid_t peer_uid);

  [[nodiscard]] size_t nonces_held() const { return seen_.size(); }
  [[nodiscard]] uint64_t refused() const { return refused_; }

 private:
  using NonceKey = std::pair<size_t, std::string>;  // (index into clients_, nonce)

  [[nodiscard]] Result<VerifiedToken> check(const v1::Request& req, uid_t peer_uid);
  // Forgets the nonces whose timestamp is older than now - max_skew_ms.
  void prune(int64_t now);

  std::vector<ClientSecret> clients_;
  std::map<std::string, size_t, std::less<>> by_id_;
  int64_t max_skew_ms_;
  size_t max_nonces_;
  Clock clock_;
  std::set<NonceKey> seen_;
  std::multimap<int64_t, std::set<NonceKey>::const_iterator> by_timestamp_;
  // The newest timestamp among forgotten nonces: a request this old or older might replay one,
  // so it is refused even if the wall clock has since gone back into its window.
  int64_t forgotten_through_ = INT64_MIN;
  uint64_t refused_ = 0;
};

}  // namespace corral::supervisor
