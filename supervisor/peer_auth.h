// Authorizer: maps a control-socket peer (the kernel's uid, gid and supplementary groups) to its
// roles, permissions and rate, from the config's grants; uid 0 is always admin. No grant: no
// role and no permission beyond hello and version (default deny). It also holds the verifier of
// signed requests, with the clients' secrets loaded at start.
#pragma once

#include <sys/types.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "supervisor/config.h"
#include "supervisor/rate_limiter.h"
#include "supervisor/request_auth.h"

namespace corral::supervisor {

struct PeerAuth {
  std::vector<std::string> roles;
  std::set<std::string> permissions;
  BucketSpec rate;
};

class Authorizer {
 public:
  // Resolves user and group names, loads every client's secret file; an error names the key.
  [[nodiscard]] static Result<std::unique_ptr<Authorizer>> create(const DaemonConfig& config);

  [[nodiscard]] PeerAuth resolve(uid_t uid, gid_t gid, const std::vector<gid_t>& groups) const;
  [[nodiscard]] RequestVerifier& verifier() { return *verifier_; }
  [[nodiscard]] BucketSpec subject_rate() const { return subject_rate_; }
  [[nodiscard]] size_t clients() const { return clients_; }

 private:
  struct Grant {
    bool by_uid;
    uint32_t id;  // uid or gid
    std::vector<std::string> roles;
  };
  Authorizer() = default;
  std::vector<Grant> grants_;
  std::map<std::string, RoleConfig> roles_;
  BucketSpec default_rate_;
  BucketSpec subject_rate_;
  std::unique_ptr<RequestVerifier> verifier_;
  size_t clients_ = 0;
};

// "plugins.read, logs.read" (or "none").
[[nodiscard]] std::string join_permissions(const std::set<std::string>& p);

}  // namespace corral::supervisor
