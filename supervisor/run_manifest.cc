#include "supervisor/run_manifest.h"

#include <sys/stat.h>
#include <unistd.h>

namespace corral::supervisor {

namespace {

Error invalid(const std::string& field, const std::string& problem) {
  return Error{Code::kInvalidArgument, 0, "run." + field + " " + problem};
}

bool absolute_clean(const std::string& p) {
  return !p.empty() && p[0] == '/' && p.find("/../") == std::string::npos && !p.ends_with("/..") &&
         p.find('\0') == std::string::npos && p.size() < 4096;
}

}  // namespace

Result<Manifest> manifest_from_run(const v1::RunRequest& r, const std::string& default_name) {
  Manifest m;
  m.name = r.name().empty() ? default_name : r.name();
  if (!valid_plugin_name(m.name)) {
    return std::unexpected(invalid("name",
                                   "must be 1-63 letters, digits, '.', '_' or '-' "
                                   "starting with a letter or digit, got \"" +
                                       r.name() + "\""));
  }
  if (!absolute_clean(r.exec())) {
    return std::unexpected(invalid("exec", "must be an absolute path, got \"" + r.exec() + "\""));
  }
  m.exec = r.exec();
  if (r.args_size() > 4096) return std::unexpected(invalid("args", "has more than 4096 entries"));
  for (const auto& a : r.args()) {
    if (a.find('\0') != std::string::npos) {
      return std::unexpected(invalid("args", "must not contain NUL bytes"));
    }
    m.args.push_back(a);
  }
  for (const auto& [k, v] : r.env()) {
    if (k.empty() || k.find('=') != std::string::npos || k.find('\0') != std::string::npos ||
        v.find('\0') != std::string::npos) {
      return std::unexpected(invalid("env", "has an invalid variable \"" + k + "\""));
    }
    m.env[k] = v;
  }
  if (m.env.empty()) m.env["PATH"] = "/usr/bin:/bin";
  if (!r.working_dir().empty()) {
    if (!absolute_clean(r.working_dir())) {
      return std::unexpected(
          invalid("working_dir", "must be an absolute path, got \"" + r.working_dir() + "\""));
    }
    m.working_dir = r.working_dir();
  }
  m.autostart = false;
  m.restart.policy = RestartPolicy::kNo;
  m.stop_timeout = std::chrono::milliseconds(2000);
  m.isolation.hostname = m.name;
  for (const auto& [list, writable] :
       {std::pair{&r.ro_binds(), false}, std::pair{&r.binds(), true}}) {
    for (const auto& spec : *list) {
      auto b = parse_bind_spec(spec, writable);
      if (!b) return std::unexpected(invalid(writable ? "binds" : "ro_binds", b.error().message));
      m.isolation.binds.push_back(std::move(*b));
    }
  }
  std::string profile = r.seccomp_profile().empty() ? "default" : r.seccomp_profile();
  if (profile == "none") {
    m.seccomp.reset();
  } else {
    auto p = sandbox::builtin_seccomp_profile(profile);
    if (!p) return std::unexpected(invalid("seccomp_profile", p.error().message + " or \"none\""));
    m.seccomp = std::move(*p);
  }
  if (r.memory_max() != 0) {
    if (r.memory_max() < (4u << 20)) {
      return std::unexpected(invalid("memory_max", "must be at least 4 MiB"));
    }
    m.resources.memory_max = r.memory_max();
    m.resources.swap_max = 0;
  }
  if (r.pids_max() != 0) {
    if (r.pids_max() > (1u << 22)) return std::unexpected(invalid("pids_max", "is too large"));
    m.resources.pids_max = r.pids_max();
  }
  if (r.network().empty() || r.network() == "none") {
    m.isolation.host_network = false;
  } else if (r.network() == "host") {
    m.isolation.host_network = true;
  } else {
    return std::unexpected(
        invalid("network", "must be \"none\" or \"host\", got \"" + r.network() + "\""));
  }
  m.source = "corralctl run";
  m.ephemeral = true;
  return m;
}

}  // namespace corral::supervisor
