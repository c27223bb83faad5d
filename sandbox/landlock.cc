#include "sandbox/landlock.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace corral::sandbox {

namespace {

// From the kernel's uapi linux/landlock.h; Debian 12's headers predate ABI 3 and 5.
constexpr uint64_t kExecute = 1ull << 0;
constexpr uint64_t kWriteFile = 1ull << 1;
constexpr uint64_t kReadFile = 1ull << 2;
constexpr uint64_t kReadDir = 1ull << 3;
constexpr uint64_t kMakeChar = 1ull << 6;
constexpr uint64_t kMakeBlock = 1ull << 11;
constexpr uint64_t kAbi1 = (1ull << 13) - 1;  // EXECUTE .. MAKE_SYM
constexpr uint64_t kRefer = 1ull << 13;       // ABI 2
constexpr uint64_t kTruncate = 1ull << 14;    // ABI 3
constexpr uint64_t kIoctlDev = 1ull << 15;    // ABI 5
constexpr int kCreateRulesetVersion = 1;
constexpr int kRulePathBeneath = 1;

struct RulesetAttr {
  uint64_t handled_access_fs;
};
struct __attribute__((packed)) PathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
};

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

uint64_t handled_for(int abi) {
  if (abi <= 0) return 0;
  uint64_t bits = kAbi1;
  if (abi >= 2) bits |= kRefer;
  if (abi >= 3) bits |= kTruncate;
  if (abi >= 5) bits |= kIoctlDev;
  return bits;
}

}  // namespace

int landlock_abi() {
  static const int abi = [] {
    long v = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, kCreateRulesetVersion);
    return v > 0 ? static_cast<int>(v) : 0;
  }();
  return abi;
}

LandlockPlan plan_landlock(const std::vector<PathRule>& rules, int abi) {
  LandlockPlan out;
  out.abi = abi;
  out.handled = handled_for(abi);
  if (out.handled == 0) return out;
  const uint64_t file_rights = kExecute | kWriteFile | kReadFile | kTruncate | kIoctlDev;
  for (const auto& r : rules) {
    uint64_t bits = 0;
    switch (r.access) {
      case PathAccess::kReadOnly:
        bits = kExecute | kReadFile | kReadDir;
        break;
      case PathAccess::kReadWrite:
        // Everything but creating device nodes (which the user namespace forbids anyway).
        bits = out.handled & ~(kMakeChar | kMakeBlock | kIoctlDev);
        break;
      case PathAccess::kDevices:
        // Open, read, write and (ABI 5) ioctl the nodes; `> /dev/null` truncates.
        bits = kReadFile | kWriteFile | kReadDir | kTruncate | kIoctlDev;
        break;
    }
    if (!r.directory) bits &= file_rights;  // the kernel refuses directory rights on a file
    out.rules.push_back({r.path, bits & out.handled});
  }
  return out;
}

int landlock_apply(const LandlockPlan& plan, int* failed_rule) {
  *failed_rule = -1;
  if (plan.handled == 0) return 0;
  RulesetAttr attr{plan.handled};
  int ruleset = static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0));
  if (ruleset < 0) return errno;
  int idx = 0;
  for (const auto& r : plan.rules) {
    int fd = ::open(r.path.c_str(), O_PATH | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      ::close(ruleset);
      *failed_rule = idx;
      return err;
    }
    PathBeneathAttr pb{r.allowed, fd};
    long rc = ::syscall(SYS_landlock_add_rule, ruleset, kRulePathBeneath, &pb, 0);
    int err = errno;
    ::close(fd);
    if (rc != 0) {
      ::close(ruleset);
      *failed_rule = idx;
      return err;
    }
    ++idx;
  }
  long rc = ::syscall(SYS_landlock_restrict_self, ruleset, 0);
  int err = errno;
  ::close(ruleset);
  return rc == 0 ? 0 : err;
}

}  // namespace corral::sandbox
