// validate_request: every field of a control Request checked against the schema's rules and the
// handlers' limits before any handler runs. A failure is kInvalidArgument with a message that
// begins with the field's path ("run.ro_binds[2]: ..."); no bad value is echoed past 80 bytes or
// unescaped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"
#include "corral/v1/control.pb.h"

namespace corral::supervisor {

// The limits; where a handler checks the same field its constant is named beside the value.
namespace request_limits {
inline constexpr size_t kMaxCorrelationIdBytes = 128;
inline constexpr size_t kMaxClientNameBytes = 256;
inline constexpr uint32_t kMaxStopTimeoutMs = 600000;  // plugin_commands.cc kMaxTimeoutMs
inline constexpr uint32_t kMaxLogsTail = 100000;       // plugin_commands.cc kMaxTail
inline constexpr uint32_t kMaxEventsMax = 100000;      // recovery_commands.cc kMaxEvents
inline constexpr uint32_t kMaxAuditLimit = 100000;     // store_service.cc kMaxAuditLimit
inline constexpr size_t kMaxPathBytes = 4095;          // PATH_MAX less the terminating NUL
inline constexpr int kMaxRunArgs = 4096;
inline constexpr size_t kMaxRunArgBytes = 128 << 10;
inline constexpr int kMaxRunEnv = 4096;
inline constexpr size_t kMaxEnvKeyBytes = 256;
inline constexpr size_t kMaxEnvValueBytes = 128 << 10;
inline constexpr int kMaxRunBinds = 256;  // per list (ro_binds, binds)
inline constexpr uint64_t kMaxPidsMax = uint64_t{1} << 22;
inline constexpr uint64_t kMinMemoryMax = uint64_t{4} << 20;  // run_manifest.cc refuses less
inline constexpr uint64_t kMaxMemoryMax = uint64_t{1} << 50;
inline constexpr int kMaxSubscribePlugins = 64;
inline constexpr uint32_t kMaxSubscribeMax = 100000;
inline constexpr size_t kMaxAuthClientIdBytes = 64;
inline constexpr size_t kMinNonceBytes = 16;
inline constexpr size_t kMaxNonceBytes = 64;
inline constexpr size_t kSignatureBytes = 32;  // HMAC-SHA256
inline constexpr size_t kMaxSubjectBytes = 256;
inline constexpr size_t kMaxSessionIdBytes = 128;
inline constexpr int kMaxTokenPermissions = 64;
}  // namespace request_limits

// A request with no command is ok here (the router answers it). For negotiated_version >= 2 an
// unknown field anywhere in the request is refused; protocol v1 ignored them, and so does this.
[[nodiscard]] Result<void> validate_request(const v1::Request& req, uint32_t negotiated_version);

// A bad value as an error message shows it: quoted, at most 80 of its bytes, '"' and '\\'
// escaped and every byte outside 0x20..0x7e as \xNN; a longer value ends in `..." (N bytes)`.
[[nodiscard]] std::string quote_value(std::string_view v);

}  // namespace corral::supervisor
