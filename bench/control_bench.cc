// Control-plane throughput and latency: `status` requests through a real corrald (framing,
// Hello-negotiated session, authorization by role with a token bucket per uid, validation,
// router, the audit record of every answer, protobuf both ways) from 1 and from 8 concurrent
// clients, each a separate process under a non-root uid granted the operator role, each
// closed-loop (one request in flight). The peer, measured in the same run, is a bare AF_UNIX
// echo server (one thread per connection, poll-free blocking reads) answering frames of the
// same sizes: the floor for any unix-socket protocol on this host.
// Usage: control_bench [SECONDS_PER_RUN]
#include <grp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_stats.h"
#include "ctl/client.h"
#include "proto/frame.h"

extern char** environ;

namespace {

constexpr uid_t kClientUid = 61002;
constexpr gid_t kClientGid = 65534;

bool rw_exact(int fd, char* buf, size_t len, bool write) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = write ? ::write(fd, buf + done, len - done) : ::read(fd, buf + done, len - done);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

struct Run {
  double per_second = 0;
  std::vector<double> us;
};

// n client processes for `seconds`, each timing every round trip of `once` (which returns false
// on failure); the samples come back through a shared mapping.
template <class Once>
Run clients(int n, double seconds, bool drop_privileges, Once once) {
  constexpr size_t kMax = 2'000'000;
  auto* shared =
      static_cast<double*>(::mmap(nullptr, sizeof(double) * kMax * n + 64, PROT_READ | PROT_WRITE,
                                  MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  auto* counts = reinterpret_cast<std::atomic<size_t>*>(shared + kMax * n);
  for (int i = 0; i < n; ++i) new (&counts[i]) std::atomic<size_t>(0);
  std::vector<pid_t> pids;
  auto* go = reinterpret_cast<std::atomic<int>*>(shared + kMax * n) + n;
  new (go) std::atomic<int>(0);
  for (int i = 0; i < n; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      if (drop_privileges &&
          (::setgroups(0, nullptr) != 0 || ::setresgid(kClientGid, kClientGid, kClientGid) != 0 ||
           ::setresuid(kClientUid, kClientUid, kClientUid) != 0)) {
        ::_exit(2);
      }
      auto step = once(i);  // connects; returns the per-request call
      if (!step) ::_exit(3);
      while (go->load() == 0) std::this_thread::yield();
      const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
      size_t k = 0;
      while (k < kMax) {
        auto t0 = std::chrono::steady_clock::now();
        if (!(*step)()) ::_exit(4);
        auto t1 = std::chrono::steady_clock::now();
        shared[kMax * i + k++] = std::chrono::duration<double, std::micro>(t1 - t0).count();
        if (t1 >= end) break;
      }
      counts[i].store(k);
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // all connected
  go->store(1);
  bool ok = true;
  for (pid_t p : pids) {
    int st = 0;
    ::waitpid(p, &st, 0);
    ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }
  Run r;
  if (!ok) {
    std::fprintf(stderr, "a client failed\n");
    std::exit(1);
  }
  for (int i = 0; i < n; ++i) {
    for (size_t k = 0; k < counts[i].load(); ++k) r.us.push_back(shared[kMax * i + k]);
  }
  r.per_second = static_cast<double>(r.us.size()) / seconds;
  ::munmap(shared, sizeof(double) * kMax * n + 64);
  return r;
}

void print(const char* label, int n, Run r) {
  std::sort(r.us.begin(), r.us.end());
  std::printf("%-40s clients=%d  %9.0f req/s  p50=%7.1f us  p99=%7.1f us  (n=%zu)\n", label, n,
              r.per_second, corral::bench::quantile_sorted(r.us, 0.5),
              corral::bench::quantile_sorted(r.us, 0.99), r.us.size());
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 5.0;
  char tmpl[] = "/tmp/corral-bench.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  std::string dir = tmpl;
  if (::chmod(dir.c_str(), 0755) != 0) return 1;
  std::string plugins = dir + "/plugins";
  if (mkdir(plugins.c_str(), 0755) != 0) return 1;
  std::ofstream(plugins + "/p.toml") << "name = \"p\"\nexec = \"/bin/sleep\"\nargs = [\"600\"]\n";
  // Authorization on: the clients' uid has the operator role; its bucket is set far above
  // what the bench can reach, so every request pays the bucket but none waits.
  std::ofstream(dir + "/corrald.toml")
      << "[control]\nsocket_mode = \"0660\"\nsocket_group = \"nogroup\"\n"
         "requests_per_second = 10000000\nburst = 10000000\n"
         "[cgroup]\nmode = \"none\"\n[telemetry]\nmode = \"off\"\n"
         "[[auth.grant]]\nuid = "
      << kClientUid << "\nrole = \"operator\"\n";
  std::string sock = dir + "/run/control.sock";
  std::string corrald = std::string(CORRAL_BINARY_DIR) + "/supervisor/corrald";
  std::vector<std::string> a = {corrald,
                                "--config",
                                dir + "/corrald.toml",
                                "--runtime-dir",
                                dir + "/run",
                                "--state-dir",
                                dir + "/state",
                                "--plugins-dir",
                                plugins,
                                "--socket",
                                sock,
                                "--log-level",
                                "warn"};
  std::vector<char*> args;
  for (auto& s : a) args.push_back(s.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return 1;

  corral::ctl::ClientOptions o;
  o.socket_path = sock;
  std::optional<corral::ctl::Client> probe;
  for (int i = 0; i < 500 && !probe; ++i) {
    if (auto c = corral::ctl::Client::connect(o)) {
      probe.emplace(std::move(*c));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  if (!probe) {
    std::fprintf(stderr, "corrald did not come up\n");
    kill(pid, SIGKILL);
    return 1;
  }
  corral::v1::Request req;
  req.mutable_status()->set_name("p");
  auto sample = probe->call(req);
  if (!sample || sample->status().code() != corral::v1::OK) return 1;
  const size_t req_bytes = req.ByteSizeLong() + 8;  // + id and the header
  const size_t resp_bytes = sample->ByteSizeLong() + 4;

  // A lean client, as the peer's is: Hello through the client library, then a pre-encoded
  // request frame written and each response frame read with plain blocking calls and parsed.
  auto corral_client = [&](int) {
    auto c = corral::ctl::Client::connect(o);
    using Step = std::function<bool()>;
    if (!c) return std::optional<Step>();
    auto shared = std::make_shared<corral::ctl::Client>(std::move(*c));
    corral::v1::Request r = req;
    r.set_id(1);
    r.set_correlation_id("bench");
    auto frame = std::make_shared<std::string>(*corral::proto::encode_frame(r));
    auto body = std::make_shared<std::string>();
    return std::optional<Step>([shared, frame, body] {
      int fd = shared->fd();
      char hdr[4];
      if (!rw_exact(fd, frame->data(), frame->size(), true) || !rw_exact(fd, hdr, 4, false)) {
        return false;
      }
      uint32_t len = (uint32_t{static_cast<unsigned char>(hdr[0])} << 24) |
                     (uint32_t{static_cast<unsigned char>(hdr[1])} << 16) |
                     (uint32_t{static_cast<unsigned char>(hdr[2])} << 8) |
                     uint32_t{static_cast<unsigned char>(hdr[3])};
      body->resize(len);
      if (!rw_exact(fd, body->data(), len, false)) return false;
      corral::v1::Response resp;
      return resp.ParseFromString(*body) && resp.status().code() == corral::v1::OK;
    });
  };

  // The peer: an echo server process with a thread per connection.
  std::string peer_path = dir + "/echo.sock";
  int lfd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, peer_path.c_str(), sizeof addr.sun_path - 1);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(lfd, 64) != 0)
    return 1;
  pid_t echo = ::fork();
  if (echo == 0) {
    for (;;) {
      int c = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) _exit(0);
      std::thread([c, req_bytes, resp_bytes] {
        std::string in(req_bytes, '\0'), out(resp_bytes, 'x');
        while (rw_exact(c, in.data(), in.size(), false)) {
          if (!rw_exact(c, out.data(), out.size(), true)) break;
        }
        ::close(c);
      }).detach();
    }
  }
  ::close(lfd);
  auto echo_client = [&](int) {
    using Step = std::function<bool()>;
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      return std::optional<Step>();
    }
    auto in = std::make_shared<std::string>(resp_bytes, '\0');
    auto out = std::make_shared<std::string>(req_bytes, 'r');
    return std::optional<Step>([fd, in, out] {
      return rw_exact(fd, out->data(), out->size(), true) &&
             rw_exact(fd, in->data(), in->size(), false);
    });
  };

  std::printf(
      "status requests, closed loop, %.1f s per run (%zu-byte request, %zu-byte response)\n",
      seconds, req_bytes, resp_bytes);
  for (int n : {1, 8}) {
    print("corrald status (uid 61002, operator)", n, clients(n, seconds, true, corral_client));
    print("peer: bare AF_UNIX echo, same sizes", n, clients(n, seconds, false, echo_client));
  }
  auto d = probe->doctor();
  if (d) {
    for (const char* k : {"store.audit_batches", "control.rate_limit"}) {
      auto it = d->active().find(k);
      if (it != d->active().end()) std::printf("corrald %s: %s\n", k, it->second.c_str());
    }
  }

  ::kill(echo, SIGKILL);
  ::waitpid(echo, nullptr, 0);
  probe.reset();
  kill(pid, SIGTERM);
  int st = 0;
  waitpid(pid, &st, 0);
  std::string rm = "rm -rf '" + dir + "'";
  return std::system(rm.c_str()) == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
