// libFuzzer: the control socket's input is untrusted bytes. Feed them to the FrameDecoder in
// fuzzer-chosen splits, parse each payload as a Request and re-encode it. Invariants: any split
// of the stream decodes to the same frames (and the same error) as one feed, a decoded frame never
// exceeds the cap, mid_frame() tells whether bytes are left over, and a parsed Request
// re-encodes and decodes to itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "corral/v1/control.pb.h"
#include "proto/frame.h"

namespace {

constexpr uint32_t kCap = 4096;

struct Decoded {
  std::vector<std::string> frames;
  bool refused = false;  // an announced length over the cap
  bool mid_frame = false;
};

// Drains every complete frame from d into out; false once the decoder refuses the stream.
bool drain(corral::proto::FrameDecoder& d, Decoded& out) {
  for (;;) {
    auto f = d.next();
    if (!f) {
      out.refused = true;
      return false;
    }
    if (!f->has_value()) return true;
    out.frames.push_back(std::move(**f));
  }
}

void check_request(const std::string& payload) {
  corral::v1::Request req;
  if (!req.ParseFromString(payload)) return;  // the server answers MALFORMED_FRAME
  auto again = corral::proto::encode_frame(req, 1u << 24);
  if (!again) std::abort();
  corral::proto::FrameDecoder d(1u << 24);
  d.feed(*again);
  auto back = d.next();
  if (!back || !back->has_value() || d.mid_frame()) std::abort();
  corral::v1::Request req2;
  if (!req2.ParseFromString(**back) || req2.SerializeAsString() != req.SerializeAsString()) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // The first byte seeds the sequence of chunk sizes (1..64) the stream arrives in.
  uint32_t state = 0x9e3779b9u ^ (uint32_t{data[0]} * 2654435761u);
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);

  Decoded whole;
  {
    corral::proto::FrameDecoder d(kCap);
    d.feed(stream);
    if (drain(d, whole)) whole.mid_frame = d.mid_frame();
  }

  Decoded split;
  corral::proto::FrameDecoder d(kCap);
  std::string_view rest = stream;
  bool ok = true;
  while (ok && !rest.empty()) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    size_t n = std::min<size_t>(1 + state % 64, rest.size());
    d.feed(rest.substr(0, n));
    rest.remove_prefix(n);
    ok = drain(d, split);
  }
  if (ok) split.mid_frame = d.mid_frame();

  if (split.frames != whole.frames || split.refused != whole.refused ||
      split.mid_frame != whole.mid_frame) {
    std::abort();
  }
  size_t consumed = 0;
  for (const auto& f : split.frames) {
    if (f.size() > kCap) std::abort();
    consumed += corral::proto::kFrameHeaderBytes + f.size();
    check_request(f);
  }
  if (consumed > stream.size()) std::abort();
  if (!split.refused && split.mid_frame != (consumed < stream.size())) std::abort();
  return 0;
}
