// Launch latency: DirectLauncher (clone3 + pidfd + exec handshake + rlimits + fd hygiene) against
// posix_spawn + waitpid, the floor any launcher pays, starting /bin/true N times each.
// Usage: launch_bench [N]
#include <spawn.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>

#include "bench/bench_stats.h"
#include "sandbox/launcher.h"

extern char** environ;

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 300;
  std::vector<double> direct, spawn;
  corral::sandbox::DirectLauncher launcher;
  corral::sandbox::LaunchSpec spec;
  spec.exec = "/bin/true";
  spec.rlimits.push_back({RLIMIT_CORE, 0, 0});
  for (int i = 0; i < n; ++i) {
    // Interleave the two so drift on the machine hits both equally.
    direct.push_back(corral::bench::time_us([&] {
      auto p = launcher.launch(spec);
      if (!p) {
        std::fprintf(stderr, "launch: %s\n", p.error().describe().c_str());
        std::exit(1);
      }
      if (!p->wait()) std::exit(1);
    }));
    spawn.push_back(corral::bench::time_us([&] {
      pid_t pid = 0;
      char* args[] = {const_cast<char*>("/bin/true"), nullptr};
      if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, args, environ) != 0) std::exit(1);
      int st = 0;
      waitpid(pid, &st, 0);
    }));
  }
  std::printf("start-to-exit of /bin/true, %d runs each, interleaved\n", n);
  corral::bench::report("corral DirectLauncher (launch + wait)", direct);
  corral::bench::report("peer: posix_spawn + waitpid", spawn);
  return 0;
}
