// IdAllocator: lowest free slot, stable per name while held, never shared, clear when full.
#include "supervisor/id_allocator.h"

#include <gtest/gtest.h>

namespace corral::supervisor {
namespace {

TEST(IdAllocator, LowestFreeSlotStablePerNameAndNeverShared) {
  IdAllocator ids(524288, 65536, 3);
  EXPECT_EQ(*ids.acquire("a"), 524288u);
  EXPECT_EQ(*ids.acquire("b"), 524288u + 65536);
  EXPECT_EQ(*ids.acquire("a"), 524288u) << "same name, same range";
  EXPECT_EQ(*ids.acquire("c"), 524288u + 2 * 65536);
  auto full = ids.acquire("d");
  ASSERT_FALSE(full.has_value());
  EXPECT_EQ(full.error().code, Code::kResourceExhausted);
  EXPECT_NE(full.error().message.find("id_slots"), std::string::npos);
  ids.release("b");
  EXPECT_EQ(*ids.acquire("d"), 524288u + 65536) << "the freed slot is reused";
  EXPECT_EQ(ids.in_use(), 3u);
  ids.release("nobody");  // harmless
  EXPECT_EQ(ids.in_use(), 3u);
}

}  // namespace
}  // namespace corral::supervisor
