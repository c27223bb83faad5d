// Control-plane round trip: `status` requests through a real corrald (framing, Hello-negotiated
// session, router, protobuf both ways) against the same-sized frames echoed by a bare AF_UNIX
// socketpair thread, the floor for any unix-socket protocol. Also times a full corralctl-style
// connect + Hello + list.  Usage: control_bench [N]
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include <sys/types.h>

#include "bench/bench_stats.h"
#include "ctl/client.h"

extern char** environ;

namespace {

bool rw_exact(int fd, char* buf, size_t len, bool write) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = write ? ::write(fd, buf + done, len - done) : ::read(fd, buf + done, len - done);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  char tmpl[] = "/tmp/corral-bench.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  std::string dir = tmpl;
  std::string plugins = dir + "/plugins";
  if (mkdir(plugins.c_str(), 0755) != 0) return 1;
  std::ofstream(plugins + "/p.toml") << "name = \"p\"\nexec = \"/bin/sleep\"\nargs = [\"600\"]\n";
  std::string sock = dir + "/run/control.sock";
  std::string corrald = std::string(CORRAL_BINARY_DIR) + "/supervisor/corrald";
  std::vector<std::string> a = {corrald,      "--config",    "/dev/null",    "--runtime-dir",
                                dir + "/run", "--state-dir", dir + "/state", "--plugins-dir",
                                plugins,      "--socket",    sock,           "--log-level",
                                "warn"};
  std::vector<char*> args;
  for (auto& s : a) args.push_back(s.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return 1;

  corral::ctl::ClientOptions o;
  o.socket_path = sock;
  std::optional<corral::ctl::Client> client;
  for (int i = 0; i < 500 && !client; ++i) {
    if (auto c = corral::ctl::Client::connect(o))
      client.emplace(std::move(*c));
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!client) {
    std::fprintf(stderr, "corrald did not come up\n");
    kill(pid, SIGKILL);
    return 1;
  }
  corral::v1::Request req;
  req.mutable_status()->set_name("p");
  auto sample = client->call(req);
  size_t req_bytes = req.ByteSizeLong() + 4;
  size_t resp_bytes = sample ? sample->ByteSizeLong() + 4 : 64;

  // The peer is a separate process, like corrald, so both sides pay the same cross-process
  // wake-ups; it echoes a response of corrald's size for each request of corrald's size.
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 1;
  pid_t echo = fork();
  if (echo == 0) {
    close(sv[0]);
    std::string in(req_bytes, '\0'), out(resp_bytes, 'x');
    while (rw_exact(sv[1], in.data(), in.size(), false)) {
      if (!rw_exact(sv[1], out.data(), out.size(), true)) break;
    }
    _exit(0);
  }
  close(sv[1]);

  std::vector<double> corral_us, echo_us, connect_us;
  std::string in(resp_bytes, '\0'), out(req_bytes, 'r');
  for (int i = 0; i < n; ++i) {
    corral_us.push_back(corral::bench::time_us([&] {
      auto r = client->call(req);
      if (!r || r->status().code() != corral::v1::OK) std::exit(1);
    }));
    echo_us.push_back(corral::bench::time_us([&] {
      rw_exact(sv[0], out.data(), out.size(), true);
      rw_exact(sv[0], in.data(), in.size(), false);
    }));
  }
  for (int i = 0; i < n / 10; ++i) {
    connect_us.push_back(corral::bench::time_us([&] {
      auto c = corral::ctl::Client::connect(o);
      if (!c || !c->list()) std::exit(1);
    }));
  }
  close(sv[0]);
  waitpid(echo, nullptr, 0);
  std::printf("control round trips (%zu-byte request, %zu-byte response)\n", req_bytes, resp_bytes);
  corral::bench::report("corrald status request", corral_us);
  corral::bench::report("peer: raw AF_UNIX echo of the same sizes", echo_us);
  corral::bench::report("connect + Hello + list (new client)", connect_us);

  kill(pid, SIGTERM);
  int st = 0;
  waitpid(pid, &st, 0);
  std::string rm = "rm -rf '" + dir + "'";
  return std::system(rm.c_str()) == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
