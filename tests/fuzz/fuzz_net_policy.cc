// libFuzzer: network allow-list text (net_policy.h) must become a policy within the kernel
// side's limits whose every rule formats to text that parses back to the same rule, or a
// non-empty error; never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "collectors/net_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  using corral::collectors::NetRule;
  auto p = corral::collectors::parse_net_policy_text(text);
  if (!p) {
    if (p.error().message.empty()) std::abort();
  } else {
    if (!corral::collectors::validate_net_policy(*p)) std::abort();
    for (const auto* list : {&p->connect, &p->bind}) {
      for (const NetRule& r : *list) {
        auto again = corral::collectors::parse_net_rule(corral::collectors::format_net_rule(r));
        if (!again || !(*again == r)) std::abort();
      }
    }
  }
  // The first line alone, as one entry.
  auto r = corral::collectors::parse_net_rule(text.substr(0, text.find('\n')));
  if (r) {
    auto again = corral::collectors::parse_net_rule(corral::collectors::format_net_rule(*r));
    if (!again || !(*again == *r)) std::abort();
  } else if (r.error().message.empty()) {
    std::abort();
  }
  return 0;
}
