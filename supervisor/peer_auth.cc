#include "supervisor/peer_auth.h"

#include <grp.h>
#include <pwd.h>

#include <algorithm>

#include "proto/request_signature.h"
#include "supervisor/permissions.h"

namespace corral::supervisor {

std::string join_permissions(const std::set<std::string>& p) {
  if (p.empty()) return "none";
  std::string out;
  for (const auto& s : p) out += (out.empty() ? "" : ", ") + s;
  return out;
}

Result<std::unique_ptr<Authorizer>> Authorizer::create(const DaemonConfig& config) {
  std::unique_ptr<Authorizer> a(new Authorizer());
  const AuthConfig& ac = config.auth;
  a->roles_ = ac.roles;
  a->default_rate_ = {config.requests_per_second, static_cast<double>(config.burst)};
  a->subject_rate_ = {ac.subject_requests_per_second, static_cast<double>(ac.subject_burst)};
  size_t i = 0;
  for (const auto& g : ac.grants) {
    std::string key = "auth.grant[" + std::to_string(i++) + "]";
    Grant out{true, 0, g.roles};
    if (g.uid) {
      out.id = *g.uid;
    } else if (!g.user.empty()) {
      const passwd* pw = ::getpwnam(g.user.c_str());
      if (pw == nullptr)
        return make_error(Code::kInvalidArgument, key + ".user: no user named \"" + g.user + "\"");
      out.id = pw->pw_uid;
    } else if (g.gid) {
      out = {false, *g.gid, g.roles};
    } else {
      const group* gr = ::getgrnam(g.group.c_str());
      if (gr == nullptr) {
        return make_error(Code::kInvalidArgument,
                          key + ".group: no group named \"" + g.group + "\"");
      }
      out = {false, gr->gr_gid, g.roles};
    }
    a->grants_.push_back(std::move(out));
  }
  std::vector<ClientSecret> clients;
  i = 0;
  for (const auto& c : ac.clients) {
    auto secret = proto::load_client_secret(c.secret_file);
    if (!secret) {
      return std::unexpected(
          secret.error().wrap("auth.client[" + std::to_string(i) + "] (\"" + c.id + "\")"));
    }
    clients.push_back({c.id, std::move(*secret), c.uids});
    ++i;
  }
  a->clients_ = clients.size();
  a->verifier_ = std::make_unique<RequestVerifier>(std::move(clients), ac.max_skew_ms);
  return a;
}

PeerAuth Authorizer::resolve(uid_t uid, gid_t gid, const std::vector<gid_t>& groups) const {
  PeerAuth out;
  auto add_role = [&](const std::string& r) {
    if (std::find(out.roles.begin(), out.roles.end(), r) != out.roles.end()) return;
    out.roles.push_back(r);
  };
  if (uid == 0) add_role("admin");
  for (const auto& g : grants_) {
    bool match =
        g.by_uid ? g.id == uid
                 : (g.id == gid || std::find(groups.begin(), groups.end(), g.id) != groups.end());
    if (!match) continue;
    for (const auto& r : g.roles) add_role(r);
  }
  // The most generous rate among the roles that set one, else the default.
  bool set = false;
  out.rate = default_rate_;
  for (const auto& r : out.roles) {
    if (const auto* b = builtin_role(r)) {
      out.permissions.insert(b->begin(), b->end());
      continue;
    }
    auto it = roles_.find(r);
    if (it == roles_.end()) continue;
    out.permissions.insert(it->second.permissions.begin(), it->second.permissions.end());
    if (it->second.requests_per_second) {
      double rps = *it->second.requests_per_second;
      double burst = it->second.burst ? *it->second.burst : std::max(1.0, 2 * rps);
      BucketSpec spec{rps, burst};
      if (!set || rps == 0 || (out.rate.per_second != 0 && rps > out.rate.per_second)) {
        out.rate = spec;
      }
      set = true;
    }
  }
  return out;
}

}  // namespace corral::supervisor
