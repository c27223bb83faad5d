// RecoveryEngine over a ManualClock and scripted signals: a crash loop through every breaker
// state and back, the restart-intensity escalation, fatal signals and quarantine, degrade and
// its lifting, restart policies, readiness, the stable period and the operator reset.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "common/clock.h"
#include "supervisor/recovery/recovery_engine.h"

namespace corral::supervisor::recovery {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using Kind = Action::Kind;

class Engine : public ::testing::Test {
 protected:
  Signal sig(SignalKind k, std::string cause = "exited with code 1") {
    Signal s;
    s.id = ++ids;
    s.kind = k;
    s.at = clock.now();
    s.cause = std::move(cause);
    return s;
  }
  Signal exit_fail() { return sig(SignalKind::kExit); }
  // The states the transitions go through, "closed>repairing,repairing>closed".
  static std::string path(const Decision& d) {
    std::string out;
    for (const auto& t : d.transitions) {
      if (!out.empty()) out += ",";
      out += std::string(breaker_state_name(t.from)) + ">" + std::string(breaker_state_name(t.to));
    }
    return out;
  }
  RecoverySettings settings() {
    RecoverySettings s;
    s.breaker.consecutive_failures = 3;
    s.breaker.open_for = 1000ms;
    s.breaker.max_open_for = 4000ms;
    s.backoff = {100ms, 800ms, 10s};
    s.trial_for = 500ms;
    return s;
  }
  ManualClock clock;
  uint64_t ids = 0;
};

TEST_F(Engine, ACrashLoopOpensTheBreakerTrialsInHalfOpenAndClosesOnASteadyTrial) {
  RecoveryEngine e(settings(), 1);
  EXPECT_EQ(path(e.on_started(clock.now(), false)), "");
  for (int i = 1; i <= 2; ++i) {
    clock.advance(50ms);
    auto d = e.on_signal(exit_fail(), false);
    EXPECT_EQ(path(d), "closed>repairing") << i;
    ASSERT_EQ(d.action.kind, Kind::kRestart) << i;
    EXPECT_LE(d.action.delay, Clock::duration(100ms * (1 << (i - 1)))) << "under the ceiling";
    EXPECT_EQ(d.action.signal_id, ids);
    clock.advance(d.action.delay);
    auto s = e.on_started(clock.now(), false);
    EXPECT_EQ(path(s), "repairing>closed") << "ready at once: the repair is done";
  }
  clock.advance(50ms);
  auto trip = e.on_signal(exit_fail(), false);
  EXPECT_EQ(path(trip), "closed>open");
  EXPECT_THAT(trip.transitions[0].cause, HasSubstr("3 failures in a row"));
  ASSERT_EQ(trip.action.kind, Kind::kHold);
  EXPECT_EQ(trip.action.delay, Clock::duration(1000ms));
  EXPECT_EQ(e.next_deadline(false), clock.now() + 1000ms);
  clock.advance(999ms);
  EXPECT_EQ(e.on_timer(clock.now(), false).action.kind, Kind::kNone) << "not yet";
  clock.advance(1ms);
  auto trial = e.on_timer(clock.now(), false);
  EXPECT_EQ(path(trial), "open>half-open");
  ASSERT_EQ(trial.action.kind, Kind::kRestart);
  EXPECT_TRUE(trial.action.trial);
  EXPECT_EQ(trial.action.delay, Clock::duration::zero());
  // The trial fails: open again, for twice as long.
  (void)e.on_started(clock.now(), false);
  clock.advance(10ms);
  auto again = e.on_signal(exit_fail(), false);
  EXPECT_EQ(path(again), "half-open>open");
  EXPECT_EQ(again.action.delay, Clock::duration(2000ms));
  clock.advance(2000ms);
  ASSERT_TRUE(e.on_timer(clock.now(), false).action.trial);
  (void)e.on_started(clock.now(), false);
  EXPECT_EQ(e.next_deadline(true), clock.now() + 500ms) << "the trial's proving time";
  clock.advance(500ms);
  auto closed = e.on_timer(clock.now(), true);
  EXPECT_EQ(path(closed), "half-open>closed");
  EXPECT_EQ(e.breaker().state(), BreakerState::kClosed);
  EXPECT_EQ(e.breaker().total_trips(), 2u);
}

TEST_F(Engine, TheRestartIntensityLimitEscalatesAndOnlyAResetRecovers) {
  auto s = settings();
  s.breaker.consecutive_failures = 0;  // the breaker never trips: only the intensity limit acts
  s.max_restarts = 3;
  s.restart_period = 10s;
  RecoveryEngine e(s, 2);
  for (int i = 0; i < 3; ++i) {
    (void)e.on_started(clock.now(), false);
    clock.advance(100ms);
    EXPECT_EQ(e.on_signal(exit_fail(), false).action.kind, Kind::kRestart) << i;
  }
  (void)e.on_started(clock.now(), false);
  clock.advance(100ms);
  auto d = e.on_signal(exit_fail(), false);
  ASSERT_EQ(d.action.kind, Kind::kEscalate);
  EXPECT_THAT(d.action.cause, HasSubstr("3 restarts within 10000 ms"));
  EXPECT_EQ(e.phase(), RecoveryPhase::kEscalated);
  EXPECT_EQ(e.on_signal(exit_fail(), false).action.kind, Kind::kNone) << "escalated: ignored";
  EXPECT_EQ(e.next_deadline(false), std::nullopt);
  auto r = e.reset("operator reset by uid 0", clock.now(), false);
  EXPECT_EQ(r.action.kind, Kind::kRestart);
  EXPECT_EQ(e.phase(), RecoveryPhase::kNormal);
  (void)e.on_started(clock.now(), false);
  EXPECT_EQ(e.on_signal(exit_fail(), false).action.kind, Kind::kRestart) << "the count was reset";
}

TEST_F(Engine, HalfOpenTrialsCountTowardTheIntensityLimit) {
  auto s = settings();
  s.breaker.consecutive_failures = 1;
  s.max_restarts = 2;
  s.restart_period = 1h;
  RecoveryEngine e(s, 15);
  for (int i = 0; i < 2; ++i) {
    (void)e.on_started(clock.now(), false);
    EXPECT_EQ(e.on_signal(exit_fail(), false).action.kind, Kind::kHold) << i;
    clock.advance(4s);
    auto t = e.on_timer(clock.now(), false);
    EXPECT_TRUE(t.action.trial) << i;
  }
  (void)e.on_started(clock.now(), false);
  EXPECT_EQ(e.on_signal(exit_fail(), false).action.kind, Kind::kHold);
  clock.advance(4s);
  auto t = e.on_timer(clock.now(), false);
  ASSERT_EQ(t.action.kind, Kind::kEscalate);
  EXPECT_THAT(t.action.cause, HasSubstr("2 restarts within 3600000 ms"));
  EXPECT_EQ(e.phase(), RecoveryPhase::kEscalated);
}

TEST_F(Engine, RestartsOutsideThePeriodDoNotCountTowardTheLimit) {
  auto s = settings();
  s.breaker.consecutive_failures = 0;
  s.max_restarts = 2;
  s.restart_period = 1s;
  RecoveryEngine e(s, 3);
  for (int i = 0; i < 6; ++i) {
    (void)e.on_started(clock.now(), false);
    clock.advance(600ms);
    EXPECT_EQ(e.on_signal(exit_fail(), false).action.kind, Kind::kRestart) << i;
  }
}

TEST_F(Engine, ASeccompViolationIsFatalAndQuarantinesUntilAReset) {
  auto st = settings();
  EXPECT_EQ(st.on_seccomp, Strategy::kNone) << "the default only records it";
  st.on_seccomp = Strategy::kQuarantine;
  RecoveryEngine e(st, 4);
  (void)e.on_started(clock.now(), false);
  auto d = e.on_signal(sig(SignalKind::kSeccomp, "mount(2) by pid 7: failed (EPERM)"), true);
  EXPECT_EQ(path(d), "closed>open");
  EXPECT_THAT(d.transitions[0].cause, HasSubstr("(fatal)"));
  ASSERT_EQ(d.action.kind, Kind::kQuarantine);
  EXPECT_EQ(e.phase(), RecoveryPhase::kQuarantined);
  EXPECT_EQ(e.phase_cause(), "mount(2) by pid 7: failed (EPERM)");
  clock.advance(1h);
  EXPECT_EQ(e.next_deadline(true), std::nullopt) << "no trial out of quarantine";
  EXPECT_EQ(e.on_timer(clock.now(), true).transitions.size(), 0u);
  auto r = e.reset("operator reset", clock.now(), true);
  EXPECT_EQ(path(r), "open>closed");
  EXPECT_EQ(r.action.kind, Kind::kRestart) << "a frozen run is replaced";
}

TEST_F(Engine, EscalateAndNoneAsChosenStrategies) {
  auto s = settings();
  s.on_oom = Strategy::kEscalate;
  s.on_seccomp = Strategy::kNone;
  RecoveryEngine e(s, 5);
  (void)e.on_started(clock.now(), false);
  EXPECT_EQ(e.on_signal(sig(SignalKind::kSeccomp, "ptrace"), true).action.kind, Kind::kNone);
  EXPECT_EQ(e.breaker().state(), BreakerState::kClosed) << "none: not a failure";
  EXPECT_EQ(e.on_signal(sig(SignalKind::kOomKill, "pid 9 (a.out) 64 MiB"), true).action.kind,
            Kind::kEscalate);
}

TEST_F(Engine, DegradeOnACriticalThresholdIsLiftedWhenItClears) {
  auto s = settings();
  s.on_critical = Strategy::kDegrade;
  RecoveryEngine e(s, 6);
  (void)e.on_started(clock.now(), false);
  auto warn = sig(SignalKind::kThreshold, "fds 500 >= 400 (warning)");
  warn.metric = "fds";
  EXPECT_EQ(e.on_signal(warn, true).action.kind, Kind::kNone) << "a warning only alerts";
  auto crit = sig(SignalKind::kThreshold, "fds 900 >= 800 (critical)");
  crit.metric = "fds";
  crit.severity = Severity::kCritical;
  auto d = e.on_signal(crit, true);
  EXPECT_EQ(path(d), "closed>repairing,repairing>closed");
  ASSERT_EQ(d.action.kind, Kind::kDegrade);
  EXPECT_EQ(e.phase(), RecoveryPhase::kDegraded);
  EXPECT_EQ(e.on_signal(crit, true).action.kind, Kind::kNone) << "already degraded";
  auto other = sig(SignalKind::kThreshold, "cpu_percent 0 (cleared)");
  other.metric = "cpu_percent";
  other.cleared = true;
  EXPECT_EQ(e.on_signal(other, true).action.kind, Kind::kNone) << "another metric";
  auto clear = sig(SignalKind::kThreshold, "fds 100 (cleared)");
  clear.metric = "fds";
  clear.cleared = true;
  EXPECT_EQ(e.on_signal(clear, true).action.kind, Kind::kUndegrade);
  EXPECT_EQ(e.phase(), RecoveryPhase::kNormal);
}

TEST_F(Engine, ReloadSendsTheSignalThroughARepairThatEndsAtOnce) {
  auto s = settings();
  s.on_liveness = Strategy::kReload;
  RecoveryEngine e(s, 7);
  (void)e.on_started(clock.now(), false);
  auto d = e.on_signal(sig(SignalKind::kLiveness, "no answer in 100 ms"), true);
  EXPECT_EQ(d.action.kind, Kind::kReload);
  EXPECT_EQ(path(d), "closed>repairing,repairing>closed");
  EXPECT_EQ(e.breaker().state(), BreakerState::kClosed);
  EXPECT_EQ(e.on_signal(sig(SignalKind::kLiveness, "refused"), false).action.kind, Kind::kNone)
      << "a run that is gone: its exit decides";
}

TEST_F(Engine, RestartPoliciesDecideWhetherAnExitIsAFailureAndWhetherItRestarts) {
  RecoveryEngine e(settings(), 8);
  (void)e.on_started(clock.now(), false);
  auto clean = sig(SignalKind::kExit, "exited with code 0");
  clean.failure = false;
  clean.restart_wanted = false;  // on-failure
  EXPECT_EQ(e.on_signal(clean, false).action.kind, Kind::kNone);
  auto no = exit_fail();
  no.restart_wanted = false;  // policy "no"
  EXPECT_EQ(e.on_signal(no, false).action.kind, Kind::kNone);
  EXPECT_EQ(e.breaker().state(), BreakerState::kClosed);
  (void)e.on_started(clock.now(), false);
  clean.restart_wanted = true;  // "always"
  auto d = e.on_signal(clean, false);
  EXPECT_EQ(d.action.kind, Kind::kRestart);
  (void)e.on_started(clock.now(), false);
  // Failures so far: the "no" exit only; two more clean exits do not trip the breaker.
  EXPECT_EQ(e.on_signal(clean, false).action.kind, Kind::kRestart);
  (void)e.on_started(clock.now(), false);
  EXPECT_EQ(e.on_signal(clean, false).action.kind, Kind::kRestart);
  EXPECT_EQ(e.breaker().state(), BreakerState::kRepairing);
}

TEST_F(Engine, ARunThatDiesBeforeItIsReadyFailsItsRepair) {
  auto s = settings();
  s.breaker.consecutive_failures = 2;
  RecoveryEngine e(s, 9);
  (void)e.on_started(clock.now(), true);
  EXPECT_FALSE(e.ready());
  EXPECT_EQ(path(e.on_signal(exit_fail(), false)), "closed>repairing");
  (void)e.on_started(clock.now(), true);
  auto d = e.on_signal(exit_fail(), false);
  EXPECT_EQ(path(d), "repairing>open");
  EXPECT_THAT(d.transitions[0].cause, HasSubstr("repair failed"));
  EXPECT_EQ(d.action.kind, Kind::kHold);
}

TEST_F(Engine, NotReadyInTimeIsAFailureAndReadyEndsTheRepair) {
  RecoveryEngine e(settings(), 10);
  (void)e.on_started(clock.now(), true);
  auto d = e.on_signal(sig(SignalKind::kNotReady, "not ready within 200 ms"), true);
  ASSERT_EQ(d.action.kind, Kind::kRestart) << "the default for not_ready";
  (void)e.on_started(clock.now(), true);
  auto r = e.on_signal(sig(SignalKind::kReady, "READY=1"), true);
  EXPECT_EQ(path(r), "repairing>closed");
  EXPECT_TRUE(e.ready());
}

TEST_F(Engine, AStableRunResetsTheBackoff) {
  RecoveryEngine e(settings(), 11);
  for (int i = 0; i < 2; ++i) {
    (void)e.on_started(clock.now(), false);
    (void)e.on_signal(exit_fail(), false);
  }
  EXPECT_EQ(e.backoff_ceiling(), 400ms);
  (void)e.on_started(clock.now(), false);
  EXPECT_EQ(e.next_deadline(true), clock.now() + 10s);
  clock.advance(10s);
  (void)e.on_timer(clock.now(), true);
  EXPECT_EQ(e.backoff_ceiling(), 100ms);
  EXPECT_EQ(e.next_deadline(true), std::nullopt);
  // And the failure streak: two more failures do not trip a 3-in-a-row rule.
  (void)e.on_signal(exit_fail(), false);
  (void)e.on_started(clock.now(), false);
  EXPECT_EQ(e.on_signal(exit_fail(), false).action.kind, Kind::kRestart);
}

TEST_F(Engine, JitteredDelaysStayWithinTheirCeilingAndVary) {
  auto s = settings();
  s.breaker.consecutive_failures = 0;
  s.max_restarts = 0;
  RecoveryEngine e(s, 12);
  std::set<Clock::duration::rep> seen;
  for (int i = 0; i < 50; ++i) {
    auto ceiling = e.backoff_ceiling();
    (void)e.on_started(clock.now(), false);
    auto d = e.on_signal(exit_fail(), false);
    ASSERT_EQ(d.action.kind, Kind::kRestart);
    EXPECT_GE(d.action.delay, Clock::duration::zero());
    EXPECT_LE(d.action.delay, Clock::duration(ceiling));
    seen.insert(d.action.delay.count());
  }
  EXPECT_GT(seen.size(), 40u) << "full jitter: spread, not one value";
}

TEST_F(Engine, ASignalAboutARunThatIsGoneLeavesItToItsExitUnlessItQuarantines) {
  auto st = settings();
  st.on_oom = Strategy::kRestart;
  st.on_seccomp = Strategy::kQuarantine;
  RecoveryEngine e(st, 14);
  (void)e.on_started(clock.now(), false);
  auto exit = e.on_signal(exit_fail(), false);
  ASSERT_EQ(exit.action.kind, Kind::kRestart);
  auto oom = e.on_signal(sig(SignalKind::kOomKill, "pid 5 (hog)"), false);
  EXPECT_EQ(oom.action.kind, Kind::kNone) << "the exit's restart covers it";
  EXPECT_TRUE(oom.transitions.empty()) << "not counted twice";
  auto no = sig(SignalKind::kOomKill, "pid 6 (hog)");
  no.restart_wanted = false;  // policy "no"
  (void)e.on_started(clock.now(), false);
  EXPECT_EQ(e.on_signal(no, true).action.kind, Kind::kNone);
  auto q = e.on_signal(sig(SignalKind::kSeccomp, "ptrace by pid 7: plugin killed"), false);
  EXPECT_EQ(q.action.kind, Kind::kQuarantine) << "kept down even though it is gone";
}

TEST_F(Engine, AnOperatorResetOfAHealthyRunDoesNotRestartIt) {
  RecoveryEngine e(settings(), 13);
  (void)e.on_started(clock.now(), false);
  auto r = e.reset("operator reset", clock.now(), true);
  EXPECT_EQ(r.action.kind, Kind::kNone);
  EXPECT_TRUE(r.transitions.empty());
  EXPECT_EQ(describe(Action{Kind::kRestart, 120ms, false, "", 0}), "restart in 120 ms");
  EXPECT_EQ(describe(Action{Kind::kHold, 2s, false, "", 0}), "hold for 2000 ms (breaker open)");
}

}  // namespace
}  // namespace corral::supervisor::recovery
