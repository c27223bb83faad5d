// The audit trail's hash chain, signed checkpoints, key rotation and tamper detection, plus
// backup and restore of a store.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "supervisor/store/audit_verify.h"
#include "supervisor/store/backup.h"
#include "supervisor/store/store.h"
#include "tests/supervisor/store/store_test_util.h"

namespace corral::supervisor::store {
namespace {

AuditRecord command(int i) {
  AuditRecord r;
  r.at_unix_ms = 1000 + i;
  r.kind = "command";
  r.uid = 0;
  r.gid = 0;
  r.pid = 100 + i;
  r.exe = "/usr/bin/corralctl";
  r.command = i % 2 == 0 ? "start" : "stop";
  r.plugin = "p" + std::to_string(i % 3);
  r.args_digest = std::string(64, 'a');
  r.result = "ok";
  r.duration_us = 10 * i;
  r.correlation_id = "c" + std::to_string(i);
  return r;
}

class Audit : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::open(dir_.path(), {.checkpoint_every = 10});
    ASSERT_TRUE(s) << s.error().describe();
    store_ = std::move(*s);
  }
  void fill(int n) {
    for (int i = 1; i <= n; ++i) {
      auto r = store_->audit().append(command(i), Sync::kNormal);
      ASSERT_TRUE(r) << r.error().describe();
      ASSERT_EQ(*r, static_cast<uint64_t>(store_->audit().last_seq()));
    }
  }
  AuditVerifyReport verify() {
    auto rep = verify_audit(store_->db(), store_->keys().public_keys());
    EXPECT_TRUE(rep) << rep.error().describe();
    return rep ? *rep : AuditVerifyReport{};
  }
  static std::string kinds(const AuditVerifyReport& r) {
    std::string out;
    for (const auto& p : r.problems) out += p.kind + "@" + std::to_string(p.seq) + " ";
    return out;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(Audit, AnIntactTrailVerifiesUpToItsLastCheckpoint) {
  fill(25);
  auto rep = verify();
  EXPECT_TRUE(rep.ok()) << kinds(rep);
  EXPECT_EQ(rep.records, 25u);
  EXPECT_EQ(rep.checkpoints, 2u);
  EXPECT_EQ(rep.signed_through, 20u);
  EXPECT_EQ(rep.unsigned_tail(), 5u);
  ASSERT_TRUE(store_->audit().checkpoint(5000));
  rep = verify();
  EXPECT_TRUE(rep.ok());
  EXPECT_EQ(rep.signed_through, 25u);
  auto q = store_->audit().query({.since_unix_ms = 0, .plugin = "p1", .limit = 3});
  ASSERT_TRUE(q);
  ASSERT_EQ(q->size(), 3u);
  EXPECT_LT((*q)[0].seq, (*q)[2].seq);
  EXPECT_EQ((*q)[2].seq, 25u);  // the newest three, oldest first
  for (const auto& r : *q) EXPECT_EQ(r.plugin, "p1");
}

TEST_F(Audit, AnEditedRecordIsPinpointed) {
  fill(25);
  ASSERT_TRUE(store_->db().exec("UPDATE audit SET result = 'permission denied' WHERE seq = 7"));
  auto rep = verify();
  ASSERT_FALSE(rep.ok());
  EXPECT_EQ(kinds(rep), "edited@7 ");
  EXPECT_EQ(rep.signed_through, 0u);  // nothing from 7 on is trusted; no checkpoint before it
}

TEST_F(Audit, AnEditedAndRehashedRecordBreaksTheChainAndItsCheckpoint) {
  fill(25);
  auto all = read_all_records(store_->db());
  ASSERT_TRUE(all);
  AuditRecord r = (*all)[11];  // seq 12
  r.plugin = "innocent";
  std::string hash = audit_hash(r);
  auto s = store_->db().prepare("UPDATE audit SET plugin = ?1, hash = ?2 WHERE seq = 12");
  ASSERT_TRUE(s);
  s->bind(1, r.plugin).bind_blob(2, hash);
  ASSERT_TRUE(s->run());
  auto rep = verify();
  EXPECT_EQ(kinds(rep), "unchained@12 ");
  EXPECT_EQ(rep.signed_through, 10u);
}

TEST_F(Audit, ADeletedRecordIsPinpointed) {
  fill(25);
  ASSERT_TRUE(store_->db().exec("DELETE FROM audit WHERE seq = 15"));
  auto rep = verify();
  EXPECT_EQ(kinds(rep), "deleted@15 ");
  EXPECT_EQ(rep.signed_through, 10u);
  ASSERT_TRUE(store_->db().exec("DELETE FROM audit WHERE seq IN (3, 4)"));
  rep = verify();
  EXPECT_EQ(kinds(rep), "deleted@3 deleted@15 ");
  EXPECT_NE(rep.problems[0].detail.find("records 3..4 are missing"), std::string::npos)
      << rep.problems[0].detail;
}

TEST_F(Audit, RecordsDeletedFromTheEndAreCaughtByTheirCheckpoint) {
  fill(25);
  ASSERT_TRUE(store_->db().exec("DELETE FROM audit WHERE seq >= 18"));
  auto rep = verify();
  EXPECT_EQ(kinds(rep), "deleted@20 ");
}

TEST_F(Audit, SwappedRecordsAreCaughtAsReordered) {
  fill(25);
  ASSERT_TRUE(store_->db().exec(
      "UPDATE audit SET seq = -1 WHERE seq = 5; UPDATE audit SET seq = 5 WHERE seq = 6; "
      "UPDATE audit SET seq = 6 WHERE seq = -1"));
  auto rep = verify();
  EXPECT_EQ(kinds(rep), "reordered@5 reordered@6 ");
  EXPECT_NE(rep.problems[0].detail.find("holds record 6"), std::string::npos);
}

TEST_F(Audit, AForgedCheckpointIsRefused) {
  fill(25);
  // A whole chain rewritten and re-signed with a key corrald never had.
  auto forger = SigningKey::generate();
  ASSERT_TRUE(forger);
  auto all = read_all_records(store_->db());
  ASSERT_TRUE(all);
  const auto& last = all->back();
  auto sig = forger->sign(checkpoint_message(last.seq, last.hash, 9));
  ASSERT_TRUE(sig);
  auto s = store_->db().prepare(
      "INSERT INTO checkpoints(audit_seq, at_ms, hash, key_id, signature) VALUES (?1, 9, ?2, ?3, "
      "?4)");
  ASSERT_TRUE(s);
  s->bind(1, static_cast<int64_t>(last.seq))
      .bind_blob(2, last.hash)
      .bind(3, forger->id())
      .bind_blob(4, *sig);
  ASSERT_TRUE(s->run());
  auto rep = verify();
  EXPECT_EQ(kinds(rep), "checkpoint@25 ");
  EXPECT_NE(rep.problems[0].detail.find("not a trusted key"), std::string::npos);
  // A signature of corrald's key over different bytes.
  ASSERT_TRUE(
      store_->db().exec("UPDATE checkpoints SET key_id = (SELECT key_id FROM checkpoints WHERE "
                        "audit_seq = 10) WHERE audit_seq = 25"));
  rep = verify();
  EXPECT_EQ(kinds(rep), "checkpoint@25 ");
  EXPECT_NE(rep.problems[0].detail.find("does not verify"), std::string::npos);
}

TEST_F(Audit, RotatedKeysKeepOldCheckpointsVerifiable) {
  fill(15);
  std::string old = store_->keys().current().id();
  auto id = store_->audit().rotate_key(2000);
  ASSERT_TRUE(id) << id.error().describe();
  EXPECT_NE(*id, old);
  struct stat st {};
  EXPECT_NE(::stat((dir_.path() + "/keys/" + old + ".key").c_str(), &st), 0);  // private key gone
  EXPECT_EQ(::stat((dir_.path() + "/keys/" + old + ".pub").c_str(), &st), 0);
  ASSERT_EQ(::stat((dir_.path() + "/keys/" + *id + ".key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  fill(12);
  store_.reset();
  // A restart loads the rotated key and every public key.
  auto s = Store::open(dir_.path(), {.checkpoint_every = 10});
  ASSERT_TRUE(s) << s.error().describe();
  EXPECT_EQ((*s)->keys().current().id(), *id);
  EXPECT_EQ((*s)->keys().public_keys().size(), 2u);
  auto rep = verify_audit((*s)->db(), (*s)->keys().public_keys());
  ASSERT_TRUE(rep);
  EXPECT_TRUE(rep->ok()) << kinds(*rep);
  EXPECT_EQ(rep->signed_through, 25u);
  auto keys = (*s)->db().prepare("SELECT key_id, retired_ms FROM keys ORDER BY created_ms");
  ASSERT_TRUE(keys);
  ASSERT_TRUE(*keys->step());
  EXPECT_EQ(keys->text(0), old);
  EXPECT_EQ(keys->int64(1), 2000);
  // Verification with only the public keys (as for a backup).
  auto pub = KeyRing::open_public(dir_.path() + "/keys");
  ASSERT_TRUE(pub);
  EXPECT_FALSE(pub->can_sign());
  EXPECT_EQ(pub->public_keys().size(), 2u);
}

TEST_F(Audit, AKeyReadableByOthersIsRefused) {
  std::string id = store_->keys().current().id();
  store_.reset();
  ASSERT_EQ(::chmod((dir_.path() + "/keys/" + id + ".key").c_str(), 0644), 0);
  auto s = Store::open(dir_.path());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().describe().find("readable by others (mode 644)"), std::string::npos)
      << s.error().describe();
}

TEST_F(Audit, ABackupIsConsistentAndRestoresOverTheStoreKeepingTheOld) {
  fill(12);
  JournalEntry e;
  e.plugin = "a";
  e.body.mutable_wanted()->set_wanted(v1::WANTED_UP);
  ASSERT_TRUE(store_->journal().append(e, 1));
  std::string file = dir_.path() + "/backup.db";
  auto info = backup_store(store_->db(), file);
  ASSERT_TRUE(info) << info.error().describe();
  EXPECT_EQ(info->audit_records, 12);
  EXPECT_EQ(info->journal_entries, 1);
  auto again = backup_store(store_->db(), file);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Code::kAlreadyExists);
  EXPECT_FALSE(backup_store(store_->db(), "relative.db"));

  // Changes after the backup are undone by the restore; the replaced store is kept.
  fill(3);
  e.body.mutable_wanted()->set_wanted(v1::WANTED_DOWN);
  ASSERT_TRUE(store_->journal().append(e, 2));
  store_.reset();
  auto kept = restore_store(file, dir_.path());
  ASSERT_TRUE(kept) << kept.error().describe();
  EXPECT_NE(kept->find("corral.db.before-restore-"), std::string::npos);
  struct stat st {};
  EXPECT_EQ(::stat(kept->c_str(), &st), 0);
  auto s = Store::open(dir_.path());
  ASSERT_TRUE(s) << s.error().describe();
  EXPECT_EQ((*s)->journal().state().find("a")->wanted(), v1::WANTED_UP);
  EXPECT_EQ((*s)->audit().last_seq(), 12u);
  auto rep = verify_audit((*s)->db(), (*s)->keys().public_keys());
  ASSERT_TRUE(rep);
  EXPECT_TRUE(rep->ok()) << kinds(*rep);

  std::string junk = dir_.path() + "/junk.db";
  ASSERT_EQ(::close(::open(junk.c_str(), O_CREAT | O_WRONLY, 0600)), 0);
  auto bad = restore_store(junk, dir_.path());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("is not a Corral store"), std::string::npos)
      << bad.error().message;
}

TEST_F(Audit, ABatchIsOneTransactionChainedAndSignedLikeSingleAppends) {
  fill(3);
  std::vector<AuditRecord> batch;
  for (int i = 4; i <= 25; ++i) batch.push_back(command(i));
  auto last = store_->audit().append_all(batch, Sync::kNormal);
  ASSERT_TRUE(last) << last.error().describe();
  EXPECT_EQ(*last, 25u);
  EXPECT_EQ(batch.front().seq, 4u);
  EXPECT_EQ(batch.back().seq, 25u);
  // Checkpoints every 10 inside the batch, as single appends would have made them.
  EXPECT_EQ(store_->audit().signed_seq(), 20u);
  auto rep = verify();
  EXPECT_TRUE(rep.ok()) << kinds(rep);
  EXPECT_EQ(rep.records, 25u);
}

TEST_F(Audit, AFailedBatchLeavesNothingAndTheChainWhereItWas) {
  fill(2);
  std::vector<AuditRecord> batch = {command(3), command(4)};
  batch[1].seq = 0;
  // A clashing row makes the second insert fail: the first must be rolled back with it.
  ASSERT_TRUE(
      store_->db().exec("INSERT INTO audit(seq, at_ms, kind, uid, gid, pid, exe, command, "
                        "plugin, args_digest, result, message, duration_us, "
                        "correlation_id, prev_hash, hash) VALUES (4, 0, 'x', 0, 0, 0, '', "
                        "'', '', '', '', '', 0, '', x'00', x'00')"));
  auto r = store_->audit().append_all(batch, Sync::kNormal);
  ASSERT_FALSE(r);
  EXPECT_EQ(store_->audit().last_seq(), 2u);
  ASSERT_TRUE(store_->db().exec("DELETE FROM audit WHERE seq = 4"));
  std::vector<AuditRecord> again = {command(3)};
  ASSERT_TRUE(store_->audit().append_all(again, Sync::kNormal));
  EXPECT_EQ(again[0].seq, 3u);
  EXPECT_TRUE(verify().ok());
}

}  // namespace
}  // namespace corral::supervisor::store
