// libFuzzer: corrald.toml parsing must turn any bytes into a config within the documented ranges
// or into a precise error, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "supervisor/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto c = corral::supervisor::parse_daemon_config(text, "fuzz.toml");
  if (c) {
    if (c->max_frame_bytes < 1024 || c->max_frame_bytes > (64u << 20)) std::abort();
    if ((c->socket_mode & 0007) != 0 || (c->socket_mode & 0600) != 0600) std::abort();
    if (c->max_connections == 0) std::abort();
  } else if (c.error().message.empty()) {
    std::abort();
  }
  return 0;
}
