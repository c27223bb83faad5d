// libFuzzer: validate_request sees every parsed Request before a handler does. Invariants: a
// refusal is kInvalidArgument with a non-empty, bounded, printable message (bad values escaped);
// the verdict is the same every time; without auth, v2 (stricter) accepting implies v1 accepts.
#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "corral/v1/control.pb.h"
#include "supervisor/request_validation.h"

namespace {

constexpr size_t kMaxMessageBytes = 2048;

// The message of a refusal ("" when accepted), aborting if the refusal breaks an invariant.
std::string judge(const corral::v1::Request& req, uint32_t version) {
  auto r = corral::supervisor::validate_request(req, version);
  if (r) return "";
  const auto& e = r.error();
  if (e.code != corral::Code::kInvalidArgument || e.message.empty() ||
      e.message.size() > kMaxMessageBytes) {
    std::abort();
  }
  for (char c : e.message) {
    if (c < 0x20 || c > 0x7e) std::abort();
  }
  return e.message;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);  // invalid UTF-8 in a string field is logged, per input
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  corral::v1::Request req;
  if (!req.ParseFromArray(data, static_cast<int>(size))) return 0;  // MALFORMED_FRAME
  const std::string v1 = judge(req, 1);
  const std::string v2 = judge(req, 2);
  if (judge(req, 1) != v1 || judge(req, 2) != v2) std::abort();
  if (!req.has_auth() && v2.empty() && !v1.empty()) std::abort();
  return 0;
}
