// Parsing and formatting of network allow-list entries (grammar in net_policy.h). Strict: every
// entry either means exactly one thing or is an error naming it; no DNS, no zones, no ranges.
#include "collectors/net_policy.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace corral::collectors {

namespace {

// The entry as an error message may show it: printable ASCII, at most 64 characters.
std::string shown(std::string_view entry) {
  std::string out;
  for (char c : entry.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (entry.size() > 64) out += "...";
  return out;
}

std::unexpected<Error> bad(std::string_view entry, std::string_view why) {
  return make_error(Code::kInvalidArgument,
                    "network entry '" + shown(entry) + "': " + std::string(why));
}

// Decimal without sign or leading zero (a lone "0" is allowed), at most 5 digits; -1 otherwise.
long decimal(std::string_view s) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return -1;
  long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return -1;
  return v;
}

size_t addr_bytes(NetRule::Family f) { return f == NetRule::Family::kV4 ? 4 : 16; }
unsigned max_prefix(NetRule::Family f) { return f == NetRule::Family::kV4 ? 32 : 128; }

// The mask of address byte i under a prefix of `prefix` bits.
uint8_t byte_mask(unsigned prefix, size_t i) {
  size_t bit = i * 8;
  if (prefix >= bit + 8) return 0xff;
  if (prefix <= bit) return 0;
  return static_cast<uint8_t>(0xffu << (8 - (prefix - bit)));
}

bool host_bits_zero(const NetRule& r) {
  for (size_t i = 0; i < addr_bytes(r.family); ++i) {
    if ((r.addr[i] & ~byte_mask(r.prefix_len, i)) != 0) return false;
  }
  for (size_t i = addr_bytes(r.family); i < r.addr.size(); ++i) {
    if (r.addr[i] != 0) return false;
  }
  return true;
}

Result<uint16_t> parse_port(std::string_view entry, std::string_view text) {
  if (text == "*") return 0;
  if (text.empty()) return bad(entry, "no port after ':' (write '*' for any port)");
  if (text == "0") return bad(entry, "port 0 is not a port (write '*' for any port)");
  long v = decimal(text);
  if (v < 0)
    return bad(entry,
               "port '" + shown(text) + "' is not a decimal number without sign or leading zero");
  if (v > 65535) return bad(entry, "port " + std::string(text) + " is above 65535");
  return static_cast<uint16_t>(v);
}

// "ADDR[/LEN]" of one family into r.
Result<void> parse_host(std::string_view entry, std::string_view text, NetRule& r) {
  std::string_view addr = text;
  std::string_view len;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    addr = text.substr(0, slash);
    len = text.substr(slash + 1);
    if (len.empty()) return bad(entry, "no prefix length after '/'");
  }
  const char* fam = r.family == NetRule::Family::kV4 ? "IPv4" : "IPv6";
  if (addr.empty() || addr.size() >= INET6_ADDRSTRLEN) {
    return bad(entry, std::string("'") + shown(addr) + "' is not an " + fam + " address");
  }
  char buf[INET6_ADDRSTRLEN] = {};
  std::memcpy(buf, addr.data(), addr.size());
  int af = r.family == NetRule::Family::kV4 ? AF_INET : AF_INET6;
  if (::inet_pton(af, buf, r.addr.data()) != 1) {
    return bad(entry, std::string("'") + shown(addr) + "' is not an " + fam + " address");
  }
  r.prefix_len = static_cast<uint8_t>(max_prefix(r.family));
  if (!len.empty()) {
    long v = decimal(len);
    if (v < 0 || v > static_cast<long>(max_prefix(r.family))) {
      return bad(entry, "prefix length '" + shown(len) + "' is not 0.." +
                            std::to_string(max_prefix(r.family)));
    }
    r.prefix_len = static_cast<uint8_t>(v);
  }
  if (!host_bits_zero(r)) {
    NetRule fixed = r;
    for (size_t i = 0; i < fixed.addr.size(); ++i) fixed.addr[i] &= byte_mask(fixed.prefix_len, i);
    std::string hint = format_net_rule(fixed);
    hint = hint.substr(0, hint.rfind(':'));
    return bad(entry, "address bits past the prefix are set (did you mean " + hint + "?)");
  }
  return {};
}

}  // namespace

Result<NetRule> parse_net_rule(std::string_view entry) {
  if (entry.empty()) return bad(entry, "empty");
  if (entry.size() > 128) return bad(entry, "longer than 128 characters");
  NetRule r;
  std::string_view port;
  if (entry[0] == '[') {
    size_t close = entry.find(']');
    if (close == std::string_view::npos) return bad(entry, "'[' without ']'");
    if (close + 1 >= entry.size() || entry[close + 1] != ':') {
      return bad(entry, "no ':PORT' after ']' (write '*' for any port)");
    }
    r.family = NetRule::Family::kV6;
    if (auto h = parse_host(entry, entry.substr(1, close - 1), r); !h)
      return std::unexpected(h.error());
    port = entry.substr(close + 2);
  } else {
    size_t colon = entry.rfind(':');
    if (colon == std::string_view::npos) return bad(entry, "no ':PORT' (write '*' for any port)");
    std::string_view host = entry.substr(0, colon);
    port = entry.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return bad(entry, "IPv6 addresses go in brackets, as in [::1]:8080");
    }
    if (host == "*") {
      r.family = NetRule::Family::kAny;
    } else {
      r.family = NetRule::Family::kV4;
      if (auto h = parse_host(entry, host, r); !h) return std::unexpected(h.error());
    }
  }
  auto p = parse_port(entry, port);
  if (!p) return std::unexpected(p.error());
  r.port = *p;
  return r;
}

std::array<uint8_t, 16> net_rule_mask(const NetRule& r) {
  std::array<uint8_t, 16> m{};
  if (r.family == NetRule::Family::kAny) return m;
  for (size_t i = 0; i < addr_bytes(r.family); ++i) m[i] = byte_mask(r.prefix_len, i);
  return m;
}

std::string format_net_rule(const NetRule& r) {
  std::string host;
  if (r.family == NetRule::Family::kAny) {
    host = "*";
  } else {
    char buf[INET6_ADDRSTRLEN] = {};
    int af = r.family == NetRule::Family::kV4 ? AF_INET : AF_INET6;
    if (::inet_ntop(af, r.addr.data(), buf, sizeof buf) == nullptr) return "<unprintable>";
    host = buf;
    if (r.prefix_len != max_prefix(r.family)) host += "/" + std::to_string(r.prefix_len);
    if (r.family == NetRule::Family::kV6) host = "[" + host + "]";
  }
  return host + ":" + (r.port == 0 ? std::string("*") : std::to_string(r.port));
}

Result<void> validate_net_policy(const NetPolicy& p) {
  for (const auto* list : {&p.connect, &p.bind}) {
    const char* what = list == &p.connect ? "connect" : "bind";
    if (list->size() > kMaxNetRules) {
      return make_error(Code::kInvalidArgument, std::string("too many ") + what + " entries: " +
                                                    std::to_string(list->size()) + " (at most " +
                                                    std::to_string(kMaxNetRules) + ")");
    }
    for (const NetRule& r : *list) {
      bool ok = r.family == NetRule::Family::kAny
                    ? r.prefix_len == 0 && r.addr == std::array<uint8_t, 16>{}
                    : r.prefix_len <= max_prefix(r.family) && host_bits_zero(r);
      if (!ok) {
        return make_error(Code::kInvalidArgument, std::string(what) + " rule '" +
                                                      format_net_rule(r) +
                                                      "' has a bad prefix or address bits past it");
      }
    }
  }
  return {};
}

Result<NetPolicy> parse_net_policy(std::span<const std::string> connect,
                                   std::span<const std::string> bind) {
  NetPolicy p;
  for (const auto& e : connect) {
    auto r = parse_net_rule(e);
    if (!r) return std::unexpected(r.error().wrap("connect"));
    p.connect.push_back(*r);
  }
  for (const auto& e : bind) {
    auto r = parse_net_rule(e);
    if (!r) return std::unexpected(r.error().wrap("bind"));
    p.bind.push_back(*r);
  }
  if (auto v = validate_net_policy(p); !v) return std::unexpected(v.error());
  return p;
}

Result<NetPolicy> parse_net_policy_text(std::string_view text) {
  std::vector<std::string> connect, bind;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
      line.remove_suffix(1);
    }
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line[0] == '#') continue;
    size_t sp = line.find_first_of(" \t");
    std::string_view verb = line.substr(0, sp);
    std::string_view entry;
    if (sp != std::string_view::npos) {
      entry = line.substr(sp + 1);
      while (!entry.empty() && (entry.front() == ' ' || entry.front() == '\t')) {
        entry.remove_prefix(1);
      }
    }
    auto where = "line " + std::to_string(line_no);
    if (verb != "connect" && verb != "bind") {
      return make_error(Code::kInvalidArgument,
                        where + ": '" + shown(verb) + "' is not 'connect' or 'bind'");
    }
    if (entry.empty())
      return make_error(Code::kInvalidArgument, where + ": no entry after " + std::string(verb));
    (verb == "connect" ? connect : bind).emplace_back(entry);
  }
  auto p = parse_net_policy(connect, bind);
  if (!p) return std::unexpected(p.error());
  return p;
}

}  // namespace corral::collectors
