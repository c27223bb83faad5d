// DirectLauncher against the kernel's view: argv, environment, cwd, rlimits, session, signal
// state and the fd table of the launched program, and precise errors for every failed step.
#include "sandbox/launcher.h"

#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/sandbox/sandbox_test_util.h"

namespace corral::sandbox {
namespace {

using ::testing::HasSubstr;
using namespace testing;  // NOLINT: the helpers above
using ::testing::Not;

const std::string kReport = std::string(CORRAL_TESTCASES_DIR) + "/tc_report";

class Launcher : public ::testing::Test {
 protected:
  DirectLauncher launcher_;
};

TEST_F(Launcher, ReportsExitCodeAndOutput) {
  Pipe out = Pipe::make();
  LaunchSpec spec;
  spec.exec = "/bin/sh";
  spec.args = {"-c", "echo \"$0|$1|$GREETING\"; exit 3", "arg one"};
  spec.env = {"GREETING=hi there"};
  spec.stdout_fd = out.w.get();
  auto p = launcher_.launch(spec);
  ASSERT_TRUE(p.has_value()) << p.error().describe();
  out.w.reset();
  EXPECT_EQ(drain(out.r.get()), "arg one||hi there\n");
  auto st = p->wait();
  ASSERT_TRUE(st.has_value());
  EXPECT_FALSE(st->signaled);
  EXPECT_EQ(st->code, 3);
  EXPECT_EQ(st->describe(), "exited with code 3");
  EXPECT_FALSE(st->success());
}

TEST_F(Launcher, EnvironmentCwdRlimitsAndSessionAsTheKernelSeesThem) {
  Pipe out = Pipe::make();
  LaunchSpec spec;
  spec.exec = kReport;
  spec.args = {"30"};
  spec.env = {"A=1", "B=two words"};
  spec.working_dir = "/tmp";
  spec.rlimits = {{RLIMIT_NOFILE, 77, 88}, {RLIMIT_CORE, 0, 0}, {RLIMIT_NPROC, 500, 500}};
  spec.stdout_fd = out.w.get();
  auto p = launcher_.launch(spec);
  ASSERT_TRUE(p.has_value()) << p.error().describe();
  out.w.reset();
  std::string report = read_until(out.r.get(), "pgid-is-pid");
  pid_t pid = p->pid();

  std::string environ = read_proc(pid, "environ");
  EXPECT_EQ(environ, std::string("A=1\0B=two words\0", 16));
  char cwd[256] = {};
  ASSERT_GT(::readlink(("/proc/" + std::to_string(pid) + "/cwd").c_str(), cwd, sizeof cwd - 1), 0);
  EXPECT_STREQ(cwd, "/tmp");
  std::string limits = read_proc(pid, "limits");
  EXPECT_THAT(limits, ::testing::ContainsRegex("Max open files +77 +88 +files"));
  EXPECT_THAT(limits, ::testing::ContainsRegex("Max core file size +0 +0 +bytes"));
  EXPECT_THAT(limits, ::testing::ContainsRegex("Max processes +500 +500 +processes"));
  // Session leader: field 6 of /proc/pid/stat (session) equals the pid.
  std::string stat = read_proc(pid, "stat");
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string state, ppid, pgrp, session;
  rest >> state >> ppid >> pgrp >> session;
  EXPECT_EQ(session, std::to_string(pid));
  EXPECT_EQ(pgrp, std::to_string(pid));
  EXPECT_THAT(report, HasSubstr("pgid-is-pid 1"));
  ASSERT_TRUE(p->signal(SIGKILL).has_value());
}

TEST_F(Launcher, OnlyStdioIsInheritedAndSignalStateIsReset) {
  // Leave non-CLOEXEC fds and an ignored, blocked signal in this process: none may leak.
  int leak1 = ::open("/dev/null", O_RDONLY);
  int leak2 = ::dup(leak1);
  ASSERT_GE(leak2, 0);
  struct sigaction old_pipe {};
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGPIPE, &ign, &old_pipe), 0);
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  ASSERT_EQ(::sigprocmask(SIG_BLOCK, &block, &old_mask), 0);

  Pipe out = Pipe::make();
  LaunchSpec spec;
  spec.exec = kReport;
  spec.stdout_fd = out.w.get();
  auto p = launcher_.launch(spec);

  // launch() blocks every signal around clone3; the caller's own mask must come back unchanged.
  sigset_t after;
  EXPECT_EQ(::sigprocmask(SIG_SETMASK, nullptr, &after), 0);
  EXPECT_EQ(::sigismember(&after, SIGUSR1), 1);
  EXPECT_EQ(::sigismember(&after, SIGTERM), 0);
  EXPECT_EQ(::sigismember(&after, SIGCHLD), 0);
  ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  ::sigaction(SIGPIPE, &old_pipe, nullptr);
  ::close(leak1);
  ::close(leak2);
  ASSERT_TRUE(p.has_value()) << p.error().describe();
  out.w.reset();
  std::string report = drain(out.r.get());
  EXPECT_EQ(report.substr(0, report.find("sigmask")), "fd 0\nfd 1\nfd 2\n") << report;
  EXPECT_THAT(report, HasSubstr("sigmask 0\n"));
  EXPECT_THAT(report, HasSubstr("sigpipe dfl\n"));
  auto st = p->wait();
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->success());
}

TEST_F(Launcher, SameFdForStdoutAndStderr) {
  Pipe out = Pipe::make();
  LaunchSpec spec;
  spec.exec = "/bin/sh";
  spec.args = {"-c", "echo out; echo err >&2"};
  spec.stdout_fd = out.w.get();
  spec.stderr_fd = out.w.get();
  auto p = launcher_.launch(spec);
  ASSERT_TRUE(p.has_value()) << p.error().describe();
  out.w.reset();
  EXPECT_EQ(drain(out.r.get()), "out\nerr\n");
  ASSERT_TRUE(p->wait().has_value());
}

TEST_F(Launcher, MissingProgramIsRefusedBeforeForking) {
  LaunchSpec spec;
  spec.exec = "/nonexistent/prog";
  auto p = launcher_.launch(spec);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().errnum, ENOENT);
  EXPECT_THAT(p.error().describe(), HasSubstr("/nonexistent/prog"));
}

TEST_F(Launcher, RelativePathsAreRejected) {
  LaunchSpec spec;
  spec.exec = "bin/sh";
  auto p = launcher_.launch(spec);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().code, Code::kInvalidArgument);
  spec.exec = "/bin/sh";
  spec.working_dir = "tmp";
  p = launcher_.launch(spec);
  ASSERT_FALSE(p.has_value());
  EXPECT_THAT(p.error().message, HasSubstr("working_dir must be an absolute path"));
}

TEST_F(Launcher, NonExecutableFileIsRefused) {
  char path[] = "/tmp/corral-noexec.XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  LaunchSpec spec;
  spec.exec = path;
  auto p = launcher_.launch(spec);
  ::unlink(path);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().errnum, EACCES);
  EXPECT_EQ(p.error().code, Code::kPermissionDenied);
  EXPECT_THAT(p.error().describe(), HasSubstr(std::string(path) + " is not executable"));
}

TEST_F(Launcher, DirectoryIsRefused) {
  LaunchSpec spec;
  spec.exec = "/tmp";
  auto p = launcher_.launch(spec);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().code, Code::kInvalidArgument);
  EXPECT_THAT(p.error().describe(), HasSubstr("/tmp is not a regular file"));
}

TEST_F(Launcher, ChildStepFailuresNameTheStepAndErrno) {
  LaunchSpec spec;
  spec.exec = "/bin/true";
  spec.working_dir = "/nonexistent-dir";
  auto p = launcher_.launch(spec);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().errnum, ENOENT);
  EXPECT_THAT(p.error().describe(),
              HasSubstr("chdir to /nonexistent-dir failed: No such file or directory"));

  spec.working_dir = "/";
  spec.rlimits = {{RLIMIT_NOFILE, 100, 10}};  // soft above hard: EINVAL from the kernel
  p = launcher_.launch(spec);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().errnum, EINVAL);
  EXPECT_THAT(p.error().describe(), HasSubstr("setrlimit(RLIMIT_NOFILE) failed: Invalid argument"));
}

TEST_F(Launcher, ExecveFailureIsReported) {
  // A file that passes the pre-checks but that the kernel cannot execute.
  char path[] = "/tmp/corral-badexec.XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd,
                    "\x7f"
                    "ELF garbage",
                    12),
            12);
  ::close(fd);
  ASSERT_EQ(::chmod(path, 0755), 0);
  LaunchSpec spec;
  spec.exec = path;
  auto p = launcher_.launch(spec);
  ::unlink(path);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().errnum, ENOEXEC);
  EXPECT_THAT(p.error().describe(), HasSubstr("execve failed: Exec format error"));
}

// An executable script whose interpreter is missing or not executable passes the launcher's own
// checks; only the kernel's execve can say no, and the error must carry its errno.
class ScriptLauncher : public Launcher {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/corral-script.XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    for (const auto& f : files_) ::unlink(f.c_str());
    ::rmdir(dir_.c_str());
  }
  std::string write(const std::string& name, const std::string& text, mode_t mode) {
    std::string path = dir_ + "/" + name;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    EXPECT_GE(fd, 0) << path;
    EXPECT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(fd);
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    files_.push_back(path);
    return path;
  }
  std::string dir_;
  std::vector<std::string> files_;
};

TEST_F(ScriptLauncher, MissingInterpreterIsExecveEnoent) {
  LaunchSpec spec;
  spec.exec = write("script", "#!/nonexistent/interpreter\n", 0755);
  auto p = launcher_.launch(spec);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().errnum, ENOENT);
  EXPECT_EQ(p.error().code, Code::kNotFound);
  EXPECT_THAT(p.error().describe(),
              HasSubstr("launching " + spec.exec + ": execve failed: No such file or directory"));
}

TEST_F(ScriptLauncher, NonExecutableInterpreterIsExecveEacces) {
  std::string interp = write("interp", "not a program\n", 0644);
  LaunchSpec spec;
  spec.exec = write("script", "#!" + interp + "\n", 0755);
  auto p = launcher_.launch(spec);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().errnum, EACCES);
  EXPECT_THAT(p.error().describe(), HasSubstr("execve failed: Permission denied"));
}

}  // namespace
}  // namespace corral::sandbox
