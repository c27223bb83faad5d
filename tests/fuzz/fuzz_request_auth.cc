// libFuzzer: a signed request is untrusted bytes. Parse them as a Request; one with an auth block
// goes through RequestVerifier::verify as sent, and again re-signed with the right secret so that
// the checks past the signature are reached too. Invariants: no crash, every refusal has a
// message, an accepted request is within the skew with an unexpired token and a nonce of 16..64
// bytes, and an accepted request is refused when replayed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <google/protobuf/stubs/logging.h>

#include "corral/v1/control.pb.h"
#include "proto/request_signature.h"
#include "supervisor/request_auth.h"

namespace {

using corral::Code;
using corral::supervisor::ClientSecret;
using corral::supervisor::RequestVerifier;

constexpr int64_t kNow = 1'700'000'000'000;
constexpr int64_t kSkew = 30'000;
constexpr uid_t kPeer = 1000;
constexpr std::string_view kWebSecret = "fuzz-web-secret-fuzz-web-secret-01";
constexpr std::string_view kCiSecret = "fuzz-ci-secret-fuzz-ci-secret-0002";

RequestVerifier make_verifier() {
  std::vector<ClientSecret> clients = {{"web", std::string(kWebSecret), {kPeer}},
                                       {"ci", std::string(kCiSecret), {}},
                                       {"other", std::string(kCiSecret), {0}}};
  return RequestVerifier(std::move(clients), kSkew, 8, [] { return kNow; });
}

// Verifies req on a fresh verifier and checks the invariants; true if it was accepted.
bool check(const corral::v1::Request& req) {
  RequestVerifier verifier = make_verifier();
  auto r = verifier.verify(req, kPeer);
  if (!r) {
    if (r.error().message.empty() || verifier.refused() != 1 || verifier.nonces_held() != 0) {
      std::abort();
    }
    return false;
  }
  const auto& auth = req.auth();
  if (auth.timestamp_unix_ms() < kNow - kSkew || auth.timestamp_unix_ms() > kNow + kSkew) {
    std::abort();
  }
  if (auth.token().expires_unix_ms() <= kNow) std::abort();
  if (auth.nonce().size() < 16 || auth.nonce().size() > 64) std::abort();
  if (r->client_id != auth.client_id() || r->subject != auth.token().subject()) std::abort();
  if (verifier.nonces_held() != 1) std::abort();
  auto again = verifier.verify(req, kPeer);
  if (again || again.error().code != Code::kUnauthenticated) std::abort();
  return true;
}

}  // namespace

// Protobuf logs every string field that is not UTF-8; a fuzzer makes millions of those.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  corral::v1::Request req;
  if (!req.ParseFromArray(data, static_cast<int>(size)) || !req.has_auth()) return 0;
  std::string input = corral::proto::signing_input(req);
  if (input.size() < 4 * 7 + 17 + 8 + 8 + 64) std::abort();

  bool as_sent = check(req);
  if (as_sent && !corral::proto::signature_matches(
                     req.auth().client_id() == "web" ? kWebSecret : kCiSecret, req)) {
    std::abort();
  }

  // Re-signed with the secret of the client it names, the rest of the checks are reached.
  auto mac =
      corral::proto::request_mac(req.auth().client_id() == "web" ? kWebSecret : kCiSecret, req);
  req.mutable_auth()->set_signature(reinterpret_cast<const char*>(mac.data()), mac.size());
  (void)check(req);
  return 0;
}
