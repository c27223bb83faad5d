#include "sandbox/state_volume.h"

#include <fcntl.h>
#include <linux/loop.h>
#include <linux/mount.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <vector>

extern char** environ;

namespace corral::sandbox {

namespace {

Result<void> run_mkfs(const std::string& image, uid_t uid, gid_t gid) {
  std::string owner = "root_owner=" + std::to_string(uid) + ":" + std::to_string(gid);
  std::vector<std::string> args = {"/usr/sbin/mkfs.ext4", "-q", "-F", "-m", "0", "-E", owner, "-L",
                                   "corral-state",        image};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return sys_error("running mkfs.ext4 for " + image + " (install e2fsprogs)", rc);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return sys_error("waiting for mkfs.ext4");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return make_error(Code::kInternal,
                      "mkfs.ext4 " + image + " failed (status " + std::to_string(status) + ")");
  }
  return {};
}

}  // namespace

Result<void> ensure_state_image(const std::string& image, uint64_t bytes, uid_t uid, gid_t gid) {
  struct stat st {};
  if (::stat(image.c_str(), &st) == 0) {
    if (static_cast<uint64_t>(st.st_size) != bytes) {
      return make_error(Code::kFailedPrecondition,
                        "state image " + image + " is " + std::to_string(st.st_size) +
                            " bytes but state_size asks for " + std::to_string(bytes) +
                            ": corral never resizes or reformats it; move it away to start "
                            "afresh, or set state_size back");
    }
    return {};
  }
  if (errno != ENOENT) return sys_error("checking state image " + image);
  std::string tmp = image + ".new";
  {
    UniqueFd fd(::open(tmp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600));
    if (!fd) return sys_error("creating state image " + tmp);
    if (::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return sys_error("sizing state image " + tmp, err);
    }
  }
  if (auto ok = run_mkfs(tmp, uid, gid); !ok) {
    ::unlink(tmp.c_str());
    return ok;
  }
  if (::rename(tmp.c_str(), image.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return sys_error("installing state image " + image, err);
  }
  return {};
}

Result<UniqueFd> mount_state_image(const std::string& image) {
  UniqueFd file(::open(image.c_str(), O_RDWR | O_CLOEXEC));
  if (!file) return sys_error("opening state image " + image);
  UniqueFd ctl(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (!ctl) return sys_error("opening /dev/loop-control (state_size needs loop devices)");
  UniqueFd loop;
  std::string dev;
  for (int attempt = 0; attempt < 16 && !loop; ++attempt) {
    int n = ::ioctl(ctl.get(), LOOP_CTL_GET_FREE);
    if (n < 0) return sys_error("finding a free loop device");
    dev = "/dev/loop" + std::to_string(n);
    UniqueFd candidate(::open(dev.c_str(), O_RDWR | O_CLOEXEC));
    if (!candidate) return sys_error("opening " + dev);
    loop_config cfg{};
    cfg.fd = static_cast<uint32_t>(file.get());
    cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    std::memcpy(cfg.info.lo_file_name, "corral-state", sizeof "corral-state");
    if (::ioctl(candidate.get(), LOOP_CONFIGURE, &cfg) == 0) {
      loop = std::move(candidate);
    } else if (errno != EBUSY) {
      return sys_error("attaching " + image + " to " + dev);
    }  // EBUSY: another user took it between GET_FREE and CONFIGURE; try the next
  }
  if (!loop) return make_error(Code::kUnavailable, "no free loop device for " + image);
  UniqueFd fs(static_cast<int>(::syscall(SYS_fsopen, "ext4", FSOPEN_CLOEXEC)));
  if (!fs) return sys_error("fsopen(ext4)");
  if (::syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_STRING, "source", dev.c_str(), 0) != 0 ||
      ::syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_STRING, "errors", "remount-ro", 0) != 0 ||
      ::syscall(SYS_fsconfig, fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    return sys_error("mounting state image " + image + " (" + dev + ")");
  }
  UniqueFd mnt(static_cast<int>(
      ::syscall(SYS_fsmount, fs.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)));
  if (!mnt) return sys_error("fsmount of state image " + image);
  // The loop device stays bound while the mount lives, and clears itself once it is gone.
  return mnt;
}

}  // namespace corral::sandbox
