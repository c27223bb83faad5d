// Error and Result: the one error model used across every Corral module boundary.
// An Error carries a status code (mirrors the wire protocol's), the errno of a failed syscall (0
// otherwise), a message with context, and where it arose. Nothing throws across modules.
#pragma once

#include <cerrno>
#include <expected>
#include <source_location>
#include <string>
#include <string_view>

namespace corral {

// Kept in step with corral.v1.StatusCode; supervisor/status_map.cc converts between the two.
enum class Code {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kPermissionDenied,
  kResourceExhausted,
  kUnavailable,
  kUnimplemented,
  kInternal,
  kProtocol,         // the peer broke the wire protocol (bad frame, no common version)
  kConflict,         // an expected generation did not match: someone else changed it first
  kUnauthenticated,  // a signed request's signature, token, nonce or timestamp was refused
};

std::string_view code_name(Code code);

struct Error {
  Code code = Code::kInternal;
  int errnum = 0;       // errno of the failed syscall, 0 when not a syscall failure
  std::string message;  // what was being done, with the names involved
  const char* file = "";
  unsigned line = 0;

  // "message: strerror(errnum)" (or just the message when errnum is 0).
  [[nodiscard]] std::string describe() const;
  // Prefixes context: err.wrap("loading plugin 'x'") -> "loading plugin 'x': <message>".
  [[nodiscard]] Error wrap(std::string_view context) const&;
};

template <class T>
using Result = std::expected<T, Error>;

[[nodiscard]] inline std::unexpected<Error> make_error(
    Code code, std::string message, std::source_location loc = std::source_location::current()) {
  return std::unexpected<Error>(Error{code, 0, std::move(message), loc.file_name(), loc.line()});
}

// A failed syscall: captures errno at the call site (call it before anything can clobber errno).
[[nodiscard]] inline std::unexpected<Error> sys_error(
    std::string message, int errnum = errno,
    std::source_location loc = std::source_location::current()) {
  Code code = Code::kInternal;
  switch (errnum) {
    case EACCES:
    case EPERM:
      code = Code::kPermissionDenied;
      break;
    case ENOENT:
      code = Code::kNotFound;
      break;
    case EEXIST:
      code = Code::kAlreadyExists;
      break;
    case EINVAL:
      code = Code::kInvalidArgument;
      break;
    case ENOMEM:
    case EMFILE:
    case ENFILE:
    case ENOSPC:
    case EAGAIN:
      code = Code::kResourceExhausted;
      break;
    case ECONNREFUSED:
      code = Code::kUnavailable;
      break;
    default:
      break;
  }
  return std::unexpected<Error>(
      Error{code, errnum, std::move(message), loc.file_name(), loc.line()});
}

}  // namespace corral
