#include "bench/corrald_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "common/files.h"
#include "common/unique_fd.h"

extern char** environ;

namespace corral::bench {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "corrald runner: %s\n", what.c_str());
  std::exit(1);
}

}  // namespace

CorraldRunner::CorraldRunner(const std::string& tag, const std::string& config,
                             const std::map<std::string, std::string>& manifests) {
  std::string tmpl_s = "/tmp/corral-" + tag + ".XXXXXX";
  std::vector<char> tmpl(tmpl_s.begin(), tmpl_s.end());
  tmpl.push_back('\0');
  if (::mkdtemp(tmpl.data()) == nullptr) die(std::string("mkdtemp: ") + std::strerror(errno));
  dir_ = tmpl.data();
  fs::create_directories(dir_ + "/plugins");
  std::ofstream(dir_ + "/corrald.toml") << config;
  for (const auto& [name, text] : manifests) {
    std::ofstream(dir_ + "/plugins/" + name + ".toml") << text;
  }
  socket_ = dir_ + "/run/control.sock";
  spawn();
}

void CorraldRunner::spawn() {
  std::string bin = std::string(CORRAL_BINARY_DIR) + "/supervisor/corrald";
  if (::access(bin.c_str(), X_OK) != 0) die("no " + bin + " (build the corrald target)");
  std::vector<std::string> argv = {bin,
                                   "--config",
                                   dir_ + "/corrald.toml",
                                   "--runtime-dir",
                                   dir_ + "/run",
                                   "--state-dir",
                                   dir_ + "/state",
                                   "--plugins-dir",
                                   dir_ + "/plugins",
                                   "--socket",
                                   socket_,
                                   "--log-level",
                                   "info"};
  UniqueFd log(
      ::open((dir_ + "/corrald.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!log) die("creating " + dir_ + "/corrald.log: " + std::strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, log.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, log.get(), 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  int rc = ::posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) die(std::string("spawning corrald: ") + std::strerror(rc));
}

CorraldRunner::~CorraldRunner() {
  (void)stop();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

Result<ctl::Client> CorraldRunner::client(std::chrono::milliseconds timeout) const {
  ctl::ClientOptions o;
  o.socket_path = socket_;
  o.timeout = timeout;
  return ctl::Client::connect(o);
}

int CorraldRunner::running() const {
  auto c = client(10s);
  if (!c) return -1;
  auto l = c->list();
  if (!l) return -1;
  int n = 0;
  for (const auto& p : l->plugins()) n += p.state() == v1::RUNNING ? 1 : 0;
  return n;
}

void CorraldRunner::kill9() {
  if (pid_ <= 0) return;
  (void)::kill(pid_, SIGKILL);
  int st = 0;
  (void)::waitpid(pid_, &st, 0);
  pid_ = -1;
}

void CorraldRunner::respawn() {
  if (pid_ > 0) die("respawn: corrald still runs");
  spawn();
}

bool CorraldRunner::alive() {
  int st = 0;
  if (pid_ > 0 && ::waitpid(pid_, &st, WNOHANG) == pid_) {
    pid_ = -1;
    status_ = st;
  }
  return pid_ > 0;
}

int CorraldRunner::stop() {
  if (pid_ <= 0) return status_;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 600; ++i) {
    if (!alive()) return status_;
    std::this_thread::sleep_for(100ms);
  }
  ::kill(pid_, SIGKILL);
  (void)::waitpid(pid_, nullptr, 0);
  pid_ = -1;
  return status_ = -1;
}

std::string CorraldRunner::log_tail() const {
  auto text = read_file(dir_ + "/corrald.log");
  if (!text) return "";
  return text->size() > 3000 ? text->substr(text->size() - 3000) : *text;
}

}  // namespace corral::bench
