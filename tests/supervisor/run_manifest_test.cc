// manifest_from_run: every RunRequest field checked, errors naming the field; a run starts
// once, never restarts, keeps nothing on disk and is fully sandboxed.
#include "supervisor/run_manifest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace corral::supervisor {
namespace {

using ::testing::HasSubstr;

TEST(RunManifest, DefaultsForAOneShot) {
  v1::RunRequest r;
  r.set_exec("/bin/echo");
  r.add_args("hi");
  auto m = manifest_from_run(r, "run-7");
  ASSERT_TRUE(m.has_value()) << m.error().message;
  EXPECT_EQ(m->name, "run-7");
  EXPECT_EQ(m->isolation.hostname, "run-7");
  EXPECT_TRUE(m->isolation.enabled);
  EXPECT_FALSE(m->isolation.host_network);
  EXPECT_TRUE(m->ephemeral);
  EXPECT_FALSE(m->autostart);
  EXPECT_EQ(m->restart.policy, RestartPolicy::kNo);
  EXPECT_EQ(m->env.at("PATH"), "/usr/bin:/bin");
  ASSERT_TRUE(m->seccomp.has_value());
  EXPECT_EQ(m->seccomp->name, "default");
  EXPECT_EQ(m->args, std::vector<std::string>{"hi"});
}

TEST(RunManifest, EveryFieldMapped) {
  v1::RunRequest r;
  r.set_name("job");
  r.set_exec("/usr/bin/python3");
  (*r.mutable_env())["A"] = "1";
  r.set_working_dir("/tmp");
  r.add_ro_binds("/opt:/data");
  r.add_binds("/var/tmp/w");
  r.set_seccomp_profile("strict");
  r.set_memory_max(64 << 20);
  r.set_pids_max(16);
  r.set_network("host");
  auto m = manifest_from_run(r, "run-1");
  ASSERT_TRUE(m.has_value()) << m.error().message;
  EXPECT_EQ(m->name, "job");
  EXPECT_EQ(m->env.size(), 1u) << "an explicit environment is the whole environment";
  EXPECT_EQ(m->working_dir, "/tmp");
  ASSERT_EQ(m->isolation.binds.size(), 2u);
  EXPECT_EQ(m->isolation.binds[0].target, "/data");
  EXPECT_FALSE(m->isolation.binds[0].writable);
  EXPECT_TRUE(m->isolation.binds[1].writable);
  EXPECT_EQ(m->seccomp->name, "strict");
  EXPECT_EQ(*m->resources.memory_max, 64u << 20);
  EXPECT_EQ(*m->resources.swap_max, 0u);
  EXPECT_EQ(*m->resources.pids_max, 16u);
  EXPECT_TRUE(m->isolation.host_network);
}

TEST(RunManifest, RejectsNamingTheField) {
  auto err = [](auto tweak) {
    v1::RunRequest r;
    r.set_exec("/bin/true");
    tweak(r);
    auto m = manifest_from_run(r, "run-1");
    return m ? std::string() : m.error().message;
  };
  EXPECT_THAT(err([](auto& r) { r.set_exec("true"); }), HasSubstr("run.exec"));
  EXPECT_THAT(err([](auto& r) { r.set_name("a b"); }), HasSubstr("run.name"));
  EXPECT_THAT(err([](auto& r) { r.set_working_dir("tmp"); }), HasSubstr("run.working_dir"));
  EXPECT_THAT(err([](auto& r) { r.add_binds("/a:b"); }), HasSubstr("run.binds"));
  EXPECT_THAT(err([](auto& r) { r.set_seccomp_profile("lax"); }), HasSubstr("run.seccomp_profile"));
  EXPECT_THAT(err([](auto& r) { r.set_memory_max(1024); }), HasSubstr("run.memory_max"));
  EXPECT_THAT(err([](auto& r) { r.set_network("bridge"); }), HasSubstr("run.network"));
  EXPECT_THAT(err([](auto& r) { (*r.mutable_env())["A=B"] = "x"; }), HasSubstr("run.env"));
  EXPECT_THAT(err([](auto& r) { r.add_args(std::string("a\0b", 3)); }), HasSubstr("run.args"));
}

}  // namespace
}  // namespace corral::supervisor
