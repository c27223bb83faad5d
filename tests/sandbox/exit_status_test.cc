// ExitStatus: how an exit is classified and described (no process needed).
#include <signal.h>

#include <gtest/gtest.h>

#include "sandbox/process.h"

namespace corral::sandbox {
namespace {

TEST(ExitStatus, DescribesExitCodes) {
  EXPECT_EQ((ExitStatus{false, 0}).describe(), "exited with code 0");
  EXPECT_TRUE((ExitStatus{false, 0}).success());
  EXPECT_EQ((ExitStatus{false, 127}).describe(), "exited with code 127");
  EXPECT_FALSE((ExitStatus{false, 127}).success());
}

TEST(ExitStatus, DescribesSignalsByName) {
  EXPECT_EQ((ExitStatus{true, SIGKILL}).describe(), "killed by signal 9 (SIGKILL)");
  EXPECT_EQ((ExitStatus{true, SIGSEGV}).describe(), "killed by signal 11 (SIGSEGV)");
  EXPECT_FALSE((ExitStatus{true, SIGKILL}).success());
  // A signal numbered 0 is not an exit code 0.
  EXPECT_FALSE((ExitStatus{true, 0}).success());
}

TEST(ExitStatus, DescribesRealTimeAndUnknownSignals) {
  EXPECT_EQ((ExitStatus{true, SIGRTMIN + 2}).describe(),
            "killed by signal " + std::to_string(SIGRTMIN + 2) + " (SIGRTMIN+2)");
  EXPECT_EQ((ExitStatus{true, 200}).describe(), "killed by signal 200");
}

}  // namespace
}  // namespace corral::sandbox
