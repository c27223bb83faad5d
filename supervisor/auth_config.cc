#include "supervisor/auth_config.h"

#include <algorithm>
#include <cctype>

#include "supervisor/permissions.h"
#include "supervisor/toml_reader.h"

namespace corral::supervisor {

namespace {

bool valid_role_name(const std::string& s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

void parse_roles(TomlReader& r, const toml::table& roles, AuthConfig& out) {
  for (const auto& [key, node] : roles) {
    std::string name(key.str());
    std::string prefix = "roles." + name;
    if (!valid_role_name(name)) {
      r.problem(prefix, "a role name is 1-64 of a-z 0-9 - _");
      continue;
    }
    if (builtin_role(name) != nullptr) {
      r.problem(prefix, "\"" + name +
                            "\" is a built-in role (admin, operator, viewer); pick "
                            "another name for a custom one");
      continue;
    }
    const toml::table* t = node.as_table();
    if (t == nullptr) {
      r.problem(prefix, "must be a table");
      continue;
    }
    r.reject_unknown(*t, prefix, {"permissions", "requests_per_second", "burst"});
    RoleConfig role;
    if (auto perms = r.strings(*t, prefix, "permissions", 64)) {
      for (const auto& p : *perms) {
        if (!known_permission(p)) {
          std::string all;
          for (const auto& k : known_permissions()) all += (all.empty() ? "" : ", ") + k;
          r.problem(prefix + ".permissions",
                    "unknown permission \"" + p + "\" (known: " + all + ")");
          continue;
        }
        role.permissions.insert(p);
      }
    } else if (!t->contains("permissions")) {
      r.problem(prefix + ".permissions", "missing: a role lists the permissions it grants");
    }
    if (auto v = r.integer(*t, prefix, "requests_per_second", 0, 10000000)) {
      role.requests_per_second = static_cast<double>(*v);
    }
    if (auto v = r.integer(*t, prefix, "burst", 1, 10000000)) {
      role.burst = static_cast<uint32_t>(*v);
    }
    out.roles[name] = std::move(role);
  }
}

bool role_exists(const AuthConfig& a, const std::string& name) {
  return builtin_role(name) != nullptr || a.roles.contains(name);
}

std::vector<uid_t> uid_list(TomlReader& r, const toml::table& t, const std::string& prefix,
                            std::string_view key) {
  std::vector<uid_t> out;
  const toml::node* n = t.get(key);
  if (n == nullptr) return out;
  const toml::array* arr = n->as_array();
  if (arr == nullptr) {
    r.problem(prefix + "." + std::string(key), "must be an array of uids");
    return out;
  }
  for (const auto& v : *arr) {
    auto i = v.value<int64_t>();
    if (!i || *i < 0 || *i > 0xFFFFFFFEll) {
      r.problem(prefix + "." + std::string(key), "each entry must be a uid (0 to 4294967294)");
      continue;
    }
    out.push_back(static_cast<uid_t>(*i));
  }
  return out;
}

void parse_grant(TomlReader& r, const toml::table& t, const std::string& prefix, AuthConfig& out) {
  r.reject_unknown(t, prefix, {"uid", "user", "gid", "group", "role", "roles"});
  GrantConfig g;
  if (auto v = r.integer(t, prefix, "uid", 0, 0xFFFFFFFEll)) g.uid = static_cast<uid_t>(*v);
  if (auto v = r.string(t, prefix, "user")) g.user = *v;
  if (auto v = r.integer(t, prefix, "gid", 0, 0xFFFFFFFEll)) g.gid = static_cast<gid_t>(*v);
  if (auto v = r.string(t, prefix, "group")) g.group = *v;
  int who =
      (g.uid ? 1 : 0) + (g.user.empty() ? 0 : 1) + (g.gid ? 1 : 0) + (g.group.empty() ? 0 : 1);
  if (who != 1) {
    r.problem(prefix, "a grant names exactly one of uid, user, gid or group");
  }
  if (auto v = r.string(t, prefix, "role")) g.roles.push_back(*v);
  if (auto v = r.strings(t, prefix, "roles", 16)) {
    g.roles.insert(g.roles.end(), v->begin(), v->end());
  }
  if (g.roles.empty()) r.problem(prefix, "a grant gives a role (role = \"viewer\") or roles");
  for (const auto& role : g.roles) {
    if (!role_exists(out, role)) {
      r.problem(prefix + ".role", "no role named \"" + role +
                                      "\" (built in: admin, operator, viewer; or define "
                                      "[roles." +
                                      role + "])");
    }
  }
  out.grants.push_back(std::move(g));
}

void parse_client(TomlReader& r, const toml::table& t, const std::string& prefix, AuthConfig& out) {
  r.reject_unknown(t, prefix, {"id", "secret_file", "uids"});
  ClientConfig c;
  if (auto v = r.string(t, prefix, "id")) c.id = *v;
  bool id_ok =
      !c.id.empty() && c.id.size() <= 64 && std::all_of(c.id.begin(), c.id.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-';
      });
  if (!id_ok) r.problem(prefix + ".id", "a client id is 1-64 of A-Z a-z 0-9 . _ -");
  for (const auto& other : out.clients) {
    if (other.id == c.id) r.problem(prefix + ".id", "client \"" + c.id + "\" is defined twice");
  }
  if (auto v = r.string(t, prefix, "secret_file")) c.secret_file = *v;
  if (c.secret_file.empty() || c.secret_file[0] != '/') {
    r.problem(prefix + ".secret_file", "must be an absolute path (a file only root can read)");
  }
  c.uids = uid_list(r, t, prefix, "uids");
  out.clients.push_back(std::move(c));
}

template <class F>
void each_table(TomlReader& r, const toml::table& t, std::string_view key, F f) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return;
  const toml::array* arr = n->as_array();
  std::string base = "auth." + std::string(key);
  if (arr == nullptr) {
    r.problem(base, "must be an array of tables ([[" + base + "]])");
    return;
  }
  size_t i = 0;
  for (const auto& v : *arr) {
    std::string prefix = base + "[" + std::to_string(i++) + "]";
    if (const toml::table* e = v.as_table()) {
      f(*e, prefix);
    } else {
      r.problem(prefix, "must be a table");
    }
  }
}

}  // namespace

void parse_auth_config(TomlReader& r, const toml::table& doc, AuthConfig& out) {
  if (const toml::table* roles = r.table(doc, "roles")) parse_roles(r, *roles, out);
  const toml::table* a = r.table(doc, "auth");
  if (a == nullptr) return;
  r.reject_unknown(
      *a, "auth",
      {"grant", "client", "max_skew_ms", "subject_requests_per_second", "subject_burst"});
  if (auto v = r.integer(*a, "auth", "max_skew_ms", 1000, 600000)) {
    out.max_skew_ms = static_cast<uint32_t>(*v);
  }
  if (auto v = r.integer(*a, "auth", "subject_requests_per_second", 0, 10000000)) {
    out.subject_requests_per_second = static_cast<double>(*v);
  }
  if (auto v = r.integer(*a, "auth", "subject_burst", 1, 10000000)) {
    out.subject_burst = static_cast<uint32_t>(*v);
  }
  each_table(r, *a, "grant",
             [&](const toml::table& t, const std::string& p) { parse_grant(r, t, p, out); });
  each_table(r, *a, "client",
             [&](const toml::table& t, const std::string& p) { parse_client(r, t, p, out); });
}

}  // namespace corral::supervisor
