// Sandboxed launch: request -> exec and request -> exit of /bin/true with every protection on
// (user, pid, mount, net, ipc, uts and cgroup namespaces, a fresh read-only root, no
// capabilities, Landlock, the default seccomp filter, rlimits, a cgroup of its own with limits),
// p50/p99 over N runs, then launches per second with concurrent requests. Peers, the same
// /bin/true in the same run: `bwrap --unshare-all` with a comparable root, `unshare -Urpfnmiu`.
// Usage: sandbox_bench [N] [threads] [seconds]
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "bench/bench_stats.h"
#include "sandbox/cgroup.h"
#include "sandbox/cgroup_layout.h"
#include "sandbox/launcher.h"
#include "sandbox/seccomp_filter.h"

extern char** environ;

namespace {

using namespace corral;
using namespace corral::sandbox;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "sandbox_bench: %s\n", what.c_str());
  std::exit(1);
}

void run_peer(std::vector<const char*> argv) {
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, const_cast<char**>(argv.data()), environ) != 0) {
    die(std::string("cannot spawn ") + argv[0]);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) die(std::string(argv[0]) + " failed");
}

struct Corral {
  std::unique_ptr<CgroupBackend> cgroups;
  std::vector<sock_filter> filter;
  SandboxSpec box;
  CgroupLimits limits;
  CgroupLimits with_cpu;
  DirectLauncher launcher;

  Corral() {
    auto layout = detect_cgroup_layout();
    if (!layout) die(layout.error().describe());
    auto b = layout->mode == CgroupMode::kUnified
                 ? make_v2_backend(layout->unified + "/corral-bench-" + std::to_string(getpid()))
                 : make_v1_backend(*layout, "corral-bench-" + std::to_string(getpid()));
    if (!b) die(b.error().describe());
    cgroups = std::move(*b);
    auto profile = builtin_seccomp_profile("default");
    auto f = SeccompFilter::build(*profile);
    if (!f) die(f.error().describe());
    filter = f->program();
    box.host_id_base = 0x7B000000;
    limits.memory_max = 256ull << 20;
    limits.pids_max = 64;
    with_cpu = limits;
    with_cpu.cpu_max = CpuMax{50000, 100000};  // half a CPU: the cpu hierarchy joins in too
  }
  ~Corral() { (void)cgroups->remove_parent(); }

  struct Times {
    double cgroup, exec, exit;  // µs from the request: cgroup made, program exec'd, all gone
  };
  // l null: the same sandbox without a cgroup, to show what placing it costs.
  Times once(const std::string& name, const CgroupLimits* l) {
    auto t0 = std::chrono::steady_clock::now();
    Result<std::unique_ptr<Cgroup>> cg = std::unique_ptr<Cgroup>();
    if (l != nullptr) cg = cgroups->create_deferred(name, *l);  // the launch finishes it
    if (!cg) die(cg.error().describe());
    auto tc = std::chrono::steady_clock::now();
    LaunchSpec spec;
    spec.exec = "/bin/true";
    spec.rlimits = {{RLIMIT_CORE, 0, 0}, {RLIMIT_NOFILE, 1024, 1024}};
    spec.cgroup = cg->get();
    spec.seccomp = &filter;
    spec.sandbox = &box;
    auto p = launcher.launch(spec);
    if (!p) die(p.error().describe());
    auto t1 = std::chrono::steady_clock::now();
    auto st = p->wait();
    if (!st || !st->success()) die("sandboxed /bin/true failed");
    if (*cg) {
      if (auto r = (*cg)->remove(std::chrono::seconds(2)); !r) die(r.error().describe());
    }
    auto t2 = std::chrono::steady_clock::now();
    auto us = [&](auto t) { return std::chrono::duration<double, std::micro>(t - t0).count(); };
    return {us(tc), us(t1), us(t2)};
  }
};

}  // namespace

int main(int argc, char** argv) {
  int n = std::max(1, argc > 1 ? std::atoi(argv[1]) : 500);
  int threads = argc > 2 ? std::atoi(argv[2]) : 4;
  double seconds = argc > 3 ? std::atof(argv[3]) : 5;
  if (::geteuid() != 0) die("needs root (cgroups, uid maps)");
  bool have_bwrap = ::access("/usr/bin/bwrap", X_OK) == 0;

  Corral corral;
  std::vector<double> to_cgroup, to_exec, launch_only, to_exit, cpu_exec, bare_exec, bare_exit,
      bwrap, unshare;
  std::vector<const char*> bwrap_argv = {"/usr/bin/bwrap", "--unshare-all", "--die-with-parent",
                                         "--ro-bind",      "/usr",          "/usr",
                                         "--symlink",      "usr/bin",       "/bin",
                                         "--symlink",      "usr/lib",       "/lib",
                                         "--symlink",      "usr/lib64",     "/lib64",
                                         "--proc",         "/proc",         "--dev",
                                         "/dev",           "--tmpfs",       "/tmp",
                                         "--cap-drop",     "ALL",           "/bin/true"};
  for (int i = 0; i < n; ++i) {
    // Interleaved so drift on the machine hits every contender alike.
    auto t = corral.once("run-" + std::to_string(i), &corral.limits);
    to_cgroup.push_back(t.cgroup);
    to_exec.push_back(t.exec);
    launch_only.push_back(t.exec - t.cgroup);
    to_exit.push_back(t.exit);
    cpu_exec.push_back(corral.once("cpu-" + std::to_string(i), &corral.with_cpu).exec);
    auto b = corral.once("bare", nullptr);
    bare_exec.push_back(b.exec);
    bare_exit.push_back(b.exit);
    if (have_bwrap) bwrap.push_back(bench::time_us([&] { run_peer(bwrap_argv); }));
    unshare.push_back(bench::time_us([&] {
      run_peer({"/usr/bin/unshare", "-Urpfnmiu", "/bin/true"});
    }));
  }
  std::printf("sandboxed /bin/true, %d runs each, interleaved\n", n);
  bench::report("corral: cgroup created with limits", to_cgroup);
  bench::report("corral: launch into the cgroup -> exec", launch_only);
  bench::report("corral: request -> exec", to_exec);
  bench::report("corral: request -> exit (cgroup removed)", to_exit);
  bench::report("corral, cpu.max as well: request -> exec", cpu_exec);
  bench::report("corral without a cgroup: request -> exec", bare_exec);
  bench::report("corral without a cgroup: request -> exit", bare_exit);
  if (have_bwrap) {
    bench::report("peer: bwrap --unshare-all (spawn -> exit)", bwrap);
  } else {
    std::printf("peer: bwrap not installed (apt install bubblewrap)\n");
  }
  bench::report("peer: unshare -Urpfnmiu (spawn -> exit)", unshare);

  // Throughput: `threads` clients launching back to back for `seconds`.
  std::atomic<long> done{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> pool;
  auto t0 = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (long i = 0; !stop.load(); ++i) {
        (void)corral.once("tp-" + std::to_string(t) + "-" + std::to_string(i), &corral.limits);
        done.fetch_add(1);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "corral: %ld sandboxed launches (start to exit, cgroup removed) in %.1f s with %d "
      "concurrent clients: %.0f launches/s\n",
      done.load(), elapsed, threads, static_cast<double>(done.load()) / elapsed);
  return 0;
}
