// Containment: tc_hostile tries one escape per test inside a full sandbox (namespaces, fresh root,
// no capabilities, no_new_privs, Landlock, the default seccomp profile, rlimits). Each test checks
// the program's report and, where there is one, the host's side: files, processes, the hostname,
// a loopback listener.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sandbox/landlock.h"
#include "sandbox/launcher.h"
#include "sandbox/seccomp_filter.h"
#include "tests/sandbox/sandbox_test_util.h"

namespace corral::sandbox {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using namespace testing;  // NOLINT: the helpers above

constexpr uid_t kBase = 0x7A100000;  // far above any host user; tests only
const std::string kHostile = std::string(CORRAL_TESTCASES_DIR) + "/tc_hostile";

class Containment : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (writes the sandbox's uid maps)";
    char tmpl[] = "/tmp/corral-contain-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    box_.host_id_base = kBase;
    box_.hostname = "contained";
    auto profile = builtin_seccomp_profile("default");
    ASSERT_TRUE(profile.has_value());
    auto filter = SeccompFilter::build(*profile);
    ASSERT_TRUE(filter.has_value()) << filter.error().describe();
    filter_ = filter->program();
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  Outcome run(const std::string& exec, std::vector<std::string> args, int stdin_fd = -1) {
    LaunchSpec spec;
    spec.exec = exec;
    spec.args = std::move(args);
    spec.env = {"PATH=/usr/bin:/bin"};
    spec.stdin_fd = stdin_fd;
    spec.rlimits = {{RLIMIT_NOFILE, 64, 64}, {RLIMIT_CORE, 0, 0}, {RLIMIT_FSIZE, 4 << 20, 4 << 20}};
    spec.seccomp = use_seccomp_ ? &filter_ : nullptr;
    spec.sandbox = &box_;
    return run_collect(launcher_, spec);
  }
  Outcome hostile(const std::string& attempt, const std::string& arg = {}) {
    std::vector<std::string> args{attempt};
    if (!arg.empty()) args.push_back(arg);
    return run(kHostile, args);
  }
  // The program must have reported the attempt refused and exited 0.
  static void expect_blocked(const Outcome& o) {
    EXPECT_THAT(o.out, HasSubstr("blocked: ")) << o.out;
    EXPECT_THAT(o.out, Not(HasSubstr("ESCAPED"))) << o.out;
    EXPECT_TRUE(o.status.success()) << o.status.describe() << ": " << o.out;
  }

  std::string dir_;
  SandboxSpec box_;
  std::vector<sock_filter> filter_;
  bool use_seccomp_ = true;
  DirectLauncher launcher_;
};

TEST_F(Containment, CannotReadHostSecrets) {
  expect_blocked(hostile("read", "/etc/shadow"));
  expect_blocked(hostile("read", "/proc/1/root/etc/shadow"));
}

TEST_F(Containment, CannotWriteOutsideItsWritableDirectories) {
  std::string outside = dir_ + "/outside";
  expect_blocked(hostile("write", outside));
  expect_blocked(hostile("write", "/usr/corral-was-here"));
  expect_blocked(hostile("write", "/etc/passwd"));
  EXPECT_FALSE(std::filesystem::exists(outside));
  EXPECT_FALSE(std::filesystem::exists("/usr/corral-was-here"));
}

TEST_F(Containment, WritableBindLandsOnTheHostAsTheMappedUser) {
  std::string state = dir_ + "/state";
  ASSERT_EQ(::mkdir(state.c_str(), 0700), 0);
  ASSERT_EQ(::chown(state.c_str(), kBase + 1000, kBase + 1000), 0);
  box_.binds.push_back({state, "/state", true});
  auto o = hostile("write", "/state/file");
  EXPECT_THAT(o.out, StartsWith("ESCAPED: write")) << "the writable bind must be writable";
  struct stat st {};
  ASSERT_EQ(::stat((state + "/file").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kBase + 1000);
  EXPECT_EQ(st.st_gid, kBase + 1000);
}

TEST_F(Containment, CannotSeeOrSignalHostProcesses) {
  LaunchSpec victim_spec;
  victim_spec.exec = "/bin/sleep";
  victim_spec.args = {"30"};
  auto victim = launcher_.launch(victim_spec);
  ASSERT_TRUE(victim.has_value());
  expect_blocked(hostile("signal", std::to_string(victim->pid())));
  expect_blocked(hostile("procs"));
  EXPECT_FALSE(dead(victim->pid())) << "a host process was killed from inside";
}

TEST_F(Containment, CannotPtraceMountOrChroot) {
  expect_blocked(hostile("ptrace-init"));
  expect_blocked(hostile("mount"));
  expect_blocked(hostile("chroot"));
}

TEST_F(Containment, CannotEscalateThroughANestedUserNamespace) {
  expect_blocked(hostile("userns"));
  use_seccomp_ = false;  // the namespace limit holds on its own
  expect_blocked(hostile("userns"));
}

TEST_F(Containment, CannotReachKernelInterfaces) {
  for (const char* a : {"kmod", "bpf", "perf", "keyctl", "open-by-handle", "sysrq", "sys"}) {
    SCOPED_TRACE(a);
    expect_blocked(hostile(a));
  }
  use_seccomp_ = false;  // namespaces and capabilities alone
  for (const char* a : {"kmod", "bpf", "open-by-handle", "sysrq", "sys"}) {
    SCOPED_TRACE(std::string(a) + " without seccomp");
    expect_blocked(hostile(a));
  }
}

TEST_F(Containment, CannotInjectIntoATerminalItIsGiven) {
  int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(master, 0);
  UniqueFd m(master);
  ASSERT_EQ(::grantpt(master), 0);
  ASSERT_EQ(::unlockpt(master), 0);
  UniqueFd slave(::open(::ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC));
  ASSERT_TRUE(slave);
  auto o = run(kHostile, {"tiocsti"}, slave.get());
  expect_blocked(o);
  // Nothing was pushed into the terminal's input queue.
  ASSERT_EQ(::fcntl(slave.get(), F_SETFL, O_NONBLOCK), 0);
  char c;
  EXPECT_LT(::read(slave.get(), &c, 1), 0);
}

TEST_F(Containment, SetuidAndFileCapabilityBinariesGainNothing) {
  std::string bin = dir_ + "/bin";
  ASSERT_EQ(::mkdir(bin.c_str(), 0755), 0);
  std::filesystem::copy_file(kHostile, bin + "/suid");
  std::filesystem::copy_file(kHostile, bin + "/fcaps");
  // Owned by the sandbox's root and setuid: exec must not make the plugin root.
  ASSERT_EQ(::chown((bin + "/suid").c_str(), kBase, kBase), 0);
  ASSERT_EQ(::chmod((bin + "/suid").c_str(), 04755), 0);
  // Every capability as a file capability (VFS_CAP_REVISION_2, effective).
  struct {
    uint32_t magic_etc;
    struct {
      uint32_t permitted, inheritable;
    } data[2];
  } caps{0x02000000u | 0x000001u, {{0xFFFFFFFFu, 0}, {0xFFFFFFFFu, 0}}};
  ASSERT_EQ(::setxattr((bin + "/fcaps").c_str(), "security.capability", &caps, sizeof caps, 0), 0);
  box_.binds.push_back({bin, "", false});
  for (const char* name : {"suid", "fcaps"}) {
    SCOPED_TRACE(name);
    auto o = run(bin + "/" + name, {"euid"});
    EXPECT_THAT(o.out, HasSubstr("CapEff:\t0000000000000000"));
    EXPECT_THAT(o.out, HasSubstr("euid 1000"));
    EXPECT_TRUE(o.status.success()) << o.out;
  }
}

TEST_F(Containment, HasNoNetworkButItsOwnLoopback) {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  ASSERT_TRUE(listener);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  socklen_t len = sizeof sa;
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&sa), &len), 0);
  auto o = hostile("connect", std::to_string(ntohs(sa.sin_port)));
  expect_blocked(o);
  EXPECT_THAT(o.out, HasSubstr("Connection refused")) << "its own loopback is up, and empty";
  EXPECT_LT(::accept(listener.get(), nullptr, nullptr), 0) << "the host listener was reached";
  expect_blocked(hostile("raw-socket"));
}

TEST_F(Containment, SethostnameDoesNotReachTheHost) {
  char before[256] = {}, after[256] = {};
  ASSERT_EQ(::gethostname(before, sizeof before), 0);
  expect_blocked(hostile("sethostname"));
  ASSERT_EQ(::gethostname(after, sizeof after), 0);
  EXPECT_STREQ(before, after);
}

TEST_F(Containment, FdExhaustionAndFileSizeStopAtTheRlimits) {
  auto o = hostile("fds");
  expect_blocked(o);
  EXPECT_THAT(o.out, HasSubstr("opened 61"));  // 64 minus stdin, stdout, stderr
  std::string state = dir_ + "/state";
  ASSERT_EQ(::mkdir(state.c_str(), 0700), 0);
  ASSERT_EQ(::chown(state.c_str(), kBase + 1000, kBase + 1000), 0);
  box_.binds.push_back({state, "/state", true});
  o = hostile("fill", "/state/big");
  expect_blocked(o);
  EXPECT_THAT(o.out, HasSubstr("wrote 4194304"));
  EXPECT_EQ(std::filesystem::file_size(state + "/big"), 4u << 20);
  o = hostile("fill", "/tmp/big");  // the private /tmp: capped by RLIMIT_FSIZE too
  EXPECT_THAT(o.out, HasSubstr("wrote 4194304"));
}

TEST_F(Containment, LandlockIsASecondLayer) {
  if (landlock_abi() == 0) GTEST_SKIP() << "needs Landlock (not in this kernel's lsm= list)";
  // /proc is mounted read-write (a procfs must be), and a process may rename itself through
  // /proc/self/comm; Landlock's read-only rule for everything outside /tmp, /dev and writable
  // binds refuses it.
  use_seccomp_ = false;
  auto o = run("/bin/sh", {"-c", "echo renamed > /proc/self/comm && echo wrote"});
  EXPECT_THAT(o.out, Not(HasSubstr("wrote"))) << o.out;
  box_.landlock = false;
  o = run("/bin/sh", {"-c", "echo renamed > /proc/self/comm && echo wrote"});
  EXPECT_THAT(o.out, HasSubstr("wrote")) << o.out;
}

}  // namespace
}  // namespace corral::sandbox

namespace corral::sandbox {
namespace {

// The probes can fail: run unsandboxed as root, the same (harmless) attempts succeed.
TEST(ContainmentProbes, DetectEscapesWhenNothingStopsThem) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  for (auto args :
       {std::vector<std::string>{"read", "/etc/shadow"}, std::vector<std::string>{"procs"}}) {
    Pipe out = Pipe::make();
    LaunchSpec spec;
    spec.exec = kHostile;
    spec.args = args;
    spec.stdout_fd = out.w.get();
    DirectLauncher launcher;
    auto p = launcher.launch(spec);
    ASSERT_TRUE(p.has_value()) << p.error().describe();
    out.w.reset();
    EXPECT_THAT(drain(out.r.get()), HasSubstr("ESCAPED"));
    auto st = p->wait();
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(st->code, 1);
  }
}

}  // namespace
}  // namespace corral::sandbox
