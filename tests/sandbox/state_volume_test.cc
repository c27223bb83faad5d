// State volumes: a size-capped ext4 image mounted only inside the sandbox. Filling it ends in
// ENOSPC inside; the host's filesystem and mount table are untouched; data persists across runs.
#include "sandbox/state_volume.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sandbox/launcher.h"
#include "tests/sandbox/sandbox_test_util.h"

namespace corral::sandbox {
namespace {

using ::testing::HasSubstr;
using namespace testing;  // NOLINT: the helpers above

constexpr uid_t kBase = 0x7A300000;
const std::string kHostile = std::string(CORRAL_TESTCASES_DIR) + "/tc_hostile";

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class StateVolume : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (loop devices, mounts)";
    if (::access("/dev/loop-control", W_OK) != 0) GTEST_SKIP() << "needs /dev/loop-control";
    if (::access("/usr/sbin/mkfs.ext4", X_OK) != 0) GTEST_SKIP() << "needs mkfs.ext4";
    char tmpl[] = "/tmp/corral-volume-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    image_ = dir_ + "/state.img";
    box_.host_id_base = kBase;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::pair<std::string, ExitStatus> run(std::vector<std::string> args, const std::string& exec) {
    auto mnt = mount_state_image(image_);  // closed on return: the sandbox attached its own
    if (!mnt) return {mnt.error().describe(), ExitStatus{true, -1}};
    box_.state_mount_fd = mnt->get();
    LaunchSpec spec;
    spec.exec = exec;
    spec.args = std::move(args);
    spec.sandbox = &box_;
    auto o = run_collect(launcher_, spec);
    return {o.out, o.status};
  }
  std::string dir_, image_;
  SandboxSpec box_;
  DirectLauncher launcher_;
};

TEST_F(StateVolume, FillingItStopsAtItsSizeAndDataPersists) {
  ASSERT_TRUE(ensure_state_image(image_, 8 << 20, kBase + 1000, kBase + 1000).has_value());
  std::string mounts_before = slurp("/proc/self/mountinfo");
  auto [out, st] = run({"fill", "/state/big"}, kHostile);
  EXPECT_THAT(out, HasSubstr("blocked: fill")) << out;
  // The image is 8 MiB; ext4's own metadata takes some of it.
  size_t at = out.find("wrote ");
  ASSERT_NE(at, std::string::npos) << out;
  long wrote = std::stol(out.substr(at + 6));
  EXPECT_GT(wrote, 4l << 20);
  EXPECT_LE(wrote, 8l << 20);
  EXPECT_EQ(std::filesystem::file_size(image_), 8u << 20) << "the host file never grows";
  EXPECT_EQ(slurp("/proc/self/mountinfo"), mounts_before) << "nothing mounted on the host";

  auto [out2, st2] =
      run({"-c", "ls -ln /state | grep big | awk '{print $3, $5}'; id -u"}, "/bin/sh");
  EXPECT_EQ(out2, "1000 " + std::to_string(wrote) + "\n1000\n") << "kept across runs, owned by "
                                                                   "the plugin";
}

TEST_F(StateVolume, ASizeChangeIsRefusedNotApplied) {
  ASSERT_TRUE(ensure_state_image(image_, 8 << 20, 1, 1).has_value());
  auto again = ensure_state_image(image_, 8 << 20, 1, 1);
  EXPECT_TRUE(again.has_value()) << "same size: reused as it is";
  auto bigger = ensure_state_image(image_, 16 << 20, 1, 1);
  ASSERT_FALSE(bigger.has_value());
  EXPECT_THAT(bigger.error().message, HasSubstr("never resizes or reformats"));
}

}  // namespace
}  // namespace corral::sandbox
