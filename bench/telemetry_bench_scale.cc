// telemetry_bench scale: a real corrald (the build's supervisor/corrald, private directories
// under /tmp, a cgroup parent of its own) with N sandboxed `/bin/sleep 3600` plugins sampled
// once a second. Once all N run and a settling pause has passed, corrald's CPU (utime + stime
// from /proc/<pid>/stat) over S seconds and its VmRSS; the same with [telemetry] mode "off"
// (the peer) and "fallback", and with every plugin given fds, sockets, memory_percent and
// forks_per_second thresholds (read by the 5 ms watch as well). corrald is stopped with SIGTERM
// and must leave no cgroup behind.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <thread>

#include "bench/corrald_runner.h"
#include "bench/telemetry_bench.h"
#include "common/files.h"
#include "ctl/client.h"

namespace corral::bench {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Usage {
  double cpu_percent = 0;    // of one CPU, utime + stime
  double oncpu_percent = 0;  // of one CPU, the threads' schedstat
  double rss_mib = 0;
  double startup_s = 0;  // corrald start -> all plugins running
  bool clean = false;    // exited 0 and left no cgroup
};

// utime + stime of pid in clock ticks.
uint64_t cpu_ticks(pid_t pid) {
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) fail(stat.error().describe());
  size_t rp = stat->rfind(')');
  std::string rest = stat->substr(rp + 2);  // fields from 3 (state) on
  char* p = rest.data();
  uint64_t v[13] = {};
  for (int field = 3; field <= 15; ++field) {
    v[field - 3] = std::strtoull(p, &p, 10);
    if (field == 3) {
      while (*p == ' ') ++p;
      ++p;  // the state letter
    }
  }
  return v[11] + v[12];  // fields 14 (utime) and 15 (stime)
}

// Time on CPU of every thread of pid in ns (schedstat: finer than clock ticks).
uint64_t oncpu_ns(pid_t pid) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    auto text = read_file(e.path().string() + "/schedstat");
    if (text) total += std::strtoull(text->c_str(), nullptr, 10);
  }
  return total;
}

double rss_mib(pid_t pid) {
  auto status = read_file("/proc/" + std::to_string(pid) + "/status");
  if (!status) fail(status.error().describe());
  size_t at = status->find("VmRSS:");
  if (at == std::string::npos) return 0;
  return std::strtod(status->c_str() + at + 6, nullptr) / 1024.0;
}

// Directories left under the parent in every hierarchy (plus the parent itself when present).
std::vector<std::string> leftovers(const sandbox::CgroupLayout& layout, const std::string& parent) {
  std::vector<std::string> mounts;
  if (!layout.unified.empty()) mounts.push_back(layout.unified);
  for (const auto& [ctrl, mount] : layout.v1) mounts.push_back(mount);
  std::vector<std::string> out;
  for (const auto& m : mounts) {
    fs::path dir = fs::path(m) / parent;
    std::error_code ec;
    if (!fs::exists(dir, ec)) continue;
    out.push_back(dir.string());
    for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
      if (e.is_directory()) out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Best effort after a failure: what corrald left under our parent, deepest first (a cgroup
// that still has processes stays, and is reported).
void remove_leftovers(std::vector<std::string> dirs) {
  std::sort(dirs.rbegin(), dirs.rend());
  for (const auto& d : dirs) {
    if (::rmdir(d.c_str()) != 0 && errno != ENOENT) {
      std::fprintf(stderr, "telemetry_bench: cannot remove %s: %s\n", d.c_str(),
                   std::strerror(errno));
    }
  }
}

// A corrald with `plugins` sandboxed sleepers under cgroup parent `parent`.
std::map<std::string, std::string> sleepers(int plugins, bool thresholds) {
  std::map<std::string, std::string> out;
  for (int i = 0; i < plugins; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "s%03d", i);
    out[name] = std::string("name = \"") + name + "\"\nexec = \"/bin/sleep\"\nargs = [\"3600\"]\n" +
                (thresholds ? "[resources]\nmemory_max = \"64M\"\n[thresholds]\nfds = 500\n"
                              "sockets = 100\nmemory_percent = 80\nforks_per_second = 50\n"
                            : "");
  }
  return out;
}

Usage measure(const std::string& mode, bool thresholds, int plugins, int seconds,
              const sandbox::CgroupLayout& layout, int round) {
  std::string parent = "corral-tbench-" + std::to_string(::getpid()) + "-scale-" + mode + "-" +
                       std::to_string(round);
  Usage u;
  {
    int64_t t0 = now_ns();
    CorraldRunner d("tbench",
                    "[cgroup]\nparent = \"" + parent + "\"\n[telemetry]\nmode = \"" + mode +
                        "\"\ninterval_ms = 1000\n",
                    sleepers(plugins, thresholds));
    int up = -1;
    for (int64_t end = now_ns() + 180'000'000'000; now_ns() < end;) {
      check_interrupted();
      if (!d.alive()) fail("corrald exited; log:\n" + d.log_tail());
      up = d.running();
      if (up == plugins) break;
      std::this_thread::sleep_for(250ms);
    }
    if (up != plugins) {
      fail("only " + std::to_string(up) + " of " + std::to_string(plugins) +
           " plugins running after 180 s; log:\n" + d.log_tail());
    }
    u.startup_s = static_cast<double>(now_ns() - t0) / 1e9;
    std::this_thread::sleep_for(5s);  // the launch tail: restarts, first samples, page faults
    uint64_t c0 = cpu_ticks(d.pid());
    uint64_t s0 = oncpu_ns(d.pid());
    int64_t w0 = now_ns();
    for (int i = 0; i < seconds * 10; ++i) {
      check_interrupted();
      std::this_thread::sleep_for(100ms);
    }
    uint64_t c1 = cpu_ticks(d.pid());
    uint64_t s1 = oncpu_ns(d.pid());
    double wall = static_cast<double>(now_ns() - w0) / 1e9;
    u.oncpu_percent = static_cast<double>(s1 - s0) / 1e7 / wall;
    u.cpu_percent =
        100.0 * static_cast<double>(c1 - c0) / static_cast<double>(::sysconf(_SC_CLK_TCK)) / wall;
    u.rss_mib = rss_mib(d.pid());
    int after = d.running();
    int st = d.stop();
    bool exited0 = st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (after != plugins) std::printf("    (%d of %d running at the end)\n", after, plugins);
    if (!exited0)
      std::printf("    corrald did not exit 0 (status %d); log:\n%s\n", st, d.log_tail().c_str());
    u.clean = exited0;
  }
  auto left = leftovers(layout, parent);
  if (!left.empty()) {
    u.clean = false;
    std::printf("    corrald left %zu cgroup directories, e.g. %s\n", left.size(),
                left.front().c_str());
    remove_leftovers(left);
  }
  return u;
}

}  // namespace

int run_scale(int plugins, int seconds) {
  auto layout = sandbox::detect_cgroup_layout();
  if (!layout) fail(layout.error().describe());
  std::printf(
      "corrald with %d sandboxed /bin/sleep plugins, sampled every 1000 ms: CPU over %d s "
      "after all run (+5 s), VmRSS at the end\n",
      plugins, seconds);
  struct Line {
    const char* mode;
    bool thresholds;
  };
  const Line lines[] = {
      {"auto", false}, {"auto", true}, {"off", false}, {"fallback", false}, {"fallback", true}};
  int round = 0;
  for (const Line& line : lines) {
    Usage u = measure(line.mode, line.thresholds, plugins, seconds, *layout, round++);
    std::printf(
        "  [telemetry] mode = %-10s %-22s CPU %6.2f%% of one CPU (utime+stime; schedstat "
        "%6.3f%%)  RSS %6.1f MiB  (all running after %.1f s; stopped cleanly, no cgroup "
        "left: %s)\n",
        (std::string("\"") + line.mode + "\"").c_str(),
        line.thresholds ? "+ thresholds, 5 ms watch" : "", u.cpu_percent, u.oncpu_percent,
        u.rss_mib, u.startup_s, u.clean ? "yes" : "NO");
  }
  return 0;
}

}  // namespace corral::bench
