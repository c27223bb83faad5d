#include "sandbox/launcher.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <optional>

#include "common/files.h"
#include "sandbox/launch_child.h"

namespace corral::sandbox {

namespace {

using detail::Report;

Result<void> validate(const LaunchSpec& spec) {
  if (spec.exec.empty() || spec.exec[0] != '/') {
    return make_error(Code::kInvalidArgument,
                      "exec must be an absolute path, got \"" + spec.exec + "\"");
  }
  if (spec.working_dir.empty() || spec.working_dir[0] != '/') {
    return make_error(Code::kInvalidArgument,
                      "working_dir must be an absolute path, got \"" + spec.working_dir + "\"");
  }
  struct stat st {};
  if (::stat(spec.exec.c_str(), &st) != 0) return sys_error("cannot use " + spec.exec);
  if (!S_ISREG(st.st_mode)) {
    return make_error(Code::kInvalidArgument, spec.exec + " is not a regular file");
  }
  if (::access(spec.exec.c_str(), X_OK) != 0) return sys_error(spec.exec + " is not executable");
  if (const SandboxSpec* s = spec.sandbox; s != nullptr) {
    if (s->host_id_base == 0 || s->id_count == 0 ||
        static_cast<uint64_t>(s->host_id_base) + s->id_count > 0xFFFFFFFFull) {
      return make_error(Code::kInvalidArgument,
                        "sandbox id range " + std::to_string(s->host_id_base) + "+" +
                            std::to_string(s->id_count) +
                            " is invalid (host root is never mapped; the range must fit 32 bits)");
    }
    if (s->uid >= s->id_count || s->gid >= s->id_count) {
      return make_error(Code::kInvalidArgument,
                        "sandbox uid/gid " + std::to_string(s->uid) + "/" + std::to_string(s->gid) +
                            " is outside its id range of " + std::to_string(s->id_count));
    }
    if (s->hostname.empty() || s->hostname.size() > 64) {
      return make_error(Code::kInvalidArgument, "sandbox hostname must be 1-64 bytes");
    }
  }
  return {};
}

int cap_last_cap() {
  static const int last = [] {
    auto text = read_file("/proc/sys/kernel/cap_last_cap");
    if (!text) return 63;  // PR_CAPBSET_DROP on an unknown cap fails with EINVAL, which is fine
    return std::atoi(text->c_str());
  }();
  return last;
}

Result<void> write_id_maps(pid_t pid, const SandboxSpec& s) {
  std::string map = "0 " + std::to_string(s.host_id_base) + " " + std::to_string(s.id_count) + "\n";
  std::string base = "/proc/" + std::to_string(pid);
  if (auto ok = write_file(base + "/uid_map", map); !ok) return ok;
  return write_file(base + "/gid_map", map);
}

// One byte, with the fds of the cgroup files the child joins through: its id maps are written.
Result<void> release_gate(int report_fd, const std::vector<int>& fds) {
  char go = 'g';
  iovec iov{&go, 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * detail::kMaxJoinFds)] = {};
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  if (::sendmsg(report_fd, &msg, MSG_NOSIGNAL) != 1) return sys_error("releasing the launch gate");
  return {};
}

}  // namespace

NetnsPool& DirectLauncher::netns_pool() {
  std::call_once(netns_once_, [this] { netns_ = std::make_unique<NetnsPool>(); });
  return *netns_;
}

Result<Process> DirectLauncher::launch(const LaunchSpec& spec) {
  if (auto ok = validate(spec); !ok) return std::unexpected(ok.error().wrap("launching"));

  std::shared_ptr<const PreparedSandbox> prepared;
  const SandboxPlan* plan = nullptr;
  const LandlockPlan* landlock = nullptr;
  std::vector<int> bind_fds;  // the child's own: it fills this copy without allocating
  std::shared_ptr<const UniqueFd> root_template;
  UniqueFd netns;
  if (spec.sandbox != nullptr) {
    auto p = plans_.get(*spec.sandbox, spec.exec);
    if (!p) return std::unexpected(p.error().wrap("launching " + spec.exec));
    prepared = std::move(*p);
    plan = &prepared->plan;
    landlock = prepared->landlock ? &*prepared->landlock : nullptr;
    bind_fds.assign(plan->ops.size(), -1);
    auto t = templates_.get(*plan);
    if (!t) return std::unexpected(t.error().wrap("launching " + spec.exec));
    root_template = std::move(*t);
    if (!spec.sandbox->host_network) {
      auto ns = netns_pool().take();
      if (!ns) return std::unexpected(ns.error().wrap("launching " + spec.exec));
      netns = std::move(*ns);
    }
  }

  std::vector<char*> argv;
  argv.reserve(spec.args.size() + 2);
  argv.push_back(const_cast<char*>(spec.exec.c_str()));
  for (const auto& a : spec.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(spec.env.size() + 1);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  // A seqpacket socket, not a pipe: it also carries the seccomp listener (SCM_RIGHTS), and each
  // report arrives whole. EOF (every child copy closed at exec) means the program runs.
  int report[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, report) != 0) {
    return sys_error("creating the launch report socket");
  }
  UniqueFd report_r(report[0]);
  UniqueFd report_w(report[1]);

  // The child moves itself into its v1 hierarchies (see Cgroup::self_join_files) through files
  // opened here, with our credentials: at once, or (a sandbox) when we release it at the gate,
  // which lets us finish a deferred cgroup while it builds its sandbox.
  Cgroup* cgroup = spec.cgroup;
  bool gated = spec.sandbox != nullptr;
  if (cgroup != nullptr && !gated) {
    if (auto done = cgroup->finish(); !done) {
      return std::unexpected(done.error().wrap("launching " + spec.exec));
    }
  }
  std::vector<UniqueFd> join_files;
  std::vector<int> join_fds;
  auto open_join_files = [&]() -> Result<void> {
    for (const auto& path : cgroup->self_join_files()) {
      UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
      if (!fd) return sys_error("launching " + spec.exec + ": opening " + path);
      join_fds.push_back(fd.get());
      join_files.push_back(std::move(fd));
    }
    if (join_fds.size() > detail::kMaxJoinFds) {
      return make_error(Code::kInternal, "too many cgroup hierarchies to join");
    }
    return {};
  };
  if (cgroup != nullptr && !gated) {
    if (auto opened = open_join_files(); !opened) return std::unexpected(opened.error());
  }
  UniqueFd status_r, status_w;
  if (spec.sandbox != nullptr) {
    int st[2];
    if (::pipe2(st, O_CLOEXEC | O_NONBLOCK) != 0) return sys_error("creating the status pipe");
    status_r.reset(st[0]);
    status_w.reset(st[1]);
  }

  int pidfd = -1;
  clone_args args{};
  args.flags = CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  if (spec.cgroup != nullptr && spec.cgroup->v2_fd() >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(spec.cgroup->v2_fd());
  }
  // A sandbox's child makes (or enters) its other namespaces itself: see sandbox_main.
  if (spec.sandbox != nullptr) args.flags |= CLONE_NEWPID;
  detail::ChildArgs child;
  child.spec = &spec;
  child.argv = argv.data();
  child.envp = envp.data();
  child.report_fd = report_w.get();
  child.status_fd = status_w.get();
  child.plan = plan;
  child.landlock = landlock;
  child.bind_fds = bind_fds.data();
  child.join_fds = join_fds.data();
  child.join_count = join_fds.size();
  child.template_fd = root_template ? root_template->get() : -1;
  child.netns_fd = netns.get();
  // Uninitialised on purpose: zeroing 256 KiB on every launch would buy nothing.
  constexpr size_t kProgramStack = 256 * 1024;
  std::unique_ptr<char[]> program_stack(spec.sandbox != nullptr ? new char[kProgramStack]
                                                                : nullptr);
  child.program_stack = program_stack.get();
  child.program_stack_size = program_stack ? kProgramStack : 0;
  child.cap_last_cap = cap_last_cap();

  // Signals stay blocked in the child until it has reset the dispositions it inherited (a
  // parent's handler running there could, say, write to the parent's self-pipe).
  auto cloned = detail::clone3_signals_blocked(args, detail::child_main, child);
  long pid = cloned.pid;
  // From here on the child is owned: every early return below kills and reaps it.
  std::optional<Process> proc;
  if (pid > 0) proc.emplace(static_cast<pid_t>(pid), UniqueFd(pidfd), std::move(status_r));
  if (cloned.mask_err != 0) {
    return sys_error("restoring the signal mask after clone3", cloned.mask_err);
  }
  if (pid < 0) {
    return sys_error(
        std::string(cloned.what) + " for " + spec.exec +
            ((args.flags & CLONE_INTO_CGROUP) != 0 ? " into cgroup " + spec.cgroup->name()
                                                   : std::string()),
        cloned.err);
  }
  report_w.reset();
  status_w.reset();
  join_files.clear();
  join_fds.clear();
  netns.reset();
  // A deferred cgroup's v1 directories and limits are made now, while the child works.
  if (cgroup != nullptr && gated) {
    if (auto done = cgroup->finish(); !done) {
      return std::unexpected(done.error().wrap("launching " + spec.exec));
    }
    if (auto opened = open_join_files(); !opened) return std::unexpected(opened.error());
  }

  // Reports: the child's failure, a sandbox asking for its id maps, the seccomp listener; EOF
  // (every copy of the socket closed at exec) means the program runs.
  Report r{};
  ssize_t n;
  for (;;) {
    iovec iov{&r, sizeof r};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    n = ::recvmsg(report_r.get(), &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (n > 0 && c != nullptr && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
      proc->set_seccomp_listener(UniqueFd(fd));
      continue;  // the handoff; EOF or a failure report follows
    }
    if (gated && n == static_cast<ssize_t>(sizeof r) &&
        r.step == static_cast<int>(detail::Step::kAwaitingIdMaps)) {
      if (auto mapped = write_id_maps(proc->pid(), *spec.sandbox); !mapped) {
        return std::unexpected(
            mapped.error().wrap("launching " + spec.exec + ": writing its uid/gid maps"));
      }
      if (auto sent = release_gate(report_r.get(), join_fds); !sent) {
        return std::unexpected(sent.error().wrap("launching " + spec.exec));
      }
      join_files.clear();
      continue;
    }
    break;
  }
  if (n == 0) {  // the socket closed at exec: the program runs
    if (spec.seccomp_listener && !proc->has_seccomp_listener()) {
      return make_error(Code::kInternal, "launching " + spec.exec +
                                             ": the program ran without handing over its "
                                             "seccomp listener");
    }
    if (spec.sandbox != nullptr) {
      // The init's only child, which has just exec'd (the pipe closed then).
      std::string self = std::to_string(proc->pid());
      auto children = read_file("/proc/" + self + "/task/" + self + "/children", 4096);
      if (children) proc->set_program_pid(static_cast<pid_t>(std::atoi(children->c_str())));
    }
    return std::move(*proc);
  }
  if (n < 0) return sys_error("launching " + spec.exec + ": reading the child's launch report");
  if (n != static_cast<ssize_t>(sizeof r)) {
    // A pipe write this small is atomic; dropping proc kills and reaps the child.
    return make_error(Code::kInternal, "launching " + spec.exec + ": short launch report (" +
                                           std::to_string(n) + " bytes)");
  }
  // The child has reported and is exiting with 127: its status adds nothing to the report.
  proc.reset();  // kills (a no-op for an exiting child) and reaps it
  return sys_error(
      "launching " + spec.exec + ": " + detail::step_name(r, spec, plan, landlock) + " failed",
      r.err);
}

}  // namespace corral::sandbox
