// recovery_bench: how fast a real corrald (the build's supervisor/corrald) notices trouble and
// acts, measured from the moment the bench kills a plugin's program (CLOCK_MONOTONIC) to the
// times corrald recorded its events (RecoveryEvent.at_monotonic_ns, the same clock):
//   1. signal -> breaker transition -> action: a breaker that trips on every failure
//      (consecutive_failures = 1): kill -> "signal exit", -> "closed|half-open -> open",
//      -> "action hold" (the Half-Open trial follows 1 ms later);
//   2. crash -> restarted -> ready, for a plugin ready at once (READY=1 on fd 3), restart
//      delay 0: kill -> "signal ready" of the next run, sandboxed and unsandboxed;
//   3. the peer, measured in the same run: the bench itself as the barest supervisor (waitpid,
//      posix_spawn the same program with the same readiness fd, no sandbox, no cgroup).
// Kubernetes' figures (probes every 10 s, CrashLoopBackOff from 10 s) are published defaults,
// not measured here.
//   recovery_bench [RUNS]   (default 50 per line)
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "bench/bench_stats.h"
#include "bench/corrald_runner.h"
#include "common/unique_fd.h"

extern char** environ;

namespace corral::bench {
namespace {

using namespace std::chrono_literals;

int64_t mono_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "recovery_bench: %s\n", what.c_str());
  std::exit(1);
}

const char* kReadyAtOnce = "echo READY=1 >&3; exec sleep 600";

class Driver {
 public:
  explicit Driver(CorraldRunner& d) : d_(d) {
    for (int i = 0; i < 200; ++i) {
      auto c = d_.client(5s);
      if (c) {
        client_.emplace(std::move(*c));
        return;
      }
      if (!d_.alive()) die("corrald exited; log:\n" + d_.log_tail());
      std::this_thread::sleep_for(50ms);
    }
    die("corrald does not answer; log:\n" + d_.log_tail());
  }
  // The plugin's program pid once it runs (and, if `ready`, has said so).
  pid_t running_pid(const std::string& name, bool ready) {
    for (int64_t end = mono_ns() + 10'000'000'000; mono_ns() < end;) {
      auto st = client_->status(name);
      if (st && st->state() == v1::RUNNING && st->pid() > 0) {
        if (!ready) return st->pid();
        auto h = client_->health(name);
        if (h && h->ready()) return st->pid();
      }
      std::this_thread::sleep_for(2ms);
    }
    die(name + " is not running; log:\n" + d_.log_tail());
  }
  // The first event after `after` of `plugin` of this type whose `what` starts with `what`
  // (and ends with `ends`).
  std::optional<v1::RecoveryEvent> wait_event(const std::string& plugin, uint64_t after,
                                              const std::string& type, const std::string& what,
                                              const std::string& ends = "") {
    for (int64_t end = mono_ns() + 10'000'000'000; mono_ns() < end;) {
      v1::Request req;
      req.mutable_events()->set_plugin(plugin);
      req.mutable_events()->set_after_seq(after);
      auto resp = client_->call(req);
      if (!resp) die(resp.error().describe());
      for (const auto& e : resp->events().events()) {
        if (e.type() == type && e.what().starts_with(what) && e.what().ends_with(ends)) return e;
      }
      std::this_thread::sleep_for(1ms);
    }
    return std::nullopt;
  }
  uint64_t last_seq() {
    v1::Request req;
    req.mutable_events()->set_max(1);
    auto resp = client_->call(req);
    if (!resp) die(resp.error().describe());
    return resp->events().last_seq();
  }

 private:
  CorraldRunner& d_;
  std::optional<ctl::Client> client_;
};

double ms_since(int64_t t0, const v1::RecoveryEvent& e) {
  return static_cast<double>(e.at_monotonic_ns() - t0) / 1e6;
}

void breaker_latency(int runs, const std::string& parent) {
  const std::string manifest =
      std::string("name = \"trip\"\nexec = \"/bin/sh\"\nargs = [\"-c\", \"") + kReadyAtOnce +
      "\"]\n[restart]\ndelay_ms = 0\n[recovery]\nmax_restarts = 0\n"
      "trial_ms = 1\n[recovery.breaker]\nconsecutive_failures = 1\n"
      "open_ms = 1\nmax_open_ms = 1\n[health]\nready = \"notify\"\n";
  CorraldRunner d("rbench", "[cgroup]\nparent = \"" + parent + "-b\"\n", {{"trip", manifest}});
  Driver drv(d);
  std::vector<double> to_signal, to_transition, to_action;
  for (int i = 0; i < runs; ++i) {
    pid_t pid = drv.running_pid("trip", true);
    uint64_t after = drv.last_seq();
    int64_t t0 = mono_ns();
    if (::kill(pid, SIGKILL) != 0) die(std::string("kill: ") + std::strerror(errno));
    auto sig = drv.wait_event("trip", after, "signal", "exit");
    auto tr = drv.wait_event("trip", after, "transition", "", "-> open");
    auto act = drv.wait_event("trip", after, "action", "hold");
    if (!sig || !tr || !act) die("missing events after kill " + std::to_string(i));
    to_signal.push_back(ms_since(t0, *sig));
    to_transition.push_back(ms_since(t0, *tr));
    to_action.push_back(ms_since(t0, *act));
    if (i == 0) std::printf("  (e.g. %s: %s)\n", tr->what().c_str(), tr->cause().c_str());
  }
  report_ms("kill -> signal exit recorded", to_signal);
  report_ms("kill -> breaker transition (-> open)", to_transition);
  report_ms("kill -> action started (hold; trial in 1 ms)", to_action);
}

void ready_latency(int runs, const std::string& parent, bool sandboxed) {
  const std::string manifest =
      std::string("name = \"phoenix\"\nexec = \"/bin/sh\"\nargs = [\"-c\", \"") + kReadyAtOnce +
      "\"]\n[restart]\ndelay_ms = 0\n[recovery]\nmax_restarts = 0\n"
      "[recovery.breaker]\nconsecutive_failures = 0\n"
      "[health]\nready = \"notify\"\n" +
      (sandboxed ? "" : "[sandbox]\nisolation = \"none\"\n");
  CorraldRunner d("rbench", "[cgroup]\nparent = \"" + parent + (sandboxed ? "-s" : "-u") + "\"\n",
                  {{"phoenix", manifest}});
  Driver drv(d);
  std::vector<double> to_action, to_ready;
  for (int i = 0; i < runs; ++i) {
    pid_t pid = drv.running_pid("phoenix", true);
    uint64_t after = drv.last_seq();
    int64_t t0 = mono_ns();
    if (::kill(pid, SIGKILL) != 0) die(std::string("kill: ") + std::strerror(errno));
    auto act = drv.wait_event("phoenix", after, "action", "restart");
    auto ready = drv.wait_event("phoenix", after, "signal", "ready");
    if (!act || !ready) die("missing events after kill " + std::to_string(i));
    to_action.push_back(ms_since(t0, *act));
    to_ready.push_back(ms_since(t0, *ready));
  }
  std::string what = sandboxed ? "sandboxed" : "unsandboxed";
  report_ms(("kill -> restart decided (" + what + ")").c_str(), to_action);
  report_ms(("kill -> restarted and ready (" + what + ")").c_str(), to_ready);
}

// The barest supervisor: wait for the child's death, spawn it again, read READY=1.
void peer_latency(int runs) {
  std::vector<double> to_ready;
  int64_t t0 = 0;
  for (int i = 0; i <= runs; ++i) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) die("socketpair");
    UniqueFd ours(sv[0]), theirs(sv[1]);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, theirs.get(), 3);
    std::string c = kReadyAtOnce;
    char sh[] = "/bin/sh", dash_c[] = "-c";
    char* argv[] = {sh, dash_c, c.data(), nullptr};
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, sh, &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) die("posix_spawn");
    theirs.reset();
    char buf[64];
    if (::recv(ours.get(), buf, sizeof buf, 0) <= 0) die("recv READY");
    if (i > 0) to_ready.push_back(static_cast<double>(mono_ns() - t0) / 1e6);
    // Kill it and time from here to the next one's READY (waitpid is part of it).
    t0 = mono_ns();
    ::kill(pid, SIGKILL);
    int st = 0;
    ::waitpid(pid, &st, 0);
  }
  report_ms("peer: waitpid + posix_spawn + READY=1 (no sandbox)", to_ready);
}

}  // namespace
}  // namespace corral::bench

int main(int argc, char** argv) {
  using namespace corral::bench;
  int runs = argc > 1 ? std::atoi(argv[1]) : 50;
  if (runs < 2) runs = 2;
  if (::geteuid() != 0) die("needs root (corrald, cgroups, sandboxes)");
  const std::string parent = "corral-rbench-" + std::to_string(::getpid());
  std::printf(
      "recovery_bench: %d runs per line; times from the bench's kill(SIGKILL) to corrald's "
      "recorded event (CLOCK_MONOTONIC)\n",
      runs);
  breaker_latency(runs, parent);
  ready_latency(runs, parent, true);
  ready_latency(runs, parent, false);
  peer_latency(runs);
  return 0;
}
