// Durability through a real corrald: mutating commands journaled before they act and replayed by
// the next corrald, expected generations, every command audited with its peer before its
// answer, tampering caught by `corralctl audit verify`, a full disk refusing commands without
// losing any, backup and offline restore, and key rotation.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>

#include "sandbox/seccomp_notify.h"
#include "supervisor/store/sqlite.h"
#include "tests/e2e/corrald_fixture.h"

namespace corral::e2e {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr const char* kSleeper = R"x(name = "sleeper"
exec = "/bin/sh"
args = ["-c", "exec sleep 600"]
[stop]
timeout_ms = 2000
)x";

constexpr const char* kManual = R"x(name = "manual"
exec = "/bin/sleep"
args = ["600"]
autostart = false
)x";

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Durability : public CorraldFixture {
 protected:
  v1::Response call(v1::Request req) {
    auto c = client();
    auto r = c.call(std::move(req));
    EXPECT_TRUE(r) << r.error().describe();
    return r ? *r : v1::Response{};
  }
  std::vector<v1::AuditRecord> audit(const std::string& plugin = "") {
    v1::Request req;
    req.mutable_audit()->set_plugin(plugin);
    auto resp = call(req);
    EXPECT_EQ(resp.status().code(), v1::OK) << resp.status().message();
    return {resp.audit().records().begin(), resp.audit().records().end()};
  }
  std::string db() const { return state_dir_ + "/corral.db"; }
};

TEST_F(Durability, CommandsSurviveARestartOfCorrald) {
  write_manifest("sleeper.toml", kSleeper);
  write_manifest("manual.toml", kManual);
  start_daemon();
  ASSERT_TRUE(wait_state("sleeper", v1::RUNNING));
  auto c = client();
  ASSERT_TRUE(c.stop("sleeper", 0));
  ASSERT_TRUE(c.start("manual"));
  EXPECT_EQ(status("sleeper").generation(), 2u);  // registered, stopped
  ASSERT_EQ(WEXITSTATUS(stop_daemon()), 0);

  // The operator's word outlives corrald: sleeper (autostart) stays stopped, manual runs.
  start_daemon();
  ASSERT_TRUE(wait_state("manual", v1::RUNNING));
  EXPECT_EQ(status("sleeper").state(), v1::STOPPED);
  EXPECT_EQ(status("sleeper").generation(), 2u);
  EXPECT_EQ(status("manual").generation(), 2u);
  EXPECT_THAT(daemon_log(),
              ::testing::ContainsRegex("journal at seq [0-9]+: snapshot 0 \\+ [0-9]+ replayed"));
}

TEST_F(Durability, AStaleExpectedGenerationIsAConflictAndChangesNothing) {
  write_manifest("sleeper.toml", kSleeper);
  start_daemon();
  ASSERT_TRUE(wait_state("sleeper", v1::RUNNING));
  uint64_t gen = status("sleeper").generation();
  ASSERT_EQ(gen, 1u);
  v1::Request stale;
  stale.mutable_stop()->set_name("sleeper");
  stale.mutable_stop()->set_expected_generation(gen - 1);
  auto r = call(stale);
  EXPECT_EQ(r.status().code(), v1::CONFLICT);
  EXPECT_THAT(r.status().message(), HasSubstr("at generation 1, not the expected 0"));
  EXPECT_EQ(status("sleeper").state(), v1::RUNNING);
  EXPECT_EQ(status("sleeper").generation(), 1u);

  auto cli = ctl({"stop", "sleeper"});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  v1::Request fresh;
  fresh.mutable_start()->set_name("sleeper");
  fresh.mutable_start()->set_expected_generation(2);
  r = call(fresh);
  EXPECT_EQ(r.status().code(), v1::OK) << r.status().message();
  EXPECT_EQ(status("sleeper").generation(), 3u);
}

TEST_F(Durability, EveryCommandIsAuditedWithItsPeerBeforeItsAnswer) {
  write_manifest("sleeper.toml", kSleeper);
  start_daemon();
  ASSERT_TRUE(wait_state("sleeper", v1::RUNNING));
  auto c = client();
  ASSERT_TRUE(c.stop("sleeper", 0));
  // Read straight from the store the moment the answer is in: the record is already there.
  {
    auto d = supervisor::store::Db::open(db(), false);
    ASSERT_TRUE(d) << d.error().describe();
    auto s = d->prepare(
        "SELECT command, plugin, result, uid, pid, exe FROM audit ORDER BY seq DESC LIMIT 1");
    ASSERT_TRUE(s);
    ASSERT_TRUE(*s->step());
    EXPECT_EQ(s->text(0), "stop");
    EXPECT_EQ(s->text(1), "sleeper");
    EXPECT_EQ(s->text(2), "ok");
    EXPECT_EQ(s->int64(3), static_cast<int64_t>(::getuid()));
    EXPECT_EQ(s->int64(4), static_cast<int64_t>(::getpid()));
    char self[4096];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    ASSERT_GT(n, 0);
    EXPECT_EQ(s->text(5), std::string(self, static_cast<size_t>(n)));
  }
  auto refused = c.start("nope");
  ASSERT_FALSE(refused);
  auto cli = ctl({"restart", "sleeper"});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;

  auto recs = audit();
  ASSERT_GE(recs.size(), 5u);
  bool saw_refusal = false, saw_cli = false;
  for (const auto& r : recs) {
    EXPECT_EQ(r.hash().size(), 64u);
    if (r.command() == "start" && r.plugin() == "nope") {
      saw_refusal = true;
      EXPECT_EQ(r.result(), "not found");
      EXPECT_THAT(r.message(), HasSubstr("no plugin named"));
    }
    if (r.command() == "restart") {
      saw_cli = true;
      EXPECT_THAT(r.exe(), HasSubstr("corralctl"));
      EXPECT_NE(r.pid(), ::getpid());
      EXPECT_GT(r.duration_us(), 0);
      EXPECT_EQ(r.args_digest().size(), 64u);
    }
  }
  EXPECT_TRUE(saw_refusal);
  EXPECT_TRUE(saw_cli);
  // Recovery's own actions are in the same trail: the stop's exit was a signal, not an action;
  // a crash is. --plugin filters, --json renders.
  auto json = ctl({"--json", "audit", "--plugin", "sleeper"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr("\"command\":\"restart\""));
  EXPECT_THAT(json.out, Not(HasSubstr("\"plugin\":\"nope\"")));
}

TEST_F(Durability, TamperingIsCaughtByAuditVerifyAndPinpointed) {
  write_manifest("sleeper.toml", kSleeper);
  start_daemon();
  ASSERT_TRUE(wait_state("sleeper", v1::RUNNING));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client().list());
  auto ok = ctl({"audit", "verify"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("audit trail intact"));
  ASSERT_EQ(ctl({"admin", "rotate-key"}).exit_code, 0);  // signs a checkpoint over all so far

  auto d = supervisor::store::Db::open(db(), false);
  ASSERT_TRUE(d);
  ASSERT_TRUE(d->exec("UPDATE audit SET uid = 4242 WHERE seq = 3"));
  auto edited = ctl({"audit", "verify"});
  EXPECT_EQ(edited.exit_code, 1);
  EXPECT_THAT(edited.out, HasSubstr("AUDIT TRAIL TAMPERED WITH"));
  EXPECT_THAT(edited.out, HasSubstr("record 3: edited"));
  ASSERT_TRUE(d->exec("DELETE FROM audit WHERE seq = 6"));
  auto deleted = ctl({"audit", "verify"});
  EXPECT_THAT(deleted.out, HasSubstr("record 6: deleted: record 6 is missing"));
  ASSERT_TRUE(
      d->exec("UPDATE audit SET seq = -1 WHERE seq = 8; UPDATE audit SET seq = 8 WHERE seq = 9; "
              "UPDATE audit SET seq = 9 WHERE seq = -1"));
  auto moved = ctl({"audit", "verify"});
  EXPECT_THAT(moved.out, HasSubstr("record 8: reordered: record 8 holds record 9"));
  EXPECT_THAT(moved.out, HasSubstr("record 9: reordered"));
  // The same verdict offline, on the file, with the key directory as the trust anchor.
  auto offline = ctl({"audit", "verify", "--db", db()});
  EXPECT_EQ(offline.exit_code, 1);
  EXPECT_THAT(offline.out, HasSubstr("record 3: edited"));
}

TEST_F(Durability, AFullDiskRefusesMutatingCommandsAndLosesNothing) {
  // The state directory on a small tmpfs of our own, filled up.
  std::string mnt = dir_ + "/small";
  ASSERT_EQ(::mkdir(mnt.c_str(), 0700), 0);
  ASSERT_EQ(::mount("tmpfs", mnt.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=2m,mode=0700"), 0)
      << std::strerror(errno);
  state_dir_ = mnt + "/state";
  write_manifest("sleeper.toml", kSleeper);
  start_daemon();
  ASSERT_TRUE(wait_state("sleeper", v1::RUNNING));
  std::string filler = mnt + "/filler";
  {
    int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT, 0600);
    ASSERT_GE(fd, 0);
    std::string block(4096, 'x');
    while (::write(fd, block.data(), block.size()) > 0) {
    }
    ::close(fd);
  }
  // Commands until one is refused (a WAL page or two may still have room).
  auto c = client();
  int acknowledged = 0;
  Error refusal;
  for (int i = 0; i < 50; ++i) {
    auto r = i % 2 == 0 ? c.stop("sleeper", 0) : c.start("sleeper");
    if (!r) {
      refusal = r.error();
      break;
    }
    ++acknowledged;
  }
  EXPECT_EQ(refusal.code, Code::kResourceExhausted) << refusal.describe();
  EXPECT_THAT(refusal.message, HasSubstr("disk is full"));
  // Refused means not done: the plugin is as the last acknowledged command left it.
  v1::PluginState expect = acknowledged % 2 == 0 ? v1::RUNNING : v1::STOPPED;
  EXPECT_EQ(status("sleeper").state(), expect);
  auto cli = ctl({acknowledged % 2 == 0 ? "stop" : "start", "sleeper"});
  EXPECT_EQ(cli.exit_code, 75) << cli.out << cli.err;
  EXPECT_THAT(cli.err, HasSubstr("disk is full"));

  ASSERT_EQ(::unlink(filler.c_str()), 0);
  auto again = acknowledged % 2 == 0 ? c.stop("sleeper", 0) : c.start("sleeper");
  ASSERT_TRUE(again) << again.error().describe();
  ++acknowledged;
  uint64_t gen = status("sleeper").generation();
  EXPECT_EQ(gen, 1u + static_cast<uint64_t>(acknowledged));
  ASSERT_EQ(WEXITSTATUS(stop_daemon()), 0);

  // Every acknowledged command is there after a restart, and nothing else.
  start_daemon();
  EXPECT_EQ(status("sleeper").generation(), gen);
  EXPECT_EQ(status("sleeper").state(), acknowledged % 2 == 0 ? v1::RUNNING : v1::STOPPED);
  auto verify = ctl({"audit", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
  // The refusals themselves are in the trail: they waited in memory until space came back.
  int refusals = 0;
  for (const auto& r : audit("sleeper")) refusals += r.result() == "resource exhausted" ? 1 : 0;
  EXPECT_GE(refusals, 2);
  ASSERT_EQ(WEXITSTATUS(stop_daemon()), 0);

  // A read-only store: corrald refuses to start and says why.
  ASSERT_EQ(::mount(nullptr, mnt.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr), 0)
      << std::strerror(errno);
  auto ro = run_command({std::string(CORRAL_BINARY_DIR) + "/supervisor/corrald", "--runtime-dir",
                         runtime_dir_, "--state-dir", state_dir_, "--plugins-dir", plugins_dir_,
                         "--socket", socket_});
  EXPECT_NE(ro.exit_code, 0);
  EXPECT_THAT(ro.out + ro.err, HasSubstr("corral.db"));
  EXPECT_THAT(ro.out + ro.err, HasSubstr("cannot be written"));
  EXPECT_THAT(ro.out + ro.err, HasSubstr("Read-only file system"));
  EXPECT_EQ(::umount2(mnt.c_str(), MNT_DETACH), 0);
}

TEST_F(Durability, ABackupOfALiveStoreRestoresOfflineKeepingTheReplacedStore) {
  write_manifest("sleeper.toml", kSleeper);
  start_daemon();
  ASSERT_TRUE(wait_state("sleeper", v1::RUNNING));
  std::string file = dir_ + "/backup.db";
  auto b = ctl({"admin", "backup", file});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_THAT(b.out, HasSubstr("backed up to " + file));
  EXPECT_EQ(ctl({"admin", "backup", file}).exit_code, 4);  // never overwrites
  ASSERT_TRUE(client().stop("sleeper", 0));  // after the backup: undone by the restore

  auto running =
      ctl({"admin", "restore", file, "--state-dir", state_dir_, "--runtime-dir", runtime_dir_});
  EXPECT_EQ(running.exit_code, 4);
  EXPECT_THAT(running.err, HasSubstr("corrald is running"));
  ASSERT_EQ(WEXITSTATUS(stop_daemon()), 0);
  auto r =
      ctl({"admin", "restore", file, "--state-dir", state_dir_, "--runtime-dir", runtime_dir_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("the store it replaced is kept as"));
  start_daemon();
  ASSERT_TRUE(wait_state("sleeper", v1::RUNNING));  // the stop came after the backup
  EXPECT_EQ(status("sleeper").generation(), 1u);
  auto verify = ctl({"audit", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
}

TEST_F(Durability, AKilledCorraldsRunsAreAdoptedNotRestarted) {
  write_manifest("ticker.toml", R"x(name = "ticker"
exec = "/bin/sh"
args = ["-c", "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.05; done"]
)x");
  write_manifest("brief.toml", R"x(name = "brief"
exec = "/bin/sh"
args = ["-c", "sleep 0.6; exit 3"]
[restart]
policy = "no"
)x");
  start_daemon();
  ASSERT_TRUE(wait_state("ticker", v1::RUNNING));
  ASSERT_TRUE(wait_state("brief", v1::RUNNING));
  auto before = status("ticker");
  ASSERT_GT(before.pid(), 0);
  ASSERT_GT(before.init_pid(), 0);
  std::string cgroup_before = read_text("/proc/" + std::to_string(before.pid()) + "/cgroup");
  kill_daemon();
  std::this_thread::sleep_for(1s);  // brief exits meanwhile; ticker keeps writing
  EXPECT_TRUE(process_alive(before.pid())) << "plugins outlive a killed corrald";

  start_daemon();
  auto after = status("ticker");
  EXPECT_EQ(after.state(), v1::RUNNING);
  EXPECT_EQ(after.pid(), before.pid()) << "adopted, not restarted";
  EXPECT_EQ(after.init_pid(), before.init_pid());
  EXPECT_EQ(after.restarts(), 0u);
  EXPECT_EQ(after.started_at_unix_ms(), before.started_at_unix_ms());
  EXPECT_EQ(read_text("/proc/" + std::to_string(after.pid()) + "/cgroup"), cgroup_before);
  EXPECT_THAT(daemon_log(), HasSubstr("plugin ticker: adopted the run of a previous corrald"));
  // Its output flows again, including what it wrote while no corrald read it.
  EXPECT_TRUE(wait_until([&] {
    return plugin_log("ticker").find("adopted its running sandbox") != std::string::npos;
  }));
  std::string log = plugin_log("ticker");
  auto note = log.find("adopted its running sandbox");
  EXPECT_TRUE(wait_until([&] {
    std::string l = plugin_log("ticker");
    return l.find("tick ", l.find("adopted its running sandbox")) != std::string::npos;
  })) << log;
  // The run that ended while corrald was down: its exit status came through the exit file.
  auto brief = status("brief");
  EXPECT_EQ(brief.state(), v1::EXITED);
  EXPECT_FALSE(brief.last_exit().signaled());
  EXPECT_EQ(brief.last_exit().code(), 3);
  (void)note;
  // An adopted run is stopped like any other, and its exit seen without being corrald's child.
  auto c = client();
  auto stopped = c.stop("ticker", 0);
  ASSERT_TRUE(stopped) << stopped.error().describe();
  EXPECT_EQ(stopped->state(), v1::STOPPED);
  EXPECT_TRUE(stopped->last_exit().signaled());
  EXPECT_EQ(stopped->last_exit().code(), SIGTERM);
  EXPECT_TRUE(wait_until([&] { return !process_alive(before.pid()); }, 5s));
}

TEST_F(Durability, SigusrTwoExitsLeavingPluginsForTheNextCorraldToAdopt) {
  write_manifest("sleeper.toml", kSleeper);
  start_daemon();
  ASSERT_TRUE(wait_state("sleeper", v1::RUNNING));
  pid_t pid = status("sleeper").pid();
  ASSERT_EQ(::kill(daemon_pid_, SIGUSR2), 0);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(daemon_pid_, &wstatus, 0), daemon_pid_);
  daemon_pid_ = -1;
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << wstatus;
  EXPECT_TRUE(process_alive(pid));
  EXPECT_THAT(daemon_log(), HasSubstr("leaving 1 plugin(s) running"));
  start_daemon();
  EXPECT_EQ(status("sleeper").pid(), pid);
  EXPECT_EQ(status("sleeper").state(), v1::RUNNING);
}

TEST_F(Durability, AQuarantineOutlivesARestartOfCorraldUntilAReset) {
  if (::access("/usr/bin/unshare", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/unshare";
  if (!sandbox::seccomp_notify_supported()) {
    GTEST_SKIP() << "needs seccomp user notification (SECCOMP_FILTER_FLAG_NEW_LISTENER): without "
                    "it corrald is not told of an errno-profile violation";
  }
  write_manifest("prober.toml", R"x(name = "prober"
exec = "/bin/sh"
args = ["-c", "sleep 0.2; /usr/bin/unshare --user /bin/true; exec sleep 600"]
[recovery]
on_seccomp = "quarantine"
)x");
  start_daemon();
  ASSERT_TRUE(wait_state("prober", v1::QUARANTINED, 10s));
  ASSERT_EQ(WEXITSTATUS(stop_daemon()), 0);

  start_daemon();
  auto info = status("prober");
  EXPECT_EQ(info.state(), v1::QUARANTINED);
  EXPECT_EQ(info.pid(), 0) << "kept down, not started";
  EXPECT_EQ(info.recovery_phase(), "quarantined");
  EXPECT_THAT(info.phase_cause(), HasSubstr("unshare"));
  EXPECT_THAT(daemon_log(), HasSubstr("stays quarantined"));
  bool audited = false;
  for (const auto& r : audit("prober")) {
    audited |=
        r.kind() == "action" && r.command() == "alert" && r.message().starts_with("quarantined");
  }
  EXPECT_TRUE(audited) << "recovery's actions are in the audit trail";
  // kill -9 while it is quarantined: the next corrald adopts it still frozen, still held.
  auto q = client().reset("prober");
  ASSERT_TRUE(q) << q.error().describe();
  ASSERT_TRUE(wait_until(
      [&] { return status("prober").state() == v1::QUARANTINED && status("prober").pid() > 0; },
      10s));
  pid_t held = status("prober").pid();
  kill_daemon();
  start_daemon();
  EXPECT_EQ(status("prober").state(), v1::QUARANTINED);
  EXPECT_EQ(status("prober").pid(), held) << "adopted, not replaced";
  EXPECT_EQ(cgroup_frozen(held), std::optional<bool>(true));
  auto reset = ctl({"reset", "prober"});
  EXPECT_EQ(reset.exit_code, 0) << reset.err;
  EXPECT_TRUE(wait_until([&] { return status("prober").pid() > 0; }, 5s)) << "a reset starts it";
}

// kill -9 corrald again and again while a client changes plugins: every acknowledged command is
// in the journal and in effect after the restart, and every process of a killed corrald's
// sandboxes is either adopted by the next one or gone (reaped before any plugin starts).
TEST_F(Durability, KillNineInALoopLosesNoAcknowledgedCommandAndOrphansNothing) {
  constexpr int kPlugins = 3;
  for (int i = 0; i < kPlugins; ++i) {
    write_manifest("p" + std::to_string(i) + ".toml",
                   "name = \"p" + std::to_string(i) +
                       "\"\nexec = \"/bin/sleep\"\nargs = [\"600\"]\nautostart = false\n");
  }
  std::map<std::string, std::string> acked;  // correlation id -> plugin
  std::map<std::string, uint64_t> acked_generation;
  std::map<std::string, bool> last_wanted_up;
  std::map<std::string, pid_t> last_pid;  // of a plugin left running by an acknowledged command
  uint64_t next = 0;
  for (int round = 0; round < 5; ++round) {
    start_daemon();
    std::vector<pid_t> old_pids;
    auto c = client();
    auto deadline = std::chrono::steady_clock::now() + 300ms;
    while (std::chrono::steady_clock::now() < deadline) {
      std::string name = "p" + std::to_string(next % kPlugins);
      bool up = (next / kPlugins) % 2 == 0;
      v1::Request req;
      req.set_correlation_id("kill9-" + std::to_string(next++));
      if (up) {
        req.mutable_start()->set_name(name);
      } else {
        req.mutable_stop()->set_name(name);
        req.mutable_stop()->set_timeout_ms(1000);
      }
      auto resp = c.call(req);
      ASSERT_TRUE(resp) << resp.error().describe();
      ASSERT_EQ(resp->status().code(), v1::OK) << resp->status().message();
      const auto& info = up ? resp->start().plugin() : resp->stop().plugin();
      acked[req.correlation_id()] = name;
      acked_generation[name] = info.generation();
      last_wanted_up[name] = up;
      last_pid[name] = up ? info.pid() : 0;
      if (info.pid() > 0) old_pids.push_back(info.pid());
    }
    // In flight: one more command, and the kill lands while it is being handled.
    v1::Request last;
    last.set_correlation_id("kill9-unacked-" + std::to_string(round));
    last.mutable_start()->set_name("p0");
    UniqueFd raw = raw_connect();
    ASSERT_TRUE(send_request(raw.get(), hello_request()));
    ASSERT_TRUE(read_response(raw.get()).has_value());
    ASSERT_TRUE(send_request(raw.get(), last));
    kill_daemon();
    start_daemon();  // adopts the runs it has records of, reaps any other
    std::vector<pid_t> current;
    for (int i = 0; i < kPlugins; ++i) current.push_back(status("p" + std::to_string(i)).pid());
    for (pid_t p : old_pids) {
      bool adopted = std::find(current.begin(), current.end(), p) != current.end();
      EXPECT_TRUE(adopted || !process_alive(p))
          << "pid " << p << " of a killed corrald's sandbox survived unsupervised";
    }
    // Everything acknowledged is in the journal and in effect.
    auto d = supervisor::store::Db::open(db(), false);
    ASSERT_TRUE(d);
    for (const auto& [corr, plugin] : acked) {
      auto s = d->prepare("SELECT count(*) FROM journal WHERE correlation_id = ?1");
      ASSERT_TRUE(s);
      s->bind(1, corr);
      ASSERT_TRUE(*s->step());
      ASSERT_EQ(s->int64(0), 1) << corr << " was acknowledged but is not in the journal";
    }
    for (int i = 0; i < kPlugins; ++i) {
      std::string name = "p" + std::to_string(i);
      if (!acked_generation.contains(name)) continue;
      auto info = status(name);
      // The command in flight may have been committed (not acknowledged): p0 may be one ahead.
      EXPECT_GE(info.generation(), acked_generation[name]) << name;
      EXPECT_LE(info.generation(), acked_generation[name] + (i == 0 ? 1u : 0u)) << name;
      bool up = last_wanted_up[name] || (i == 0 && info.generation() > acked_generation[name]);
      if (up) {
        EXPECT_TRUE(wait_state(name, v1::RUNNING, 5s)) << name;
        // Never restarted by corrald's own restart: the run it left is the run it finds.
        if (i != 0 && last_pid[name] > 0) {
          EXPECT_EQ(status(name).pid(), last_pid[name]) << name;
        }
      } else {
        EXPECT_EQ(info.state(), v1::STOPPED) << name;
      }
      acked_generation[name] = info.generation();
      if (i == 0 && up) last_wanted_up[name] = true;
    }
    ASSERT_EQ(WEXITSTATUS(stop_daemon()), 0);
  }
  auto verify = ctl({"audit", "verify", "--db", db()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
  auto reaps = 0;
  for (size_t at = 0; (at = daemon_log().find("a previous corrald left", at)) != std::string::npos;
       ++at)
    ++reaps;
  std::cerr << "kill -9 loop: " << acked.size() << " acknowledged commands over 5 kills, " << reaps
            << " stale sandbox(es) reaped\n";
}

}  // namespace
}  // namespace corral::e2e
