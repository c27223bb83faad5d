#include "supervisor/permissions.h"

#include <algorithm>
#include <map>
#include <utility>

namespace corral::supervisor {

namespace {

// command -> permission. Read-only commands need the *.read ones; plugins.control changes what
// runs; run launches new sandboxes; admin.* change corrald's own keys and data.
constexpr std::pair<std::string_view, std::string_view> kCommands[] = {
    {"hello", ""},
    {"version", ""},
    {"list", "plugins.read"},
    {"status", "plugins.read"},
    {"health", "plugins.read"},
    {"breakers", "plugins.read"},
    {"stats", "plugins.read"},
    {"logs", "logs.read"},
    {"events", "events.read"},
    {"subscribe", "events.read"},
    {"doctor", "host.read"},
    {"start", "plugins.control"},
    {"stop", "plugins.control"},
    {"restart", "plugins.control"},
    {"reset", "plugins.control"},
    {"run", "plugins.run"},
    {"audit", "audit.read"},
    {"audit_verify", "audit.read"},
    {"rotate_key", "admin.keys"},
    {"backup", "admin.backup"},
};

const std::vector<std::string> kKnown = {
    "plugins.read", "logs.read",  "events.read", "host.read",    "plugins.control",
    "plugins.run",  "audit.read", "admin.keys",  "admin.backup", "admin.unknown",
};

}  // namespace

const std::vector<std::string>& known_permissions() { return kKnown; }

bool known_permission(std::string_view p) {
  return std::find(kKnown.begin(), kKnown.end(), p) != kKnown.end();
}

std::string_view permission_for(std::string_view command) {
  for (const auto& [c, p] : kCommands) {
    if (c == command) return p;
  }
  return "admin.unknown";
}

const std::set<std::string>* builtin_role(std::string_view role) {
  static const std::map<std::string, std::set<std::string>, std::less<>> roles = {
      {"admin", std::set<std::string>(kKnown.begin(), kKnown.end())},
      {"operator",
       {"plugins.read", "logs.read", "events.read", "host.read", "plugins.control", "plugins.run",
        "audit.read"}},
      {"viewer", {"plugins.read", "logs.read", "events.read", "host.read"}},
  };
  auto it = roles.find(role);
  return it == roles.end() ? nullptr : &it->second;
}

}  // namespace corral::supervisor
