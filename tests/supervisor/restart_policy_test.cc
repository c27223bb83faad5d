// Restart policy names (the jittered backoff is tested in recovery_test.cc, the decisions in
// recovery_engine_test.cc).
#include "supervisor/restart_policy.h"

#include <gtest/gtest.h>

namespace corral::supervisor {
namespace {

TEST(RestartPolicy, ParseAndName) {
  for (auto p : {RestartPolicy::kNo, RestartPolicy::kOnFailure, RestartPolicy::kAlways}) {
    EXPECT_EQ(parse_restart_policy(restart_policy_name(p)), p);
  }
  EXPECT_FALSE(parse_restart_policy("On-Failure").has_value());
}

}  // namespace
}  // namespace corral::supervisor
