#include "supervisor/manifest.h"

#include "supervisor/manifest_telemetry.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdio>
#include <map>

#include "common/files.h"
#include "supervisor/toml_reader.h"

namespace corral::supervisor {

namespace {

constexpr int64_t kHourMs = 3600 * 1000;

struct SignalName {
  std::string_view name;
  int number;
};
constexpr std::array<SignalName, 7> kStopSignals = {{{"TERM", SIGTERM},
                                                     {"INT", SIGINT},
                                                     {"HUP", SIGHUP},
                                                     {"QUIT", SIGQUIT},
                                                     {"USR1", SIGUSR1},
                                                     {"USR2", SIGUSR2},
                                                     {"KILL", SIGKILL}}};

bool valid_env_key(std::string_view k) {
  if (k.empty() || k.size() > 255) return false;
  if (!(std::isalpha(static_cast<unsigned char>(k[0])) || k[0] == '_')) return false;
  return std::all_of(k.begin(), k.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

bool absolute_path(std::string_view p) {
  if (p.empty() || p[0] != '/' || p.size() > 4095) return false;
  // No "." or ".." components: a manifest names the real path.
  size_t pos = 0;
  while (pos < p.size()) {
    size_t next = p.find('/', pos + 1);
    std::string_view comp =
        p.substr(pos + 1, next == std::string_view::npos ? p.npos : next - pos - 1);
    if (comp == "." || comp == "..") return false;
    if (next == std::string_view::npos) break;
    pos = next;
  }
  return true;
}

void parse_restart(TomlReader& r, const toml::table& t, RestartSettings& s) {
  r.reject_unknown(t, "restart", {"policy", "delay_ms", "max_delay_ms", "stable_after_ms"});
  if (auto v = r.string(t, "restart", "policy")) {
    if (auto p = parse_restart_policy(*v)) {
      s.policy = *p;
    } else {
      r.problem("restart.policy",
                "must be \"no\", \"on-failure\" or \"always\", got \"" + *v + "\"");
    }
  }
  if (auto v = r.integer(t, "restart", "delay_ms", 0, kHourMs))
    s.delay = std::chrono::milliseconds(*v);
  if (auto v = r.integer(t, "restart", "max_delay_ms", 0, kHourMs)) {
    s.max_delay = std::chrono::milliseconds(*v);
  }
  if (auto v = r.integer(t, "restart", "stable_after_ms", 0, 24 * kHourMs)) {
    s.stable_after = std::chrono::milliseconds(*v);
  }
  if (s.max_delay < s.delay) {
    r.problem("restart.max_delay_ms",
              "must be at least restart.delay_ms (" + std::to_string(s.delay.count()) + ")");
  }
}

void parse_limits(TomlReader& r, const toml::table& t, PluginLimits& l) {
  r.reject_unknown(t, "limits", {"nofile", "nproc", "core_bytes", "fsize_bytes", "as_bytes"});
  constexpr int64_t kTiB = 1ll << 40;
  if (auto v = r.integer(t, "limits", "nofile", 1, 1 << 20)) l.nofile = static_cast<uint64_t>(*v);
  if (auto v = r.integer(t, "limits", "nproc", 1, 1 << 22)) l.nproc = static_cast<uint64_t>(*v);
  if (auto v = r.integer(t, "limits", "core_bytes", 0, kTiB))
    l.core_bytes = static_cast<uint64_t>(*v);
  if (auto v = r.integer(t, "limits", "fsize_bytes", 1, 64 * kTiB)) {
    l.fsize_bytes = static_cast<uint64_t>(*v);
  }
  if (auto v = r.integer(t, "limits", "as_bytes", 16ll << 20, 64 * kTiB)) {
    l.as_bytes = static_cast<uint64_t>(*v);
  }
}

// A size as a TOML integer (bytes) or a string with a K/M/G/T suffix.
std::optional<uint64_t> size_value(TomlReader& r, const toml::table& t, std::string_view key,
                                   uint64_t min, uint64_t max,
                                   std::string_view section = "resources") {
  const toml::node* node = t.get(key);
  if (node == nullptr) return std::nullopt;
  std::string full = std::string(section) + "." + std::string(key);
  std::optional<uint64_t> v;
  if (node->is_integer() && node->as_integer()->get() >= 0) {
    v = static_cast<uint64_t>(node->as_integer()->get());
  } else if (node->is_string()) {
    v = parse_size(node->as_string()->get());
  }
  if (!v) {
    r.problem(full, "must be a size in bytes: an integer or a string such as \"256M\" or \"2G\"");
    return std::nullopt;
  }
  if (*v < min || *v > max) {
    r.problem(full, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                        " bytes, got " + std::to_string(*v));
    return std::nullopt;
  }
  return v;
}

void parse_resources(TomlReader& r, const toml::table& t, sandbox::CgroupLimits& l) {
  r.reject_unknown(t, "resources",
                   {"memory_max", "memory_high", "swap_max", "cpu_max", "cpu_weight", "pids_max"});
  constexpr uint64_t kMiB = 1 << 20;
  constexpr uint64_t kTiB = uint64_t{1} << 40;
  l.memory_max = size_value(r, t, "memory_max", 4 * kMiB, 64 * kTiB);
  l.memory_high = size_value(r, t, "memory_high", 4 * kMiB, 64 * kTiB);
  l.swap_max = size_value(r, t, "swap_max", 0, 64 * kTiB);
  if (auto v = r.string(t, "resources", "cpu_max")) {
    // "50%" of one CPU, up to "1600%" (16 CPUs); bandwidth over a 100 ms period.
    unsigned pct = 0;
    char tail = 0;
    if (std::sscanf(v->c_str(), "%u%%%c", &pct, &tail) == 1 && v->back() == '%' && pct >= 1 &&
        pct <= 1600) {
      l.cpu_max = sandbox::CpuMax{uint64_t{pct} * 1000, 100000};
    } else {
      r.problem("resources.cpu_max",
                "must be a percentage of one CPU from \"1%\" to \"1600%\", got \"" + *v + "\"");
    }
  }
  if (auto v = r.integer(t, "resources", "cpu_weight", 1, 10000)) {
    l.cpu_weight = static_cast<uint32_t>(*v);
  }
  if (auto v = r.integer(t, "resources", "pids_max", 1, 1 << 22)) {
    l.pids_max = static_cast<uint64_t>(*v);
  }
  if (l.memory_high && l.memory_max && *l.memory_high > *l.memory_max) {
    r.problem("resources.memory_high", "must not exceed resources.memory_max");
  }
}

void parse_isolation(TomlReader& r, const toml::table& t, Manifest& m) {
  IsolationSettings& iso = m.isolation;
  if (auto v = r.string(t, "sandbox", "isolation")) {
    if (*v == "full") {
      iso.enabled = true;
    } else if (*v == "none") {
      iso.enabled = false;
    } else {
      r.problem("sandbox.isolation", "must be \"full\" or \"none\", got \"" + *v + "\"");
    }
  }
  if (auto v = r.integer(t, "sandbox", "uid", 0, 65535)) iso.uid = static_cast<uid_t>(*v);
  iso.gid = iso.uid;
  if (auto v = r.integer(t, "sandbox", "gid", 0, 65535)) iso.gid = static_cast<gid_t>(*v);
  if (auto v = r.string(t, "sandbox", "hostname")) {
    if (valid_plugin_name(*v)) {
      iso.hostname = *v;
    } else {
      r.problem("sandbox.hostname",
                "must be 1-63 letters, digits, '.', '_' or '-', got \"" + *v + "\"");
    }
  }
  if (const toml::node* n = t.get("network"); n != nullptr && n->is_table()) {
    iso.net_policy = parse_network_table(r, *n->as_table());
    iso.host_network = true;
  } else if (auto v = r.string(t, "sandbox", "network")) {
    if (*v == "none") {
      iso.host_network = false;
    } else if (*v == "host") {
      iso.host_network = true;
    } else {
      r.problem("sandbox.network",
                "must be \"none\", \"host\" or { allow = [...] }, got \"" + *v + "\"");
    }
  }
  for (const char* key : {"ro_binds", "binds"}) {
    auto v = r.strings(t, "sandbox", key, 64);
    if (!v) continue;
    for (const auto& spec : *v) {
      auto b = parse_bind_spec(spec, std::string_view(key) == "binds");
      if (!b) {
        r.problem(std::string("sandbox.") + key, b.error().message);
      } else {
        iso.binds.push_back(std::move(*b));
      }
    }
  }
  if (auto v = size_value(r, t, "tmp_size", 1 << 20, uint64_t{1} << 40, "sandbox")) {
    iso.tmp_size = *v;
  }
  iso.state_size = size_value(r, t, "state_size", 4 << 20, uint64_t{1} << 40, "sandbox");
  if (!iso.enabled && (t.contains("uid") || t.contains("gid") || t.contains("hostname") ||
                       t.contains("network") || t.contains("ro_binds") || t.contains("binds") ||
                       t.contains("tmp_size") || t.contains("state_size"))) {
    r.problem("sandbox.isolation",
              "is \"none\": uid, gid, hostname, network, binds and tmp_size need a sandbox");
  }
}

void parse_sandbox(TomlReader& r, const toml::table* t, Manifest& m) {
  std::string profile = "default";
  std::vector<std::string> add, remove;
  std::string action = "errno";
  m.isolation.hostname = m.name;
  if (t != nullptr) {
    r.reject_unknown(
        *t, "sandbox",
        {"seccomp", "seccomp_action", "seccomp_allow", "seccomp_deny", "isolation", "uid", "gid",
         "hostname", "network", "ro_binds", "binds", "tmp_size", "state_size"});
    parse_isolation(r, *t, m);
    if (auto v = r.string(*t, "sandbox", "seccomp")) profile = *v;
    if (auto v = r.string(*t, "sandbox", "seccomp_action")) action = *v;
    if (auto v = r.strings(*t, "sandbox", "seccomp_allow", 512)) add = std::move(*v);
    if (auto v = r.strings(*t, "sandbox", "seccomp_deny", 512)) remove = std::move(*v);
  }
  if (profile == "none") {
    if (!add.empty() || !remove.empty()) {
      r.problem("sandbox.seccomp", "is \"none\": seccomp_allow and seccomp_deny make no sense");
    }
    m.seccomp.reset();
    return;
  }
  auto base = sandbox::builtin_seccomp_profile(profile);
  if (!base) {
    r.problem("sandbox.seccomp", base.error().message + " or \"none\"");
    return;
  }
  auto act = sandbox::parse_seccomp_action(action);
  if (!act) {
    r.problem("sandbox.seccomp_action", act.error().message);
    return;
  }
  if (*act == sandbox::SeccompAction::kNotify) {
    r.problem("sandbox.seccomp_action",
              "\"notify\" is not an action: corrald is told of every denied call where the "
              "kernel allows it; choose kill, errno or log");
    return;
  }
  base->default_action = *act;
  auto custom = sandbox::customize_profile(std::move(*base), add, remove);
  if (!custom) {
    r.problem("sandbox", custom.error().message);
    return;
  }
  m.seccomp = std::move(*custom);
}

}  // namespace

Result<sandbox::BindMount> parse_bind_spec(std::string_view spec, bool writable) {
  std::string_view src = spec, dst;
  if (size_t colon = spec.find(':'); colon != std::string_view::npos) {
    src = spec.substr(0, colon);
    dst = spec.substr(colon + 1);
  }
  auto bad = [](std::string_view p) {
    return p.empty() || p[0] != '/' || p.find("/../") != std::string_view::npos ||
           p.ends_with("/..") || p.find('\0') != std::string_view::npos;
  };
  if (bad(src) || (spec.find(':') != std::string_view::npos && bad(dst))) {
    return make_error(Code::kInvalidArgument,
                      "\"" + std::string(spec) +
                          "\" must be SOURCE or SOURCE:TARGET, both absolute paths without \"..\"");
  }
  return sandbox::BindMount{std::string(src), std::string(dst), writable};
}

std::optional<uint64_t> parse_size(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t mult = 1;
  switch (s.back()) {
    case 'K':
      mult = uint64_t{1} << 10;
      break;
    case 'M':
      mult = uint64_t{1} << 20;
      break;
    case 'G':
      mult = uint64_t{1} << 30;
      break;
    case 'T':
      mult = uint64_t{1} << 40;
      break;
    default:
      break;
  }
  if (mult != 1) s.remove_suffix(1);
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > UINT64_MAX / mult) return std::nullopt;
  return v * mult;
}

bool valid_plugin_name(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (!std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

std::optional<int> parse_signal_name(std::string_view name) {
  if (name.starts_with("SIG")) name.remove_prefix(3);
  for (const auto& s : kStopSignals) {
    if (s.name == name) return s.number;
  }
  return std::nullopt;
}

Result<Manifest> parse_manifest(std::string_view text, const std::string& source) {
  TomlReader r(source);
  Manifest m;
  m.source = source;
  auto doc = r.parse(text);
  if (!doc) return std::unexpected(r.error());
  r.reject_unknown(*doc, "",
                   {"name", "exec", "args", "env", "working_dir", "autostart", "restart", "stop",
                    "limits", "resources", "sandbox", "logs", "thresholds", "recovery", "health"});

  if (auto v = r.string(*doc, "", "name")) {
    if (valid_plugin_name(*v)) {
      m.name = *v;
    } else {
      r.problem("name",
                "\"" + *v +
                    "\" is not a valid plugin name: 1-63 characters from A-Z a-z 0-9 _ . -, "
                    "starting with a letter or digit");
    }
  } else if (doc->get("name") == nullptr) {
    r.problem("name", "is required");
  }
  if (auto v = r.string(*doc, "", "exec")) {
    if (absolute_path(*v)) {
      m.exec = *v;
    } else {
      r.problem("exec", "must be an absolute path without . or .. components, got \"" + *v + "\"");
    }
  } else if (doc->get("exec") == nullptr) {
    r.problem("exec", "is required");
  }
  if (auto v = r.strings(*doc, "", "args", 4096)) m.args = std::move(*v);
  if (auto v = r.string(*doc, "", "working_dir")) {
    if (absolute_path(*v)) {
      m.working_dir = *v;
    } else {
      r.problem("working_dir", "must be an absolute path, got \"" + *v + "\"");
    }
  }
  if (auto v = r.boolean(*doc, "", "autostart")) m.autostart = *v;

  if (const toml::table* env = r.table(*doc, "env")) {
    for (const auto& [k, node] : *env) {
      std::string key = "env." + std::string(k.str());
      if (!valid_env_key(k.str())) {
        r.problem(key, "is not a valid environment variable name");
      } else if (!node.is_string()) {
        r.problem(key, "must be a string");
      } else if (node.as_string()->get().find('\0') != std::string::npos) {
        r.problem(key, "must not contain NUL bytes");
      } else {
        m.env[std::string(k.str())] = node.as_string()->get();
      }
    }
  }
  if (const toml::table* t = r.table(*doc, "restart")) parse_restart(r, *t, m.restart);
  if (const toml::table* t = r.table(*doc, "stop")) {
    r.reject_unknown(*t, "stop", {"signal", "timeout_ms"});
    if (auto v = r.string(*t, "stop", "signal")) {
      if (auto sig = parse_signal_name(*v)) {
        m.stop_signal = *sig;
      } else {
        r.problem("stop.signal",
                  "must be one of TERM, INT, HUP, QUIT, USR1, USR2, KILL; got \"" + *v + "\"");
      }
    }
    if (auto v = r.integer(*t, "stop", "timeout_ms", 1, 600000)) {
      m.stop_timeout = std::chrono::milliseconds(*v);
    }
  }
  if (const toml::table* t = r.table(*doc, "limits")) parse_limits(r, *t, m.limits);
  if (const toml::table* t = r.table(*doc, "resources")) parse_resources(r, *t, m.resources);
  parse_sandbox(r, r.table(*doc, "sandbox"), m);
  if (const toml::table* t = r.table(*doc, "thresholds")) {
    parse_thresholds(r, *t, m.resources.memory_max.has_value(), m.thresholds);
  }
  if (const toml::table* t = r.table(*doc, "recovery")) parse_recovery(r, *t, m.recovery);
  m.recovery.backoff = {m.restart.delay, m.restart.max_delay, m.restart.stable_after};
  if (const toml::table* t = r.table(*doc, "health")) {
    parse_health(r, *t, m.isolation.enabled, m.health);
  }
  if (const toml::table* t = r.table(*doc, "logs")) {
    r.reject_unknown(*t, "logs", {"ring_lines", "file_max_bytes"});
    if (auto v = r.integer(*t, "logs", "ring_lines", 1, 1000000)) {
      m.log_ring_lines = static_cast<uint32_t>(*v);
    }
    if (auto v = r.integer(*t, "logs", "file_max_bytes", 4096, 1ll << 30)) {
      m.log_file_max_bytes = static_cast<uint64_t>(*v);
    }
  }
  if (!r.ok()) return std::unexpected(r.error());
  return m;
}

Result<void> check_manifest_on_host(const Manifest& m) {
  struct stat st {};
  if (::stat(m.exec.c_str(), &st) != 0) {
    return sys_error(m.source + ": exec: cannot use \"" + m.exec + "\"");
  }
  if (!S_ISREG(st.st_mode) || ::access(m.exec.c_str(), X_OK) != 0) {
    return make_error(Code::kInvalidArgument,
                      m.source + ": exec: \"" + m.exec + "\" is not an executable file");
  }
  if (m.isolation.enabled) return {};  // working_dir is a path inside the sandbox
  if (::stat(m.working_dir.c_str(), &st) != 0) {
    return sys_error(m.source + ": working_dir: cannot use \"" + m.working_dir + "\"");
  }
  if (!S_ISDIR(st.st_mode)) {
    return make_error(Code::kInvalidArgument,
                      m.source + ": working_dir: \"" + m.working_dir + "\" is not a directory");
  }
  return {};
}

Result<ManifestSet> load_manifests(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return sys_error("cannot open plugins directory " + dir);
  std::vector<std::string> files;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n.size() > 5 && n.ends_with(".toml") && n[0] != '.') files.emplace_back(n);
  }
  int read_errno = errno;
  ::closedir(d);
  if (read_errno != 0) return sys_error("cannot read plugins directory " + dir, read_errno);
  std::sort(files.begin(), files.end());

  ManifestSet set;
  std::map<std::string, std::string> seen;  // name -> file
  for (const auto& f : files) {
    std::string path = dir + "/" + f;
    auto text = read_file(path, 1 << 20);
    if (!text) {
      set.problems.push_back(text.error().describe());
      continue;
    }
    auto m = parse_manifest(*text, path);
    if (!m) {
      // One problem per line, as TomlReader joined them.
      std::string_view all = m.error().message;
      while (!all.empty()) {
        size_t nl = all.find('\n');
        set.problems.emplace_back(all.substr(0, nl));
        all = nl == std::string_view::npos ? std::string_view{} : all.substr(nl + 1);
      }
      continue;
    }
    auto [it, inserted] = seen.emplace(m->name, path);
    if (!inserted) {
      set.problems.push_back(path + ": name: plugin \"" + m->name + "\" is already defined in " +
                             it->second);
      continue;
    }
    set.manifests.push_back(std::move(*m));
  }
  std::sort(set.manifests.begin(), set.manifests.end(),
            [](const Manifest& a, const Manifest& b) { return a.name < b.name; });
  return set;
}

}  // namespace corral::supervisor
