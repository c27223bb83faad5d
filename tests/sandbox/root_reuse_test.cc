// What launches share and what they must not: template roots and plans are reused for the same
// sandbox, rebuilt when a bind source is replaced or a symlink retargeted; network namespaces
// come fresh from the pool, each used once, with only lo (up).
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sandbox/launcher.h"
#include "sandbox/netns_pool.h"
#include "tests/sandbox/sandbox_test_util.h"

namespace corral::sandbox {
namespace {

using namespace testing;  // NOLINT: the helpers

constexpr uid_t kBase = 0x7A100000;

class RootReuse : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (writes uid maps of other users)";
    char tmpl[] = "/tmp/corral-reuse-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    box_.host_id_base = kBase;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  Outcome cat(const std::string& exec, const std::string& file) {
    LaunchSpec spec;
    spec.exec = exec;
    spec.args = {file};
    spec.sandbox = &box_;
    return run_collect(launcher_, spec);
  }
  void write(const std::string& path, const std::string& text) {
    std::string tmp = path + ".new";
    int fd = ::open(tmp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(fd);
    ASSERT_EQ(::rename(tmp.c_str(), path.c_str()), 0);  // a new inode, as upgrades do
  }

  std::string dir_;
  SandboxSpec box_;
  DirectLauncher launcher_;
};

TEST_F(RootReuse, SameSandboxReusesItsPlanAndTemplate) {
  for (int i = 0; i < 3; ++i) {
    auto o = cat("/bin/cat", "/etc/hostname");
    ASSERT_TRUE(o.status.success()) << o.out;
    EXPECT_EQ(o.out, "corral\n");
  }
  EXPECT_EQ(launcher_.templates().builds(), 1u);
  EXPECT_EQ(launcher_.plans().plans_made(), 1u);
  box_.hostname = "other";  // a different sandbox: its own plan and template
  EXPECT_EQ(cat("/bin/cat", "/etc/hostname").out, "other\n");
  EXPECT_EQ(launcher_.templates().builds(), 2u);
  EXPECT_EQ(launcher_.plans().plans_made(), 2u);
}

TEST_F(RootReuse, AReplacedBindSourceGetsANewTemplate) {
  std::string file = dir_ + "/config";
  write(file, "one\n");
  box_.binds = {{file, "/etc/plugin.conf", false}};
  EXPECT_EQ(cat("/bin/cat", "/etc/plugin.conf").out, "one\n");
  EXPECT_EQ(cat("/bin/cat", "/etc/plugin.conf").out, "one\n");
  EXPECT_EQ(launcher_.templates().builds(), 1u);
  write(file, "two\n");
  EXPECT_EQ(cat("/bin/cat", "/etc/plugin.conf").out, "two\n");
  EXPECT_EQ(launcher_.templates().builds(), 2u);
}

TEST_F(RootReuse, ARetargetedProgramSymlinkGetsANewPlan) {
  // /tmp/.../current -> v1 or v2, each a copy of a different program; the sandbox shows the
  // program at the path it was asked for.
  std::filesystem::create_directories(dir_ + "/v1");
  std::filesystem::create_directories(dir_ + "/v2");
  std::filesystem::copy_file("/bin/cat", dir_ + "/v1/tool");
  std::filesystem::copy_file("/bin/echo", dir_ + "/v2/tool");
  std::filesystem::create_directory_symlink(dir_ + "/v1", dir_ + "/current");
  std::string exec = dir_ + "/current/tool";
  EXPECT_EQ(cat(exec, "/etc/hostname").out, "corral\n");  // cat
  std::filesystem::remove(dir_ + "/current");
  std::filesystem::create_directory_symlink(dir_ + "/v2", dir_ + "/current");
  EXPECT_EQ(cat(exec, "/etc/hostname").out, "/etc/hostname\n");  // echo
  EXPECT_EQ(launcher_.plans().plans_made(), 2u);
}

TEST_F(RootReuse, EachSandboxGetsAFreshNetworkNamespace) {
  std::set<std::string> seen;
  for (int i = 0; i < 6; ++i) {
    auto o = cat("/bin/readlink", "/proc/self/ns/net");
    ASSERT_TRUE(o.status.success()) << o.out;
    seen.insert(o.out);
  }
  EXPECT_EQ(seen.size(), 6u);
  char host[64] = {};
  ASSERT_GT(::readlink("/proc/self/ns/net", host, sizeof host - 1), 0);
  EXPECT_FALSE(seen.contains(std::string(host) + "\n"));
}

// The pool's namespaces have lo up, and the thread making them ends up back where it started.
TEST(NetnsPool, HandsOutDistinctNamespacesWithLoopbackUp) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (CLONE_NEWNET)";
  NetnsPool pool(2);
  std::set<ino_t> inodes;
  for (int i = 0; i < 5; ++i) {
    auto ns = pool.take();
    ASSERT_TRUE(ns.has_value()) << ns.error().describe();
    struct stat st {};
    ASSERT_EQ(::fstat(ns->get(), &st), 0);
    inodes.insert(st.st_ino);
    // Look at lo from a thread that enters the namespace (and leaves with the thread).
    bool up = false;
    std::thread([&] {
      if (::unshare(CLONE_FS) != 0 || ::setns(ns->get(), CLONE_NEWNET) != 0) return;
      int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      ifreq ifr{};
      std::memcpy(ifr.ifr_name, "lo", 3);
      up = s >= 0 && ::ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP) != 0;
      if (s >= 0) ::close(s);
    }).join();
    EXPECT_TRUE(up) << "namespace " << i;
  }
  EXPECT_EQ(inodes.size(), 5u);
  struct stat self {};
  ASSERT_EQ(::stat("/proc/self/ns/net", &self), 0);
  EXPECT_FALSE(inodes.contains(self.st_ino));
}

}  // namespace
}  // namespace corral::sandbox
