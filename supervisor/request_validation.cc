// validate_request: the schema's rules for every Request field, one check per field, each failure
// naming the field's path. Unknown fields (protocol v2) are found by walking the message with
// protobuf reflection.
#include "supervisor/request_validation.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/unknown_field_set.h>

#include <algorithm>
#include <array>
#include <set>
#include <source_location>
#include <vector>

#include "supervisor/manifest.h"
#include "supervisor/permissions.h"

namespace corral::supervisor {

using namespace request_limits;  // NOLINT(google-build-using-namespace): this file's own limits

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

constexpr size_t kShownBytes = 80;
constexpr std::string_view kPluginNameRule =
    "1-63 letters, digits, '-', '_' or '.', starting with a letter or digit";
constexpr std::array<std::string_view, 4> kEventTypes = {"signal", "transition", "action", "alert"};
constexpr std::array<std::string_view, 4> kSeverities = {"", "info", "warning", "critical"};
constexpr std::array<std::string_view, 4> kSeccompProfiles = {"", "default", "strict", "none"};
constexpr std::array<std::string_view, 3> kNetworks = {"", "none", "host"};

std::unexpected<Error> bad(std::string message,
                           std::source_location loc = std::source_location::current()) {
  return make_error(Code::kInvalidArgument, std::move(message), loc);
}

std::string join(std::string_view a, std::string_view b) {
  std::string s(a);
  s += b;
  return s;
}

std::string at(std::string_view path, int i) { return join(path, "[" + std::to_string(i) + "]"); }

template <size_t N>
bool one_of(const std::array<std::string_view, N>& set, std::string_view v) {
  return std::find(set.begin(), set.end(), v) != set.end();
}

// "info", "warning", ... for messages (the empty entry left out).
template <size_t N>
std::string listed(const std::array<std::string_view, N>& set) {
  std::string out;
  for (std::string_view s : set) {
    if (s.empty()) continue;
    if (!out.empty()) out += ", ";
    out += '"';
    out += s;
    out += '"';
  }
  return out;
}

enum class Charset {
  kNoSpace,      // 0x21..0x7e: ids
  kWithSpace,    // 0x20..0x7e: free text for logs
  kSpaceInside,  // 0x20..0x7e, but no leading or trailing space
};

Result<void> check_text(std::string_view path, std::string_view v, size_t min, size_t max,
                        Charset cs) {
  if (v.size() < min) {
    return v.empty() ? bad(join(path, ": required"))
                     : bad(join(path, ": " + std::to_string(v.size()) + " bytes; at least " +
                                          std::to_string(min)));
  }
  if (v.size() > max) {
    return bad(
        join(path, ": " + std::to_string(v.size()) + " bytes; at most " + std::to_string(max)));
  }
  const char low = cs == Charset::kNoSpace ? 0x21 : 0x20;
  bool ok = std::all_of(v.begin(), v.end(), [low](char c) { return c >= low && c <= 0x7e; });
  if (ok && cs == Charset::kSpaceInside && !v.empty()) ok = v.front() != ' ' && v.back() != ' ';
  if (!ok) {
    const char* rule = cs == Charset::kNoSpace     ? "printable ASCII without spaces (0x21..0x7e)"
                       : cs == Charset::kWithSpace ? "printable ASCII (0x20..0x7e)"
                                                   : "printable ASCII (0x20..0x7e) with no "
                                                     "leading or trailing space";
    return bad(join(path, ": " + quote_value(v) + " must be " + rule));
  }
  return {};
}

Result<void> check_plugin_name(std::string_view path, std::string_view v, bool required) {
  if (v.empty()) {
    if (!required) return {};
    return bad(join(path, ": required (a plugin name: " + std::string(kPluginNameRule) + ")"));
  }
  if (!valid_plugin_name(v)) {
    return bad(join(path, ": " + quote_value(v) + " is not a valid plugin name (" +
                              std::string(kPluginNameRule) + ")"));
  }
  return {};
}

// What is wrong with p as an absolute normalized path ("" if nothing): a "/" followed by non-empty
// components, none of them "." or "..", no NUL, at most kMaxPathBytes.
std::string path_problem(std::string_view p) {
  if (p.size() > kMaxPathBytes) {
    return std::to_string(p.size()) + " bytes; at most " + std::to_string(kMaxPathBytes);
  }
  if (p.find('\0') != std::string_view::npos) return quote_value(p) + " must not contain NUL bytes";
  if (p.empty() || p[0] != '/') return quote_value(p) + " must be an absolute path";
  if (p == "/") return "";
  size_t from = 1;
  while (from <= p.size()) {
    size_t slash = std::min(p.find('/', from), p.size());
    std::string_view comp = p.substr(from, slash - from);
    if (comp.empty()) {
      return quote_value(p) +
             " must be an absolute path without empty components (\"//\" or a trailing '/')";
    }
    if (comp == "..") return quote_value(p) + " must be an absolute path without \"..\" components";
    if (comp == ".") return quote_value(p) + " must be an absolute path without \".\" components";
    from = slash + 1;
  }
  return "";
}

Result<void> check_path(std::string_view path, std::string_view v, bool required) {
  if (v.empty()) {
    if (!required) return {};
    return bad(join(path, ": required (an absolute path)"));
  }
  if (std::string problem = path_problem(v); !problem.empty()) {
    return bad(join(path, ": " + problem));
  }
  return {};
}

// "SRC" or "SRC:DST", split at the first ':' as parse_bind_spec does.
Result<void> check_bind(std::string_view path, std::string_view spec) {
  size_t colon = spec.find(':');
  if (colon == std::string_view::npos) {
    if (spec.empty()) return bad(join(path, ": empty; want SOURCE or SOURCE:TARGET"));
    if (std::string problem = path_problem(spec); !problem.empty()) {
      return bad(join(path, ": " + problem));
    }
    return {};
  }
  for (auto [which, p] : {std::pair{"source ", spec.substr(0, colon)},
                          std::pair{"target ", spec.substr(colon + 1)}}) {
    std::string problem = path_problem(p);
    if (!problem.empty()) return bad(join(path, ": " + std::string(which) + problem));
  }
  return {};
}

bool valid_env_key(std::string_view k) {
  if (k.empty() || k.size() > kMaxEnvKeyBytes) return false;
  auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (!alpha(k[0])) return false;
  return std::all_of(k.begin(), k.end(),
                     [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

Result<void> check_count(std::string_view path, int n, int max) {
  if (n > max) {
    return bad(join(path, ": " + std::to_string(n) + " entries; at most " + std::to_string(max)));
  }
  return {};
}

Result<void> check_at_most(std::string_view path, uint64_t v, uint64_t max,
                           std::string_view zero = "") {
  if (v > max) {
    return bad(join(path, ": " + std::to_string(v) + "; at most " + std::to_string(max) +
                              (zero.empty() ? "" : " (0: " + std::string(zero) + ")")));
  }
  return {};
}

Result<void> check_run(const v1::RunRequest& r) {
  if (auto ok = check_plugin_name("run.name", r.name(), false); !ok) return ok;
  if (auto ok = check_path("run.exec", r.exec(), true); !ok) return ok;
  if (auto ok = check_count("run.args", r.args_size(), kMaxRunArgs); !ok) return ok;
  for (int i = 0; i < r.args_size(); ++i) {
    const std::string& a = r.args(i);
    if (a.size() > kMaxRunArgBytes) {
      return bad(at("run.args", i) + ": " + std::to_string(a.size()) + " bytes; at most " +
                 std::to_string(kMaxRunArgBytes));
    }
    if (a.find('\0') != std::string::npos) {
      return bad(at("run.args", i) + ": " + quote_value(a) + " must not contain NUL bytes");
    }
  }
  if (r.env_size() > kMaxRunEnv) {
    return bad("run.env: " + std::to_string(r.env_size()) + " variables; at most " +
               std::to_string(kMaxRunEnv));
  }
  // Sorted, so that the first bad variable named is the same every time.
  std::vector<std::pair<std::string_view, std::string_view>> env(r.env().begin(), r.env().end());
  std::sort(env.begin(), env.end());
  for (const auto& [k, v] : env) {
    if (!valid_env_key(k)) {
      return bad("run.env: key " + quote_value(k) +
                 " is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*, at most " +
                 std::to_string(kMaxEnvKeyBytes) + " bytes)");
    }
    const std::string field = "run.env[\"" + std::string(k) + "\"]";
    if (v.size() > kMaxEnvValueBytes) {
      return bad(field + ": " + std::to_string(v.size()) + " bytes; at most " +
                 std::to_string(kMaxEnvValueBytes));
    }
    if (v.find('\0') != std::string_view::npos) {
      return bad(field + ": " + quote_value(v) + " must not contain NUL bytes");
    }
  }
  if (auto ok = check_path("run.working_dir", r.working_dir(), false); !ok) return ok;
  for (auto [name, list] :
       {std::pair{"run.ro_binds", &r.ro_binds()}, std::pair{"run.binds", &r.binds()}}) {
    if (auto ok = check_count(name, list->size(), kMaxRunBinds); !ok) return ok;
    for (int i = 0; i < list->size(); ++i) {
      if (auto ok = check_bind(at(name, i), list->Get(i)); !ok) return ok;
    }
  }
  if (!one_of(kSeccompProfiles, r.seccomp_profile())) {
    return bad("run.seccomp_profile: " + quote_value(r.seccomp_profile()) + " is not one of " +
               listed(kSeccompProfiles) + " (empty: \"default\")");
  }
  if (r.memory_max() != 0 && (r.memory_max() < kMinMemoryMax || r.memory_max() > kMaxMemoryMax)) {
    return bad("run.memory_max: " + std::to_string(r.memory_max()) +
               " bytes; must be 0 (no limit) or " + std::to_string(kMinMemoryMax) + " (4 MiB) to " +
               std::to_string(kMaxMemoryMax) + " (1 PiB)");
  }
  if (auto ok = check_at_most("run.pids_max", r.pids_max(), kMaxPidsMax, "no limit"); !ok) {
    return ok;
  }
  if (!one_of(kNetworks, r.network())) {
    return bad("run.network: " + quote_value(r.network()) + " is not one of " + listed(kNetworks) +
               " (empty: \"none\")");
  }
  return {};
}

Result<void> check_subscribe(const v1::SubscribeRequest& r) {
  auto ok = check_count("subscribe.plugins", r.plugins_size(), kMaxSubscribePlugins);
  if (!ok) return ok;
  std::set<std::string_view> seen;
  for (int i = 0; i < r.plugins_size(); ++i) {
    if (ok = check_plugin_name(at("subscribe.plugins", i), r.plugins(i), true); !ok) return ok;
    if (!seen.insert(r.plugins(i)).second) {
      return bad(at("subscribe.plugins", i) + ": " + quote_value(r.plugins(i)) +
                 " is listed twice");
    }
  }
  ok = check_count("subscribe.types", r.types_size(), static_cast<int>(kEventTypes.size()));
  if (!ok) return ok;
  seen.clear();
  for (int i = 0; i < r.types_size(); ++i) {
    if (!one_of(kEventTypes, r.types(i))) {
      return bad(at("subscribe.types", i) + ": " + quote_value(r.types(i)) + " is not one of " +
                 listed(kEventTypes));
    }
    if (!seen.insert(r.types(i)).second) {
      return bad(at("subscribe.types", i) + ": " + quote_value(r.types(i)) + " is listed twice");
    }
  }
  if (!one_of(kSeverities, r.min_severity())) {
    return bad("subscribe.min_severity: " + quote_value(r.min_severity()) + " is not one of " +
               listed(kSeverities) + " (empty: every severity)");
  }
  return check_at_most("subscribe.max", r.max(), kMaxSubscribeMax, "all");
}

Result<void> check_token(const v1::AuthToken& t) {
  auto ok =
      check_text("auth.token.subject", t.subject(), 1, kMaxSubjectBytes, Charset::kSpaceInside);
  if (!ok) return ok;
  ok =
      check_text("auth.token.session_id", t.session_id(), 0, kMaxSessionIdBytes, Charset::kNoSpace);
  if (!ok) return ok;
  if (ok = check_count("auth.token.permissions", t.permissions_size(), kMaxTokenPermissions); !ok) {
    return ok;
  }
  std::set<std::string_view> seen;
  for (int i = 0; i < t.permissions_size(); ++i) {
    const std::string& p = t.permissions(i);
    if (p != kAllPermissions && !known_permission(p)) {
      std::string known;
      for (const auto& k : known_permissions()) known += k + ", ";
      return bad(at("auth.token.permissions", i) + ": " + quote_value(p) +
                 " is not a permission corrald knows (" + known + "or \"*\" for all)");
    }
    if (!seen.insert(p).second) {
      return bad(at("auth.token.permissions", i) + ": " + quote_value(p) + " is listed twice");
    }
  }
  if (t.expires_unix_ms() <= 0) {
    return bad("auth.token.expires_unix_ms: " + std::to_string(t.expires_unix_ms()) +
               "; must be > 0 (a token always expires)");
  }
  return {};
}

Result<void> check_auth(const v1::RequestAuth& a) {
  const std::string& id = a.client_id();
  bool id_ok = !id.empty() && id.size() <= kMaxAuthClientIdBytes &&
               std::all_of(id.begin(), id.end(), [](char c) {
                 return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
               });
  if (!id_ok) {
    if (id.empty()) return bad("auth.client_id: required");
    return bad("auth.client_id: " + quote_value(id) +
               " must be 1-64 letters, digits, '.', '_' or '-'");
  }
  if (a.nonce().size() < kMinNonceBytes || a.nonce().size() > kMaxNonceBytes) {
    return bad("auth.nonce: " + std::to_string(a.nonce().size()) + " bytes; must be " +
               std::to_string(kMinNonceBytes) + " to " + std::to_string(kMaxNonceBytes));
  }
  if (a.signature().size() != kSignatureBytes) {
    return bad("auth.signature: " + std::to_string(a.signature().size()) + " bytes; must be " +
               std::to_string(kSignatureBytes) + " (HMAC-SHA256)");
  }
  if (a.timestamp_unix_ms() <= 0) {
    return bad("auth.timestamp_unix_ms: " + std::to_string(a.timestamp_unix_ms()) +
               "; must be > 0 (milliseconds since the epoch)");
  }
  if (!a.has_token()) return bad("auth.token: required (on whose behalf the request is made)");
  return check_token(a.token());
}

Result<void> check_command(const v1::Request& req) {
  switch (req.command_case()) {
    case v1::Request::kHello:
      return check_text("hello.client_name", req.hello().client_name(), 0, kMaxClientNameBytes,
                        Charset::kWithSpace);
    case v1::Request::kStatus:
      return check_plugin_name("status.name", req.status().name(), true);
    case v1::Request::kStart:
      return check_plugin_name("start.name", req.start().name(), true);
    case v1::Request::kStop: {
      auto ok = check_plugin_name("stop.name", req.stop().name(), true);
      if (!ok) return ok;
      return check_at_most("stop.timeout_ms", req.stop().timeout_ms(), kMaxStopTimeoutMs,
                           "the manifest's stop timeout");
    }
    case v1::Request::kRestart: {
      auto ok = check_plugin_name("restart.name", req.restart().name(), true);
      if (!ok) return ok;
      return check_at_most("restart.timeout_ms", req.restart().timeout_ms(), kMaxStopTimeoutMs,
                           "the manifest's stop timeout");
    }
    case v1::Request::kLogs: {
      auto ok = check_plugin_name("logs.name", req.logs().name(), true);
      if (!ok) return ok;
      return check_at_most("logs.tail", req.logs().tail(), kMaxLogsTail, "100 lines");
    }
    case v1::Request::kRun:
      return check_run(req.run());
    case v1::Request::kStats:
      return check_plugin_name("stats.name", req.stats().name(), false);
    case v1::Request::kHealth:
      return check_plugin_name("health.name", req.health().name(), true);
    case v1::Request::kReset:
      return check_plugin_name("reset.name", req.reset().name(), true);
    case v1::Request::kEvents: {
      auto ok = check_plugin_name("events.plugin", req.events().plugin(), false);
      if (!ok) return ok;
      return check_at_most("events.max", req.events().max(), kMaxEventsMax, "1000 events");
    }
    case v1::Request::kAudit: {
      const auto& a = req.audit();
      if (a.since_unix_ms() < 0) {
        return bad("audit.since_unix_ms: " + std::to_string(a.since_unix_ms()) +
                   "; must be >= 0 (0: from the first record)");
      }
      auto ok = check_plugin_name("audit.plugin", a.plugin(), false);
      if (!ok) return ok;
      return check_at_most("audit.limit", a.limit(), kMaxAuditLimit, "1000 records");
    }
    case v1::Request::kBackup: {
      const std::string& p = req.backup().path();
      if (auto ok = check_path("backup.path", p, true); !ok) return ok;
      if (p == "/") return bad("backup.path: \"/\" must name a file, not a directory");
      return {};
    }
    case v1::Request::kSubscribe:
      return check_subscribe(req.subscribe());
    default:  // version, list, doctor, breakers, audit_verify, rotate_key: no fields
      return {};
  }
}

// The first unknown field in m or any message under it, path naming where it is.
Result<void> refuse_unknown(const Message& m, const std::string& path, uint32_t version) {
  const auto* refl = m.GetReflection();
  if (const auto& unknown = refl->GetUnknownFields(m); unknown.field_count() > 0) {
    return bad(path + ": field " + std::to_string(unknown.field(0).number()) +
               " is not part of protocol v" + std::to_string(version) +
               " as this corrald knows it; leave it out or upgrade corrald");
  }
  std::vector<const FieldDescriptor*> fields;
  refl->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    const std::string child = path == "request" ? f->name() : path + "." + f->name();
    if (f->is_map()) {
      const FieldDescriptor* value = f->message_type()->map_value();
      if (value->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
      for (int i = 0; i < refl->FieldSize(m, f); ++i) {
        const Message& entry = refl->GetRepeatedMessage(m, f, i);
        const Message& v = entry.GetReflection()->GetMessage(entry, value);
        if (auto ok = refuse_unknown(v, at(child, i), version); !ok) return ok;
      }
    } else if (f->is_repeated()) {
      for (int i = 0; i < refl->FieldSize(m, f); ++i) {
        if (auto ok = refuse_unknown(refl->GetRepeatedMessage(m, f, i), at(child, i), version);
            !ok) {
          return ok;
        }
      }
    } else if (auto ok = refuse_unknown(refl->GetMessage(m, f), child, version); !ok) {
      return ok;
    }
  }
  return {};
}

}  // namespace

std::string quote_value(std::string_view v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : v.substr(0, kShownBytes)) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c <= 0x7e) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  out += '"';
  if (v.size() > kShownBytes) out += "... (" + std::to_string(v.size()) + " bytes)";
  return out;
}

Result<void> validate_request(const v1::Request& req, uint32_t negotiated_version) {
  if (req.command_case() == v1::Request::COMMAND_NOT_SET) return {};
  if (req.has_auth() && negotiated_version < 2) {
    return bad(negotiated_version == 0
                   ? "auth: signed requests need protocol v2; this connection has not said "
                     "Hello yet"
                   : "auth: signed requests need protocol v2; this connection negotiated v" +
                         std::to_string(negotiated_version));
  }
  if (negotiated_version >= 2) {
    if (auto ok = refuse_unknown(req, "request", negotiated_version); !ok) return ok;
  }
  auto ok = check_text("correlation_id", req.correlation_id(), 0, kMaxCorrelationIdBytes,
                       Charset::kNoSpace);
  if (!ok) return ok;
  if (req.has_auth()) {
    if (ok = check_auth(req.auth()); !ok) return ok;
  }
  return check_command(req);
}

}  // namespace corral::supervisor
