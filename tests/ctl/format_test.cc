// corralctl's human output: durations, the plugin table and the status block.
#include "ctl/format.h"
#include "ctl/recovery_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace corral::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(Format, Durations) {
  EXPECT_EQ(format_duration_ms(-5), "0s");
  EXPECT_EQ(format_duration_ms(999), "0s");
  EXPECT_EQ(format_duration_ms(59999), "59s");
  EXPECT_EQ(format_duration_ms(125000), "2m05s");
  EXPECT_EQ(format_duration_ms(3720000), "1h02m");
  EXPECT_EQ(format_duration_ms(273600000), "3d04h");
}

TEST(Format, TableAlignsColumns) {
  v1::ListResponse l;
  auto* a = l.add_plugins();
  a->set_name("alpha");
  a->set_state(v1::RUNNING);
  a->set_pid(1234);
  a->set_started_at_unix_ms(1000);
  auto* b = l.add_plugins();
  b->set_name("b");
  b->set_state(v1::BACKOFF);
  b->set_restarts(3);
  b->set_next_restart_unix_ms(66000);
  b->mutable_last_exit()->set_description("exited with code 1");
  b->set_health(20);
  b->set_breaker("open");
  b->set_recovery_phase("normal");
  std::string t = format_table(l, 61000);
  EXPECT_EQ(t,
            "NAME   STATE         PID   RESTARTS  HEALTH   UPTIME  LAST-EXIT\n"
            "alpha  running       1234  0         -        1m00s   -\n"
            "b      backoff (5s)  -     3         20 open  -       exited with code 1\n");
}

TEST(Format, StatusBlock) {
  v1::PluginInfo p;
  p.set_name("w");
  p.set_state(v1::FAILED);
  p.set_exec("/bin/x");
  p.add_args("-v");
  p.set_restart_policy("no");
  p.set_last_error("launching /bin/x: execve failed: Exec format error");
  std::string s = format_status(p, 0);
  EXPECT_THAT(s, HasSubstr("state:          failed\n"));
  EXPECT_THAT(s, HasSubstr("command:        /bin/x -v\n"));
  EXPECT_THAT(s, HasSubstr("last error:     launching /bin/x"));
  EXPECT_THAT(s, HasSubstr("pid:            -\n"));
  EXPECT_THAT(s, HasSubstr("seccomp:        -\n"));
  p.set_seccomp("default (errno)");
  p.set_cgroup("/sys/fs/cgroup/corral/w");
  s = format_status(p, 0);
  EXPECT_THAT(s, HasSubstr("seccomp:        default (errno)\n"));
  EXPECT_THAT(s, HasSubstr("cgroup:         /sys/fs/cgroup/corral/w\n"));
  EXPECT_THAT(s, Not(HasSubstr("violations:")));
  EXPECT_THAT(s, HasSubstr("sandbox:        -\n"));
  p.set_pid(4242);
  p.set_init_pid(4241);
  p.set_sandbox("uid 1000 as host 525288, network none");
  p.set_seccomp_violations(3);
  p.set_last_violation("keyctl(0x1, 0x0, 0x0, 0x0, 0x0, 0x0) by pid 4242: failed (EPERM)");
  s = format_status(p, 0);
  EXPECT_THAT(s, HasSubstr("pid:            4242 (sandbox init 4241)\n"));
  EXPECT_THAT(s, HasSubstr("sandbox:        uid 1000 as host 525288, network none\n"));
  EXPECT_THAT(s, HasSubstr("violations:     3, last: keyctl(0x1, "));
}

TEST(Format, Doctor) {
  v1::DoctorResponse d;
  auto* a = d.add_checks();
  a->set_name("pidfd");
  a->set_ok(true);
  a->set_detail("pidfd_open");
  auto* b = d.add_checks();
  b->set_name("landlock");
  b->set_detail("disabled");
  b->set_without("mounts only");
  (*d.mutable_active())["sandbox"] = "none";
  (*d.mutable_active())["launcher"] = "direct";
  EXPECT_EQ(format_doctor(d),
            "pidfd     ok       pidfd_open\n"
            "landlock  MISSING  disabled\n"
            "                   without it: mounts only\n"
            "\ncorrald uses: launcher=direct sandbox=none\n");
}

TEST(Format, States) {
  EXPECT_EQ(state_word(v1::STOPPING), "stopping");
  EXPECT_EQ(state_word(v1::EXITED), "exited");
  EXPECT_EQ(state_word(v1::PLUGIN_STATE_UNSPECIFIED), "unknown");
}

TEST(RecoveryFormat, BreakersTableHealthBlockAndEventLine) {
  v1::BreakersResponse b;
  auto* x = b.add_breakers();
  x->set_plugin("crashy");
  x->set_state("open");
  x->set_open_until_unix_ms(13000);
  x->set_trips(2);
  x->set_total_trips(3);
  x->set_phase("normal");
  x->set_recent_restarts(4);
  x->set_max_restarts(10);
  x->set_last_transition("half-open -> open: trial failed");
  EXPECT_EQ(format_breakers(b, 10000),
            "NAME    BREAKER    TRIPS  PHASE   RESTARTS  LAST-TRANSITION\n"
            "crashy  open (3s)  2/3    normal  4/10      half-open -> open: trial failed\n");
  v1::HealthReport h;
  h.set_name("crashy");
  h.set_score(20);
  h.add_reasons("at most 20: breaker open (-80)");
  *h.mutable_breaker() = *x;
  h.set_readiness("none (ready once started)");
  h.set_liveness("none");
  auto* t = h.add_trends();
  t->set_metric("memory");
  t->set_value(100);
  t->set_limit(200);
  t->set_slope_per_second(10);
  t->set_r2(0.99);
  t->set_eta_seconds(10);
  t->set_alert(true);
  (*h.mutable_strategies())["exit"] = "restart";
  std::string out = format_health(h, 10000);
  EXPECT_THAT(out, HasSubstr("health:     20/100\n"));
  EXPECT_THAT(out, HasSubstr("            - at most 20: breaker open (-80)\n"));
  EXPECT_THAT(out, HasSubstr("breaker:    open (half-open in 3s), 2 trip(s) in a row, 3 in all\n"));
  EXPECT_THAT(out,
              HasSubstr("memory:     100 of 200, +10.0/s (r2 0.99), limit in 10 s  LEAK ALERT"));
  EXPECT_THAT(out, HasSubstr("on:         exit -> restart\n"));
  v1::RecoveryEvent e;
  e.set_at_unix_ms(1'700'000'000'123);
  e.set_plugin("crashy");
  e.set_type("action");
  e.set_what("restart in 12 ms");
  e.set_cause("exited with code 1");
  EXPECT_THAT(format_event(e),
              HasSubstr(".123  crashy  action  restart in 12 ms: exited with code 1"));
}

}  // namespace
}  // namespace corral::ctl
