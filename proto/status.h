// Conversion between corral::Code (in-process errors) and corral.v1.StatusCode (the wire).
#pragma once

#include "common/error.h"
#include "corral/v1/control.pb.h"

namespace corral::proto {

[[nodiscard]] v1::StatusCode to_wire(Code code);
[[nodiscard]] Code from_wire(v1::StatusCode code);
// Fills resp.status from an Error.
void set_error(v1::Response& resp, const Error& err);
void set_ok(v1::Response& resp, std::string message = {});

}  // namespace corral::proto
