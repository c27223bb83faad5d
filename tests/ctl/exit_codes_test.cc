// corralctl's exit codes (docs/reference.md) for every in-process code and every wire status, and
// the connect(2) errno -> Error mapping that decides what a user reads when corrald is unreachable.
#include "ctl/exit_codes.h"

#include <cerrno>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ctl/client.h"
#include "proto/status.h"

namespace corral::ctl {
namespace {

using ::testing::HasSubstr;

int exit_for_wire(v1::StatusCode c) { return exit_code_for(Error{proto::from_wire(c), 0, "x"}); }

TEST(ExitCodes, EveryWireStatusMapsToTheDocumentedCode) {
  EXPECT_EQ(exit_for_wire(v1::OK), 0);
  EXPECT_EQ(exit_for_wire(v1::INTERNAL), 1);
  EXPECT_EQ(exit_for_wire(v1::STATUS_UNSPECIFIED), 1);
  EXPECT_EQ(exit_for_wire(v1::NOT_FOUND), 3);
  EXPECT_EQ(exit_for_wire(v1::INVALID_ARGUMENT), 4);
  EXPECT_EQ(exit_for_wire(v1::FAILED_PRECONDITION), 4);
  EXPECT_EQ(exit_for_wire(v1::ALREADY_EXISTS), 4);
  EXPECT_EQ(exit_for_wire(v1::UNAVAILABLE), 69);
  EXPECT_EQ(exit_for_wire(v1::RESOURCE_EXHAUSTED), 75);
  EXPECT_EQ(exit_for_wire(v1::MALFORMED_FRAME), 76);
  EXPECT_EQ(exit_for_wire(v1::FRAME_TOO_LARGE), 76);
  EXPECT_EQ(exit_for_wire(v1::UNSUPPORTED_VERSION), 76);
  EXPECT_EQ(exit_for_wire(v1::UNIMPLEMENTED), 76);
  EXPECT_EQ(exit_for_wire(v1::PERMISSION_DENIED), 77);
}

TEST(ExitCodes, InProcessCodes) {
  EXPECT_EQ(exit_code_for(Error{Code::kProtocol, 0, "x"}), kExitProtocol);
  EXPECT_EQ(exit_code_for(Error{Code::kInternal, 0, "x"}), kExitFailure);
  EXPECT_EQ(exit_code_for(Error{Code::kUnavailable, 0, "x"}), kExitUnavailable);
  EXPECT_EQ(exit_code_for(Error{Code::kPermissionDenied, EACCES, "x"}), kExitPermission);
}

TEST(ConnectError, EachErrnoGetsItsOwnSentence) {
  const std::string p = "/run/corral/control.sock";
  auto missing = connect_error(p, ENOENT);
  EXPECT_EQ(missing.code, Code::kUnavailable);
  EXPECT_EQ(missing.message, "corrald is not running: no socket at " + p);

  auto refused = connect_error(p, ECONNREFUSED);
  EXPECT_EQ(refused.code, Code::kUnavailable);
  EXPECT_EQ(refused.message,
            "corrald is not running: connection refused at " + p + " (stale socket?)");

  for (int e : {EACCES, EPERM}) {
    auto denied = connect_error(p, e);
    EXPECT_EQ(denied.code, Code::kPermissionDenied);
    EXPECT_EQ(denied.message, "cannot connect to " + p +
                                  ": permission denied (corralctl needs root or membership in "
                                  "the socket's group)");
    EXPECT_EQ(exit_code_for(denied), kExitPermission);
  }

  auto busy = connect_error(p, EAGAIN);
  EXPECT_EQ(busy.code, Code::kUnavailable);
  EXPECT_THAT(busy.message, HasSubstr("not accepting connections"));

  auto other = connect_error(p, EIO);
  EXPECT_EQ(other.code, Code::kUnavailable);
  EXPECT_EQ(other.errnum, EIO);
  EXPECT_THAT(other.describe(), HasSubstr(p));
  EXPECT_EQ(exit_code_for(other), kExitUnavailable);
}

}  // namespace
}  // namespace corral::ctl
