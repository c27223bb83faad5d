// Journal, replay and snapshots: what was committed is what a restart sees.
#include "supervisor/store/journal.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "supervisor/store/store.h"
#include "tests/supervisor/store/store_test_util.h"

namespace corral::supervisor::store {
namespace {

JournalEntry wanted(const std::string& plugin, v1::Wanted w, const std::string& command,
                    std::optional<uint64_t> expect = std::nullopt) {
  JournalEntry e;
  e.plugin = plugin;
  e.body.mutable_wanted()->set_wanted(w);
  e.body.mutable_wanted()->set_command(command);
  e.correlation_id = "test";
  e.expected_generation = expect;
  return e;
}

JournalEntry phase(const std::string& plugin, v1::Phase p, const std::string& cause) {
  JournalEntry e;
  e.plugin = plugin;
  e.body.mutable_phase()->set_phase(p);
  e.body.mutable_phase()->set_cause(cause);
  return e;
}

TEST(Journal, ReplayGivesWhatWasCommitted) {
  TempDir dir;
  {
    auto s = Store::open(dir.path());
    ASSERT_TRUE(s) << s.error().describe();
    auto& j = (*s)->journal();
    ASSERT_TRUE(j.append(wanted("a", v1::WANTED_UP, "start"), 1));
    ASSERT_TRUE(j.append(wanted("b", v1::WANTED_UP, "start"), 2));
    ASSERT_TRUE(j.append(wanted("a", v1::WANTED_DOWN, "stop"), 3));
    ASSERT_TRUE(j.append(phase("b", v1::PHASE_ESCALATED, "5 restarts in 60 s"), 4));
    EXPECT_EQ(j.state().seq(), 4u);
  }
  auto s = Store::open(dir.path());
  ASSERT_TRUE(s) << s.error().describe();
  const auto& st = (*s)->journal().state();
  EXPECT_EQ((*s)->journal().replayed(), 4u);
  EXPECT_EQ(st.seq(), 4u);
  ASSERT_NE(st.find("a"), nullptr);
  EXPECT_EQ(st.find("a")->wanted(), v1::WANTED_DOWN);
  EXPECT_EQ(st.find("a")->generation(), 2u);
  ASSERT_NE(st.find("b"), nullptr);
  EXPECT_EQ(st.find("b")->wanted(), v1::WANTED_UP);
  EXPECT_EQ(st.find("b")->phase(), v1::PHASE_ESCALATED);
  EXPECT_EQ(st.find("b")->phase_cause(), "5 restarts in 60 s");
  EXPECT_EQ(st.generation("never"), 0u);
}

TEST(Journal, AResetEndsEscalation) {
  DesiredState st;
  v1::JournalBody b;
  b.mutable_phase()->set_phase(v1::PHASE_QUARANTINED);
  st.apply(1, "p", 1, b);
  v1::JournalBody t;
  t.mutable_breaker()->set_trips(3);
  st.apply(2, "p", 2, t);
  v1::JournalBody r;
  r.mutable_wanted()->set_wanted(v1::WANTED_UP);
  r.mutable_wanted()->set_command("reset");
  st.apply(3, "p", 3, r);
  EXPECT_EQ(st.find("p")->phase(), v1::PHASE_NORMAL);
  EXPECT_EQ(st.find("p")->breaker_trips(), 0u);
  EXPECT_EQ(st.find("p")->generation(), 2u);  // a breaker trip is not a change of what is wanted
}

TEST(Journal, SnapshotsCutReplayAndAgreeWithTheFullJournal) {
  TempDir dir;
  {
    auto s = Store::open(dir.path(), {.snapshot_every = 10});
    ASSERT_TRUE(s);
    for (int i = 0; i < 25; ++i) {
      auto w = i % 2 == 0 ? v1::WANTED_UP : v1::WANTED_DOWN;
      ASSERT_TRUE((*s)->journal().append(wanted("p" + std::to_string(i % 3), w, "x"), i));
    }
  }
  auto s = Store::open(dir.path(), {.snapshot_every = 10});
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)->journal().snapshot_seq(), 20u);
  EXPECT_EQ((*s)->journal().replayed(), 5u);
  // The same state from the entries alone (snapshots dropped).
  ASSERT_TRUE((*s)->db().exec("DELETE FROM snapshots"));
  auto full = Journal::replay((*s)->db());
  ASSERT_TRUE(full);
  EXPECT_EQ(full->snapshot().SerializeAsString(),
            (*s)->journal().state().snapshot().SerializeAsString());
  EXPECT_EQ(full->find("p0")->generation(), 9u);
}

TEST(Journal, AStaleGenerationIsAConflictAndChangesNothing) {
  TempDir dir;
  auto s = Store::open(dir.path());
  ASSERT_TRUE(s);
  auto& j = (*s)->journal();
  ASSERT_TRUE(j.append(wanted("a", v1::WANTED_UP, "start", 0), 1));
  auto stale = j.append(wanted("a", v1::WANTED_DOWN, "stop", 0), 2);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, Code::kConflict);
  EXPECT_NE(stale.error().message.find("generation 1, not the expected 0"), std::string::npos)
      << stale.error().message;
  EXPECT_EQ(j.state().find("a")->wanted(), v1::WANTED_UP);
  EXPECT_TRUE(j.append(wanted("a", v1::WANTED_DOWN, "stop", 1), 3));
  auto again = Journal::replay((*s)->db());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->seq(), 2u);
}

TEST(Journal, AFailedCommitChangesNothingAndSaysWhy) {
  TempDir dir;
  auto s = Store::open(dir.path());
  ASSERT_TRUE(s);
  ASSERT_TRUE((*s)->journal().append(wanted("a", v1::WANTED_UP, "start"), 1));
  // query_only: every write fails as on a read-only store.
  ASSERT_TRUE((*s)->db().exec("PRAGMA query_only=ON"));
  auto r = (*s)->journal().append(wanted("a", v1::WANTED_DOWN, "stop"), 2);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kPermissionDenied) << r.error().describe();
  EXPECT_NE(r.error().describe().find("read-only"), std::string::npos) << r.error().describe();
  EXPECT_EQ((*s)->journal().state().find("a")->wanted(), v1::WANTED_UP);
  EXPECT_EQ((*s)->journal().state().seq(), 1u);
  ASSERT_TRUE((*s)->db().exec("PRAGMA query_only=OFF"));
  auto ok = (*s)->journal().append(wanted("a", v1::WANTED_DOWN, "stop"), 3);
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ(*ok, 2u);
}

TEST(Store, FilesArePrivateAndAForeignDatabaseIsRefused) {
  TempDir dir;
  {
    auto s = Store::open(dir.path() + "/state");
    ASSERT_TRUE(s) << s.error().describe();
  }
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() + "/state/corral.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir.path() + "/state/keys").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  std::string other = dir.path() + "/other";
  {
    auto db = Db::open(store_db_path(other + "x"), true);
    ASSERT_FALSE(db);  // its directory does not exist
  }
  ASSERT_EQ(::mkdir(other.c_str(), 0700), 0);
  {
    auto db = Db::open(store_db_path(other), true);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("CREATE TABLE t(x)"));
  }
  auto s = Store::open(other);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("is not a Corral store"), std::string::npos)
      << s.error().message;
}

}  // namespace
}  // namespace corral::supervisor::store
