#include "sandbox/root_template.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <optional>
#include <vector>

#include "sandbox/launch_child.h"
#include "sandbox/process.h"

namespace corral::sandbox {

Result<std::string> template_key(const SandboxPlan& plan) {
  std::string key;
  key.reserve(plan.ops.size() * 48);
  for (const auto& op : plan.ops) {
    if (op.late) continue;
    key += std::to_string(static_cast<int>(op.kind));
    key += '\0';
    key += op.path;
    key += '\0';
    key += op.source;
    key += '\0';
    key += op.data;
    key += '\0';
    key += std::to_string(op.flags);
    if (is_bind(op.kind)) {
      struct stat st {};
      if (::stat(op.source.c_str(), &st) != 0) return sys_error("bind source " + op.source);
      key += '\0';
      key += std::to_string(st.st_dev);
      key += ':';
      key += std::to_string(st.st_ino);
    }
    key += '\n';
  }
  return key;
}

Result<UniqueFd> build_template(const SandboxPlan& plan) {
  std::vector<int> bind_fds(plan.ops.size(), -1);  // the child fills its own copy
  int report[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, report) != 0) {
    return sys_error("creating the template report socket");
  }
  UniqueFd report_r(report[0]), report_w(report[1]);
  int gate[2];
  if (::pipe2(gate, O_CLOEXEC) != 0) return sys_error("creating the template gate pipe");
  UniqueFd gate_r(gate[0]), gate_w(gate[1]);

  detail::ChildArgs child;
  child.plan = &plan;
  child.bind_fds = bind_fds.data();
  child.report_fd = report_w.get();
  child.gate_fd = gate_r.get();

  int pidfd = -1;
  clone_args args{};
  args.flags = CLONE_PIDFD | CLONE_NEWNS;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  // Signals stay blocked in the child (it only mounts and waits): no parent handler runs there.
  auto cloned = detail::clone3_signals_blocked(args, detail::template_main, child);
  long pid = cloned.pid;
  std::optional<Process> proc;  // from here every return kills and reaps the builder
  if (pid > 0) proc.emplace(static_cast<pid_t>(pid), UniqueFd(pidfd));
  if (cloned.mask_err != 0) {
    return sys_error("restoring the signal mask after clone3", cloned.mask_err);
  }
  if (pid < 0) return sys_error(std::string(cloned.what) + " for a template root", cloned.err);
  report_w.reset();
  gate_r.reset();

  detail::Report r{};
  ssize_t n;
  do {
    n = ::recv(report_r.get(), &r, sizeof r, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return sys_error("reading the template builder's report");
  if (n != static_cast<ssize_t>(sizeof r)) {
    return make_error(Code::kInternal, "the template builder exited without a report");
  }
  if (r.step != static_cast<int>(detail::Step::kTemplateReady)) {
    LaunchSpec none;
    return sys_error(
        "building a sandbox root: " + detail::step_name(r, none, &plan, nullptr) + " failed",
        r.err);
  }
  std::string ns = "/proc/" + std::to_string(pid) + "/ns/mnt";
  UniqueFd fd(::open(ns.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return sys_error("opening " + ns);
  gate_w.reset();  // the builder exits; its namespace lives on through fd
  if (auto st = proc->wait(); !st) return std::unexpected(st.error());
  return fd;
}

Result<std::shared_ptr<const UniqueFd>> RootTemplates::get(const SandboxPlan& plan) {
  auto key = template_key(plan);
  if (!key) return std::unexpected(key.error());
  {
    std::lock_guard lock(mu_);
    for (auto it = lru_.begin(); it != lru_.end(); ++it) {
      if (it->first == *key) {
        lru_.splice(lru_.begin(), lru_, it);
        return lru_.front().second;
      }
    }
  }
  // Built without the lock: two launches missing at once build twice and one copy is dropped.
  auto fd = build_template(plan);
  if (!fd) return std::unexpected(fd.error());
  auto shared = std::make_shared<const UniqueFd>(std::move(*fd));
  std::lock_guard lock(mu_);
  ++builds_;
  lru_.emplace_front(std::move(*key), shared);
  while (lru_.size() > capacity_) lru_.pop_back();
  return shared;
}

void RootTemplates::clear() {
  std::lock_guard lock(mu_);
  lru_.clear();
}

size_t RootTemplates::builds() const {
  std::lock_guard lock(mu_);
  return builds_;
}

}  // namespace corral::sandbox
