// telemetry_bench overhead: redis-server, launched by DirectLauncher into a cgroup of its own on
// 127.0.0.1, driven by redis-benchmark; rounds with telemetry off (no collector loaded) and on
// (corrald's collector line-up tracking the redis cgroup, a thread sampling it once a second and
// draining events, as corrald's loop does) alternate ABBA, so drift hits both alike.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "bench/bench_stats.h"
#include "bench/telemetry_bench.h"

extern char** environ;

namespace corral::bench {
namespace {

constexpr const char* kRedisServer = "/usr/bin/redis-server";
constexpr const char* kRedisBenchmark = "/usr/bin/redis-benchmark";

uint16_t free_port() {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (!s || ::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    fail(std::string("finding a free port: ") + std::strerror(errno));
  }
  return ntohs(a.sin_port);
}

// True once something answers "+PONG" on 127.0.0.1:port.
bool redis_up(uint16_t port) {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return false;
  const char ping[] = "PING\r\n";
  if (::write(s.get(), ping, sizeof ping - 1) != sizeof ping - 1) return false;
  std::string got;
  return read_until(s.get(), got, "\r\n", 1000) && got.starts_with("+PONG");
}

struct Rps {
  double set = 0;
  double get = 0;
};

// One redis-benchmark run; its "SET: 71234.56 requests per second, ..." lines parsed.
Rps benchmark(uint16_t port, int requests) {
  std::string port_s = std::to_string(port), n_s = std::to_string(requests);
  std::vector<const char*> argv = {
      kRedisBenchmark, "-h", "127.0.0.1", "-p", port_s.c_str(), "-q", "-t",
      "set,get",       "-n", n_s.c_str(), "-c", "50",           "-P", "1",
      nullptr};
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) fail("pipe");
  UniqueFd r(p[0]), w(p[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, w.get(), 1);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, const_cast<char**>(argv.data()), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) fail(std::string("spawning redis-benchmark: ") + std::strerror(rc));
  w.reset();
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t got = ::read(r.get(), buf, sizeof buf);
    if (got < 0 && errno == EINTR) {
      if (g_interrupted) break;  // it got the terminal's SIGINT too
      continue;
    }
    if (got <= 0) break;
    out.append(buf, static_cast<size_t>(got));
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  check_interrupted();
  Rps rps;
  for (size_t pos = 0; pos < out.size();) {  // progress lines end in \r, results in \n
    size_t end = out.find_first_of("\r\n", pos);
    if (end == std::string::npos) end = out.size();
    std::string line = out.substr(pos, end - pos);
    pos = end + 1;
    size_t at = line.find(" requests per second");
    if (at == std::string::npos) continue;
    size_t colon = line.find(':');
    double v = std::atof(line.c_str() + colon + 1);
    if (line.starts_with("SET")) rps.set = v;
    if (line.starts_with("GET")) rps.get = v;
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || rps.set == 0 || rps.get == 0) {
    fail("redis-benchmark failed (status " + std::to_string(st) + "): " + out);
  }
  return rps;
}

// Telemetry on: the hub lives on this thread, which samples the target once a second and drains
// events whenever a collector's fd is readable, until stop() (an eventfd wakes it).
class Sampler {
 public:
  Sampler(std::unique_ptr<collectors::TelemetryHub> hub, const collectors::Target& t)
      : hub_(std::move(hub)), target_(t), wake_(::eventfd(0, EFD_CLOEXEC)) {
    hub_->track(target_);
    bpf_before_ = bpf_stats(*hub_);
    thread_ = std::thread([this] { loop(); });
  }
  ~Sampler() { stop(); }
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  void stop() {
    if (!thread_.joinable()) return;
    uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof one);
    thread_.join();
    add_delta(bpf_stats(*hub_), bpf_before_, &bpf_);
    hub_->untrack(target_);
  }
  [[nodiscard]] uint64_t samples() const { return samples_; }
  [[nodiscard]] uint64_t events() const { return events_; }
  [[nodiscard]] int64_t cpu_ns() const { return cpu_ns_; }
  [[nodiscard]] uint64_t bpf_ns() const { return total_run_time_ns(bpf_); }
  [[nodiscard]] const BpfStats& bpf() const { return bpf_; }

 private:
  void loop() {
    UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_.get();
    (void)::epoll_ctl(ep.get(), EPOLL_CTL_ADD, wake_.get(), &ev);
    for (int fd : hub_->event_fds()) {
      ev.data.fd = fd;
      (void)::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev);
    }
    const collectors::Target* targets[] = {&target_};
    int64_t next = now_ns() + 1'000'000'000;
    std::vector<collectors::Event> events;
    for (;;) {
      int timeout = static_cast<int>(std::max<int64_t>(0, (next - now_ns()) / 1'000'000));
      epoll_event got[8];
      int n = ::epoll_wait(ep.get(), got, 8, timeout);
      bool woken = false;
      for (int i = 0; i < n; ++i) woken |= got[i].data.fd == wake_.get();
      if (woken) break;
      if (n > 0) {
        hub_->drain_events(events);
        events_ += events.size();
        events.clear();
      }
      if (now_ns() >= next) {
        auto s = hub_->sample(targets);
        samples_ += s.size();
        next += 1'000'000'000;
      }
    }
    cpu_ns_ = thread_cpu_ns();
  }

  std::unique_ptr<collectors::TelemetryHub> hub_;
  collectors::Target target_;
  UniqueFd wake_;
  std::thread thread_;
  uint64_t samples_ = 0, events_ = 0;
  BpfStats bpf_before_, bpf_;
  int64_t cpu_ns_ = 0;
};

struct Summary {
  double median, lo, hi;
};
Summary summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {quantile_sorted(v, 0.5), v.front(), v.back()};
}

void print_row(const char* label, const std::vector<double>& v) {
  Summary s = summarize(v);
  std::printf("  %-34s median %9.0f req/s  min %9.0f  max %9.0f  (spread %.1f%%)\n", label,
              s.median, s.lo, s.hi, 100.0 * (s.hi - s.lo) / s.median);
}

}  // namespace

int run_overhead(int rounds, int requests) {
  if (::access(kRedisServer, X_OK) != 0 || ::access(kRedisBenchmark, X_OK) != 0) {
    std::fprintf(stderr,
                 "telemetry_bench overhead: needs %s and %s (bash scripts/deps --dev installs "
                 "redis-server and redis-tools)\n",
                 kRedisServer, kRedisBenchmark);
    return 1;
  }
  CgroupEnv env("-overhead");
  // Limits only so the memory and pids hierarchies exist, as they do for a plugin with them.
  sandbox::CgroupLimits limits;
  limits.memory_max = 2ull << 30;
  limits.pids_max = 256;
  auto cg = env.create("redis", limits);
  collectors::Target target = target_of("redis", *cg, *limits.memory_max);
  uint16_t port = free_port();
  sandbox::DirectLauncher launcher;
  Launched redis = launch(launcher, cg.get(), kRedisServer,
                          {"--port", std::to_string(port), "--bind", "127.0.0.1", "--save", "",
                           "--appendonly", "no", "--daemonize", "no", "--logfile", ""},
                          false);
  bool up = false;
  for (int i = 0; i < 200 && !up; ++i) {
    check_interrupted();
    up = redis_up(port);
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  if (!up) fail("redis-server did not answer PING on 127.0.0.1:" + std::to_string(port));

  {  // One look at what "on" means on this host.
    auto probe = make_hub(HubKind::kAuto, env.v2_parent());
    std::printf("telemetry on = corrald's auto line-up: %s\n", describe_hub(*probe).c_str());
  }
  std::printf(
      "redis-server on 127.0.0.1:%u in cgroup %s; redis-benchmark -q -t set,get -n %d -c 50 -P 1"
      "\n%d rounds off and %d on, interleaved off,on,on,off,... after one warm-up round\n",
      port, cg->dir("").c_str(), requests, rounds, rounds);
  (void)benchmark(port, requests);  // warm-up: redis grows its tables, the page cache settles

  std::vector<double> off_set, off_get, on_set, on_get;
  uint64_t samples = 0, events = 0, bpf_ns = 0;
  BpfStats programs;
  int64_t sampler_cpu = 0;
  double on_seconds = 0;
  auto on_round = [&](HubKind kind, Rps* out) {
    Sampler s(make_hub(kind, env.v2_parent()), target);
    int64_t t0 = now_ns();
    *out = benchmark(port, requests);
    double secs = static_cast<double>(now_ns() - t0) / 1e9;
    s.stop();
    std::printf(
        "    %s: SET %.0f GET %.0f req/s; %llu samples, %llu events, sampler thread %.2f ms "
        "CPU, BPF programs %.1f ms (%.3f%% of one CPU)\n",
        kind == HubKind::kAuto ? "on      " : "fallback", out->set, out->get,
        static_cast<unsigned long long>(s.samples()), static_cast<unsigned long long>(s.events()),
        static_cast<double>(s.cpu_ns()) / 1e6, static_cast<double>(s.bpf_ns()) / 1e6,
        static_cast<double>(s.bpf_ns()) / 1e7 / secs);
    if (kind == HubKind::kAuto) {
      samples += s.samples();
      events += s.events();
      bpf_ns += s.bpf_ns();
      add_delta(s.bpf(), {}, &programs);
      sampler_cpu += s.cpu_ns();
      on_seconds += secs;
    }
  };
  for (int r = 0; r < rounds; ++r) {
    for (int half = 0; half < 2; ++half) {
      bool on = (r % 2 == 0) == (half == 1);  // off,on, on,off, off,on, ...
      Rps rps;
      if (on) {
        on_round(HubKind::kAuto, &rps);
        on_set.push_back(rps.set);
        on_get.push_back(rps.get);
      } else {
        rps = benchmark(port, requests);
        std::printf("    off     : SET %.0f GET %.0f req/s\n", rps.set, rps.get);
        off_set.push_back(rps.set);
        off_get.push_back(rps.get);
      }
    }
  }
  Rps fb;
  on_round(HubKind::kFallback, &fb);

  std::printf("redis throughput, %d rounds each\n", rounds);
  print_row("SET, telemetry off", off_set);
  print_row("SET, telemetry on (BPF + fallbacks)", on_set);
  print_row("GET, telemetry off", off_get);
  print_row("GET, telemetry on (BPF + fallbacks)", on_get);
  double ds = 100.0 * (summarize(on_set).median / summarize(off_set).median - 1);
  double dg = 100.0 * (summarize(on_get).median / summarize(off_get).median - 1);
  std::printf("  on vs off (medians): SET %+.2f%%  GET %+.2f%%\n", ds, dg);
  std::printf(
      "  fallback collectors only, one round: SET %.0f (%+.2f%% vs off median)  GET %.0f "
      "(%+.2f%%)\n",
      fb.set, 100.0 * (fb.set / summarize(off_set).median - 1), fb.get,
      100.0 * (fb.get / summarize(off_get).median - 1));
  std::printf(
      "  on rounds: %.1f s, %llu samples, %llu events; sampler thread %.3f%% of one CPU, "
      "BPF programs %.3f%% of one CPU\n",
      on_seconds, static_cast<unsigned long long>(samples), static_cast<unsigned long long>(events),
      static_cast<double>(sampler_cpu) / 1e7 / on_seconds,
      static_cast<double>(bpf_ns) / 1e7 / on_seconds);
  for (const auto& [prog, st] : programs) {
    if (st.run_cnt == 0) continue;
    std::printf("    %-44s %10llu runs  %7.1f ms  %6.0f ns/run\n", prog.c_str(),
                static_cast<unsigned long long>(st.run_cnt),
                static_cast<double>(st.run_time_ns) / 1e6,
                static_cast<double>(st.run_time_ns) / static_cast<double>(st.run_cnt));
  }
  if (auto r = redis.proc.signal(SIGTERM); r) (void)redis.proc.wait();
  if (auto r = cg->remove(std::chrono::seconds(5)); !r) fail(r.error().describe());
  return 0;
}

}  // namespace corral::bench
