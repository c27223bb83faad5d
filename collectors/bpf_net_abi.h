// Conversions between the net collector's plain data and bpf/net.h, the ABI its BPF programs
// share: a NetPolicy as the kernel-side rule arrays, and a ring-buffer record as an Event. Pure
// functions (no BPF needed), so unit tests check them against hand-made records.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>

#include "bpf/net.h"
#include "collectors/net_policy.h"
#include "collectors/telemetry.h"

namespace corral::collectors {

static_assert(sizeof(net_rule) == 40);
static_assert(sizeof(net_policy) == 8 + 2 * CORRAL_NET_MAX_RULES * sizeof(net_rule));
static_assert(sizeof(net_counters) == 11 * 8);
static_assert(sizeof(net_iter_live) == 16);
static_assert(sizeof(net_event) == 48);
static_assert(CORRAL_NET_MAX_RULES == kMaxNetRules);

// The policy as the kernel matches it (validate_net_policy first: this assumes it passed).
[[nodiscard]] net_policy to_kernel_policy(const NetPolicy& policy);
// "127.0.0.1:8080" / "[::1]:8080" from a hook's view (network order address and port).
[[nodiscard]] std::string format_endpoint(int family, const __u32 addr[4], __u16 port_be);
// A ring-buffer record as an Event; nullopt for a record of the wrong size or kind.
[[nodiscard]] std::optional<Event> decode_net_event(std::span<const std::byte> record);

}  // namespace corral::collectors
