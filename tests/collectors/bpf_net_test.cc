// BpfNetCollector against the kernel: tc_workload runs in real plugin cgroups under a
// test-owned parent whose cgroup2 node the collector attaches to, and the kernel's verdicts
// (errno of connect/sendto/bind/socket), the events, and the counters are checked against what
// the workload did. Listeners live in this (untracked) process on loopback.
#include "collectors/bpf_net_collector.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sandbox/cgroup.h"
#include "sandbox/cgroup_layout.h"
#include "tests/sandbox/sandbox_test_util.h"

namespace corral::collectors {
namespace {

using sandbox::testing::Pipe;
using sandbox::testing::read_until;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr long kMiB = 1 << 20;
const std::string kWorkload = std::string(CORRAL_TESTCASES_DIR) + "/tc_workload";

// A loopback listener in this process that accepts and counts what it reads until EOF.
class Listener {
 public:
  Listener(int family, int type) {
    fd_ = UniqueFd(::socket(family, type | SOCK_CLOEXEC, 0));
    sockaddr_storage a{};
    socklen_t len = 0;
    if (family == AF_INET) {
      auto* v4 = reinterpret_cast<sockaddr_in*>(&a);
      v4->sin_family = AF_INET;
      v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof *v4;
    } else {
      auto* v6 = reinterpret_cast<sockaddr_in6*>(&a);
      v6->sin6_family = AF_INET6;
      v6->sin6_addr = in6addr_loopback;
      len = sizeof *v6;
    }
    if (!fd_ || ::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        (type == SOCK_STREAM && ::listen(fd_.get(), 16) != 0) ||
        ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      fd_.reset();
      return;
    }
    port_ = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&a)->sin_port
                                    : reinterpret_cast<sockaddr_in6*>(&a)->sin6_port);
  }
  ~Listener() {
    if (reader_.joinable()) {
      ::shutdown(fd_.get(), SHUT_RDWR);
      reader_.join();
    }
  }
  [[nodiscard]] bool ok() const { return port_ != 0; }
  [[nodiscard]] uint16_t port() const { return port_; }
  // Accepts one connection in a thread and reads it to EOF.
  void serve_one() {
    reader_ = std::thread([this] {
      UniqueFd c(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c) return;
      char buf[65536];
      for (;;) {
        ssize_t n = ::read(c.get(), buf, sizeof buf);
        if (n <= 0) break;
        received_ += n;
      }
      done_ = true;
    });
  }
  // Reads datagrams (UDP) for a while.
  long read_datagrams() {
    long total = 0;
    char buf[65536];
    for (int i = 0; i < 50; ++i) {
      ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        total += n;
        continue;
      }
      if (total > 0) break;
      std::this_thread::sleep_for(10ms);
    }
    return total;
  }
  bool wait_done(std::chrono::milliseconds d = 10s) {
    auto end = std::chrono::steady_clock::now() + d;
    while (!done_ && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(5ms);
    return done_;
  }
  long received() const { return received_; }

 private:
  UniqueFd fd_;
  uint16_t port_ = 0;
  std::thread reader_;
  std::atomic<long> received_{0};
  std::atomic<bool> done_{false};
};

// Moves this test process (its main thread, and so every thread and workload it starts later)
// into a network namespace of its own with loopback up: the tests neither see nor disturb the
// host's ports, and run where the host's loopback is down (the VM). Once per process.
bool own_network_namespace() {
  static const bool ok = [] {
    if (::unshare(CLONE_NEWNET) != 0) return false;
    UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq ifr{};
    std::strcpy(ifr.ifr_name, "lo");
    if (!s || ::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return false;
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    return ::ioctl(s.get(), SIOCSIFFLAGS, &ifr) == 0;
  }();
  return ok;
}

struct Workload {
  sandbox::Process proc;
  UniqueFd out;
  std::string seen;
  // Output up to `needle` (or EOF / 10 s).
  std::string until(const std::string& needle) {
    seen += read_until(out.get(), needle);
    return seen;
  }
  std::string finish() { return until("ready\n"); }  // or EOF, after "exit"
};

class BpfNet : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "needs root (cgroups, BPF)";
    }
    if (::access(kWorkload.c_str(), X_OK) != 0) {
      GTEST_SKIP() << "needs " << kWorkload;
    }
    if (!own_network_namespace()) {
      GTEST_SKIP() << "needs a network namespace of its own with loopback up";
    }
    auto l = sandbox::detect_cgroup_layout();
    ASSERT_TRUE(l.has_value()) << l.error().describe();
    if (l->unified.empty()) {
      GTEST_SKIP() << "needs a cgroup2 mount (cgroup BPF programs)";
    }
    parent_ = "corral-bpfnet-" + std::to_string(::getpid());
    auto b = l->mode == sandbox::CgroupMode::kUnified
                 ? sandbox::make_v2_backend(l->unified + "/" + parent_)
                 : sandbox::make_v1_backend(*l, parent_);
    ASSERT_TRUE(b.has_value()) << b.error().describe();
    backend_ = std::move(*b);
    parent_dir_ = l->unified + "/" + parent_;
    a_ = make_cgroup("a");
    sibling_ = make_cgroup("b");
  }
  void TearDown() override {
    net_.reset();  // detaches before the cgroups go
    for (auto* cg : {&a_, &sibling_}) {
      if (*cg) {
        EXPECT_TRUE((*cg)->remove(2s).has_value());
      }
      cg->reset();
    }
    if (backend_) {
      EXPECT_TRUE(backend_->remove_parent().has_value());
    }
  }

  std::unique_ptr<sandbox::Cgroup> make_cgroup(const std::string& name) {
    auto cg = backend_->create(name, {});
    EXPECT_TRUE(cg.has_value()) << cg.error().describe();
    return cg ? std::move(*cg) : nullptr;
  }

  // Attaches a collector to the parent and tracks cgroup a. False (with a failure) if it cannot.
  bool attach(const BpfNetOptions& o = {}) {
    auto n = BpfNetCollector::create(parent_dir_, o);
    if (!n) {
      ADD_FAILURE() << n.error().describe();
      return false;
    }
    net_ = std::move(*n);
    target_ = Target{"a", a_->v2_id(), parent_dir_ + "/a", false, "", "", "", 0};
    auto t = net_->track(target_);
    EXPECT_TRUE(t.has_value()) << t.error().describe();
    return t.has_value();
  }

  Workload run(sandbox::Cgroup& cg, std::vector<std::string> args) {
    Pipe out = Pipe::make();
    sandbox::DirectLauncher launcher;
    sandbox::LaunchSpec spec;
    spec.exec = kWorkload;
    spec.args = std::move(args);
    spec.stdout_fd = out.w.get();
    spec.stderr_fd = out.w.get();
    spec.cgroup = &cg;
    auto p = launcher.launch(spec);
    EXPECT_TRUE(p.has_value()) << p.error().describe();
    if (!p) return {sandbox::Process(-1, UniqueFd()), UniqueFd(), ""};
    return {std::move(*p), std::move(out.r), ""};
  }

  SocketStats sockets() { return sample().sockets; }
  Sample sample() {
    Sample s;
    const Target* t[] = {&target_};
    Sample* o[] = {&s};
    auto r = net_->sample(t, o, MetricSet{Metric::kSockets, Metric::kTraffic});
    EXPECT_TRUE(r.has_value()) << r.error().describe();
    return s;
  }
  std::vector<Event> events() {
    std::vector<Event> ev;
    net_->drain_events(ev);
    return ev;
  }
  // Each program that ran: mean ns per run (the report's numbers).
  void print_run_times() {
    std::map<std::string, std::string> d;
    for (auto& [k, v] : net_->describe()) d[k] = v;
    for (const auto& [k, v] : d) {
      if (!k.starts_with("run_cnt ") || v == "0") continue;
      std::string prog = k.substr(8);
      double ns = std::stod(d["run_time_ns " + prog]) / std::stod(v);
      std::printf("  %-22s runs %6s  mean %.0f ns\n", prog.c_str(), v.c_str(), ns);
    }
  }
  void police(std::vector<std::string> connect, std::vector<std::string> bind = {}) {
    auto p = parse_net_policy(connect, bind);
    ASSERT_TRUE(p.has_value()) << p.error().describe();
    auto s = net_->set_policy(a_->v2_id(), *p);
    ASSERT_TRUE(s.has_value()) << s.error().describe();
  }

  std::string parent_, parent_dir_;
  std::unique_ptr<sandbox::CgroupBackend> backend_;
  std::unique_ptr<sandbox::Cgroup> a_, sibling_;
  std::unique_ptr<BpfNetCollector> net_;
  Target target_;
};

std::vector<Event> of_kind(const std::vector<Event>& ev, EventKind k) {
  std::vector<Event> out;
  std::copy_if(ev.begin(), ev.end(), std::back_inserter(out),
               [k](const Event& e) { return e.kind == k; });
  return out;
}

TEST_F(BpfNet, ConnectAllowListV4) {
  ASSERT_TRUE(attach());
  Listener allowed(AF_INET, SOCK_STREAM), other(AF_INET, SOCK_STREAM);
  ASSERT_TRUE(allowed.ok() && other.ok());
  allowed.serve_one();
  police({"127.0.0.1:" + std::to_string(allowed.port())});
  std::string a = "127.0.0.1:" + std::to_string(allowed.port());
  std::string b = "127.0.0.1:" + std::to_string(other.port());
  Workload w = run(*a_, {"send", a, std::to_string(kMiB), "connect", b, "exit"});
  std::string out = w.until("exit\n");
  EXPECT_THAT(out, HasSubstr("send " + a + " ok 1048576\n"));
  EXPECT_THAT(out, HasSubstr("connect " + b + " errno 1\n"));  // EPERM
  ASSERT_TRUE(allowed.wait_done());
  EXPECT_EQ(allowed.received(), kMiB);

  auto denied = of_kind(events(), EventKind::kConnectDenied);
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_EQ(denied[0].detail, b);
  EXPECT_EQ(denied[0].value, other.port());
  EXPECT_EQ(denied[0].pid, w.proc.pid());
  EXPECT_EQ(denied[0].cgroup_id, a_->v2_id());
  EXPECT_EQ(denied[0].source, Source::kBpf);

  Sample s = sample();
  EXPECT_EQ(s.source_of(Metric::kSockets), Source::kBpf);
  EXPECT_EQ(s.sockets.connects, 1u);
  EXPECT_EQ(s.sockets.connects_denied, 1u);
  EXPECT_EQ(s.sockets.inet4, 0u);  // both sockets released at exit
  EXPECT_EQ(s.sockets.created, 2u);
  EXPECT_GE(s.sockets.tcp_state_changes, 1u);
  EXPECT_GE(s.traffic.bytes_out, static_cast<uint64_t>(kMiB));
  EXPECT_LE(s.traffic.bytes_out, static_cast<uint64_t>(kMiB * 105 / 100));
  std::printf("bytes_out for 1 MiB sent: %llu (+%.2f%%), bytes_in %llu\n",
              static_cast<unsigned long long>(s.traffic.bytes_out),
              100.0 * static_cast<double>(s.traffic.bytes_out - kMiB) / kMiB,
              static_cast<unsigned long long>(s.traffic.bytes_in));
  print_run_times();
}

TEST_F(BpfNet, ConnectAllowListV6) {
  Listener allowed(AF_INET6, SOCK_STREAM), other(AF_INET6, SOCK_STREAM);
  if (!allowed.ok() || !other.ok()) {
    GTEST_SKIP() << "needs IPv6 loopback (::1)";
  }
  ASSERT_TRUE(attach());
  allowed.serve_one();
  police({"[::1]:" + std::to_string(allowed.port())});
  std::string a = "[::1]:" + std::to_string(allowed.port());
  std::string b = "[::1]:" + std::to_string(other.port());
  Workload w = run(*a_, {"send", a, "65536", "connect", b, "exit"});
  std::string out = w.until("exit\n");
  EXPECT_THAT(out, HasSubstr("send " + a + " ok 65536\n"));
  EXPECT_THAT(out, HasSubstr("connect " + b + " errno 1\n"));
  auto denied = of_kind(events(), EventKind::kConnectDenied);
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_EQ(denied[0].detail, b);
  EXPECT_EQ(denied[0].pid, w.proc.pid());
  EXPECT_EQ(sockets().connects_denied, 1u);
}

TEST_F(BpfNet, UdpSendtoToUnlistedPortDenied) {
  ASSERT_TRUE(attach());
  Listener allowed(AF_INET, SOCK_DGRAM), other(AF_INET, SOCK_DGRAM);
  ASSERT_TRUE(allowed.ok() && other.ok());
  std::string a = "127.0.0.1:" + std::to_string(allowed.port());
  std::string b = "127.0.0.1:" + std::to_string(other.port());
  police({a});
  Workload w = run(*a_, {"udp", a, "100", "udp", b, "100", "exit"});
  std::string out = w.until("exit\n");
  EXPECT_THAT(out, HasSubstr("udp " + a + " ok 100\n"));
  EXPECT_THAT(out, HasSubstr("udp " + b + " errno 1\n"));
  EXPECT_EQ(allowed.read_datagrams(), 100);
  auto denied = of_kind(events(), EventKind::kConnectDenied);
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_EQ(denied[0].detail, b);
  EXPECT_EQ(sockets().connects_denied, 1u);
}

TEST_F(BpfNet, BindDeniedUnlessListed) {
  ASSERT_TRUE(attach());
  uint16_t port;
  {
    Listener probe(AF_INET, SOCK_STREAM);  // a port that is free now
    ASSERT_TRUE(probe.ok());
    port = probe.port();
  }
  police({}, {"127.0.0.1:" + std::to_string(port)});
  Workload ok = run(*a_, {"listen", std::to_string(port), "exit"});
  EXPECT_THAT(ok.until("exit\n"), HasSubstr("listen " + std::to_string(port) + "\n"));
  ASSERT_TRUE(ok.proc.wait().has_value());

  police({}, {});
  Workload no = run(*a_, {"listen", "0", "exit"});
  EXPECT_THAT(no.until("errno"), HasSubstr("listen error errno 1"));
  auto denied = of_kind(events(), EventKind::kBindDenied);
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_EQ(denied[0].detail, "127.0.0.1:0");
  EXPECT_EQ(denied[0].pid, no.proc.pid());
}

// Forks a child that joins cg, then tries socket(family, type, protocol); its errno (0: made).
int socket_errno_in(sandbox::Cgroup& cg, int family, int type, int protocol) {
  Pipe go = Pipe::make(), result = Pipe::make();
  pid_t pid = ::fork();
  if (pid == 0) {
    char c;
    if (::read(go.r.get(), &c, 1) != 1) _exit(1);
    int fd = ::socket(family, type, protocol);
    int e = fd >= 0 ? 0 : errno;
    _exit(::write(result.w.get(), &e, sizeof e) == sizeof e ? 0 : 1);
  }
  if (pid < 0) return -1;
  auto added = cg.add(pid);
  EXPECT_TRUE(added.has_value()) << added.error().describe();
  int e = -1;
  if (::write(go.w.get(), "g", 1) != 1 || ::read(result.r.get(), &e, sizeof e) != sizeof e) e = -1;
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return e;
}

TEST_F(BpfNet, RawInetSocketsDeniedToPolicedCgroup) {
  ASSERT_TRUE(attach());
  // Unpoliced, root may open them.
  EXPECT_EQ(socket_errno_in(*a_, AF_INET, SOCK_RAW, IPPROTO_ICMP), 0);
  EXPECT_EQ(socket_errno_in(*a_, AF_INET6, SOCK_RAW, IPPROTO_ICMPV6), 0);
  police({"*:*"});
  EXPECT_EQ(socket_errno_in(*a_, AF_INET, SOCK_RAW, IPPROTO_ICMP), EPERM);
  EXPECT_EQ(socket_errno_in(*a_, AF_INET6, SOCK_RAW, IPPROTO_ICMPV6), EPERM);
  EXPECT_EQ(socket_errno_in(*a_, AF_INET, SOCK_STREAM, 0), 0);
  auto denied = of_kind(events(), EventKind::kSocketDenied);
  ASSERT_EQ(denied.size(), 2u);
  EXPECT_EQ(denied[0].value, static_cast<uint64_t>(AF_INET));
  EXPECT_EQ(denied[0].detail, "family 2 type 3 protocol 1");
}

TEST_F(BpfNet, PacketAndNetlinkSocketsDeniedToPolicedCgroup) {
  ASSERT_TRUE(attach());
  if (!net_->families_enforced()) {
    std::string why;
    for (const auto& [k, v] : net_->describe()) {
      if (k == "policy families") why = v;
    }
    GTEST_SKIP() << "needs BPF-LSM (lsm_cgroup/socket_create); the kernel has no cgroup hook "
                    "for non-inet socket creation otherwise: "
                 << why;
  }
  police({"*:*"});
  EXPECT_EQ(socket_errno_in(*a_, AF_PACKET, SOCK_RAW, 0), EPERM);
  EXPECT_EQ(socket_errno_in(*a_, AF_NETLINK, SOCK_RAW, 0), EPERM);
  EXPECT_EQ(socket_errno_in(*a_, AF_UNIX, SOCK_STREAM, 0), 0);
  EXPECT_EQ(of_kind(events(), EventKind::kSocketDenied).size(), 2u);
}

TEST_F(BpfNet, LiveSocketsByFamily) {
  ASSERT_TRUE(attach());
  Workload w = run(*a_, {"sockets", "10", "sockets6", "5", "unix", "3"});
  ASSERT_THAT(w.finish(), HasSubstr("ready\n"));
  SocketStats s = sockets();
  EXPECT_EQ(s.inet4, 10u);
  EXPECT_EQ(s.inet6, 5u);
  EXPECT_EQ(s.unix_, 6u);
  EXPECT_EQ(s.created, 15u);
  ASSERT_TRUE(w.proc.signal(SIGTERM).has_value());
  ASSERT_TRUE(w.proc.wait().has_value());
  s = sockets();
  EXPECT_EQ(s.inet4, 0u);
  EXPECT_EQ(s.inet6, 0u);
  EXPECT_EQ(s.unix_, 0u);
  EXPECT_EQ(s.created, 15u);
}

TEST_F(BpfNet, AcceptsAndBytesIn) {
  ASSERT_TRUE(attach());
  Workload w = run(*a_, {"listen", "0", "accept", "1"});
  std::string out = w.until("\n");
  unsigned port = 0;
  ASSERT_EQ(std::sscanf(out.c_str(), "listen %u", &port), 1) << out;
  UniqueFd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(c.get(), reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  std::vector<char> buf(kMiB, 'x');
  size_t sent = 0;
  while (sent < buf.size()) {
    ssize_t n = ::send(c.get(), buf.data() + sent, buf.size() - sent, MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    sent += static_cast<size_t>(n);
  }
  c.reset();
  EXPECT_THAT(w.finish(), HasSubstr("accept 1 bytes 1048576\n"));
  Sample s = sample();
  EXPECT_EQ(s.sockets.accepts, 1u);
  EXPECT_GE(s.traffic.bytes_in, static_cast<uint64_t>(kMiB));
  EXPECT_LE(s.traffic.bytes_in, static_cast<uint64_t>(kMiB * 105 / 100));
  EXPECT_GE(s.sockets.tcp_state_changes, 1u);
  std::printf("bytes_in for 1 MiB received: %llu (+%.2f%%), tcp state changes %llu\n",
              static_cast<unsigned long long>(s.traffic.bytes_in),
              100.0 * static_cast<double>(s.traffic.bytes_in - kMiB) / kMiB,
              static_cast<unsigned long long>(s.sockets.tcp_state_changes));
  print_run_times();
}

TEST_F(BpfNet, UntrackedSiblingIsNeitherPolicedNorCounted) {
  ASSERT_TRUE(attach());
  Listener other(AF_INET, SOCK_STREAM);
  ASSERT_TRUE(other.ok());
  police({});  // a may connect nowhere
  std::string b = "127.0.0.1:" + std::to_string(other.port());
  Workload w = run(*sibling_, {"sockets", "3", "connect", b, "exit"});
  EXPECT_THAT(w.until("exit\n"), HasSubstr("connect " + b + " ok\n"));
  EXPECT_TRUE(events().empty());
  SocketStats s = sockets();
  EXPECT_EQ(s.created, 0u);
  EXPECT_EQ(s.connects, 0u);
  Target sib{"b", sibling_->v2_id(), "", false, "", "", "", 0};
  Sample out;
  const Target* t[] = {&sib};
  Sample* o[] = {&out};
  auto r = net_->sample(t, o, MetricSet{Metric::kSockets});
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, HasSubstr("'b' is not tracked"));
}

TEST_F(BpfNet, LostEventsAreCountedUnderAFlood) {
  ASSERT_TRUE(attach(BpfNetOptions{4096}));
  Listener other(AF_INET, SOCK_STREAM);
  ASSERT_TRUE(other.ok());
  police({});
  constexpr int kAttempts = 300;
  std::vector<std::string> args;
  std::string b = "127.0.0.1:" + std::to_string(other.port());
  for (int i = 0; i < kAttempts; ++i) args.insert(args.end(), {"connect", b});
  args.push_back("exit");
  Workload w = run(*a_, args);
  ASSERT_THAT(w.until("exit\n"), HasSubstr("exit\n"));
  auto ev = events();
  size_t delivered = of_kind(ev, EventKind::kConnectDenied).size();
  uint64_t lost = 0;
  for (const Event& e : of_kind(ev, EventKind::kLost)) lost += e.value;
  EXPECT_GT(lost, 0u) << "a one-page ring buffer should overflow";
  EXPECT_EQ(lost, net_->lost_events());
  EXPECT_EQ(delivered + lost, static_cast<uint64_t>(kAttempts));
  EXPECT_EQ(sockets().connects_denied, static_cast<uint64_t>(kAttempts));
  std::printf("flood: %zu delivered, %llu lost of %d\n", delivered,
              static_cast<unsigned long long>(lost), kAttempts);
  EXPECT_TRUE(of_kind(events(), EventKind::kLost).empty());  // reported once
}

TEST_F(BpfNet, DescribeShowsHooksAndRunTimes) {
  ASSERT_TRUE(attach());
  Listener sink(AF_INET, SOCK_DGRAM);
  ASSERT_TRUE(sink.ok());
  Workload w =
      run(*a_, {"sockets", "2", "udp", "127.0.0.1:" + std::to_string(sink.port()), "1000", "exit"});
  ASSERT_THAT(w.until("exit\n"), HasSubstr("exit\n"));
  auto d = net_->describe();
  auto find = [&](const std::string& k) {
    for (const auto& [key, v] : d) {
      if (key == k) return v;
    }
    return std::string("<missing>");
  };
  EXPECT_THAT(find("traffic"), HasSubstr("cgroup_skb/egress"));
  EXPECT_THAT(find("sockets"), HasSubstr("cgroup/sock_create"));
  EXPECT_NE(find("run_cnt cgroup/sock_create"), "<missing>");
  EXPECT_GE(std::stoull(find("run_cnt cgroup/sock_create")), 2u);
  for (const auto& [k, v] : d) std::printf("  %s: %s\n", k.c_str(), v.c_str());
}

TEST_F(BpfNet, DroppingTheCollectorDetachesIt) {
  ASSERT_TRUE(attach());
  Listener other(AF_INET, SOCK_STREAM);
  ASSERT_TRUE(other.ok());
  police({});
  std::string b = "127.0.0.1:" + std::to_string(other.port());
  Workload denied = run(*a_, {"connect", b, "exit"});
  EXPECT_THAT(denied.until("exit\n"), HasSubstr("errno 1"));
  net_.reset();
  Workload allowed = run(*a_, {"connect", b, "exit"});
  EXPECT_THAT(allowed.until("exit\n"), HasSubstr("connect " + b + " ok\n"));
}

}  // namespace
}  // namespace corral::collectors
