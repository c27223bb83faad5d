#include "sandbox/cgroup_layout.h"

#include <sstream>

#include "common/files.h"

namespace corral::sandbox {

std::string_view cgroup_mode_name(CgroupMode m) {
  switch (m) {
    case CgroupMode::kNone:
      return "none";
    case CgroupMode::kUnified:
      return "unified (cgroup v2)";
    case CgroupMode::kHybrid:
      return "hybrid (cgroup v1 controllers + cgroup2)";
    case CgroupMode::kLegacy:
      return "legacy (cgroup v1)";
  }
  return "?";
}

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    size_t p = s.find(sep);
    out.push_back(s.substr(0, p));
    if (p == std::string_view::npos) break;
    s.remove_prefix(p + 1);
  }
  return out;
}

// mountinfo escapes space, tab, newline and backslash in paths as \ooo.
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && s.size() - i >= 4) {
      auto oct = [&](size_t k) { return s[k] >= '0' && s[k] <= '7'; };
      int v = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
      if (oct(i + 1) && oct(i + 2) && oct(i + 3) && v < 256) {
        out += static_cast<char>(v);
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

}  // namespace

CgroupLayout parse_cgroup_layout(std::string_view mountinfo) {
  CgroupLayout layout;
  for (auto line : split(mountinfo, '\n')) {
    // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
    auto dash = line.find(" - ");
    if (dash == std::string_view::npos) continue;
    auto left = split(line.substr(0, dash), ' ');
    auto right = split(line.substr(dash + 3), ' ');
    if (left.size() < 5 || right.size() < 3) continue;
    std::string mountpoint = unescape(left[4]);
    if (right[0] == "cgroup2") {
      if (layout.unified.empty()) layout.unified = mountpoint;
    } else if (right[0] == "cgroup") {
      for (auto opt : split(right[2], ',')) {
        if (opt == "rw" || opt == "ro" || opt.starts_with("name=") || opt.find('=') != opt.npos) {
          continue;
        }
        if (!opt.empty()) layout.v1.emplace(std::string(opt), mountpoint);
      }
    }
  }
  if (!layout.v1.empty()) {
    layout.mode = layout.unified.empty() ? CgroupMode::kLegacy : CgroupMode::kHybrid;
  } else if (!layout.unified.empty()) {
    layout.mode = CgroupMode::kUnified;
  }
  return layout;
}

Result<CgroupLayout> detect_cgroup_layout() {
  auto text = read_file("/proc/self/mountinfo", 4 << 20);
  if (!text) return std::unexpected(text.error());
  return parse_cgroup_layout(*text);
}

Result<std::vector<std::string>> v2_controllers(const std::string& dir) {
  auto text = read_file(dir + "/cgroup.controllers");
  if (!text) return std::unexpected(text.error());
  std::vector<std::string> out;
  std::istringstream in(*text);
  std::string c;
  while (in >> c) out.push_back(c);
  return out;
}

}  // namespace corral::sandbox
