#include "proto/status.h"

namespace corral::proto {

v1::StatusCode to_wire(Code code) {
  switch (code) {
    case Code::kOk:
      return v1::OK;
    case Code::kInvalidArgument:
      return v1::INVALID_ARGUMENT;
    case Code::kNotFound:
      return v1::NOT_FOUND;
    case Code::kAlreadyExists:
      return v1::ALREADY_EXISTS;
    case Code::kFailedPrecondition:
      return v1::FAILED_PRECONDITION;
    case Code::kPermissionDenied:
      return v1::PERMISSION_DENIED;
    case Code::kResourceExhausted:
      return v1::RESOURCE_EXHAUSTED;
    case Code::kUnavailable:
      return v1::UNAVAILABLE;
    case Code::kUnimplemented:
      return v1::UNIMPLEMENTED;
    case Code::kInternal:
      return v1::INTERNAL;
    case Code::kProtocol:
      return v1::MALFORMED_FRAME;
    case Code::kConflict:
      return v1::CONFLICT;
    case Code::kUnauthenticated:
      return v1::UNAUTHENTICATED;
  }
  return v1::INTERNAL;
}

Code from_wire(v1::StatusCode code) {
  switch (code) {
    case v1::OK:
      return Code::kOk;
    case v1::INVALID_ARGUMENT:
      return Code::kInvalidArgument;
    case v1::MALFORMED_FRAME:
    case v1::FRAME_TOO_LARGE:
    case v1::UNSUPPORTED_VERSION:
      return Code::kProtocol;
    case v1::NOT_FOUND:
      return Code::kNotFound;
    case v1::ALREADY_EXISTS:
      return Code::kAlreadyExists;
    case v1::FAILED_PRECONDITION:
      return Code::kFailedPrecondition;
    case v1::PERMISSION_DENIED:
      return Code::kPermissionDenied;
    case v1::RESOURCE_EXHAUSTED:
      return Code::kResourceExhausted;
    case v1::UNAVAILABLE:
      return Code::kUnavailable;
    case v1::UNIMPLEMENTED:
      return Code::kUnimplemented;
    case v1::CONFLICT:
      return Code::kConflict;
    case v1::UNAUTHENTICATED:
      return Code::kUnauthenticated;
    default:
      return Code::kInternal;
  }
}

void set_error(v1::Response& resp, const Error& err) {
  resp.mutable_status()->set_code(to_wire(err.code));
  resp.mutable_status()->set_message(err.describe());
}

void set_ok(v1::Response& resp, std::string message) {
  resp.mutable_status()->set_code(v1::OK);
  resp.mutable_status()->set_message(std::move(message));
}

}  // namespace corral::proto
