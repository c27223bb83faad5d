// Hex encoding of byte strings: lower-case digits out; either case in. Shared by the store
// (digests, keys) and the client-secret loader.
#pragma once

#include <string>
#include <string_view>

namespace corral {

[[nodiscard]] std::string to_hex(std::string_view bytes);
// The bytes, or empty when hex has an odd length or a non-hex digit.
[[nodiscard]] std::string from_hex(std::string_view hex);
// Whether every character is a hex digit (and there is at least one).
[[nodiscard]] bool is_hex(std::string_view s);

}  // namespace corral
