// The manifest sections that feed telemetry: [thresholds] (warning/critical levels per metric)
// and the table form of [sandbox] network (an allow-list enforced by cgroup BPF on the host's
// stack). Used by parse_manifest; each problem is recorded on the reader with its key.
#pragma once

#include <optional>

#include <toml++/toml.h>

#include "collectors/net_policy.h"
#include "supervisor/thresholds.h"
#include "supervisor/toml_reader.h"

namespace corral::supervisor {

// [thresholds]: each key is a number (the warning level) or { warning = N, critical = M }.
// memory_percent needs an enforced memory limit (has_memory_limit).
void parse_thresholds(TomlReader& r, const toml::table& t, bool has_memory_limit,
                      ThresholdSettings& out);

// network = { allow = ["127.0.0.1:8080", ...], bind = ["0.0.0.0:8080"] } (collectors/net_policy.h
// has the entry grammar); nullopt after recording a problem.
[[nodiscard]] std::optional<collectors::NetPolicy> parse_network_table(TomlReader& r,
                                                                       const toml::table& t);

}  // namespace corral::supervisor
