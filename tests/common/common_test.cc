// The shared error model, UniqueFd and the file helpers.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "common/files.h"
#include "common/unique_fd.h"

namespace corral {
namespace {

using ::testing::HasSubstr;

TEST(Error, SysErrorCapturesErrnoCodeAndLocation) {
  errno = ENOENT;
  auto e = sys_error("opening /x").error();
  EXPECT_EQ(e.errnum, ENOENT);
  EXPECT_EQ(e.code, Code::kNotFound);
  EXPECT_EQ(e.describe(), "opening /x: No such file or directory");
  EXPECT_THAT(e.file, HasSubstr("common_test.cc"));
  EXPECT_GT(e.line, 0u);
  EXPECT_EQ(sys_error("x", EACCES).error().code, Code::kPermissionDenied);
  EXPECT_EQ(sys_error("x", EIO).error().code, Code::kInternal);
}

TEST(Error, WrapAddsContextAndKeepsTheRest) {
  auto e = make_error(Code::kInvalidArgument, "bad").error().wrap("loading a");
  EXPECT_EQ(e.message, "loading a: bad");
  EXPECT_EQ(e.code, Code::kInvalidArgument);
  EXPECT_EQ(e.describe(), "loading a: bad");
  EXPECT_EQ(code_name(Code::kUnavailable), "unavailable");
}

TEST(UniqueFd, ClosesOnDestructionAndMoves) {
  int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(raw, 0);
  {
    UniqueFd a(raw);
    UniqueFd b(std::move(a));
    EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): checking the moved-from state
    EXPECT_EQ(b.get(), raw);
  }
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
  UniqueFd c(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  int kept = c.release();
  EXPECT_FALSE(c.valid());
  EXPECT_GE(::fcntl(kept, F_GETFD), 0);
  ::close(kept);
}

TEST(Files, WriteAtomicReadBackAndLimits) {
  char tmpl[] = "/tmp/corral-files-test.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  ASSERT_TRUE(make_dirs(dir + "/a/b/c", 0700).has_value());
  std::string path = dir + "/a/b/c/f";
  ASSERT_TRUE(write_file_atomic(path, "hello", 0600).has_value());
  auto text = read_file(path);
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text, "hello");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto big = read_file(path, 3);
  ASSERT_FALSE(big.has_value());
  EXPECT_THAT(big.error().message, HasSubstr("larger than 3 bytes"));
  auto missing = read_file(dir + "/nope");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().errnum, ENOENT);
  auto notdir = make_dirs(path);
  ASSERT_FALSE(notdir.has_value());
  ASSERT_EQ(std::system(("rm -rf '" + dir + "'").c_str()), 0);
}

}  // namespace
}  // namespace corral
