// `corralctl run`: a one-shot sandboxed command through corrald, its output streamed back, its
// exit status propagated, visible while it runs, gone afterwards, killed when the client goes.
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>

#include <gmock/gmock.h>

#include "tests/e2e/corrald_fixture.h"

extern char** environ;

namespace corral::e2e {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

class Run : public CorraldFixture {
 protected:
  void SetUp() override {
    CorraldFixture::SetUp();
    write_manifest("alpha.toml", "name = \"alpha\"\nexec = \"/bin/sleep\"\nargs = [\"600\"]\n");
    extra_config_ = "[control]\nmax_runs_per_uid = 2\nrun_retention_ms = 500\n";
    start_daemon();
  }
  bool listed(const std::string& name) {
    auto c = client();
    auto l = c.list();
    if (!l) return false;
    for (const auto& p : l->plugins()) {
      if (p.name() == name) return true;
    }
    return false;
  }
};

TEST_F(Run, StreamsOutputAndPropagatesTheExitCode) {
  auto r = ctl({"run", "--", "/bin/sh", "-c", "echo to-out; echo to-err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.out, "to-out\n");
  EXPECT_EQ(r.err, "to-err\n");
  r = ctl({"run", "--", "sh", "-c", "kill -TERM $$"});  // a bare name: found in PATH
  EXPECT_EQ(r.exit_code, 128 + SIGTERM) << r.err;
}

TEST_F(Run, RunsInAFullSandbox) {
  auto r = ctl({"run", "--name", "box1", "--", "/bin/sh", "-c",
                "id -u; hostname; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; "
                "ls /proc | grep -cE '^[0-9]+$'"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("1000\nbox1\n"));
  EXPECT_THAT(r.out, HasSubstr("CapEff:\t0000000000000000\n"));
  EXPECT_THAT(r.out, HasSubstr("NoNewPrivs:\t1\n"));
  EXPECT_THAT(r.out, HasSubstr("Seccomp:\t2\n"));
  EXPECT_THAT(r.out, ::testing::EndsWith("4\n")) << "init, sh, ls and grep: nothing else";
  // Kept for inspection for run_retention_ms, then garbage-collected.
  auto kept = status("box1");
  EXPECT_EQ(kept.state(), v1::EXITED);
  EXPECT_EQ(kept.last_exit().code(), 0);
  EXPECT_THAT(ctl({"logs", "box1"}).out, HasSubstr("box1"));
  EXPECT_TRUE(wait_until([&] { return !listed("box1"); }, 5s)) << "a finished run is collected";
}

TEST_F(Run, AUidHasAtMostItsLimitOfLiveRuns) {
  auto begin = [&](const std::string& name) {
    UniqueFd fd = raw_connect();
    EXPECT_TRUE(send_request(fd.get(), hello_request()));
    EXPECT_TRUE(read_response(fd.get()).has_value());
    v1::Request req;
    req.set_id(7);
    req.mutable_run()->set_name(name);
    req.mutable_run()->set_exec("/bin/sleep");
    req.mutable_run()->add_args("30");
    EXPECT_TRUE(send_request(fd.get(), req));
    auto first = read_response(fd.get());
    EXPECT_TRUE(first.has_value());
    return std::make_pair(std::move(fd), first ? *first : v1::Response{});
  };
  auto a = begin("long1");
  auto b = begin("long2");
  EXPECT_EQ(a.second.status().code(), v1::OK) << a.second.status().message();
  EXPECT_EQ(b.second.status().code(), v1::OK) << b.second.status().message();
  auto c = begin("long3");
  EXPECT_EQ(c.second.status().code(), v1::RESOURCE_EXHAUSTED);
  EXPECT_THAT(c.second.status().message(), HasSubstr("has 2 one-shot runs going"));
  // One client goes: its run is killed, and the uid may start another.
  a.first.reset();
  EXPECT_TRUE(wait_until(
      [&] {
        auto st = status("long1").state();
        return st == v1::STOPPED || st == v1::EXITED;
      },
      5s));
  auto d = begin("long4");
  EXPECT_EQ(d.second.status().code(), v1::OK) << d.second.status().message();
}

TEST_F(Run, BindsWritableDirectoriesAndLimits) {
  std::string src = dir_ + "/data";
  std::string work = dir_ + "/work";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(work.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(work.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  std::ofstream(src + "/hello") << "hello data\n";
  auto r = ctl({"run", "--ro-bind", src + ":/data", "--writable", work, "--setenv", "X=42",
                "--chdir", "/data", "--", "/bin/sh", "-c",
                "cat hello; echo $X; echo made > " + work + "/out; touch /data/no 2>&1 || true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("hello data\n42\n"));
  EXPECT_THAT(r.out + r.err, HasSubstr("Read-only file system"));
  struct stat st {};
  ASSERT_EQ(::stat((work + "/out").c_str(), &st), 0);
  EXPECT_GE(st.st_uid, 524288u) << "written as the run's own host uid, not root";
  if (::access("/usr/bin/python3", X_OK) == 0) {
    r = ctl({"run", "--memory", "32M", "--", "/usr/bin/python3", "-c",
             "b = bytearray(256 << 20); print('survived')"});
    EXPECT_EQ(r.exit_code, 128 + SIGKILL) << r.out << r.err;
    EXPECT_THAT(r.out, Not(HasSubstr("survived")));
  }
}

TEST_F(Run, VisibleWhileItRunsAndKilledWhenTheClientGoes) {
  std::string ctl_path = std::string(CORRAL_BINARY_DIR) + "/ctl/corralctl";
  std::vector<std::string> args = {ctl_path,  "--socket", socket_,      "run", "--name",
                                   "longrun", "--",       "/bin/sleep", "600"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
  ASSERT_TRUE(wait_until([&] { return listed("longrun"); }, 5s));
  ASSERT_TRUE(wait_state("longrun", v1::RUNNING));
  pid_t program = status("longrun").pid();
  ASSERT_GT(program, 0);
  ::kill(pid, SIGKILL);  // the client vanishes without a word
  int st = 0;
  ::waitpid(pid, &st, 0);
  EXPECT_TRUE(wait_until([&] { return !listed("longrun"); }, 5s));
  EXPECT_TRUE(wait_until([&] { return !process_alive(program); }, 5s));
}

TEST_F(Run, ClearErrors) {
  auto r = ctl({"run", "--name", "alpha", "--", "/bin/true"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("run.name: a plugin named 'alpha' already exists"));
  r = ctl({"run", "--", "no-such-command-anywhere"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("command not found: no-such-command-anywhere"));
  r = ctl({"run", "--network", "bridge", "--", "/bin/true"});
  EXPECT_THAT(r.err, HasSubstr("run.network"));
  r = ctl({"run", "--ro-bind", "relative", "--", "/bin/true"});
  EXPECT_THAT(r.err, HasSubstr("run.ro_binds"));
  r = ctl({"run", "--memory", "lots", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(listed("alpha"));
}

}  // namespace
}  // namespace corral::e2e
