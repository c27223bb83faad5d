#include "sandbox/host_probe.h"

#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/files.h"
#include "common/unique_fd.h"

namespace corral::sandbox {

namespace {

std::string err(int e) {
  return std::string(std::strerror(e)) + " (errno " + std::to_string(e) + ")";
}

}  // namespace

HostCheck probe_user_namespaces() {
  HostCheck c{"user namespaces", false, "",
              "plugins cannot be sandboxed: launches fail unless a manifest says isolation = "
              "\"none\""};
  // Try it in a throwaway child: unshare(CLONE_NEWUSER) would change this process for good.
  pid_t pid = ::fork();
  if (pid < 0) {
    c.detail = "fork failed: " + err(errno);
    return c;
  }
  if (pid == 0) _exit(::unshare(CLONE_NEWUSER) == 0 ? 0 : (errno & 0x7f));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    c.ok = true;
    auto max = read_file("/proc/sys/user/max_user_namespaces");
    c.detail = "unshare(CLONE_NEWUSER) works; max_user_namespaces " +
               (max ? max->substr(0, max->find('\n')) : std::string("?"));
    c.without.clear();
  } else {
    c.detail = "unshare(CLONE_NEWUSER): " + err(WIFEXITED(status) ? WEXITSTATUS(status) : 0);
  }
  return c;
}

HostCheck probe_seccomp() {
  HostCheck c{"seccomp filters", false, "", "no system-call filter for plugins"};
  int mode = ::prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
  if (mode < 0) {
    c.detail = "prctl(PR_GET_SECCOMP): " + err(errno);
    return c;
  }
  uint32_t action = SECCOMP_RET_KILL_PROCESS;
  if (::syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) != 0) {
    c.detail = "SECCOMP_RET_KILL_PROCESS unavailable: " + err(errno);
    return c;
  }
  c.ok = true;
  c.detail = "filter mode available (corrald itself runs in mode " + std::to_string(mode) + ")";
  c.without.clear();
  return c;
}

HostCheck probe_seccomp_user_notif() {
  HostCheck c{"seccomp user notification", false, "",
              "violations are seen only through the audit log, not named to corrald"};
  uint32_t action = SECCOMP_RET_USER_NOTIF;
  if (::syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) != 0) {
    c.detail = "SECCOMP_RET_USER_NOTIF unavailable: " + err(errno);
    return c;
  }
  c.ok = true;
  c.detail = "SECCOMP_RET_USER_NOTIF available";
  c.without.clear();
  return c;
}

HostCheck probe_landlock() {
  HostCheck c{"landlock", false, "", "mount namespaces are the only filesystem confinement"};
  long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi < 0) {
    c.detail = errno == EOPNOTSUPP ? "built in but disabled at boot (lsm=)" : err(errno);
    return c;
  }
  c.ok = true;
  c.detail = "ABI version " + std::to_string(abi);
  c.without.clear();
  return c;
}

HostCheck probe_mount_setattr() {
  HostCheck c{"mount_setattr", false, "",
              "plugins cannot be sandboxed (read-only binds need it, Linux 5.12+)"};
  // An invalid call: EINVAL/EBADF/ENOENT mean the syscall exists, ENOSYS that it does not.
  long rc = ::syscall(SYS_mount_setattr, -1, "", 0, nullptr, 0);
  if (rc != 0 && errno == ENOSYS) {
    c.detail = err(errno);
    return c;
  }
  c.ok = true;
  c.detail = "available";
  c.without.clear();
  return c;
}

HostCheck probe_pidfd() {
  HostCheck c{"pidfd", false, "", "corrald cannot run: it tracks every plugin by pidfd"};
  UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0)));
  if (!fd) {
    c.detail = "pidfd_open: " + err(errno);
    return c;
  }
  c.ok = true;
  c.detail = "pidfd_open, pidfd_send_signal and waitid(P_PIDFD)";
  c.without.clear();
  return c;
}

HostCheck probe_clone3() {
  HostCheck c{"clone3", false, "", "corrald cannot launch plugins"};
  // A null argument is rejected with EINVAL by a kernel that has clone3, ENOSYS otherwise.
  long r = ::syscall(SYS_clone3, nullptr, 0);
  if (r >= 0 || errno == ENOSYS) {
    c.detail = r >= 0 ? "unexpected success" : "clone3: " + err(errno);
    return c;
  }
  c.ok = true;
  c.detail = "clone3 with CLONE_PIDFD";
  c.without.clear();
  return c;
}

HostCheck probe_cgroups(const CgroupLayout& layout) {
  HostCheck c{"cgroups", layout.mode != CgroupMode::kNone,
              std::string(cgroup_mode_name(layout.mode)), ""};
  if (!layout.v1.empty()) {
    c.detail += "; v1:";
    for (const auto& [ctrl, mount] : layout.v1) c.detail += " " + ctrl;
  }
  if (!layout.unified.empty()) {
    auto ctrls = v2_controllers(layout.unified);
    c.detail += "; cgroup2 at " + layout.unified + " with controllers: ";
    if (!ctrls) {
      c.detail += "? (" + ctrls.error().describe() + ")";
    } else if (ctrls->empty()) {
      c.detail += "none";
    } else {
      for (size_t i = 0; i < ctrls->size(); ++i) c.detail += (i ? " " : "") + (*ctrls)[i];
    }
  }
  if (!c.ok) c.without = "no per-plugin resource limits, freezing or group kill";
  return c;
}

HostCheck probe_mount(const std::string& name, const std::string& fstype, const std::string& where,
                      const std::string& without) {
  HostCheck c{name, false, "", without};
  auto text = read_file("/proc/self/mountinfo", 4 << 20);
  if (!text) {
    c.detail = text.error().describe();
    return c;
  }
  std::string_view all = *text;
  bool found = false;
  while (!all.empty() && !found) {
    size_t nl = all.find('\n');
    std::string_view line = all.substr(0, nl);
    found = line.find(" " + where + " ") != std::string_view::npos &&
            line.find(" - " + fstype + " ") != std::string_view::npos;
    all = nl == std::string_view::npos ? std::string_view{} : all.substr(nl + 1);
  }
  if (found) {
    c.ok = true;
    c.detail = fstype + " at " + where;
    c.without.clear();
  } else {
    c.detail = "not mounted at " + where + " (scripts/mounts mounts it)";
  }
  return c;
}

HostReport probe_host() {
  HostReport r;
  auto layout = detect_cgroup_layout();
  if (layout) r.cgroups = *layout;
  r.checks.push_back(probe_cgroups(r.cgroups));
  r.checks.push_back(probe_pidfd());
  r.checks.push_back(probe_clone3());
  r.checks.push_back(probe_user_namespaces());
  r.checks.push_back(probe_mount_setattr());
  r.checks.push_back(probe_seccomp());
  r.checks.push_back(probe_seccomp_user_notif());
  r.checks.push_back(probe_landlock());
  r.checks.push_back(probe_mount("tracefs", "tracefs", "/sys/kernel/tracing",
                                 "no tracepoint-based BPF telemetry"));
  r.checks.push_back(probe_mount("bpffs", "bpf", "/sys/fs/bpf", "BPF objects cannot be pinned"));
  return r;
}

}  // namespace corral::sandbox
