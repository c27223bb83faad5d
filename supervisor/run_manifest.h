// The manifest of a one-shot `corralctl run`: every RunRequest field validated (errors name the
// field) and turned into a plugin that starts once, never restarts, and is fully sandboxed.
#pragma once

#include <string>

#include "common/error.h"
#include "corral/v1/control.pb.h"
#include "supervisor/manifest.h"

namespace corral::supervisor {

// default_name is used when the request names none ("run-<n>").
[[nodiscard]] Result<Manifest> manifest_from_run(const v1::RunRequest& r,
                                                 const std::string& default_name);

}  // namespace corral::supervisor
