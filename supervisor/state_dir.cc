#include "supervisor/state_dir.h"

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/files.h"

namespace corral::supervisor {

namespace {
thread_local uid_t g_uid;
thread_local gid_t g_gid;
thread_local int g_errno;

int chown_one(const char* path, const struct stat*, int, FTW*) {
  if (::lchown(path, g_uid, g_gid) != 0) {
    g_errno = errno;
    return 1;
  }
  return 0;
}
}  // namespace

Result<void> ensure_state_dir(const std::string& path, uid_t uid, gid_t gid) {
  std::string parent = path.substr(0, path.rfind('/'));
  if (auto ok = make_dirs(parent, 0755); !ok) return ok;
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return sys_error("creating " + path);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return sys_error("checking " + path);
  if (!S_ISDIR(st.st_mode)) {
    return make_error(Code::kFailedPrecondition, path + " exists and is not a directory");
  }
  return hand_over(path, uid, gid);
}

Result<void> hand_over(const std::string& path, uid_t uid, gid_t gid) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return sys_error("checking " + path);
  if (st.st_uid == uid && st.st_gid == gid) return {};
  g_uid = uid;
  g_gid = gid;
  g_errno = 0;
  // FTW_PHYS: never follow a symlink the plugin left there out of its directory.
  if (::nftw(path.c_str(), chown_one, 32, FTW_PHYS | FTW_MOUNT) != 0) {
    return sys_error("handing " + path + " over to uid " + std::to_string(uid),
                     g_errno != 0 ? g_errno : errno);
  }
  return {};
}

}  // namespace corral::supervisor
