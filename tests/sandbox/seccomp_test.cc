// Seccomp profiles checked without privileges: the compiled program is evaluated against syscall
// numbers (bpf_eval) for both profiles, every action, foreign architectures and customization.
// One test installs the filter in a forked child to prove the evaluator agrees with the kernel.
#include <linux/audit.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sandbox/bpf_eval.h"
#include "sandbox/seccomp_filter.h"
#include "sandbox/seccomp_notify.h"

namespace corral::sandbox {
namespace {

using ::testing::HasSubstr;

constexpr uint32_t kAllow = SECCOMP_RET_ALLOW;
constexpr uint32_t kEperm = SECCOMP_RET_ERRNO | EPERM;

uint32_t run(const SeccompFilter& f, int nr, uint32_t arch = AUDIT_ARCH_X86_64) {
  seccomp_data d{};
  d.nr = nr;
  d.arch = arch;
  auto r = bpf_evaluate(f.program(), d);
  EXPECT_TRUE(r.has_value()) << r.error().message;
  return r ? *r : 0xffffffff;
}

SeccompFilter build(const std::string& name, SeccompAction action = SeccompAction::kErrno) {
  auto p = builtin_seccomp_profile(name);
  EXPECT_TRUE(p.has_value());
  p->default_action = action;
  auto f = SeccompFilter::build(*p);
  EXPECT_TRUE(f.has_value()) << f.error().describe();
  return std::move(*f);
}

TEST(Seccomp, DefaultRunsOrdinaryProgramsAndRefusesTheDangerousCalls) {
  auto f = build("default");
  for (int nr : {SYS_read, SYS_write, SYS_openat, SYS_execve, SYS_clone3, SYS_mmap, SYS_futex,
                 SYS_socket, SYS_exit_group, SYS_rt_sigreturn}) {
    EXPECT_EQ(run(f, nr), kAllow) << nr;
  }
  for (int nr : {SYS_ptrace,       SYS_mount,       SYS_umount2,
                 SYS_pivot_root,   SYS_chroot,      SYS_unshare,
                 SYS_setns,        SYS_bpf,         SYS_perf_event_open,
                 SYS_keyctl,       SYS_add_key,     SYS_init_module,
                 SYS_finit_module, SYS_kexec_load,  SYS_open_by_handle_at,
                 SYS_reboot,       SYS_userfaultfd, SYS_process_vm_readv,
                 SYS_sethostname,  SYS_setuid,      SYS_personality,
                 SYS_syslog,       SYS_swapon,      SYS_iopl}) {
    EXPECT_EQ(run(f, nr), kEperm) << nr;
  }
}

TEST(Seccomp, StrictIsMinimal) {
  auto f = build("strict");
  EXPECT_EQ(run(f, SYS_write), kAllow);
  EXPECT_EQ(run(f, SYS_execve), kAllow);
  EXPECT_EQ(run(f, SYS_openat), kEperm);
  EXPECT_EQ(run(f, SYS_socket), kEperm);
  EXPECT_EQ(run(f, SYS_clone), kEperm);
}

TEST(Seccomp, ForeignArchitecturesAreKilled) {
  auto f = build("default");
  EXPECT_EQ(run(f, 3, AUDIT_ARCH_I386), SECCOMP_RET_KILL_PROCESS) << "i386 read via int 0x80";
  EXPECT_EQ(run(f, SYS_read | 0x40000000), SECCOMP_RET_KILL_PROCESS) << "x32 ABI";
}

TEST(Seccomp, EveryDefaultActionReachesTheProgram) {
  EXPECT_EQ(run(build("strict", SeccompAction::kKillProcess), SYS_openat),
            SECCOMP_RET_KILL_PROCESS);
  EXPECT_EQ(run(build("strict", SeccompAction::kLog), SYS_openat), SECCOMP_RET_LOG);
  EXPECT_EQ(run(build("strict", SeccompAction::kNotify), SYS_openat), SECCOMP_RET_USER_NOTIF);
  auto p = builtin_seccomp_profile("strict");
  p->errno_value = EACCES;
  auto f = SeccompFilter::build(*p);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(run(*f, SYS_openat), SECCOMP_RET_ERRNO | EACCES);
}

TEST(Seccomp, CustomizeAddsRemovesAndRejectsTypos) {
  auto base = builtin_seccomp_profile("default");
  ASSERT_TRUE(base.has_value());
  auto p = customize_profile(*base, {"ptrace"}, {"socket"});
  ASSERT_TRUE(p.has_value()) << p.error().message;
  auto f = SeccompFilter::build(*p);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(run(*f, SYS_ptrace), kAllow);
  EXPECT_EQ(run(*f, SYS_socket), kEperm);

  auto typo = customize_profile(*base, {"ptarce"}, {});
  ASSERT_FALSE(typo.has_value());
  EXPECT_THAT(typo.error().message, HasSubstr("unknown system call \"ptarce\""));
  auto absent = customize_profile(*base, {}, {"mount"});
  ASSERT_FALSE(absent.has_value());
  EXPECT_THAT(absent.error().message, HasSubstr("does not allow \"mount\""));
}

TEST(Seccomp, NamesAndErrors) {
  EXPECT_FALSE(builtin_seccomp_profile("lenient").has_value());
  for (auto a : {SeccompAction::kKillProcess, SeccompAction::kErrno, SeccompAction::kLog,
                 SeccompAction::kNotify}) {
    EXPECT_EQ(parse_seccomp_action(seccomp_action_name(a)), a);
  }
  EXPECT_FALSE(parse_seccomp_action("allow").has_value());
  SeccompProfile bad{"bad", {"no_such_call"}};
  auto f = SeccompFilter::build(bad);
  ASSERT_FALSE(f.has_value());
  EXPECT_THAT(f.error().message, HasSubstr("no_such_call"));
}

TEST(BpfEval, RejectsMalformedPrograms) {
  seccomp_data d{};
  EXPECT_FALSE(bpf_evaluate({}, d).has_value());
  EXPECT_FALSE(bpf_evaluate({BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 200)}, d).has_value());
  EXPECT_FALSE(bpf_evaluate({BPF_JUMP(BPF_JMP | BPF_JA, 5, 0, 0)}, d).has_value());
  auto r = bpf_evaluate({BPF_STMT(BPF_RET | BPF_K, 7)}, d);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 7u);
}

// The kernel must decide what the evaluator decides: install the default profile in a child.
TEST(Seccomp, KernelAgreesWithTheEvaluator) {
  auto f = build("default");
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    sock_fprog prog{static_cast<unsigned short>(f.program().size()),
                    const_cast<sock_filter*>(f.program().data())};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(10);
    if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) _exit(11);
    if (::getpid() <= 0) _exit(12);  // allowed
    if (::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) != -1 || errno != EPERM) _exit(13);
    if (::syscall(SYS_unshare, 0) != -1 || errno != EPERM) _exit(14);  // denied
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10 nnp, 11 install, 12 getpid, 13 ptrace, 14 unshare";
}

}  // namespace
}  // namespace corral::sandbox

namespace corral::sandbox {
namespace {

TEST(SeccompNotifyFilter, DeniedCallsGoToTheSupervisorAndOnlyTheHandoffFdMaySendmsg) {
  auto p = builtin_seccomp_profile("strict");
  ASSERT_TRUE(p.has_value());
  auto f = SeccompFilter::build(*p, /*via_notify=*/true);
  ASSERT_TRUE(f.has_value()) << f.error().message;
  EXPECT_TRUE(f->via_notify());
  EXPECT_EQ(run(*f, SYS_openat), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(run(*f, SYS_write), SECCOMP_RET_ALLOW);
  seccomp_data d{};
  d.arch = AUDIT_ARCH_X86_64;
  d.nr = SYS_sendmsg;
  d.args[0] = kSeccompHandoffFd;
  EXPECT_EQ(*bpf_evaluate(f->program(), d), SECCOMP_RET_ALLOW);
  d.args[0] = kSeccompHandoffFd + 1;
  EXPECT_EQ(*bpf_evaluate(f->program(), d), SECCOMP_RET_USER_NOTIF);
  // Foreign architectures are still killed in the kernel, not referred.
  EXPECT_EQ(run(*f, 3, AUDIT_ARCH_I386), SECCOMP_RET_KILL_PROCESS);
}

TEST(SeccompNotifyFilter, AProfileWithoutExecveCannotBeReferred) {
  auto p = builtin_seccomp_profile("strict");
  auto no_exec = customize_profile(*p, {}, {"execve"});
  ASSERT_TRUE(no_exec.has_value());
  auto f = SeccompFilter::build(*no_exec, true);
  ASSERT_FALSE(f.has_value());
  EXPECT_THAT(f.error().message, HasSubstr("must allow execve"));
}

}  // namespace
}  // namespace corral::sandbox
