// Which steps of a sandbox plan go into the shared template root and which run per launch.
#include <algorithm>
#include <string>

#include <gtest/gtest.h>

#include "sandbox/mount_plan.h"

namespace corral::sandbox {
namespace {

const MountOp* find(const SandboxPlan& plan, MountOpKind kind, const std::string& path) {
  auto it = std::find_if(plan.ops.begin(), plan.ops.end(), [&](const MountOp& op) {
    return op.kind == kind && op.path == std::string(kPlanRoot) + path;
  });
  return it == plan.ops.end() ? nullptr : &*it;
}

TEST(MountPlan, NewInstancesAndWhatIsInsideThemArePerLaunch) {
  SandboxSpec spec;
  spec.binds = {{"/usr/share", "/tmp/share", false}, {"/usr/lib", "/opt/lib", false}};
  auto plan = plan_sandbox(spec, "/bin/true");
  ASSERT_TRUE(plan.has_value()) << plan.error().describe();
  struct Want {
    MountOpKind kind;
    const char* path;
    bool late;
  } wants[] = {
      {MountOpKind::kBindRo, "/usr", false},
      {MountOpKind::kWriteFile, "/etc/passwd", false},
      {MountOpKind::kMkdir, "/proc", false},  // the mount point is in the template
      {MountOpKind::kProc, "/proc", true},
      {MountOpKind::kSysctl, "/proc/sys/user/max_user_namespaces", true},
      {MountOpKind::kTmpfs, "/dev", false},
      {MountOpKind::kBindDev, "/dev/null", false},
      {MountOpKind::kDevpts, "/dev/pts", true},
      {MountOpKind::kTmpfs, "/tmp", true},
      {MountOpKind::kMkdir, "/tmp/share", true},  // inside the per-launch /tmp
      {MountOpKind::kBindRo, "/tmp/share", true},
      {MountOpKind::kBindRo, "/opt/lib", false},
  };
  for (const auto& w : wants) {
    const MountOp* op = find(*plan, w.kind, w.path);
    ASSERT_NE(op, nullptr) << w.path;
    EXPECT_EQ(op->late, w.late) << op->describe();
  }
}

TEST(MountPlan, TheStateVolumeIsAttachedPerLaunch) {
  SandboxSpec spec;
  spec.state_mount_fd = 42;
  auto plan = plan_sandbox(spec, "/bin/true");
  ASSERT_TRUE(plan.has_value()) << plan.error().describe();
  const MountOp* attach = find(*plan, MountOpKind::kAttach, "/state");
  ASSERT_NE(attach, nullptr);
  EXPECT_TRUE(attach->late);
  EXPECT_EQ(attach->fd, 42);
  const MountOp* point = find(*plan, MountOpKind::kMkdir, "/state");
  ASSERT_NE(point, nullptr);
  EXPECT_FALSE(point->late);
}

}  // namespace
}  // namespace corral::sandbox
