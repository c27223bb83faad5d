// The store's events table: appends in order, reads after a seq, keeps the newest `retain`,
// and survives a reopen (a restarted corrald continues the numbering and serves old events).
#include "supervisor/store/event_store.h"

#include <gtest/gtest.h>

#include "supervisor/store/store.h"
#include "tests/supervisor/store/store_test_util.h"

namespace corral::supervisor::store {
namespace {

v1::RecoveryEvent event(uint64_t seq, const std::string& plugin = "p") {
  v1::RecoveryEvent e;
  e.set_seq(seq);
  e.set_at_unix_ms(1000 + static_cast<int64_t>(seq));
  e.set_plugin(plugin);
  e.set_type("signal");
  e.set_what("exit");
  e.set_event_id("ev-" + std::to_string(seq));
  return e;
}

std::vector<v1::RecoveryEvent> range(uint64_t from, uint64_t to) {
  std::vector<v1::RecoveryEvent> out;
  for (uint64_t s = from; s <= to; ++s) out.push_back(event(s));
  return out;
}

TEST(EventStore, AppendsReadsAfterASeqAndSurvivesAReopen) {
  TempDir dir;
  {
    auto s = Store::open(dir.path());
    ASSERT_TRUE(s) << s.error().describe();
    auto& ev = (*s)->events();
    EXPECT_EQ(ev.last_seq(), 0u);
    ASSERT_TRUE(ev.append_all(range(1, 10), Sync::kNormal));
    auto after = ev.after(4, 3);
    ASSERT_TRUE(after);
    ASSERT_EQ(after->size(), 3u);
    EXPECT_EQ((*after)[0].seq(), 5u);
    EXPECT_EQ((*after)[2].event_id(), "ev-7");
    // Not after the last seq: refused, nothing written.
    EXPECT_FALSE(ev.append_all(range(10, 11), Sync::kNormal));
    EXPECT_EQ(ev.last_seq(), 10u);
  }
  auto s = Store::open(dir.path());
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)->events().first_seq(), 1u);
  EXPECT_EQ((*s)->events().last_seq(), 10u);
  auto all = (*s)->events().after(0, 100);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 10u);
}

TEST(EventStore, KeepsTheNewestRetainedEvents) {
  TempDir dir;
  auto s = Store::open(dir.path());
  ASSERT_TRUE(s);
  auto ev = EventStore::open((*s)->db(), 5);
  ASSERT_TRUE(ev);
  ASSERT_TRUE(ev->append_all(range(1, 4), Sync::kNormal));
  ASSERT_TRUE(ev->append_all(range(5, 12), Sync::kNormal));
  EXPECT_EQ(ev->first_seq(), 8u);
  EXPECT_EQ(ev->last_seq(), 12u);
  auto all = ev->after(0, 100);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ(all->front().seq(), 8u);
}

}  // namespace
}  // namespace corral::supervisor::store
