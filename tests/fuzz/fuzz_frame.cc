// libFuzzer: the control socket's input is untrusted bytes. Feed them to the FrameDecoder in
// fuzzer-chosen splits, parse each payload as a Request, and check the codec's invariants: a
// decoded frame never exceeds the cap, and a parsed Request re-encodes and decodes to itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "corral/v1/control.pb.h"
#include "proto/frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  constexpr uint32_t kCap = 4096;
  corral::proto::FrameDecoder d(kCap);
  // The first byte picks the chunk size the stream arrives in.
  size_t chunk = 1 + data[0] % 64;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  while (!rest.empty()) {
    size_t n = std::min(chunk, rest.size());
    d.feed(rest.substr(0, n));
    rest.remove_prefix(n);
    for (;;) {
      auto f = d.next();
      if (!f) return 0;  // oversize: the server closes; nothing more to check
      if (!f->has_value()) break;
      if ((*f)->size() > kCap) std::abort();
      corral::v1::Request req;
      if (!req.ParseFromString(**f)) continue;
      auto again = corral::proto::encode_frame(req, 1u << 24);
      if (!again) std::abort();
      corral::proto::FrameDecoder d2(1u << 24);
      d2.feed(*again);
      auto back = d2.next();
      if (!back || !back->has_value()) std::abort();
      corral::v1::Request req2;
      if (!req2.ParseFromString(**back) || req2.SerializeAsString() != req.SerializeAsString()) {
        std::abort();
      }
    }
  }
  return 0;
}
