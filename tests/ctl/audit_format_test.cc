// corralctl's audit rendering and --since parsing.
#include "ctl/audit_format.h"

#include <gmock/gmock.h>

namespace corral::ctl {
namespace {

using ::testing::HasSubstr;

TEST(ParseSince, DurationsDatesAndMilliseconds) {
  const int64_t now = 1'800'000'000'000;
  EXPECT_EQ(parse_since("90s", now), now - 90'000);
  EXPECT_EQ(parse_since("10m", now), now - 600'000);
  EXPECT_EQ(parse_since("2h", now), now - 7'200'000);
  EXPECT_EQ(parse_since("1d", now), now - 86'400'000);
  EXPECT_EQ(parse_since("2026-12-03", now), 1'796'256'000'000);
  EXPECT_EQ(parse_since("2026-12-03T10:15", now),
            1'796'256'000'000 + (10 * 3600 + 15 * 60) * 1000ll);
  EXPECT_EQ(parse_since("2026-12-03T10:15:30", now),
            1'796'256'000'000 + (10 * 3600 + 15 * 60 + 30) * 1000ll);
  EXPECT_EQ(parse_since("1796256000000", now), 1'796'256'000'000);
  for (const char* bad : {"", "m", "10x", "-5m", "2026-13-45x", "yesterday", "10 m"}) {
    EXPECT_EQ(parse_since(bad, now), std::nullopt) << bad;
  }
}

TEST(AuditFormat, RecordsAndVerdicts) {
  v1::AuditResponse a;
  auto* r = a.add_records();
  r->set_seq(7);
  r->set_at_unix_ms(1'796'256'000'123);
  r->set_kind("command");
  r->set_uid(0);
  r->set_pid(42);
  r->set_exe("/usr/bin/corralctl");
  r->set_command("stop");
  r->set_plugin("web");
  r->set_result("ok");
  r->set_message("stopped");
  r->set_duration_us(350);
  auto* x = a.add_records();
  x->set_seq(8);
  x->set_kind("action");
  x->set_command("alert");
  x->set_plugin("web");
  x->set_result("ok");
  x->set_message("escalated: restart intensity");
  a.set_last_seq(8);
  a.set_signed_seq(7);
  std::string out = format_audit(a);
  EXPECT_THAT(out, HasSubstr("2026-12-03T00:00:00.123Z"));
  EXPECT_THAT(out, HasSubstr("uid 0 corralctl[42]"));
  EXPECT_THAT(out, HasSubstr("stopped (350 us)"));
  EXPECT_THAT(out, HasSubstr("corrald"));
  EXPECT_THAT(out, HasSubstr("2 record(s); the trail is at seq 8, signed through 7"));

  v1::AuditVerifyResponse v;
  v.set_ok(false);
  v.set_records(8);
  v.set_last_seq(8);
  v.set_signed_through(3);
  auto* p = v.add_problems();
  p->set_seq(4);
  p->set_kind("edited");
  p->set_detail("record 4's content does not match its hash");
  EXPECT_THAT(format_audit_verify(v), HasSubstr("AUDIT TRAIL TAMPERED WITH"));
  EXPECT_THAT(format_audit_verify(v), HasSubstr("record 4: edited: record 4's content"));
  v.clear_problems();
  v.set_ok(true);
  EXPECT_THAT(format_audit_verify(v), HasSubstr("5 newer record(s) are chained, not yet signed"));
}

}  // namespace
}  // namespace corral::ctl
