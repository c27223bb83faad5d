#include "tests/e2e/corrald_fixture.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "proto/frame.h"

extern char** environ;

namespace corral::e2e {

using namespace std::chrono_literals;

namespace {

std::string slurp(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv,
                          const std::vector<std::string>& extra_env) {
  CommandResult r;
  char out_tmpl[] = "/tmp/corral-e2e-out.XXXXXX";
  char err_tmpl[] = "/tmp/corral-e2e-err.XXXXXX";
  UniqueFd out(::mkstemp(out_tmpl));
  UniqueFd err(::mkstemp(err_tmpl));
  ::unlink(out_tmpl);
  ::unlink(err_tmpl);
  if (!out || !err) return r;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err.get(), 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "CORRAL_SOCKET=", 14) != 0) env_store.emplace_back(*e);
  }
  for (const auto& e : extra_env) env_store.push_back(e);
  std::vector<char*> env;
  for (auto& e : env_store) env.push_back(e.data());
  env.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    r.err = std::string("posix_spawn failed: ") + std::strerror(rc);
    return r;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  ::lseek(out.get(), 0, SEEK_SET);
  ::lseek(err.get(), 0, SEEK_SET);
  r.out = slurp(out.get());
  r.err = slurp(err.get());
  return r;
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds deadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0) return false;
  // A zombie is not alive.
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  size_t rp = stat.rfind(')');
  return rp != std::string::npos && rp + 2 < stat.size() && stat[rp + 2] != 'Z';
}

void CorraldFixture::SetUp() {
  char tmpl[] = "/tmp/corral-e2e.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  dir_ = tmpl;
  plugins_dir_ = dir_ + "/plugins";
  state_dir_ = dir_ + "/state";
  runtime_dir_ = dir_ + "/run";
  socket_ = runtime_dir_ + "/control.sock";
  log_path_ = dir_ + "/corrald.log";
  ASSERT_EQ(::mkdir(plugins_dir_.c_str(), 0755), 0);
}

void CorraldFixture::TearDown() {
  if (daemon_pid_ > 0) {
    int status = stop_daemon();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "corrald did not exit cleanly (status " << status << "); log:\n"
        << daemon_log();
    // A clean stop leaves no cgroup of ours in any hierarchy (cgroup v1 controllers, the
    // hybrid cgroup2 tree, or a pure cgroup2 root).
    const std::string parent = "corral-e2e-" + std::to_string(::getpid());
    std::error_code ec;
    std::vector<std::string> roots = {"/sys/fs/cgroup"};
    for (const auto& e : std::filesystem::directory_iterator("/sys/fs/cgroup", ec)) {
      if (e.is_directory(ec) && !e.is_symlink(ec)) roots.push_back(e.path().string());
    }
    for (const auto& r : roots) {
      EXPECT_FALSE(std::filesystem::exists(r + "/" + parent, ec))
          << r << "/" << parent << " was left behind; log:\n"
          << daemon_log();
    }
  }
  if (HasFailure()) std::cerr << "---- corrald log ----\n" << daemon_log() << "\n";
  if (!dir_.empty()) {
    std::string cmd = "rm -rf '" + dir_ + "'";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
  }
}

void CorraldFixture::write_manifest(const std::string& file, const std::string& toml) {
  std::ofstream(plugins_dir_ + "/" + file) << toml;
}

std::string CorraldFixture::cgroup_section() const {
  return "\n[cgroup]\nparent = \"corral-e2e-" + std::to_string(::getpid()) + "\"\n";
}

void CorraldFixture::start_daemon(const std::vector<std::string>& extra_flags,
                                  const std::vector<std::string>& extra_env) {
  std::string default_config = dir_ + "/default.toml";
  std::ofstream(default_config) << cgroup_section() << extra_config_;
  std::vector<std::string> argv = {std::string(CORRAL_BINARY_DIR) + "/supervisor/corrald",
                                   "--config",
                                   default_config,
                                   "--runtime-dir",
                                   runtime_dir_,
                                   "--state-dir",
                                   state_dir_,
                                   "--plugins-dir",
                                   plugins_dir_,
                                   "--socket",
                                   socket_,
                                   "--log-level",
                                   "debug"};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  UniqueFd log(::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  ASSERT_TRUE(log.valid());
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, log.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, log.get(), 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e) env_store.emplace_back(*e);
  env_store.insert(env_store.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> env;
  for (auto& e : env_store) env.push_back(e.data());
  env.push_back(nullptr);
  int rc = ::posix_spawn(&daemon_pid_, args[0], &fa, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&fa);
  ASSERT_EQ(rc, 0) << std::strerror(rc);
  bool up = wait_until([&] {
    int status = 0;
    if (::waitpid(daemon_pid_, &status, WNOHANG) == daemon_pid_) {
      daemon_pid_ = -1;
      return true;  // exited: fail below
    }
    ctl::ClientOptions o;
    o.socket_path = socket_;
    o.timeout = 1s;
    return ctl::Client::connect(o).has_value();
  });
  ASSERT_TRUE(up && daemon_pid_ > 0) << "corrald did not come up; log:\n" << daemon_log();
}

void CorraldFixture::kill_daemon() {
  ASSERT_GT(daemon_pid_, 0);
  ASSERT_EQ(::kill(daemon_pid_, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(daemon_pid_, &status, 0), daemon_pid_);
  daemon_pid_ = -1;
}

int CorraldFixture::stop_daemon(std::chrono::milliseconds deadline) {
  if (daemon_pid_ <= 0) return -1;
  ::kill(daemon_pid_, SIGTERM);
  int status = -1;
  bool done =
      wait_until([&] { return ::waitpid(daemon_pid_, &status, WNOHANG) == daemon_pid_; }, deadline);
  if (!done) {
    ::kill(daemon_pid_, SIGKILL);
    ::waitpid(daemon_pid_, &status, 0);
    status = -1;
  }
  daemon_pid_ = -1;
  return status;
}

ctl::Client CorraldFixture::client() {
  ctl::ClientOptions o;
  o.socket_path = socket_;
  o.client_name = "e2e-test";
  auto c = ctl::Client::connect(o);
  if (!c) ADD_FAILURE() << "connect: " << c.error().describe();
  // value() throws on failure: gtest fails the test and still runs TearDown (which stops corrald).
  return std::move(c).value();
}

CommandResult CorraldFixture::ctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {std::string(CORRAL_BINARY_DIR) + "/ctl/corralctl", "--socket",
                                   socket_};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv);
}

v1::PluginInfo CorraldFixture::status(const std::string& name) {
  auto c = client();
  auto info = c.status(name);
  if (!info) {
    ADD_FAILURE() << "status " << name << ": " << info.error().describe();
    return {};
  }
  return *info;
}

bool CorraldFixture::wait_state(const std::string& name, v1::PluginState state,
                                std::chrono::milliseconds deadline) {
  return wait_until([&] { return status(name).state() == state; }, deadline);
}

std::string CorraldFixture::daemon_log() const { return read_text(log_path_); }

std::string CorraldFixture::plugin_log(const std::string& name) {
  auto c = client();
  v1::Request req;
  req.mutable_logs()->set_name(name);
  req.mutable_logs()->set_tail(1000);
  auto r = c.call(req);
  std::string out;
  if (r) {
    for (const auto& l : r->logs().lines()) out += l.text() + "\n";
  }
  return out;
}

pid_t CorraldFixture::pid_from_log(const std::string& name, const std::string& prefix) {
  pid_t pid = 0;
  wait_until([&] {
    std::istringstream lines(plugin_log(name));
    for (std::string l; std::getline(lines, l);) {
      if (l.rfind(prefix, 0) == 0) pid = std::stoi(l.substr(prefix.size()));
    }
    return pid > 0;
  });
  return pid > 0 ? host_pid(name, pid) : pid;
}

pid_t CorraldFixture::host_pid(const std::string& name, pid_t inner) {
  auto info = status(name);
  if (info.init_pid() == 0) return inner;  // not sandboxed: one pid namespace
  // Every process of the run is in its cgroup; the one whose innermost pid is `inner`.
  std::string dir = info.cgroup();
  std::istringstream procs(read_text(dir + "/cgroup.procs"));
  for (std::string line; std::getline(procs, line);) {
    std::string st = read_text("/proc/" + line + "/status");
    size_t at = st.find("NSpid:");
    if (at == std::string::npos) continue;
    std::string ns = st.substr(at, st.find('\n', at) - at);
    size_t tab = ns.rfind('\t');
    if (tab != std::string::npos && std::stoi(ns.substr(tab + 1)) == inner) return std::stoi(line);
  }
  ADD_FAILURE() << "no process of " << name << " has pid " << inner << " in its sandbox";
  return 0;
}

UniqueFd CorraldFixture::raw_connect() const {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ADD_FAILURE() << "connect " << socket_ << ": " << std::strerror(errno);
  }
  return fd;
}

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

namespace {
bool read_exact(int fd, char* out, size_t len, std::chrono::steady_clock::time_point end) {
  size_t got = 0;
  while (got < len) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc <= 0) {
      if (rc < 0 && errno == EINTR) continue;
      return false;
    }
    ssize_t n = ::read(fd, out + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}
}  // namespace

std::optional<std::string> read_frame(int fd, std::chrono::milliseconds deadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  unsigned char hdr[4];
  if (!read_exact(fd, reinterpret_cast<char*>(hdr), 4, end)) return std::nullopt;
  uint32_t len =
      (uint32_t{hdr[0]} << 24) | (uint32_t{hdr[1]} << 16) | (uint32_t{hdr[2]} << 8) | hdr[3];
  std::string payload(len, '\0');
  if (!read_exact(fd, payload.data(), len, end)) return std::nullopt;
  return payload;
}

bool send_request(int fd, const v1::Request& req) {
  auto frame = proto::encode_frame(req);
  return frame && send_all(fd, *frame);
}

std::optional<v1::Response> read_response(int fd, std::chrono::milliseconds deadline) {
  auto payload = read_frame(fd, deadline);
  if (!payload) return std::nullopt;
  v1::Response resp;
  if (!resp.ParseFromString(*payload)) return std::nullopt;
  return resp;
}

bool peer_closed(int fd, std::chrono::milliseconds deadline) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(deadline.count())) <= 0) return false;
  char c;
  return ::recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

v1::Request hello_request(uint32_t min, uint32_t max) {
  v1::Request req;
  req.set_id(1);
  req.mutable_hello()->set_min_version(min);
  req.mutable_hello()->set_max_version(max);
  req.mutable_hello()->set_client_name("raw-test");
  return req;
}

}  // namespace corral::e2e

namespace corral::e2e {

std::optional<bool> cgroup_frozen(pid_t pid) {
  auto slurp = [](const std::string& path) -> std::optional<std::string> {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  auto cg = slurp("/proc/" + std::to_string(pid) + "/cgroup");
  if (!cg) return std::nullopt;
  std::string v2;
  for (std::string_view rest = *cg; !rest.empty();) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    if (size_t f = line.find(":freezer:"); f != std::string_view::npos) {
      auto st =
          slurp("/sys/fs/cgroup/freezer" + std::string(line.substr(f + 9)) + "/freezer.state");
      if (st) return st->starts_with("FROZEN");
    }
    if (line.starts_with("0::")) v2 = std::string(line.substr(3));
  }
  for (const char* root : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
    auto ev = slurp(std::string(root) + v2 + "/cgroup.events");
    if (ev && ev->find("frozen ") != std::string::npos) {
      return ev->find("frozen 1") != std::string::npos;
    }
  }
  return std::nullopt;
}

}  // namespace corral::e2e
