// send_split: a backlog over frames that each stay under the budget, in order, the last one
// saying whether a follow stream continues.
#include "supervisor/stream_frames.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace corral::supervisor {
namespace {

std::vector<v1::Response> split(const std::vector<std::string>& lines, size_t budget, bool follow) {
  std::vector<v1::Response> frames;
  v1::Response resp;
  resp.set_id(9);
  resp.mutable_logs();
  send_split(
      [&](const v1::Response& f) { frames.push_back(f); }, resp, lines, budget, follow,
      [](const std::string& l) { return l.size(); },
      [](v1::Response& f, const std::string& l) { f.mutable_logs()->add_lines()->set_text(l); },
      [](v1::Response& f) { f.mutable_logs()->clear_lines(); });
  return frames;
}

TEST(SendSplit, FramesStayUnderTheBudgetInOrderAndOnlyTheLastMayEnd) {
  std::vector<std::string> lines;
  for (int i = 0; i < 10; ++i) lines.push_back(std::string(30, static_cast<char>('a' + i)));
  auto frames = split(lines, 100, false);
  ASSERT_EQ(frames.size(), 4u);  // 3 + 3 + 3 + 1 lines of 30 bytes under 100
  std::string seen;
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].id(), 9u);
    EXPECT_EQ(frames[i].status().code(), v1::OK);
    EXPECT_EQ(frames[i].more(), i + 1 < frames.size());
    for (const auto& l : frames[i].logs().lines()) seen += l.text().substr(0, 1);
  }
  EXPECT_EQ(seen, "abcdefghij");
  EXPECT_TRUE(split(lines, 100, true).back().more()) << "a follow stream continues";
}

TEST(SendSplit, AnItemLargerThanTheBudgetStillGoesAloneAndNothingIsOneEmptyFrame) {
  auto frames = split({std::string(500, 'x'), "y"}, 100, false);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].logs().lines_size(), 1);
  auto none = split({}, 100, false);
  ASSERT_EQ(none.size(), 1u);
  EXPECT_TRUE(none[0].has_logs());
  EXPECT_FALSE(none[0].more());
  v1::Response t = follow_frame(none[0]);
  EXPECT_TRUE(t.more());
  EXPECT_EQ(t.id(), 9u);
}

}  // namespace
}  // namespace corral::supervisor
