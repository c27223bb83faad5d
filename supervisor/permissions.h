// Permissions: what each control command needs, and the built-in roles (admin, operator,
// viewer) as sets of them. One table, so that authorization, Hello's discovery and the docs
// cannot disagree. A command needing "" (hello, version) is open to every peer.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace corral::supervisor {

inline constexpr std::string_view kAllPermissions = "*";

// Every permission corrald knows, in a stable order.
[[nodiscard]] const std::vector<std::string>& known_permissions();
[[nodiscard]] bool known_permission(std::string_view p);
// The permission a command (a Request.command field name) needs; "" for none. Unknown
// commands need "admin.unknown", which no role but admin holds (default deny).
[[nodiscard]] std::string_view permission_for(std::string_view command);
// The built-in roles' permissions, or nullptr for a name that is not built in.
[[nodiscard]] const std::set<std::string>* builtin_role(std::string_view role);

}  // namespace corral::supervisor
