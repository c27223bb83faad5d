// The corralctl binary as a user runs it, against the scripted fake server: usage errors, the
// socket's precedence, human and JSON output, exit codes, and `logs -f` ending cleanly on SIGINT.
// (The end-to-end tests against a real corrald live in tests/e2e.)
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/ctl/fake_server.h"

extern char** environ;

namespace corral::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::chrono_literals;
using testing::answer_hello;
using testing::FakeServer;
using testing::read_request;
using testing::reply_to;
using testing::write_response;

const std::string kCtl = CORRAL_BINARY_DIR "/ctl/corralctl";

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// corralctl with args; stdout and stderr go to files in a private directory.
class Ctl {
 public:
  explicit Ctl(std::vector<std::string> args, const std::string& env_socket = "") {
    char tmpl[] = "/tmp/corral-ctl-run.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::string_view(*e).starts_with("CORRAL_SOCKET=")) continue;
      env.emplace_back(*e);
    }
    if (!env_socket.empty()) env.push_back("CORRAL_SOCKET=" + env_socket);
    args.insert(args.begin(), kCtl);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, (dir_ + "/out").c_str(), O_WRONLY | O_CREAT, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, (dir_ + "/err").c_str(), O_WRONLY | O_CREAT, 0600);
    EXPECT_EQ(posix_spawn(&pid_, kCtl.c_str(), &fa, nullptr, argv.data(), envp.data()), 0);
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Ctl() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      (void)wait();
    }
    ::unlink((dir_ + "/out").c_str());
    ::unlink((dir_ + "/err").c_str());
    ::rmdir(dir_.c_str());
  }
  // The exit code, or 128+signal.
  int wait() {
    int st = 0;
    EXPECT_EQ(::waitpid(pid_, &st, 0), pid_);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] std::string out() const { return slurp(dir_ + "/out"); }
  [[nodiscard]] std::string err() const { return slurp(dir_ + "/err"); }

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

TEST(CorralctlFake, UsageErrorsExitTwo) {
  EXPECT_EQ(Ctl({}).wait(), 2);
  EXPECT_EQ(Ctl({"list", "--bogus"}).wait(), 2);
  EXPECT_EQ(Ctl({"status"}).wait(), 2);
  EXPECT_EQ(Ctl({"logs", "p", "-n", "many"}).wait(), 2);
  Ctl help({"--help"});
  EXPECT_EQ(help.wait(), 0);
  EXPECT_THAT(help.out(), HasSubstr("logs"));
}

TEST(CorralctlFake, NoDaemonExitsSixtyNineNamingTheSocket) {
  Ctl c({"--socket", "/tmp/corral-ctl-missing/a.sock", "list"}, "/tmp/corral-ctl-missing/b.sock");
  EXPECT_EQ(c.wait(), 69);
  EXPECT_EQ(c.err(),
            "corralctl: corrald is not running: no socket at /tmp/corral-ctl-missing/a.sock\n");
  Ctl env({"list"}, "/tmp/corral-ctl-missing/b.sock");
  EXPECT_EQ(env.wait(), 69);
  EXPECT_THAT(env.err(), HasSubstr("/tmp/corral-ctl-missing/b.sock"));
}

TEST(CorralctlFake, ListPrintsTheTable) {
  FakeServer server([&](int fd, proto::FrameDecoder& d) {
    answer_hello(fd, d, "corralctl/");
    auto req = read_request(fd, d);
    ASSERT_TRUE(req.has_value());
    ASSERT_TRUE(req->has_list());
    auto r = reply_to(*req);
    auto* p = r.mutable_list()->add_plugins();
    p->set_name("ticker");
    p->set_state(v1::RUNNING);
    p->set_pid(4242);
    write_response(fd, r);
  });
  Ctl c({"--socket", server.path(), "list"});
  EXPECT_EQ(c.wait(), 0) << c.err();
  EXPECT_THAT(c.out(), StartsWith("NAME    STATE    PID   RESTARTS  HEALTH  UPTIME  LAST-EXIT\n"
                                  "ticker  running  4242  0         -       -       -\n"));
}

TEST(CorralctlFake, NotFoundExitsThreeWithTheServersMessage) {
  FakeServer server([&](int fd, proto::FrameDecoder& d) {
    answer_hello(fd, d, "corralctl/");
    auto req = read_request(fd, d);
    ASSERT_TRUE(req.has_value());
    EXPECT_EQ(req->status().name(), "nope");
    auto r = reply_to(*req, v1::NOT_FOUND);
    r.mutable_status()->set_message("no plugin named \"nope\"");
    write_response(fd, r);
  });
  Ctl c({"--socket", server.path(), "status", "nope"});
  EXPECT_EQ(c.wait(), 3);
  EXPECT_EQ(c.err(), "corralctl: no plugin named \"nope\"\n");
  EXPECT_EQ(c.out(), "");
}

TEST(CorralctlFake, JsonVersion) {
  FakeServer server([&](int fd, proto::FrameDecoder& d) {
    answer_hello(fd, d, "corralctl/");
    auto req = read_request(fd, d);
    ASSERT_TRUE(req.has_value());
    auto r = reply_to(*req);
    r.mutable_version()->set_server_version("9.9.9");
    r.mutable_version()->set_protocol_version(1);
    write_response(fd, r);
  });
  Ctl c({"--socket", server.path(), "--json", "version"});
  EXPECT_EQ(c.wait(), 0) << c.err();
  EXPECT_EQ(c.out(), "{\"server_version\":\"9.9.9\",\"protocol_version\":1}\n");
}

TEST(CorralctlFake, LogsFollowPrintsLinesAndEndsWithZeroOnSigint) {
  FakeServer server([&](int fd, proto::FrameDecoder& d) {
    answer_hello(fd, d, "corralctl/");
    auto req = read_request(fd, d);
    ASSERT_TRUE(req.has_value());
    EXPECT_EQ(req->logs().name(), "p");
    EXPECT_EQ(req->logs().tail(), 5u);
    EXPECT_TRUE(req->logs().follow());
    auto r = reply_to(*req);
    r.set_more(true);
    r.mutable_logs()->add_lines()->set_text("to stdout");
    auto* e = r.mutable_logs()->add_lines();
    e->set_text("to stderr");
    e->set_stream(v1::STDERR);
    write_response(fd, r);
    EXPECT_FALSE(read_request(fd, d).has_value());  // until corralctl hangs up
  });
  Ctl c({"--socket", server.path(), "--timeout", "100", "logs", "p", "-n", "5", "-f"});
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (c.out() != "to stdout\nto stderr\n" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(c.out(), "to stdout\nto stderr\n") << c.err();
  std::this_thread::sleep_for(300ms);  // past --timeout: following has no deadline
  ASSERT_EQ(::kill(c.pid(), SIGINT), 0);
  EXPECT_EQ(c.wait(), 0);
  EXPECT_EQ(c.err(), "");
}

}  // namespace
}  // namespace corral::ctl
