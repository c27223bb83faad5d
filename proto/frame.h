// Frame codec for the control protocol: a 4-byte big-endian length, then that many bytes of one
// protobuf message. FrameDecoder is incremental (feed any split of the byte stream) and refuses a
// frame whose announced length exceeds the cap before buffering its body. Used by both ends.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace google::protobuf {
class MessageLite;
}

namespace corral::proto {

inline constexpr uint32_t kDefaultMaxFrameBytes = 1u << 20;
inline constexpr size_t kFrameHeaderBytes = 4;
inline constexpr uint32_t kProtocolMinVersion = 1;
inline constexpr uint32_t kProtocolMaxVersion = 2;

// Serializes msg and prepends the length header. Fails if the message exceeds max_frame_bytes.
[[nodiscard]] Result<std::string> encode_frame(const google::protobuf::MessageLite& msg,
                                               uint32_t max_frame_bytes = kDefaultMaxFrameBytes);

class FrameDecoder {
 public:
  explicit FrameDecoder(uint32_t max_frame_bytes = kDefaultMaxFrameBytes) : max_(max_frame_bytes) {}

  void feed(std::string_view bytes) { buf_.append(bytes); }

  // The next complete payload, nullopt if more bytes are needed, or an error (kResourceExhausted)
  // if the announced length is over the cap. After an error the stream cannot be resynchronized.
  [[nodiscard]] Result<std::optional<std::string>> next();

  // True when some bytes of an incomplete frame are buffered (a peer that hangs up now did so
  // mid-frame).
  [[nodiscard]] bool mid_frame() const { return buf_.size() > pos_; }
  [[nodiscard]] uint32_t max_frame_bytes() const { return max_; }
  // Bytes held, including consumed ones not yet compacted away.
  [[nodiscard]] size_t buffered_bytes() const { return buf_.size(); }

 private:
  std::string buf_;
  size_t pos_ = 0;
  uint32_t max_;
};

}  // namespace corral::proto
