// [roles.*] and [auth] in corrald.toml, and the Authorizer that applies them: grants by uid,
// user, gid and group (supplementary ones too), uid 0 always admin, default deny, custom roles'
// permissions and rates, and a precise problem for each mistake.
#include "supervisor/auth_config.h"

#include <unistd.h>

#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "supervisor/config.h"
#include "supervisor/peer_auth.h"

namespace corral::supervisor {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr const char* kConfig = R"x(
[control]
requests_per_second = 1000
burst = 2000
[roles.deployer]
permissions = ["plugins.read", "plugins.control"]
requests_per_second = 50
[roles.reader]
permissions = ["plugins.read"]
requests_per_second = 5000
burst = 100
[auth]
max_skew_ms = 10000
subject_requests_per_second = 7
[[auth.grant]]
uid = 1001
role = "viewer"
[[auth.grant]]
gid = 2000
role = "deployer"
[[auth.grant]]
gid = 3000
roles = ["reader", "operator"]
)x";

TEST(AuthConfig, ParsesRolesGrantsAndLimits) {
  auto c = parse_daemon_config(kConfig, "c.toml");
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->auth.roles.size(), 2u);
  EXPECT_THAT(c->auth.roles.at("deployer").permissions,
              UnorderedElementsAre("plugins.read", "plugins.control"));
  EXPECT_EQ(c->auth.roles.at("deployer").requests_per_second, 50);
  ASSERT_EQ(c->auth.grants.size(), 3u);
  EXPECT_EQ(c->auth.grants[0].uid, 1001u);
  EXPECT_EQ(c->auth.grants[2].roles, (std::vector<std::string>{"reader", "operator"}));
  EXPECT_EQ(c->auth.max_skew_ms, 10000u);
  EXPECT_EQ(c->auth.subject_requests_per_second, 7);
  EXPECT_EQ(c->requests_per_second, 1000);
}

TEST(AuthConfig, EveryMistakeIsNamed) {
  auto c = parse_daemon_config(R"x(
[roles.admin]
permissions = ["plugins.read"]
[roles.bad]
permissions = ["plugins.fly"]
[roles.empty]
[[auth.grant]]
uid = 5
gid = 6
role = "viewer"
[[auth.grant]]
uid = 7
role = "nope"
[[auth.grant]]
uid = 8
[[auth.client]]
id = "has space"
secret_file = "relative"
[auth]
color = "blue"
)x",
                               "c.toml");
  ASSERT_FALSE(c);
  const std::string& m = c.error().message;
  EXPECT_THAT(m, HasSubstr("roles.admin: \"admin\" is a built-in role"));
  EXPECT_THAT(m, HasSubstr("roles.bad.permissions: unknown permission \"plugins.fly\""));
  EXPECT_THAT(m, HasSubstr("roles.empty.permissions: missing"));
  EXPECT_THAT(m, HasSubstr("auth.grant[0]: a grant names exactly one of uid, user, gid or group"));
  EXPECT_THAT(m, HasSubstr("auth.grant[1].role: no role named \"nope\""));
  EXPECT_THAT(m, HasSubstr("auth.grant[2]: a grant gives a role"));
  EXPECT_THAT(m, HasSubstr("auth.client[0].id"));
  EXPECT_THAT(m, HasSubstr("auth.client[0].secret_file: must be an absolute path"));
  EXPECT_THAT(m, HasSubstr("color"));
}

TEST(Authorizer, ResolvesPeersByUidAndGroupsWithDefaultDeny) {
  auto c = parse_daemon_config(kConfig, "c.toml");
  ASSERT_TRUE(c);
  auto a = Authorizer::create(*c);
  ASSERT_TRUE(a) << a.error().describe();

  PeerAuth root = (*a)->resolve(0, 0, {});
  EXPECT_THAT(root.roles, UnorderedElementsAre("admin"));
  EXPECT_TRUE(root.permissions.contains("admin.keys"));

  PeerAuth viewer = (*a)->resolve(1001, 1001, {});
  EXPECT_THAT(viewer.roles, UnorderedElementsAre("viewer"));
  EXPECT_FALSE(viewer.permissions.contains("plugins.control"));
  EXPECT_EQ(viewer.rate.per_second, 1000);  // [control]'s default
  EXPECT_EQ(viewer.rate.burst, 2000);

  // Primary gid or a supplementary group; several grants add up; the most generous rate wins.
  PeerAuth dep = (*a)->resolve(4000, 2000, {});
  EXPECT_THAT(dep.roles, UnorderedElementsAre("deployer"));
  EXPECT_EQ(dep.rate.per_second, 50);
  EXPECT_EQ(dep.rate.burst, 100);  // 2 x the rate when the role says none
  PeerAuth both = (*a)->resolve(4001, 4001, {2000, 3000});
  EXPECT_THAT(both.roles, UnorderedElementsAre("deployer", "reader", "operator"));
  EXPECT_TRUE(both.permissions.contains("logs.read"));
  EXPECT_EQ(both.rate.per_second, 5000);

  PeerAuth nobody = (*a)->resolve(4002, 4002, {1, 2});
  EXPECT_TRUE(nobody.roles.empty());
  EXPECT_TRUE(nobody.permissions.empty());
}

TEST(Authorizer, NamesAMissingUserGroupOrSecret) {
  auto c = parse_daemon_config(
      "[[auth.grant]]\nuser = \"no-such-user-corral\"\nrole = \"viewer\"\n", "c.toml");
  ASSERT_TRUE(c);
  auto a = Authorizer::create(*c);
  ASSERT_FALSE(a);
  EXPECT_THAT(a.error().message, HasSubstr("auth.grant[0].user: no user named"));

  c = parse_daemon_config(
      "[[auth.client]]\nid = \"web\"\nsecret_file = \"/nonexistent/corral/web.key\"\n", "c.toml");
  ASSERT_TRUE(c);
  a = Authorizer::create(*c);
  ASSERT_FALSE(a);
  EXPECT_THAT(a.error().describe(), HasSubstr("auth.client[0] (\"web\")"));
}

}  // namespace
}  // namespace corral::supervisor

namespace corral::supervisor {
namespace {

TEST(AuthConfig, TheShippedConfigsParse) {
  for (const char* f : {"/systemd/corrald.toml", "/examples/corrald.toml"}) {
    auto c = load_daemon_config(std::string(CORRAL_SOURCE_DIR) + f, true);
    ASSERT_TRUE(c) << f << ": " << c.error().message;
  }
  auto c = load_daemon_config(std::string(CORRAL_SOURCE_DIR) + "/systemd/corrald.toml", true);
  ASSERT_EQ(c->auth.grants.size(), 1u);
  EXPECT_EQ(c->auth.grants[0].group, "corral");
}

}  // namespace
}  // namespace corral::supervisor
