// corralctl's exit codes (docs/reference.md) and the mapping from an Error to one of them.
#pragma once

#include "common/error.h"

namespace corral::ctl {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,
  kExitUsage = 2,
  kExitNotFound = 3,
  kExitInvalid = 4,
  kExitUnavailable = 69,  // EX_UNAVAILABLE
  kExitTempFail = 75,     // EX_TEMPFAIL: connection cap or rate limit; try again
  kExitProtocol = 76,     // EX_PROTOCOL
  kExitPermission = 77,   // EX_NOPERM
};

[[nodiscard]] inline int exit_code_for(const Error& e) {
  switch (e.code) {
    case Code::kOk:
      return kExitOk;
    case Code::kNotFound:
      return kExitNotFound;
    case Code::kInvalidArgument:
    case Code::kFailedPrecondition:
    case Code::kAlreadyExists:
      return kExitInvalid;
    case Code::kUnavailable:
      return kExitUnavailable;
    case Code::kPermissionDenied:
    case Code::kUnauthenticated:
      return kExitPermission;
    case Code::kResourceExhausted:
    case Code::kConflict:  // re-read and retry
      return kExitTempFail;
    case Code::kProtocol:
    case Code::kUnimplemented:
      return kExitProtocol;
    default:
      return kExitFailure;
  }
}

}  // namespace corral::ctl
