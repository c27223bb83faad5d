// for_each_entry over getdents64; see proc_dir.h.
#include "collectors/proc_dir.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "common/unique_fd.h"

namespace corral::collectors {

namespace {

// The kernel's struct linux_dirent64 (glibc exposes no declaration of it): d_ino (8), d_off (8),
// d_reclen (2), d_type (1), then the NUL-terminated name.
constexpr size_t kReclenOffset = 16;
constexpr size_t kNameOffset = 19;

}  // namespace

Result<Listed> for_each_entry(const std::string& dir,
                              const std::function<void(std::string_view name, int dirfd)>& f) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    if (vanished(errno)) return Listed::kGone;
    return sys_error("cannot open " + dir);
  }
  alignas(8) char buf[16384];
  for (;;) {
    long n = ::syscall(SYS_getdents64, fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (vanished(errno)) return Listed::kGone;
      return sys_error("cannot list " + dir);
    }
    if (n == 0) return Listed::kDone;
    for (long off = 0; off < n;) {
      unsigned short reclen = 0;
      std::memcpy(&reclen, buf + off + kReclenOffset, sizeof reclen);
      if (reclen <= kNameOffset || off + reclen > n) {
        return make_error(Code::kInternal, "malformed getdents64 record in " + dir);
      }
      const char* name = buf + off + kNameOffset;
      std::string_view nm(name, ::strnlen(name, reclen - kNameOffset));
      if (nm != "." && nm != "..") f(nm, fd.get());
      off += reclen;
    }
  }
}

}  // namespace corral::collectors
