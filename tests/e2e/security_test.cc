// Protocol security through a real corrald and real clients running under other uids and gids
// (forked, setgroups/setresgid/setresuid): roles and default deny, signed requests (forged,
// replayed, expired, future-dated, from a uid that may not present the client), per-uid
// connection caps, read deadlines for partial frames, idle timeouts, a flood throttled while a
// second client keeps its latency, subscribers resuming without gaps (also across a restart of
// corrald) and slow subscribers dropped; every refusal in the audit trail.
#include <fcntl.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>

#include "proto/frame.h"
#include "proto/request_signature.h"
#include "tests/e2e/corrald_fixture.h"

namespace corral::e2e {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr gid_t kSocketGid = 65534;  // "nogroup": the socket's group, every test client's gid
constexpr uid_t kViewer = 61001, kOperator = 61002, kNobody = 61003, kDeployer = 61004,
                kBackend = 61005, kFlooder = 61006;
constexpr gid_t kDeployers = 61100;  // a supplementary group granted a custom role
const std::string kSecret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

constexpr const char* kSleeper = R"x(name = "p"
exec = "/bin/sleep"
args = ["600"]
)x";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class Security : public CorraldFixture {
 protected:
  void SetUp() override {
    CorraldFixture::SetUp();
    if (::getgrgid(kSocketGid) == nullptr) GTEST_SKIP() << "needs group 65534 (nogroup)";
    // Other uids must reach the socket: the directories are traversable, the socket is 0660
    // with group nogroup.
    ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
    std::ofstream(dir_ + "/web.key") << kSecret << "\n";
    ASSERT_EQ(::chmod((dir_ + "/web.key").c_str(), 0600), 0);
    write_manifest("p.toml", kSleeper);
  }

  std::string auth_config(const std::string& control_extra = "") {
    return "[control]\nsocket_mode = \"0660\"\nsocket_group = \"nogroup\"\n" + control_extra +
           "\n[roles.deployer]\npermissions = [\"plugins.read\", \"plugins.control\"]\n"
           "[roles.flooder]\npermissions = [\"plugins.read\"]\nrequests_per_second = 200\n"
           "burst = 50\n"
           "[auth]\nsubject_requests_per_second = " +
           subject_rate_ + "\nsubject_burst = " + subject_burst_ +
           "\n"
           "[[auth.grant]]\nuid = " +
           std::to_string(kViewer) +
           "\nrole = \"viewer\"\n[[auth.grant]]\nuid = " + std::to_string(kOperator) +
           "\nrole = \"operator\"\n[[auth.grant]]\ngid = " + std::to_string(kDeployers) +
           "\nrole = \"deployer\"\n[[auth.grant]]\nuid = " + std::to_string(kBackend) +
           "\nrole = \"operator\"\n[[auth.grant]]\nuid = " + std::to_string(kFlooder) +
           "\nrole = \"flooder\"\n[[auth.client]]\nid = \"web\"\n" + "secret_file = \"" + dir_ +
           "/web.key\"\nuids = [" + std::to_string(kBackend) + "]\n";
  }

  std::string subject_rate_ = "1000", subject_burst_ = "1000";

  void start(const std::string& control_extra = "") {
    extra_config_ = auth_config(control_extra);
    start_daemon();
  }

  // Runs f in a child as uid (gid nogroup, with the extra groups); returns what it returned.
  std::string as(uid_t uid, const std::function<std::string()>& f, std::vector<gid_t> groups = {}) {
    int p[2];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(p[0]);
      if (::setgroups(groups.size(), groups.data()) != 0 ||
          ::setresgid(kSocketGid, kSocketGid, kSocketGid) != 0 || ::setresuid(uid, uid, uid) != 0) {
        ::_exit(99);
      }
      std::string out = f();
      size_t off = 0;
      while (off < out.size()) {
        ssize_t n = ::write(p[1], out.data() + off, out.size() - off);
        if (n <= 0) ::_exit(98);
        off += static_cast<size_t>(n);
      }
      ::_exit(0);
    }
    ::close(p[1]);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    ::close(p[0]);
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
    return out;
  }

  ctl::ClientOptions options() const {
    ctl::ClientOptions o;
    o.socket_path = socket_;
    return o;
  }

  // "CODE message" of one call made as uid (or "connect: ..." when it could not connect).
  std::string call_as(uid_t uid, v1::Request req, std::vector<gid_t> groups = {},
                      std::optional<ctl::SignAs> sign = std::nullopt) {
    return as(
        uid,
        [&] {
          auto o = options();
          o.sign = sign;
          auto c = ctl::Client::connect(o);
          if (!c) return "connect: " + c.error().describe();
          auto r = c->call(req);
          if (!r) return "call: " + r.error().describe();
          return v1::StatusCode_Name(r->status().code()) + " " + r->status().message();
        },
        std::move(groups));
  }

  static v1::Request start_req(const std::string& name = "p") {
    v1::Request r;
    r.mutable_start()->set_name(name);
    return r;
  }
  static v1::Request list_req() {
    v1::Request r;
    r.mutable_list();
    return r;
  }

  std::vector<v1::AuditRecord> audit() {
    v1::Request req;
    req.mutable_audit()->set_limit(100000);
    auto c = client();
    auto r = c.call(req);
    EXPECT_TRUE(r);
    return r ? std::vector<v1::AuditRecord>(r->audit().records().begin(),
                                            r->audit().records().end())
             : std::vector<v1::AuditRecord>{};
  }
  bool audited(int64_t uid, const std::string& command, const std::string& result,
               const std::string& text = "") {
    for (const auto& a : audit()) {
      if (a.uid() == uid && a.command() == command && a.result() == result &&
          a.message().find(text) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

  static ctl::SignAs web(std::vector<std::string> perms, int64_t expires_in_ms = 60000,
                         std::string secret = kSecret) {
    ctl::SignAs s;
    s.client_id = "web";
    auto decoded = [&] {
      std::string out;
      for (size_t i = 0; i + 1 < secret.size(); i += 2) {
        out.push_back(static_cast<char>(std::stoi(secret.substr(i, 2), nullptr, 16)));
      }
      return out;
    };
    s.secret = decoded();
    s.token.set_subject("alice@example.com");
    s.token.set_session_id("sess-1");
    for (auto& p : perms) s.token.add_permissions(p);
    s.token.set_expires_unix_ms(now_ms() + expires_in_ms);
    return s;
  }
};

TEST_F(Security, ViewerReadsButCannotMutate) {
  start();
  EXPECT_THAT(call_as(kViewer, list_req()), HasSubstr("OK"));
  std::string r = call_as(kViewer, start_req());
  EXPECT_THAT(r, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(r, HasSubstr("start needs \"plugins.control\""));
  EXPECT_THAT(r, HasSubstr("role viewer"));
  v1::Request rotate;
  rotate.mutable_rotate_key();
  EXPECT_THAT(call_as(kViewer, rotate), HasSubstr("needs \"admin.keys\""));
  EXPECT_TRUE(audited(kViewer, "start", "permission denied", "plugins.control"));
  EXPECT_TRUE(audited(kViewer, "list", "ok"));
}

TEST_F(Security, OperatorControlsPluginsButNotKeysOrBackups) {
  start();
  v1::Request stop;
  stop.mutable_stop()->set_name("p");
  EXPECT_THAT(call_as(kOperator, stop), HasSubstr("OK"));
  EXPECT_THAT(call_as(kOperator, start_req()), HasSubstr("OK"));
  EXPECT_TRUE(wait_state("p", v1::RUNNING));
  v1::Request rotate;
  rotate.mutable_rotate_key();
  EXPECT_THAT(call_as(kOperator, rotate), HasSubstr("needs \"admin.keys\""));
  v1::Request backup;
  backup.mutable_backup()->set_path(dir_ + "/b.db");
  EXPECT_THAT(call_as(kOperator, backup), HasSubstr("needs \"admin.backup\""));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/b.db"));
  EXPECT_TRUE(audited(kOperator, "rotate_key", "permission denied"));
  EXPECT_TRUE(audited(kOperator, "backup", "permission denied"));
}

TEST_F(Security, UnknownPeerGetsHelloAndNothingElse) {
  start();
  std::string hello = as(kNobody, [&] {
    auto c = ctl::Client::connect(options());
    if (!c) return "connect: " + c.error().describe();
    std::string out = "roles=" + std::to_string(c->hello().peer().roles_size()) +
                      " uid=" + std::to_string(c->hello().peer().uid());
    for (const auto& cmd : c->hello().commands()) {
      if (cmd.allowed()) out += " " + cmd.name();
    }
    return out;
  });
  EXPECT_EQ(hello, "roles=0 uid=" + std::to_string(kNobody) + " hello version");
  std::string r = call_as(kNobody, list_req());
  EXPECT_THAT(r, HasSubstr("PERMISSION_DENIED permission denied: list needs \"plugins.read\""));
  EXPECT_THAT(r, HasSubstr("has no role"));
  EXPECT_TRUE(audited(kNobody, "list", "permission denied"));
}

TEST_F(Security, SupplementaryGroupGrantsACustomRole) {
  start();
  v1::Request stop;
  stop.mutable_stop()->set_name("p");
  EXPECT_THAT(call_as(kDeployer, stop, {kDeployers}), HasSubstr("OK"));
  v1::Request logs;
  logs.mutable_logs()->set_name("p");
  EXPECT_THAT(call_as(kDeployer, logs, {kDeployers}), HasSubstr("needs \"logs.read\""));
  // Without the group the same uid has no role.
  EXPECT_THAT(call_as(kDeployer, list_req()), HasSubstr("has no role"));
}

TEST_F(Security, SignedRequestsIntersectTheTokenWithThePeersRole) {
  start();
  EXPECT_THAT(call_as(kBackend, list_req(), {}, web({"plugins.read"})), HasSubstr("OK"));
  std::string r = call_as(kBackend, start_req(), {}, web({"plugins.read"}));
  EXPECT_THAT(r, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(r, HasSubstr("the token of alice@example.com (client web) grants plugins.read"));
  // "*" is everything the peer's role (operator) allows, and no more.
  EXPECT_THAT(call_as(kBackend, start_req(), {}, web({"*"})), HasSubstr("OK"));
  v1::Request rotate;
  rotate.mutable_rotate_key();
  EXPECT_THAT(call_as(kBackend, rotate, {}, web({"*"})), HasSubstr("needs \"admin.keys\""));
  // Only the uids the config lists may present the client.
  EXPECT_THAT(call_as(kOperator, list_req(), {}, web({"*"})),
              HasSubstr("may not sign as client \"web\""));
  bool on_behalf = false;
  for (const auto& a : audit()) {
    if (a.uid() == kBackend && a.command() == "start" &&
        a.message().find("for web/alice@example.com (session sess-1)") != std::string::npos) {
      on_behalf = true;
    }
  }
  EXPECT_TRUE(on_behalf) << "the audit trail names the subject a signed request acted for";
}

TEST_F(Security, ForgedExpiredFutureAndReplayedSignaturesAreRefused) {
  start();
  EXPECT_THAT(call_as(kBackend, list_req(), {}, web({"*"}, 60000, std::string(64, 'f'))),
              HasSubstr("UNAUTHENTICATED auth.signature does not match"));
  EXPECT_THAT(call_as(kBackend, list_req(), {}, web({"*"}, -5000)),
              HasSubstr("UNAUTHENTICATED auth.token expired"));
  // A request signed with a timestamp 10 minutes ahead, and one replayed byte for byte.
  std::string out = as(kBackend, [&]() -> std::string {
    auto s = web({"*"});
    std::string result;
    auto raw = [&](const v1::Request& req) -> std::string {
      UniqueFd fd = raw_connect();
      if (!fd.valid()) return "x";
      if (!send_request(fd.get(), hello_request(2, 2)) || !read_response(fd.get())) return "h";
      if (!send_request(fd.get(), req)) return "s";
      auto r = read_response(fd.get());
      return r ? v1::StatusCode_Name(r->status().code()) + " " + r->status().message() : "r";
    };
    v1::Request req = list_req();
    req.set_id(7);
    if (!proto::sign_request(req, "web", s.secret, s.token, now_ms() + 600000)) return "sign";
    result += raw(req) + "\n";
    v1::Request once = list_req();
    once.set_id(8);
    if (!proto::sign_request(once, "web", s.secret, s.token, now_ms())) return "sign";
    result += raw(once) + "\n";
    result += raw(once) + "\n";
    return result;
  });
  std::vector<std::string> lines;
  std::stringstream ss(out);
  for (std::string l; std::getline(ss, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 3u) << out;
  EXPECT_THAT(lines[0], HasSubstr("UNAUTHENTICATED auth.timestamp_unix_ms is"));
  EXPECT_THAT(lines[0], HasSubstr("in the future"));
  EXPECT_THAT(lines[1], HasSubstr("OK"));
  EXPECT_THAT(lines[2], HasSubstr("UNAUTHENTICATED auth.nonce was already used"));
  EXPECT_TRUE(audited(kBackend, "list", "unauthenticated", "already used"));
  EXPECT_TRUE(audited(kBackend, "list", "unauthenticated", "does not match"));
}

TEST_F(Security, ConnectionsPerUidAreCapped) {
  start("max_connections_per_uid = 3\n");
  std::string out = as(kOperator, [&] {
    std::vector<ctl::Client> held;
    for (int i = 0; i < 3; ++i) {
      auto c = ctl::Client::connect(options());
      if (!c) return "early: " + c.error().describe();
      held.push_back(std::move(*c));
    }
    auto fourth = ctl::Client::connect(options());
    return fourth ? std::string("connected") : fourth.error().describe();
  });
  EXPECT_THAT(out, HasSubstr("too many connections from uid " + std::to_string(kOperator)));
  EXPECT_THAT(out, HasSubstr("the cap per uid is 3"));
  EXPECT_THAT(call_as(kViewer, list_req()), HasSubstr("OK")) << "another uid still gets in";
  EXPECT_TRUE(audited(kOperator, "connect", "resource exhausted", "cap per uid"));
}

TEST_F(Security, APartialFrameMeetsItsReadDeadline) {
  start("frame_timeout_ms = 300\n");
  UniqueFd fd = raw_connect();
  ASSERT_TRUE(send_request(fd.get(), hello_request(2, 2)));
  ASSERT_TRUE(read_response(fd.get()));
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(send_all(fd.get(), std::string("\0\0\0\x40\x08", 5)));  // 64 bytes announced, 1 sent
  auto r = read_response(fd.get(), 3s);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status().code(), v1::RESOURCE_EXHAUSTED);
  EXPECT_THAT(r->status().message(), HasSubstr("read deadline"));
  EXPECT_TRUE(peer_closed(fd.get(), 2s));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 2s);
  EXPECT_TRUE(audited(0, "frame_timeout", "resource exhausted", "read deadline"));
}

TEST_F(Security, AnIdleConnectionIsClosedButAFollowerIsNot) {
  start("idle_timeout_ms = 400\n");
  UniqueFd idle = raw_connect();
  ASSERT_TRUE(send_request(idle.get(), hello_request(2, 2)));
  ASSERT_TRUE(read_response(idle.get()));
  UniqueFd follower = raw_connect();
  ASSERT_TRUE(send_request(follower.get(), hello_request(2, 2)));
  ASSERT_TRUE(read_response(follower.get()));
  v1::Request sub;
  sub.set_id(2);
  sub.mutable_subscribe()->set_follow(true);
  ASSERT_TRUE(send_request(follower.get(), sub));
  ASSERT_TRUE(read_response(follower.get()));
  EXPECT_TRUE(peer_closed(idle.get(), 3s));
  EXPECT_FALSE(peer_closed(follower.get(), 1s)) << "a stream waiting for events is not idle";
}

// Latency percentiles of n status calls on one connection.
std::pair<double, double> status_latency(ctl::Client& c, int n) {
  std::vector<double> us;
  for (int i = 0; i < n; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = c.status("p");
    if (!r) return {-1, -1};
    us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100]};
}

TEST_F(Security, AFloodIsThrottledWhileAnotherClientKeepsItsLatency) {
  start();
  // The flooder: 4 connections, each pipelining status requests as fast as corrald reads them,
  // for 2 s; its role allows 200/s with a burst of 50.
  pid_t flood = ::fork();
  if (flood == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(kSocketGid, kSocketGid, kSocketGid) != 0 ||
        ::setresuid(kFlooder, kFlooder, kFlooder) != 0) {
      ::_exit(99);
    }
    std::vector<std::thread> ts;
    std::atomic<uint64_t> answered{0};
    const auto end = std::chrono::steady_clock::now() + 2s;
    for (int i = 0; i < 4; ++i) {
      ts.emplace_back([&] {
        auto c = ctl::Client::connect(options());
        if (!c) return;
        v1::Request req;
        req.mutable_status()->set_name("p");
        while (std::chrono::steady_clock::now() < end) {
          if (!c->call(req)) return;
          ++answered;
        }
      });
    }
    for (auto& t : ts) t.join();
    // Exit code: answered / 10 (at most 255), for the parent to check the rate.
    ::_exit(static_cast<int>(std::min<uint64_t>(answered / 10, 255)));
  }
  std::this_thread::sleep_for(300ms);
  std::string lat = as(kOperator, [&] {
    auto c = ctl::Client::connect(options());
    if (!c) return std::string("connect");
    auto [p50, p99] = status_latency(*c, 300);
    return std::to_string(p50) + " " + std::to_string(p99);
  });
  int status = 0;
  ASSERT_EQ(::waitpid(flood, &status, 0), flood);
  ASSERT_TRUE(WIFEXITED(status));
  const int answered_tens = WEXITSTATUS(status);
  double p50 = 0, p99 = 0;
  std::stringstream(lat) >> p50 >> p99;
  std::cerr << "flooder answered ~" << answered_tens * 10
            << " in 2 s; the other client's status p50 " << p50 << " us, p99 " << p99 << " us\n";
  // 200/s for 2 s plus the burst of 50 (and the slack of the last refill).
  EXPECT_LE(answered_tens * 10, 200 * 2 + 50 + 20);
  EXPECT_GE(answered_tens * 10, 200);
  EXPECT_GT(p50, 0);
  EXPECT_LT(p99, 20000) << "the second client's p99 under the flood";
  auto c = client();
  auto d = c.doctor();
  ASSERT_TRUE(d);
  EXPECT_THAT(d->active().at("control.rate_limit"),
              ::testing::Not(::testing::StartsWith("0 request(s) slowed")));
}

std::vector<uint64_t> seqs(const std::vector<v1::RecoveryEvent>& ev) {
  std::vector<uint64_t> out;
  for (const auto& e : ev) out.push_back(e.seq());
  return out;
}

TEST_F(Security, SubscribersResumeWithoutGapsAcrossReconnectsAndRestarts) {
  start();
  auto c = client();
  // Events: operator resets of p (a signal and an action each), then the subscriber takes some,
  // goes away, and resumes after the last it saw.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.reset("p"));
  std::vector<v1::RecoveryEvent> got;
  auto take = [&](uint64_t after, size_t want, bool follow) {
    auto s = client();
    v1::Request req;
    req.mutable_subscribe()->set_after_seq(after);
    req.mutable_subscribe()->set_follow(follow);
    s.set_timeout(3s);
    size_t n = 0;
    bool first = true;
    auto r = s.stream(req, [&](const v1::Response& resp) {
      EXPECT_EQ(resp.status().code(), v1::OK) << resp.status().message();
      if (first) {
        EXPECT_EQ(resp.subscribe().missed(), 0u);
      }
      first = false;
      for (const auto& e : resp.subscribe().events()) {
        got.push_back(e);
        ++n;
      }
      return n < want;
    });
    (void)r;
  };
  take(0, 15, true);
  ASSERT_GE(got.size(), 15u);
  uint64_t last = got.back().seq();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.reset("p"));
  // corrald restarts: the next one continues the numbering and serves the old events from its
  // store.
  ASSERT_EQ(stop_daemon(), 0);
  start_daemon();
  auto c2 = client();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c2.reset("p"));
  ASSERT_TRUE(wait_until([&] {
    auto s = client();
    v1::Request req;
    req.mutable_subscribe();
    auto r = s.call(req);
    return r && r->subscribe().last_seq() > last + 10;
  }));
  const size_t before = got.size();
  take(last, 1000000, false);
  // Every event the store holds, once, in order: what the two sessions saw.
  std::vector<v1::RecoveryEvent> all;
  {
    auto s = client();
    v1::Request req;
    req.mutable_subscribe()->set_after_seq(0);
    ASSERT_TRUE(s.stream(req, [&](const v1::Response& resp) {
      for (const auto& e : resp.subscribe().events()) all.push_back(e);
      return true;
    }));
  }
  EXPECT_EQ(seqs(got), seqs(all));
  EXPECT_GE(got.size(), before + 15) << "the 10 resets before the restart and 5 after";
  for (size_t i = 1; i < all.size(); ++i) EXPECT_EQ(all[i].seq(), all[i - 1].seq() + 1);
  // Each reset's events share its correlation id; the action is caused by the signal.
  const auto& sig = all.back().type() == "signal" ? all.back() : all[all.size() - 2];
  EXPECT_FALSE(sig.correlation_id().empty());
  EXPECT_THAT(sig.causation_id(), HasSubstr("request:"));
  EXPECT_EQ(sig.event_id(), "ev-" + std::to_string(sig.seq()));
  EXPECT_FALSE(sig.severity().empty());
}

TEST_F(Security, SubscribeFiltersByPluginTypeAndSeverity) {
  write_manifest("q.toml", R"x(name = "q"
exec = "/bin/sleep"
args = ["600"]
)x");
  start();
  auto c = client();
  ASSERT_TRUE(c.reset("p"));
  ASSERT_TRUE(c.reset("q"));
  auto s = client();
  v1::Request req;
  req.mutable_subscribe()->add_plugins("q");
  req.mutable_subscribe()->add_types("signal");
  std::vector<v1::RecoveryEvent> got;
  ASSERT_TRUE(s.stream(req, [&](const v1::Response& resp) {
    for (const auto& e : resp.subscribe().events()) got.push_back(e);
    return true;
  }));
  ASSERT_FALSE(got.empty());
  for (const auto& e : got) {
    EXPECT_EQ(e.plugin(), "q");
    EXPECT_EQ(e.type(), "signal");
  }
  req.mutable_subscribe()->set_min_severity("critical");
  got.clear();
  ASSERT_TRUE(s.stream(req, [&](const v1::Response& resp) {
    for (const auto& e : resp.subscribe().events()) got.push_back(e);
    return true;
  }));
  EXPECT_TRUE(got.empty()) << "operator resets are not critical";
  req.mutable_subscribe()->set_min_severity("loud");
  auto r = s.call(req);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status().code(), v1::INVALID_ARGUMENT);
  EXPECT_THAT(r->status().message(), HasSubstr("subscribe.min_severity"));
}

TEST_F(Security, ASlowSubscriberIsDroppedWithAReasonAndResumes) {
  start("subscriber_buffer_bytes = 4096\n");
  // A follower that does not read: corrald's socket buffer fills, then its budget.
  UniqueFd slow = raw_connect();
  int small = 4096;
  ASSERT_EQ(::setsockopt(slow.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  ASSERT_TRUE(send_request(slow.get(), hello_request(2, 2)));
  ASSERT_TRUE(read_response(slow.get()));
  v1::Request sub;
  sub.set_id(2);
  sub.mutable_subscribe()->set_follow(true);
  ASSERT_TRUE(send_request(slow.get(), sub));
  auto c = client();
  std::string dropped;
  for (int i = 0; i < 4000 && dropped.empty(); ++i) {
    ASSERT_TRUE(c.reset("p"));
    if (i % 100 == 99) {
      auto d = c.doctor();
      ASSERT_TRUE(d);
      if (d->active().at("control.subscribers_dropped") != "0") dropped = "yes";
    }
  }
  ASSERT_EQ(dropped, "yes") << "the slow subscriber was never dropped";
  // Reading now: events, then the last frame saying why and where to resume.
  uint64_t last_seen = 0;
  std::string why;
  for (;;) {
    auto r = read_response(slow.get(), 5s);
    if (!r) break;
    for (const auto& e : r->subscribe().events()) last_seen = e.seq();
    if (!r->more()) {
      why = r->status().message();
      EXPECT_EQ(r->status().code(), v1::RESOURCE_EXHAUSTED);
      break;
    }
  }
  EXPECT_THAT(why, HasSubstr("subscriber dropped"));
  EXPECT_THAT(why, HasSubstr("resume with after_seq"));
  EXPECT_TRUE(audited(0, "subscribe", "resource exhausted", "subscriber dropped"));
  // Resuming after the last event it saw: the rest, from the store, contiguous.
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(c.reset("p"));
  auto s = client();
  v1::Request again;
  again.mutable_subscribe()->set_after_seq(last_seen);
  uint64_t next = last_seen + 1;
  bool contiguous = true;
  ASSERT_TRUE(s.stream(again, [&](const v1::Response& resp) {
    for (const auto& e : resp.subscribe().events()) contiguous &= e.seq() == next++;
    return true;
  }));
  EXPECT_TRUE(contiguous);
  EXPECT_GE(next, last_seen + 50) << "the resets after the drop";
}

TEST_F(Security, UnknownFieldsAreRefusedInV2AndIgnoredInV1) {
  start();
  for (uint32_t v : {1u, 2u}) {
    UniqueFd fd = raw_connect();
    ASSERT_TRUE(send_request(fd.get(), hello_request(v, v)));
    ASSERT_TRUE(read_response(fd.get()));
    v1::Request req;
    req.set_id(3);
    req.mutable_status()->set_name("p");
    req.mutable_status()
        ->GetReflection()
        ->MutableUnknownFields(req.mutable_status())
        ->AddVarint(9, 1);
    ASSERT_TRUE(send_request(fd.get(), req));
    auto r = read_response(fd.get());
    ASSERT_TRUE(r);
    if (v == 1) {
      EXPECT_EQ(r->status().code(), v1::OK) << r->status().message();
    } else {
      EXPECT_EQ(r->status().code(), v1::INVALID_ARGUMENT);
      EXPECT_THAT(r->status().message(), HasSubstr("status: field 9"));
    }
    v1::Request s;
    s.set_id(4);
    s.mutable_subscribe();
    ASSERT_TRUE(send_request(fd.get(), s));
    r = read_response(fd.get());
    ASSERT_TRUE(r);
    if (v == 1) {
      EXPECT_EQ(r->status().code(), v1::UNIMPLEMENTED);
      EXPECT_THAT(r->status().message(), HasSubstr("subscribe needs protocol v2"));
    }
  }
}

TEST_F(Security, CorralctlWhoamiSignsAndSubscribesAsAnotherUser) {
  start();
  const std::string ctl_bin = std::string(CORRAL_BINARY_DIR) + "/ctl/corralctl";
  auto as_user = [&](uid_t uid, std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/setpriv",
                                     "--reuid=" + std::to_string(uid),
                                     "--regid=" + std::to_string(kSocketGid),
                                     "--clear-groups",
                                     ctl_bin,
                                     "--socket",
                                     socket_};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  };
  auto who = as_user(kViewer, {"whoami"});
  EXPECT_EQ(who.exit_code, 0) << who.err;
  EXPECT_THAT(who.out, HasSubstr("uid " + std::to_string(kViewer)));
  EXPECT_THAT(who.out, HasSubstr("roles        viewer"));
  EXPECT_THAT(who.out, HasSubstr("may not run  start"));
  auto denied = as_user(kViewer, {"stop", "p"});
  EXPECT_EQ(denied.exit_code, 77) << denied.err;
  EXPECT_THAT(denied.err, HasSubstr("stop needs \"plugins.control\""));

  // The backend's own copy of the secret: its file, mode 0600.
  const std::string key = dir_ + "/backend.key";
  std::ofstream(key) << kSecret << "\n";
  ASSERT_EQ(::chown(key.c_str(), kBackend, kSocketGid), 0);
  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  auto signed_list = as_user(kBackend, {"--sign-as", "web", "--secret-file", key, "--subject",
                                        "bob", "--token-permissions", "plugins.read", "list"});
  EXPECT_EQ(signed_list.exit_code, 0) << signed_list.err;
  EXPECT_THAT(signed_list.out, HasSubstr("p"));
  auto signed_stop = as_user(kBackend, {"--sign-as", "web", "--secret-file", key, "--subject",
                                        "bob", "--token-permissions", "plugins.read", "stop", "p"});
  EXPECT_EQ(signed_stop.exit_code, 77);
  EXPECT_THAT(signed_stop.err, HasSubstr("the token of bob (client web) grants plugins.read"));

  auto c = client();
  ASSERT_TRUE(c.reset("p"));
  auto sub = as_user(kOperator, {"subscribe", "--plugin", "p", "--type", "signal"});
  EXPECT_EQ(sub.exit_code, 0) << sub.err;
  EXPECT_THAT(sub.out, HasSubstr("signal  operator"));
  EXPECT_THAT(sub.out, HasSubstr("caused by request:"));
}

TEST_F(Security, ASubjectOverItsRateIsRefusedWhileAnotherSubjectIsServed) {
  subject_rate_ = "5";
  subject_burst_ = "3";
  start();
  std::string out = as(kBackend, [&]() -> std::string {
    auto alice = web({"*"});
    auto bob = web({"*"});
    bob.token.set_subject("bob@example.com");
    auto o = options();
    o.sign = alice;
    auto a = ctl::Client::connect(o);
    o.sign = bob;
    auto b = ctl::Client::connect(o);
    if (!a || !b) return "connect";
    std::string r;
    v1::Request req;
    req.mutable_list();
    for (int i = 0; i < 4; ++i) {
      auto resp = a->call(req);
      if (!resp) return "call";
      r += v1::StatusCode_Name(resp->status().code()) + " " + resp->status().message() + "\n";
    }
    auto other = b->call(req);
    r += other ? v1::StatusCode_Name(other->status().code()) : std::string("call");
    return r;
  });
  std::vector<std::string> lines;
  std::stringstream ss(out);
  for (std::string l; std::getline(ss, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 5u) << out;
  for (int i = 0; i < 3; ++i) EXPECT_THAT(lines[i], HasSubstr("OK")) << "the burst of 3";
  EXPECT_THAT(lines[3], HasSubstr("RESOURCE_EXHAUSTED rate limit: alice@example.com (client web) "
                                  "is over 5 requests/s; retry in"));
  EXPECT_EQ(lines[4], "OK") << "another subject of the same client and uid is served";
  EXPECT_TRUE(audited(kBackend, "list", "resource exhausted", "rate limit"));
}

}  // namespace
}  // namespace corral::e2e
