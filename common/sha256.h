// SHA-256 of a byte string (32 raw bytes), through an EVP_MD fetched once and a per-thread
// digest context: OpenSSL 3's one-shot SHA256() fetches the algorithm on every call, which
// costs more than hashing a short record.
#pragma once

#include <string>
#include <string_view>

namespace corral {

[[nodiscard]] std::string sha256(std::string_view bytes);

}  // namespace corral
