#include "common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/unique_fd.h"

namespace corral {

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return sys_error("cannot open " + path);
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("cannot read " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      return make_error(Code::kInvalidArgument,
                        path + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  return out;
}

Result<void> write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
  std::string tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return sys_error("cannot create " + tmp);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("cannot write " + tmp);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return sys_error("cannot fsync " + tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return sys_error("cannot rename " + tmp);
  return {};
}

Result<void> write_file(const std::string& path, std::string_view data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return sys_error("cannot open " + path);
  ssize_t n;
  do {
    n = ::write(fd.get(), data.data(), data.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return sys_error("cannot write \"" + std::string(data) + "\" to " + path);
  if (static_cast<size_t>(n) != data.size()) {
    return make_error(Code::kInternal, "short write to " + path);
  }
  return {};
}

Result<void> make_dirs(const std::string& path, mode_t mode) {
  if (path.empty()) return make_error(Code::kInvalidArgument, "empty directory path");
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), mode) != 0 && errno != EEXIST) {
      return sys_error("cannot create directory " + partial);
    }
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return sys_error("cannot stat " + path);
  if (!S_ISDIR(st.st_mode))
    return make_error(Code::kFailedPrecondition, path + " is not a directory");
  return {};
}

}  // namespace corral
