// libFuzzer: plugin manifests are untrusted text (written by plugin authors). Any input must give
// either a manifest that satisfies the documented invariants or an error, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "supervisor/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto m = corral::supervisor::parse_manifest(text, "fuzz.toml");
  if (m) {
    if (!corral::supervisor::valid_plugin_name(m->name)) std::abort();
    if (m->exec.empty() || m->exec[0] != '/') std::abort();
    if (m->working_dir.empty() || m->working_dir[0] != '/') std::abort();
    if (m->restart.max_delay < m->restart.delay) std::abort();
    if (m->stop_timeout.count() <= 0) std::abort();
  } else if (m.error().message.empty()) {
    std::abort();
  }
  return 0;
}
