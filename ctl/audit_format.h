// Text rendering of the audit trail for corralctl: one line per record, and a verification
// report that names each problem's record.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "corral/v1/control.pb.h"

namespace corral::ctl {

[[nodiscard]] std::string format_audit(const v1::AuditResponse& a);
[[nodiscard]] std::string format_audit_verify(const v1::AuditVerifyResponse& v);
// "10m", "2h", "3d", "90s" (before now_ms), "2026-12-03" or "2026-12-03T10:15[:30]" (UTC), or
// unix milliseconds; nullopt if it is none of these.
[[nodiscard]] std::optional<int64_t> parse_since(const std::string& s, int64_t now_ms);

}  // namespace corral::ctl
