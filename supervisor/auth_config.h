// AuthConfig: who may do what on the control socket, as corrald.toml says it ([roles.NAME],
// [[auth.grant]], [[auth.client]], [auth]): plain data parsed with every problem reported. The
// Authorizer (peer_auth.h) resolves names against the host and applies it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <toml++/toml.h>

namespace corral::supervisor {

class TomlReader;

struct RoleConfig {
  std::set<std::string> permissions;
  std::optional<double> requests_per_second;  // unset: [control] requests_per_second
  std::optional<uint32_t> burst;
};

// One grant: the peers it matches (a uid, a user name, a gid or a group name, matched against
// the peer's primary and supplementary groups) get its roles.
struct GrantConfig {
  std::optional<uid_t> uid;
  std::string user;
  std::optional<gid_t> gid;
  std::string group;
  std::vector<std::string> roles;
};

// A client that signs requests for others: its secret, and the peer uids that may present it
// (empty: any peer).
struct ClientConfig {
  std::string id;
  std::string secret_file;
  std::vector<uid_t> uids;
};

struct AuthConfig {
  std::map<std::string, RoleConfig> roles;  // custom roles (built-ins: permissions.h)
  std::vector<GrantConfig> grants;
  std::vector<ClientConfig> clients;
  uint32_t max_skew_ms = 30000;  // signed requests: |now - timestamp| and the nonce window
  // Token bucket per token subject (per client id and subject); 0: unlimited.
  double subject_requests_per_second = 100;
  uint32_t subject_burst = 200;
};

// Reads [roles.*] and [auth] (with its [[auth.grant]] and [[auth.client]] arrays) from the
// config document into out; problems go to r.
void parse_auth_config(TomlReader& r, const toml::table& doc, AuthConfig& out);

}  // namespace corral::supervisor
