// LogBuffer: line splitting across reads, the line cap, the ring bound, followers, and the
// capped, rotated file.
#include "supervisor/log_buffer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace corral::supervisor {
namespace {

std::vector<std::string> texts(const std::vector<LogLine>& lines) {
  std::vector<std::string> out;
  for (const auto& l : lines) out.push_back(l.text);
  return out;
}

TEST(LogBuffer, SplitsLinesAcrossReadsAndStreams) {
  LogBuffer b(100, "", 0);
  b.append(LogStream::kStdout, "hel", 1);
  b.append(LogStream::kStderr, "err-a\nerr", 2);
  b.append(LogStream::kStdout, "lo\nwor", 3);
  b.append(LogStream::kStdout, "ld\n\n", 4);
  b.flush(LogStream::kStderr, 5);
  auto lines = b.tail(10);
  EXPECT_EQ(texts(lines), (std::vector<std::string>{"err-a", "hello", "world", "", "err"}));
  EXPECT_EQ(lines[0].stream, LogStream::kStderr);
  EXPECT_EQ(lines[1].stream, LogStream::kStdout);
  EXPECT_EQ(lines[1].at_unix_ms, 3);
  for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(lines[i].seq, i + 1);
  EXPECT_EQ(b.total_lines(), 5u);
}

TEST(LogBuffer, LongLinesAreSplitAndMarked) {
  LogBuffer b(100, "", 0);
  std::string big(LogBuffer::kMaxLineBytes * 2 + 10, 'x');
  b.append(LogStream::kStdout, big + "\n", 0);
  auto lines = b.tail(10);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].text.size(), LogBuffer::kMaxLineBytes);
  EXPECT_TRUE(lines[0].truncated);
  EXPECT_TRUE(lines[1].truncated);
  EXPECT_EQ(lines[2].text.size(), 10u);
  EXPECT_FALSE(lines[2].truncated);
}

TEST(LogBuffer, ExactlyCapLineIsNotTruncated) {
  LogBuffer b(100, "", 0);
  b.append(LogStream::kStdout, std::string(LogBuffer::kMaxLineBytes, 'y') + "\nz\n", 0);
  auto lines = b.tail(10);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_FALSE(lines[0].truncated);
  EXPECT_EQ(lines[1].text, "z");
}

TEST(LogBuffer, RingKeepsOnlyTheLastLines) {
  LogBuffer b(3, "", 0);
  for (int i = 0; i < 10; ++i) b.append(LogStream::kStdout, std::to_string(i) + "\n", i);
  auto lines = b.tail(100);
  EXPECT_EQ(texts(lines), (std::vector<std::string>{"7", "8", "9"}));
  EXPECT_EQ(lines.front().seq, 8u);
  EXPECT_EQ(texts(b.tail(1)), std::vector<std::string>{"9"});
}

TEST(LogBuffer, FollowersSeeNewLinesAndCanUnfollowThemselves) {
  LogBuffer b(10, "", 0);
  std::vector<std::string> seen;
  uint64_t id = 0;
  id = b.follow([&](const LogLine& l) {
    seen.push_back(l.text);
    if (l.text == "stop") b.unfollow(id);
  });
  b.append(LogStream::kStdout, "a\nstop\nb\n", 0);
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "stop"}));
  EXPECT_EQ(b.followers(), 0u);
}

TEST(LogBuffer, FileIsWrittenCappedAndRotated) {
  char tmpl[] = "/tmp/corral-logbuf-test.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::string path = dir + "/p.log";
  {
    LogBuffer b(10, path, 200);
    for (int i = 0; i < 20; ++i)
      b.append(LogStream::kStdout, "line-" + std::to_string(i) + "\n", 0);
    b.note("exited", 0);
    EXPECT_TRUE(b.file_error().empty());
  }
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_LE(st.st_size, 200);
  ASSERT_EQ(::stat((path + ".1").c_str(), &st), 0);
  EXPECT_LE(st.st_size, 200);
  // 37-byte records, 200-byte cap: five per file; the 21st (the note) opened a fresh file.
  std::stringstream cur, old;
  cur << std::ifstream(path).rdbuf();
  old << std::ifstream(path + ".1").rdbuf();
  EXPECT_EQ(cur.str(), "1970-01-01T00:00:00.000Z err [corrald] exited\n");
  EXPECT_NE(old.str().find("1970-01-01T00:00:00.000Z out line-19\n"), std::string::npos)
      << old.str();
  EXPECT_EQ(old.str().find("line-14\n"), std::string::npos) << "only one old file is kept";
  ASSERT_EQ(std::system(("rm -rf '" + dir + "'").c_str()), 0);
}

TEST(LogBuffer, UnwritableFileKeepsTheRingWorking) {
  LogBuffer b(10, "/nonexistent-dir/x.log", 1000);
  EXPECT_FALSE(b.file_error().empty());
  b.append(LogStream::kStdout, "still here\n", 0);
  EXPECT_EQ(texts(b.tail(1)), std::vector<std::string>{"still here"});
}

}  // namespace
}  // namespace corral::supervisor
