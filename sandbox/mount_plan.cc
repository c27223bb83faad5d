#include "sandbox/mount_plan.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <set>

namespace corral::sandbox {

namespace {

constexpr const char* kNew = kPlanRoot.data();
constexpr const char* kOld = "/oldroot";

// "/a//b/./c/" -> "/a/b/c"; ".." is refused (returns empty) so a target can never climb out.
std::string normalize(const std::string& p) {
  if (p.empty() || p[0] != '/') return {};
  std::string out;
  size_t i = 0;
  while (i < p.size()) {
    while (i < p.size() && p[i] == '/') ++i;
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string part = p.substr(i, j - i);
    i = j;
    if (part.empty() || part == ".") continue;
    if (part == "..") return {};
    out += "/" + part;
  }
  return out.empty() ? "/" : out;
}

bool under(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

Result<std::string> resolve(const std::string& host_path) {
  char buf[PATH_MAX];
  if (::realpath(host_path.c_str(), buf) == nullptr) {
    return sys_error("bind source " + host_path);
  }
  return std::string(buf);
}

MountOp op(MountOpKind kind, std::string path, std::string source = {}, std::string data = {},
           unsigned long flags = 0) {
  MountOp o;
  o.kind = kind;
  o.path = std::move(path);
  o.source = std::move(source);
  o.data = std::move(data);
  o.flags = flags;
  return o;
}

class Planner {
 public:
  explicit Planner(SandboxPlan& plan) : plan_(plan) {}

  // Creates the directories leading to `inside` (not `inside` itself) where the sandbox may
  // create them: in the root tmpfs or /tmp. Under a bind they must exist in the bound tree.
  void parents(const std::string& inside) {
    std::string acc;
    size_t pos = 1;
    for (;;) {
      size_t next = inside.find('/', pos);
      if (next == std::string::npos) break;
      acc = inside.substr(0, next);
      pos = next + 1;
      mkdir(acc);
    }
  }

  void mkdir(const std::string& inside) {
    if (made_.contains(inside) || bound_under(inside)) return;
    made_.insert(inside);
    plan_.ops.push_back(op(MountOpKind::kMkdir, kNew + inside));
  }

  void touch(const std::string& inside) {
    if (bound_under(inside)) return;
    plan_.ops.push_back(op(MountOpKind::kTouch, kNew + inside));
  }

  void symlink(const std::string& inside, const std::string& target) {
    parents(inside);
    plan_.ops.push_back(op(MountOpKind::kSymlink, kNew + inside, target));
    made_.insert(inside);
    links_.push_back(inside);
  }

  void write_file(const std::string& inside, std::string content) {
    parents(inside);
    plan_.ops.push_back(op(MountOpKind::kWriteFile, kNew + inside, {}, std::move(content)));
  }

  void mount(MountOpKind kind, const std::string& inside, std::string source = {},
             std::string data = {}, bool directory = true, unsigned long flags = 0) {
    parents(inside);
    if (directory) {
      mkdir(inside);
    } else {
      touch(inside);
    }
    plan_.ops.push_back(op(kind, kNew + inside, std::move(source), std::move(data), flags));
    if (kind == MountOpKind::kBindRo || kind == MountOpKind::kBindRw ||
        kind == MountOpKind::kBindDev) {
      if (directory) bound_.push_back(inside);
    }
    // A fresh tmpfs is somewhere new directories may be made again.
    if (kind == MountOpKind::kTmpfs) {
      std::erase_if(bound_, [&](const std::string& b) { return under(b, inside); });
    }
  }

  [[nodiscard]] bool bound_under(const std::string& inside) const {
    for (const auto& b : bound_) {
      if (under(inside, b)) return true;
    }
    return false;
  }

  // Is `inside` visible through a bind whose target is its own host path?
  [[nodiscard]] bool visible(const std::string& inside) const {
    for (const auto& t : identity_) {
      if (under(inside, t)) return true;
    }
    return false;
  }
  void note_identity(const std::string& inside) { identity_.push_back(inside); }
  // Under a symlink copied from the host: resolves inside as it does on the host.
  [[nodiscard]] bool through_link(const std::string& inside) const {
    for (const auto& l : links_) {
      if (under(inside, l)) return true;
    }
    return false;
  }

 private:
  SandboxPlan& plan_;
  std::set<std::string> made_{"/"};
  std::vector<std::string> bound_;
  std::vector<std::string> identity_;
  std::vector<std::string> links_;
};

bool is_symlink(const std::string& p, std::string* target) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return false;
  char buf[PATH_MAX];
  ssize_t n = ::readlink(p.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return false;
  target->assign(buf, static_cast<size_t>(n));
  return true;
}

// Mirrors one host path of the system view: a symlink as the same symlink, a directory or file
// as a read-only bind; absent paths are skipped (not every host has /lib32).
void mirror(Planner& p, const std::string& path) {
  std::string link;
  if (is_symlink(path, &link)) {
    p.symlink(path, link);
    return;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;
  bool dir = S_ISDIR(st.st_mode);
  auto real = resolve(path);
  if (!real) return;
  p.mount(MountOpKind::kBindRo, path, *real, {}, dir);
  p.note_identity(path);
}

std::string passwd(const SandboxSpec& s) {
  std::string out = "root:x:0:0:root:/:/usr/sbin/nologin\n";
  if (s.uid != 0) {
    out += "plugin:x:" + std::to_string(s.uid) + ":" + std::to_string(s.gid) +
           ":corral plugin:/:/usr/sbin/nologin\n";
  }
  return out + "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
}

std::string group(const SandboxSpec& s) {
  std::string out = "root:x:0:\n";
  if (s.gid != 0) out += "plugin:x:" + std::to_string(s.gid) + ":\n";
  return out + "nogroup:x:65534:\n";
}

}  // namespace

std::string MountOp::describe() const {
  auto strip = [](const std::string& p, const char* prefix) {
    std::string_view pre(prefix);
    return p.compare(0, pre.size(), pre) == 0
               ? (p.size() == pre.size() ? "/" : p.substr(pre.size()))
               : p;
  };
  std::string in = strip(path, kNew);
  switch (kind) {
    case MountOpKind::kMkdir:
      return "creating directory " + in;
    case MountOpKind::kTouch:
      return "creating mount point " + in;
    case MountOpKind::kSymlink:
      return "creating symlink " + in + " -> " + source;
    case MountOpKind::kWriteFile:
      return "writing " + in;
    case MountOpKind::kSysctl:
      return "setting " + in + " to " + data.substr(0, data.size() - 1);
    case MountOpKind::kBindRo:
      return "bind-mounting " + source + " read-only on " + in;
    case MountOpKind::kBindRw:
      return "bind-mounting " + source + " writable on " + in;
    case MountOpKind::kBindDev:
      return "bind-mounting device " + source + " on " + in;
    case MountOpKind::kTmpfs:
      return "mounting a tmpfs on " + in;
    case MountOpKind::kProc:
      return "mounting proc on " + in;
    case MountOpKind::kDevpts:
      return "mounting devpts on " + in;
    case MountOpKind::kAttach:
      return "attaching the state volume on " + in;
  }
  return "mount step";
}

// New instances and sysctls are per launch, and so is everything placed inside a per-launch
// mount (a bind under /tmp needs its mount point in that launch's /tmp).
void mark_late(SandboxPlan& plan) {
  std::vector<std::string> late_mounts;
  for (auto& op : plan.ops) {
    bool inside = std::any_of(late_mounts.begin(), late_mounts.end(),
                              [&](const std::string& m) { return under(op.path, m); });
    bool fresh = op.kind == MountOpKind::kProc || op.kind == MountOpKind::kDevpts ||
                 op.kind == MountOpKind::kAttach || op.kind == MountOpKind::kSysctl ||
                 (op.kind == MountOpKind::kTmpfs && op.path != std::string(kNew) + "/dev");
    op.late = fresh || inside;
    if (op.late && op.kind != MountOpKind::kMkdir && op.kind != MountOpKind::kTouch &&
        op.kind != MountOpKind::kSymlink && op.kind != MountOpKind::kWriteFile &&
        op.kind != MountOpKind::kSysctl) {
      late_mounts.push_back(op.path);
    }
  }
}

Result<SandboxPlan> plan_sandbox(const SandboxSpec& spec, const std::string& exec) {
  SandboxPlan plan;
  Planner p(plan);
  // The root tmpfs itself is mounted by the child before these steps; it is made read-only
  // after the pivot.
  if (spec.system_binds) {
    p.mount(MountOpKind::kBindRo, "/usr", "/usr");
    p.note_identity("/usr");
    for (const char* path : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
      mirror(p, path);
    }
    for (const char* name : {"ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime",
                             "nsswitch.conf", "alternatives", "ssl", "protocols", "services"}) {
      mirror(p, std::string("/etc/") + name);
    }
    if (spec.host_network) mirror(p, "/etc/resolv.conf");
  }
  p.write_file("/etc/passwd", passwd(spec));
  p.write_file("/etc/group", group(spec));
  p.write_file("/etc/hostname", spec.hostname + "\n");
  p.write_file("/etc/hosts", "127.0.0.1 localhost " + spec.hostname + "\n::1 localhost\n");

  p.mount(MountOpKind::kProc, "/proc");
  // No nested user namespaces: inside one the plugin would hold every capability again (over
  // that namespace only, but mount, unshare and friends would be open to it). The limit belongs
  // to the sandbox's user namespace, whose root (the init, before it drops) may set it.
  plan.ops.push_back(op(MountOpKind::kSysctl,
                        std::string(kNew) + "/proc/sys/user/max_user_namespaces", {}, "0\n"));
  // Device nodes live on their own bind mounts, so /dev itself can be noexec.
  p.mount(MountOpKind::kTmpfs, "/dev", {}, "mode=0755,size=64k,nr_inodes=64", true,
          MS_NOSUID | MS_NOEXEC);
  for (const char* dev : {"null", "zero", "full", "random", "urandom"}) {
    p.mount(MountOpKind::kBindDev, std::string("/dev/") + dev, std::string("/dev/") + dev, {},
            false);
  }
  p.mount(MountOpKind::kDevpts, "/dev/pts", {}, "newinstance,ptmxmode=0666,mode=0620");
  p.symlink("/dev/ptmx", "pts/ptmx");
  p.symlink("/dev/fd", "/proc/self/fd");
  p.symlink("/dev/stdin", "/proc/self/fd/0");
  p.symlink("/dev/stdout", "/proc/self/fd/1");
  p.symlink("/dev/stderr", "/proc/self/fd/2");
  p.mount(MountOpKind::kTmpfs, "/tmp", {},
          "mode=1777,size=" + std::to_string(spec.tmp_size) + ",nr_inodes=65536", true,
          MS_NOSUID | MS_NODEV);

  if (spec.state_mount_fd >= 0) {
    std::string target = normalize(spec.state_target);
    if (target.empty() || target == "/" || under(target, "/proc") || under(target, "/dev")) {
      return make_error(Code::kInvalidArgument,
                        "state target must be an absolute path outside /proc and /dev: \"" +
                            spec.state_target + "\"");
    }
    p.mount(MountOpKind::kAttach, target);
    plan.ops.back().fd = spec.state_mount_fd;
  }

  plan.rules.push_back({"/", PathAccess::kReadOnly, true});
  if (spec.state_mount_fd >= 0) {
    plan.rules.push_back({normalize(spec.state_target), PathAccess::kReadWrite, true});
  }
  plan.rules.push_back({"/dev", PathAccess::kDevices, true});
  plan.rules.push_back({"/tmp", PathAccess::kReadWrite, true});

  for (const auto& b : spec.binds) {
    std::string target = normalize(b.target.empty() ? b.source : b.target);
    if (target.empty()) {
      return make_error(Code::kInvalidArgument,
                        "bind target must be an absolute path without \"..\": \"" +
                            (b.target.empty() ? b.source : b.target) + "\"");
    }
    if (target == "/" || under(target, "/proc") || under(target, "/dev") || target == "/tmp") {
      return make_error(Code::kInvalidArgument,
                        "bind target " + target + " would cover the sandbox's own " +
                            (target == "/" ? std::string("root") : target.substr(0, 5)));
    }
    auto real = resolve(b.source);
    if (!real) return std::unexpected(real.error());
    struct stat st {};
    if (::stat(real->c_str(), &st) != 0) return sys_error("bind source " + b.source);
    bool dir = S_ISDIR(st.st_mode);
    p.mount(b.writable ? MountOpKind::kBindRw : MountOpKind::kBindRo, target, *real, {}, dir);
    if (target == *real) p.note_identity(target);
    if (b.writable) plan.rules.push_back({target, PathAccess::kReadWrite, dir});
  }

  // The program itself, read-only at its own path, when nothing above shows it.
  std::string exec_in = normalize(exec);
  if (exec_in.empty()) {
    return make_error(Code::kInvalidArgument, "exec must be an absolute path: " + exec);
  }
  if (!p.visible(exec_in)) {
    auto real = resolve(exec);
    if (!real) return std::unexpected(real.error());
    bool shown = p.visible(*real) && (exec_in == *real || p.through_link(exec_in));
    if (!shown) p.mount(MountOpKind::kBindRo, exec_in, *real, {}, false);
  }
  mark_late(plan);
  return plan;
}

}  // namespace corral::sandbox
