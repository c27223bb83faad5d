// Helpers for the launcher tests: read /proc files of a child, drain a pipe, wait with a deadline.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "common/unique_fd.h"
#include "sandbox/launcher.h"

namespace corral::sandbox::testing {

inline std::string read_proc(pid_t pid, const std::string& file) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/" + file);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Pipe {
  UniqueFd r, w;
  static Pipe make() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return {};
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
  }
};

// Reads until EOF, until `needle` (if not empty) appears, or until the deadline.
inline std::string read_until(int fd, const std::string& needle,
                              std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
  std::string out;
  auto end = std::chrono::steady_clock::now() + deadline;
  char buf[4096];
  while ((needle.empty() || out.find(needle) == std::string::npos) &&
         std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

inline std::string drain(int fd) { return read_until(fd, ""); }

// Launches spec with stdout and stderr on one pipe, reads it to EOF and waits. A launch failure
// comes back as its description with the status {signaled, -1}.
struct Outcome {
  std::string out;
  ExitStatus status;
};
inline Outcome run_collect(Launcher& launcher, LaunchSpec spec) {
  Pipe out = Pipe::make();
  spec.stdout_fd = out.w.get();
  spec.stderr_fd = out.w.get();
  auto p = launcher.launch(spec);
  if (!p) return {"launch failed: " + p.error().describe(), ExitStatus{true, -1}};
  out.w.reset();
  std::string text = drain(out.r.get());
  auto st = p->wait();
  return {text, st ? *st : ExitStatus{true, -2}};
}

inline bool gone(pid_t pid) {
  return ::access(("/proc/" + std::to_string(pid)).c_str(), F_OK) != 0;
}

// Dead: gone, or a zombie waiting for its (new) parent to reap it. Grandchildren are reaped by
// PID 1, not by us, and how quickly is up to it.
inline bool dead(pid_t pid) {
  if (gone(pid)) return true;
  std::string stat = read_proc(pid, "stat");
  size_t rp = stat.rfind(')');
  return stat.empty() || (rp != std::string::npos && rp + 2 < stat.size() && stat[rp + 2] == 'Z');
}

inline bool wait_dead(pid_t pid, std::chrono::milliseconds deadline = std::chrono::seconds(5)) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (!dead(pid) && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return dead(pid);
}

}  // namespace corral::sandbox::testing
