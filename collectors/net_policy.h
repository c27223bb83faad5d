// NetPolicy: one plugin's network allow-list as plain data, and its text grammar. The BPF net
// collector enforces it in the kernel (connect/sendmsg destinations, bind addresses); nothing is
// implicit, loopback included. Parsing needs no privileges and rejects anything ambiguous.
//
// Entry grammar (one allowed address range and port; no spaces inside):
//   entry  = host ":" port
//   host   = "*"                           every IPv4 and IPv6 address
//          | IPV4 [ "/" LEN ]              dotted quad (inet_pton), LEN 0..32, default 32
//          | "[" IPV6 [ "/" LEN ] "]"      RFC 4291 text (inet_pton), LEN 0..128, default 128
//   port   = "*" | 1..65535                decimal, no sign, no leading zero; "*": any port
// Address bits past LEN must be zero ("10.0.0.1/8" is an error, write "10.0.0.0/8").
// IPv4-mapped IPv6 destinations (::ffff:a.b.c.d) are matched against the IPv4 entries.
// Examples: "127.0.0.1:8080", "10.0.0.0/8:443", "[::1]:8080", "[fd00::/8]:*", "*:53".
//
// Policy text (parse_net_policy_text, for config files and the fuzzer): one item per line,
//   "connect ENTRY" (connect() and UDP sendto() destinations) or "bind ENTRY" (bind() addresses);
// blank lines and lines starting with '#' are ignored.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace corral::collectors {

inline constexpr size_t kMaxNetRules = 32;  // per list; the kernel side scans a fixed array

struct NetRule {
  enum class Family : uint8_t { kAny, kV4, kV6 };
  Family family = Family::kAny;
  std::array<uint8_t, 16> addr{};  // network order; IPv4 uses the first 4 bytes; all zero: kAny
  uint8_t prefix_len = 0;          // 0..32 (v4), 0..128 (v6), 0 for kAny
  uint16_t port = 0;               // host order; 0: any port
  friend bool operator==(const NetRule&, const NetRule&) = default;
};

struct NetPolicy {
  std::vector<NetRule> connect;  // destinations of connect() (TCP, UDP) and sendto() (UDP)
  std::vector<NetRule> bind;     // local addresses bind() may take (port 0 asks for any port)
  friend bool operator==(const NetPolicy&, const NetPolicy&) = default;
};

// One entry; the error names the entry and says what is wrong with it.
[[nodiscard]] Result<NetRule> parse_net_rule(std::string_view entry);
// The canonical text of a rule (parse_net_rule(format_net_rule(r)) == r).
[[nodiscard]] std::string format_net_rule(const NetRule& rule);
// Both lists; at most kMaxNetRules each.
[[nodiscard]] Result<NetPolicy> parse_net_policy(std::span<const std::string> connect,
                                                 std::span<const std::string> bind);
[[nodiscard]] Result<NetPolicy> parse_net_policy_text(std::string_view text);
// The mask of a rule's prefix, in network order (all zero for kAny).
[[nodiscard]] std::array<uint8_t, 16> net_rule_mask(const NetRule& rule);
// The policy checked against the kernel side's limits (set_policy calls it).
[[nodiscard]] Result<void> validate_net_policy(const NetPolicy& policy);

}  // namespace corral::collectors
