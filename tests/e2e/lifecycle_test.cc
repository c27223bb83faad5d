// Plugin lifecycle through a real corrald: autostart, list, stop, start, restart, logs, the
// restart policies, stop escalation to SIGKILL, and a graceful daemon shutdown.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <cstring>

#include <gmock/gmock.h>

#include "tests/e2e/corrald_fixture.h"

namespace corral::e2e {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr const char* kSleeper = R"x(name = "sleeper"
exec = "/bin/sh"
args = ["-c", "echo sleeper up; exec sleep 600"]
[stop]
timeout_ms = 2000
)x";

class Lifecycle : public CorraldFixture {};

TEST_F(Lifecycle, AutostartListStopStart) {
  write_manifest("sleeper.toml", kSleeper);
  write_manifest("manual.toml",
                 "name = \"manual\"\nexec = \"/bin/sleep\"\nargs = [\"600\"]\nautostart = false\n");
  start_daemon();
  ASSERT_TRUE(wait_state("sleeper", v1::RUNNING));

  auto c = client();
  auto list = c.list();
  ASSERT_TRUE(list.has_value()) << list.error().describe();
  ASSERT_EQ(list->plugins_size(), 2);
  EXPECT_EQ(list->plugins(0).name(), "manual");
  EXPECT_EQ(list->plugins(0).state(), v1::STOPPED);
  EXPECT_EQ(list->plugins(0).pid(), 0);
  const auto& s = list->plugins(1);
  EXPECT_EQ(s.name(), "sleeper");
  EXPECT_EQ(s.state(), v1::RUNNING);
  ASSERT_GT(s.pid(), 0);
  EXPECT_TRUE(process_alive(s.pid()));
  EXPECT_EQ(s.exec(), "/bin/sh");
  EXPECT_EQ(s.restart_policy(), "on-failure");

  auto stopped = c.stop("sleeper", 0);
  ASSERT_TRUE(stopped.has_value()) << stopped.error().describe();
  EXPECT_EQ(stopped->state(), v1::STOPPED);
  EXPECT_EQ(stopped->pid(), 0);
  EXPECT_FALSE(process_alive(s.pid())) << "the plugin process must be gone when stop returns";
  EXPECT_TRUE(stopped->last_exit().signaled());
  EXPECT_EQ(stopped->last_exit().code(), SIGTERM);

  // Stopping again is a no-op.
  auto again = c.stop("sleeper", 0);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->state(), v1::STOPPED);

  auto started = c.start("manual");
  ASSERT_TRUE(started.has_value()) << started.error().describe();
  EXPECT_EQ(started->state(), v1::RUNNING);
  EXPECT_TRUE(process_alive(started->pid()));
}

TEST_F(Lifecycle, RestartGivesANewProcess) {
  write_manifest("sleeper.toml", kSleeper);
  start_daemon();
  ASSERT_TRUE(wait_state("sleeper", v1::RUNNING));
  auto c = client();
  pid_t before = status("sleeper").pid();
  auto r = c.restart("sleeper", 0);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->state(), v1::RUNNING);
  EXPECT_NE(r->pid(), before);
  EXPECT_FALSE(process_alive(before));
  EXPECT_TRUE(process_alive(r->pid()));
}

TEST_F(Lifecycle, OnFailureRestartsWithBackoffAndRecordsTheExit) {
  write_manifest("flaky.toml", R"x(name = "flaky"
exec = "/bin/sh"
args = ["-c", "echo attempt; exit 3"]
[restart]
policy = "on-failure"
delay_ms = 50
max_delay_ms = 200
)x");
  start_daemon();
  ASSERT_TRUE(wait_until([&] { return status("flaky").restarts() >= 3; }))
      << "restarts: " << status("flaky").restarts();
  auto info = status("flaky");
  EXPECT_FALSE(info.last_exit().signaled());
  EXPECT_EQ(info.last_exit().code(), 3);
  EXPECT_EQ(info.last_exit().description(), "exited with code 3");
  // Each run logged its line; corrald's own notes are interleaved.
  auto c = client();
  v1::Request req;
  req.mutable_logs()->set_name("flaky");
  req.mutable_logs()->set_tail(1000);
  auto resp = c.call(req);
  ASSERT_TRUE(resp.has_value());
  int attempts = 0;
  for (const auto& l : resp->logs().lines()) attempts += l.text() == "attempt";
  EXPECT_GE(attempts, 3);
}

TEST_F(Lifecycle, PolicyNoLeavesItExitedAndCleanExitIsNotAFailure) {
  write_manifest("once.toml", R"x(name = "once"
exec = "/bin/sh"
args = ["-c", "exit 7"]
[restart]
policy = "no"
)x");
  write_manifest("clean.toml", R"x(name = "clean"
exec = "/bin/true"
[restart]
policy = "on-failure"
delay_ms = 10
)x");
  start_daemon();
  ASSERT_TRUE(wait_state("once", v1::EXITED));
  ASSERT_TRUE(wait_state("clean", v1::EXITED));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(status("once").restarts(), 0u);
  EXPECT_EQ(status("once").last_exit().code(), 7);
  EXPECT_EQ(status("clean").restarts(), 0u);
}

TEST_F(Lifecycle, LaunchFailureIsReportedWithTheReason) {
  write_manifest("ghost.toml", R"x(name = "ghost"
exec = "/nonexistent/program"
autostart = false
[restart]
policy = "no"
)x");
  start_daemon();
  auto c = client();
  auto r = c.start("ghost");
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, HasSubstr("/nonexistent/program"));
  auto info = status("ghost");
  EXPECT_EQ(info.state(), v1::FAILED);
  EXPECT_THAT(info.last_error(), HasSubstr("/nonexistent/program"));
}

TEST_F(Lifecycle, StopEscalatesToSigkillAfterTheTimeout) {
  write_manifest("stubborn.toml", R"x(name = "stubborn"
exec = "/bin/sh"
args = ["-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"]
[stop]
timeout_ms = 300
)x");
  start_daemon();
  ASSERT_TRUE(wait_until([&] { return status("stubborn").log_lines() >= 2; }));
  pid_t pid = status("stubborn").pid();
  auto c = client();
  auto t0 = std::chrono::steady_clock::now();
  auto r = c.stop("stubborn", 0);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 5s);
  EXPECT_TRUE(r->last_exit().signaled());
  EXPECT_EQ(r->last_exit().code(), SIGKILL);
  EXPECT_FALSE(process_alive(pid));
}

TEST_F(Lifecycle, LogsTailAndFollow) {
  write_manifest("talker.toml", R"x(name = "talker"
exec = "/bin/sh"
args = ["-c", "i=0; while :; do echo line-$i; echo oops-$i >&2; i=$((i+1)); sleep 0.1; done"]
)x");
  start_daemon();
  ASSERT_TRUE(wait_until([&] { return status("talker").log_lines() >= 6; }));
  auto c = client();

  v1::Request tail;
  tail.mutable_logs()->set_name("talker");
  tail.mutable_logs()->set_tail(4);
  auto resp = c.call(tail);
  ASSERT_TRUE(resp.has_value());
  ASSERT_EQ(resp->status().code(), v1::OK);
  EXPECT_FALSE(resp->more());
  ASSERT_EQ(resp->logs().lines_size(), 4);
  bool saw_stderr = false;
  for (const auto& l : resp->logs().lines()) saw_stderr |= l.stream() == v1::STDERR;
  EXPECT_TRUE(saw_stderr);

  v1::Request follow;
  follow.mutable_logs()->set_name("talker");
  follow.mutable_logs()->set_tail(1);
  follow.mutable_logs()->set_follow(true);
  std::vector<uint64_t> seqs;
  auto streamed = c.stream(follow, [&](const v1::Response& r) {
    EXPECT_EQ(r.status().code(), v1::OK);
    for (const auto& l : r.logs().lines()) seqs.push_back(l.seq());
    return seqs.size() < 8;
  });
  ASSERT_TRUE(streamed.has_value()) << streamed.error().describe();
  ASSERT_GE(seqs.size(), 8u);
  for (size_t i = 1; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], seqs[i - 1] + 1);

  // The lines also reach the plugin's log file.
  struct stat st {};
  EXPECT_EQ(::stat((state_dir_ + "/logs/talker.log").c_str(), &st), 0);
  EXPECT_GT(st.st_size, 0);
}

TEST_F(Lifecycle, SigtermStopsEveryPluginAndExitsZero) {
  write_manifest("sleeper.toml", kSleeper);
  write_manifest("stubborn.toml", R"x(name = "stubborn"
exec = "/bin/sh"
args = ["-c", "trap '' TERM; while :; do sleep 0.05; done"]
[stop]
timeout_ms = 200
)x");
  start_daemon();
  ASSERT_TRUE(wait_state("sleeper", v1::RUNNING));
  ASSERT_TRUE(wait_state("stubborn", v1::RUNNING));
  pid_t a = status("sleeper").pid();
  pid_t b = status("stubborn").pid();
  int st = stop_daemon();
  ASSERT_TRUE(WIFEXITED(st)) << st;
  EXPECT_EQ(WEXITSTATUS(st), 0);
  EXPECT_FALSE(process_alive(a));
  EXPECT_FALSE(process_alive(b));
  struct stat sb {};
  EXPECT_NE(::stat(socket_.c_str(), &sb), 0) << "socket must be removed on exit";
  EXPECT_THAT(daemon_log(), HasSubstr("did not stop within 200 ms; sending SIGKILL"));
}

TEST_F(Lifecycle, GrandchildrenDieWithThePlugin) {
  write_manifest("forker.toml", R"x(name = "forker"
exec = "/bin/sh"
args = ["-c", "sleep 600 & echo child $!; wait"]
)x");
  start_daemon();
  pid_t child = 0;
  ASSERT_TRUE(wait_until([&] {
    auto c = client();
    v1::Request req;
    req.mutable_logs()->set_name("forker");
    auto r = c.call(req);
    if (!r) return false;
    for (const auto& l : r->logs().lines()) {
      if (l.text().rfind("child ", 0) == 0) child = std::stoi(l.text().substr(6));
    }
    return child > 0;
  }));
  ASSERT_TRUE(process_alive(child));
  auto c = client();
  ASSERT_TRUE(c.stop("forker", 0).has_value());
  EXPECT_TRUE(wait_until([&] { return !process_alive(child); }, 2s));
}

}  // namespace
}  // namespace corral::e2e

namespace corral::e2e {
namespace {

// corrald under a (fake) systemd: READY=1 once listening, WATCHDOG=1 pings at half the interval,
// STOPPING=1 on SIGTERM. The notify socket is a datagram socket this test owns.
TEST_F(Lifecycle, TalksToSystemdNotifySocket) {
  std::string path = dir_ + "/notify.sock";
  UniqueFd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  write_manifest("sleeper.toml", kSleeper);
  start_daemon({}, {"NOTIFY_SOCKET=" + path, "WATCHDOG_USEC=200000"});

  std::vector<std::string> messages;
  auto collect = [&](const std::string& want) {
    return wait_until([&] {
      char buf[512];
      ssize_t n;
      while ((n = ::recv(sock.get(), buf, sizeof buf, MSG_DONTWAIT)) > 0) {
        messages.emplace_back(buf, static_cast<size_t>(n));
      }
      int hits = 0;
      for (const auto& m : messages) hits += m.find(want) != std::string::npos;
      return hits >= (want == "WATCHDOG=1" ? 3 : 1);
    });
  };
  ASSERT_TRUE(collect("READY=1"));
  EXPECT_TRUE(collect("STATUS=supervising 1 plugin(s)"));
  EXPECT_TRUE(collect("WATCHDOG=1")) << "three pings at a 100 ms period";
  ASSERT_EQ(::kill(daemon_pid_, SIGTERM), 0);
  EXPECT_TRUE(collect("STOPPING=1"));
}

}  // namespace
}  // namespace corral::e2e
