// Parsers of kernel text files: split on whitespace and ':' by hand, numbers by std::from_chars,
// every index checked. Nothing here allocates more than the input's size.
#include "collectors/parsers.h"

#include <charconv>

namespace corral::collectors::parsers {

namespace {

constexpr std::string_view kSpace = " \t\n\r\v\f";

std::string_view trim(std::string_view s) {
  size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(kSpace);
  return s.substr(b, e - b + 1);
}

// Calls f(line) for every line, the last one even without a trailing newline.
template <class F>
void for_each_line(std::string_view text, F&& f) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    f(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

// Splits off the next whitespace-separated token of s.
std::string_view next_token(std::string_view& s) {
  size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) {
    s = {};
    return {};
  }
  s.remove_prefix(b);
  size_t e = s.find_first_of(kSpace);
  std::string_view tok = s.substr(0, e);
  s.remove_prefix(e == std::string_view::npos ? s.size() : e);
  return tok;
}

std::optional<uint64_t> digits(std::string_view s) {
  if (s.empty() || s[0] < '0' || s[0] > '9') return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// mountinfo escapes ' ', '\t', '\n' and '\\' as \ooo.
std::string unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      std::string_view o = s.substr(i + 1, 3);
      if (o[0] >= '0' && o[0] <= '3' && o[1] >= '0' && o[1] <= '7' && o[2] >= '0' && o[2] <= '7') {
        out.push_back(static_cast<char>((o[0] - '0') * 64 + (o[1] - '0') * 8 + (o[2] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

std::optional<uint64_t> u64(std::string_view text) { return digits(trim(text)); }

KeyValues key_values(std::string_view text) {
  KeyValues out;
  for_each_line(text, [&](std::string_view line) {
    std::string_view key = next_token(line);
    std::string_view value = next_token(line);
    if (key.empty() || !trim(line).empty()) return;
    if (auto v = digits(value)) out.insert_or_assign(std::string(key), *v);
  });
  return out;
}

uint64_t get(const KeyValues& kv, std::string_view key, uint64_t fallback) {
  auto it = kv.find(key);
  return it == kv.end() ? fallback : it->second;
}

std::optional<uint64_t> first_of(const KeyValues& kv,
                                 std::initializer_list<std::string_view> keys) {
  for (std::string_view k : keys) {
    if (auto it = kv.find(k); it != kv.end()) return it->second;
  }
  return std::nullopt;
}

std::optional<uint64_t> limit(std::string_view text) {
  std::string_view t = trim(text);
  if (t == "max") return 0;
  auto v = digits(t);
  if (!v) return std::nullopt;
  return *v >= kV1Unlimited ? 0 : *v;
}

std::optional<SchedStat> schedstat(std::string_view text) {
  std::string_view rest = text;
  auto a = digits(next_token(rest));
  auto b = digits(next_token(rest));
  auto c = digits(next_token(rest));
  if (!a || !b || !c || !trim(rest).empty()) return std::nullopt;
  return SchedStat{*a, *b, *c};
}

ProcCgroup proc_cgroup(std::string_view text) {
  ProcCgroup out;
  for_each_line(text, [&](std::string_view line) {
    size_t c1 = line.find(':');
    if (c1 == std::string_view::npos) return;
    size_t c2 = line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) return;
    auto id = digits(line.substr(0, c1));
    std::string_view ctrls = line.substr(c1 + 1, c2 - c1 - 1);
    std::string_view path = line.substr(c2 + 1);  // may itself contain ':'
    if (!id || path.empty() || path[0] != '/') return;
    if (*id == 0 && ctrls.empty()) {
      out.unified = std::string(path);
      return;
    }
    while (!ctrls.empty()) {
      size_t comma = ctrls.find(',');
      std::string_view c = ctrls.substr(0, comma);
      if (!c.empty()) out.v1.insert_or_assign(std::string(c), std::string(path));
      if (comma == std::string_view::npos) break;
      ctrls.remove_prefix(comma + 1);
    }
  });
  return out;
}

CgroupMounts cgroup_mounts(std::string_view mountinfo) {
  CgroupMounts out;
  for_each_line(mountinfo, [&](std::string_view line) {
    size_t sep = line.find(" - ");
    if (sep == std::string_view::npos) return;
    std::string_view head = line.substr(0, sep);
    std::string_view tail = line.substr(sep + 3);
    std::string_view f[5];
    for (auto& tok : f) tok = next_token(head);
    std::string_view fstype = next_token(tail);
    next_token(tail);  // source
    std::string_view options = next_token(tail);
    if (f[3].empty() || f[4].empty()) return;
    CgroupMount m{unescape(f[4]), unescape(f[3])};
    if (fstype == "cgroup2") {
      if (!out.unified) out.unified = std::move(m);
      return;
    }
    if (fstype != "cgroup") return;
    while (!options.empty()) {
      size_t comma = options.find(',');
      std::string_view o = options.substr(0, comma);
      static constexpr std::string_view kNotControllers[] = {
          "rw", "ro", "nosuid", "nodev", "noexec", "relatime", "xattr", "clone_children"};
      bool skip = o.empty() || o.find('=') != std::string_view::npos;
      for (std::string_view n : kNotControllers) skip = skip || o == n;
      if (!skip) out.v1.try_emplace(std::string(o), m);
      if (comma == std::string_view::npos) break;
      options.remove_prefix(comma + 1);
    }
  });
  return out;
}

std::optional<std::string> cgroup_dir(const CgroupMount& m, std::string_view path) {
  if (path.empty() || path[0] != '/') return std::nullopt;
  std::string_view root = m.root;
  if (root == "/") root = {};
  if (path.substr(0, root.size()) != root) return std::nullopt;
  std::string_view rest = path.substr(root.size());
  if (!rest.empty() && rest[0] != '/') return std::nullopt;  // "/a" is not under "/ab"
  if (rest == "/") rest = {};
  if (rest.find("/../") != std::string_view::npos || rest.ends_with("/..")) return std::nullopt;
  return m.mount_point + std::string(rest);
}

std::vector<pid_t> pid_list(std::string_view text) {
  std::vector<pid_t> out;
  for_each_line(text, [&](std::string_view line) {
    auto v = digits(trim(line));
    if (v && *v > 0 && *v <= 0x3fffffff) out.push_back(static_cast<pid_t>(*v));
  });
  return out;
}

std::optional<uint64_t> socket_inode(std::string_view link) {
  constexpr std::string_view kPrefix = "socket:[";
  if (!link.starts_with(kPrefix) || !link.ends_with(']')) return std::nullopt;
  return digits(link.substr(kPrefix.size(), link.size() - kPrefix.size() - 1));
}

}  // namespace corral::collectors::parsers
