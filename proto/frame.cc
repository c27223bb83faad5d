#include "proto/frame.h"

#include <google/protobuf/message_lite.h>

namespace corral::proto {

Result<std::string> encode_frame(const google::protobuf::MessageLite& msg,
                                 uint32_t max_frame_bytes) {
  size_t size = msg.ByteSizeLong();
  if (size > max_frame_bytes) {
    return make_error(Code::kResourceExhausted, "message of " + std::to_string(size) +
                                                    " bytes exceeds the frame cap of " +
                                                    std::to_string(max_frame_bytes) + " bytes");
  }
  std::string out(kFrameHeaderBytes + size, '\0');
  auto len = static_cast<uint32_t>(size);
  out[0] = static_cast<char>(len >> 24);
  out[1] = static_cast<char>(len >> 16);
  out[2] = static_cast<char>(len >> 8);
  out[3] = static_cast<char>(len);
  if (!msg.SerializeToArray(out.data() + kFrameHeaderBytes, static_cast<int>(size))) {
    return make_error(Code::kInternal, "cannot serialize " + msg.GetTypeName());
  }
  return out;
}

Result<std::optional<std::string>> FrameDecoder::next() {
  size_t avail = buf_.size() - pos_;
  if (avail < kFrameHeaderBytes) return std::optional<std::string>{};
  const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
  uint32_t len = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
  if (len > max_) {
    return make_error(Code::kResourceExhausted, "frame of " + std::to_string(len) +
                                                    " bytes exceeds the cap of " +
                                                    std::to_string(max_) + " bytes");
  }
  if (avail < kFrameHeaderBytes + len) return std::optional<std::string>{};
  std::string payload = buf_.substr(pos_ + kFrameHeaderBytes, len);
  pos_ += kFrameHeaderBytes + len;
  // Compact once the consumed prefix dominates, so a long-lived connection does not grow forever.
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 64 * 1024 && pos_ > buf_.size() / 2) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  return std::optional<std::string>(std::move(payload));
}

}  // namespace corral::proto
