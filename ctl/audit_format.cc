#include "ctl/audit_format.h"

#include <ctime>
#include <sstream>

namespace corral::ctl {

namespace {

std::string utc(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms % 1000));
  return std::string(buf) + frac;
}

std::string who(const v1::AuditRecord& r) {
  if (r.kind() == "action") return "corrald";
  std::string exe = r.exe();
  auto slash = exe.rfind('/');
  if (slash != std::string::npos) exe = exe.substr(slash + 1);
  return "uid " + std::to_string(r.uid()) + " " + exe + "[" + std::to_string(r.pid()) + "]";
}

}  // namespace

std::string format_audit(const v1::AuditResponse& a) {
  std::ostringstream out;
  char line[512];
  std::snprintf(line, sizeof line, "%-7s %-24s %-30s %-13s %-16s %-18s %s\n", "SEQ", "TIME (UTC)",
                "WHO", "COMMAND", "PLUGIN", "RESULT", "DETAIL");
  out << line;
  for (const auto& r : a.records()) {
    std::string detail = r.message();
    if (r.kind() == "command")
      detail +=
          (detail.empty() ? "" : " ") + std::string("(") + std::to_string(r.duration_us()) + " us)";
    std::snprintf(line, sizeof line, "%-7llu %-24s %-30s %-13s %-16s %-18s ",
                  static_cast<unsigned long long>(r.seq()), utc(r.at_unix_ms()).c_str(),
                  who(r).c_str(), r.command().c_str(),
                  r.plugin().empty() ? "-" : r.plugin().c_str(), r.result().c_str());
    out << line << detail << "\n";
  }
  out << a.records_size() << " record(s); the trail is at seq " << a.last_seq()
      << ", signed through " << a.signed_seq() << "\n";
  return out.str();
}

std::string format_audit_verify(const v1::AuditVerifyResponse& v) {
  std::ostringstream out;
  out << (v.ok() ? "audit trail intact" : "AUDIT TRAIL TAMPERED WITH") << ": " << v.records()
      << " record(s), " << v.checkpoints() << " signed checkpoint(s) in " << v.store() << "\n";
  out << "  signed and verified through record " << v.signed_through() << " of " << v.last_seq();
  if (v.last_seq() > v.signed_through() && v.ok()) {
    out << " (" << v.last_seq() - v.signed_through()
        << " newer record(s) are chained, not yet signed)";
  }
  out << "\n  trusted keys:";
  for (const auto& k : v.trusted_keys()) out << " " << k;
  out << "\n";
  for (const auto& p : v.problems()) {
    out << "  record " << p.seq() << ": " << p.kind() << ": " << p.detail() << "\n";
  }
  return out.str();
}

std::optional<int64_t> parse_since(const std::string& s, int64_t now_ms) {
  if (s.empty()) return std::nullopt;
  char unit = s.back();
  std::string num = s.substr(0, s.size() - 1);
  auto digits = [](const std::string& d, size_t max) {
    return !d.empty() && d.find_first_not_of("0123456789") == std::string::npos && d.size() <= max;
  };
  if ((unit == 's' || unit == 'm' || unit == 'h' || unit == 'd') && digits(num, 9)) {
    int64_t mult = unit == 's' ? 1000 : unit == 'm' ? 60000 : unit == 'h' ? 3600000 : 86400000;
    return now_ms - std::stoll(num) * mult;
  }
  if (digits(s, 15)) return std::stoll(s);
  for (const char* fmt : {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"}) {
    std::tm tm{};
    const char* end = strptime(s.c_str(), fmt, &tm);
    if (end != nullptr && *end == '\0') return static_cast<int64_t>(timegm(&tm)) * 1000;
  }
  return std::nullopt;
}

}  // namespace corral::ctl
