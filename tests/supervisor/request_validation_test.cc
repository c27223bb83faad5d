// validate_request: every request corralctl sends passes; each rule's refusal is kInvalidArgument
// and begins with the field's path; unknown fields are refused in protocol v2 (anywhere in the
// message) and ignored in v1; bad values are shown escaped and cut short.
#include "supervisor/request_validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>
#include <string>

namespace corral::supervisor {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// "ok", or the refusal's message (after checking it is kInvalidArgument).
std::string verdict(const v1::Request& req, uint32_t version = 2) {
  auto r = validate_request(req, version);
  if (r) return "ok";
  EXPECT_EQ(r.error().code, Code::kInvalidArgument) << r.error().message;
  return r.error().message;
}

v1::RequestAuth valid_auth() {
  v1::RequestAuth a;
  a.set_client_id("web-backend.1");
  a.set_nonce(std::string(16, '\x5a'));
  a.set_signature(std::string(32, '\x01'));
  a.set_timestamp_unix_ms(1700000000000);
  auto* t = a.mutable_token();
  t->set_subject("Alice Example <alice@example.com>");
  t->set_session_id("sess-42");
  t->add_permissions("plugins.read");
  t->add_permissions("logs.read");
  t->set_expires_unix_ms(1700000060000);
  return a;
}

v1::Request start_of(const std::string& name) {
  v1::Request req;
  req.set_id(3);
  req.mutable_start()->set_name(name);
  return req;
}

v1::Request run_of(const std::string& exec) {
  v1::Request req;
  req.mutable_run()->set_exec(exec);
  return req;
}

void add_unknown(google::protobuf::Message& m) {
  m.GetReflection()->MutableUnknownFields(&m)->AddVarint(99, 1);
}

TEST(RequestValidation, EveryRequestCorralctlSendsPasses) {
  std::deque<v1::Request> all;  // stable addresses while it grows
  auto add = [&] {
    all.emplace_back();
    all.back().set_id(all.size());
    all.back().set_correlation_id("ctl-4242-" + std::to_string(all.size()));
    return &all.back();
  };
  auto* h = add()->mutable_hello();
  h->set_min_version(1);
  h->set_max_version(2);
  h->set_client_name("corralctl/0.1.0");
  add()->mutable_version();
  add()->mutable_list();
  add()->mutable_status()->set_name("p");
  add()->mutable_start()->set_name("p");
  add()->mutable_start()->set_expected_generation(7);
  all.back().mutable_start()->set_name("web.api_2-b");
  add()->mutable_stop()->set_name("p");
  add()->mutable_restart()->set_name("p");
  all.back().mutable_restart()->set_timeout_ms(5000);
  add()->mutable_logs()->set_name("p");
  all.back().mutable_logs()->set_tail(100);
  all.back().mutable_logs()->set_follow(true);
  add()->mutable_doctor();
  auto* run = add()->mutable_run();
  run->set_exec("/bin/true");
  run->add_args("--flag");
  run->add_args("with spaces and = signs");
  run->add_args("");
  (*run->mutable_env())["PATH"] = "/usr/bin:/bin";
  (*run->mutable_env())["_X1"] = "";
  run->set_working_dir("/");
  run->add_ro_binds("/opt");
  run->add_ro_binds("/srv/data:/data");
  run->add_binds("/var/tmp/w");
  run->set_seccomp_profile("strict");
  run->set_memory_max(256 << 20);
  run->set_pids_max(64);
  run->set_network("host");
  add()->mutable_run()->set_exec("/usr/bin/env");
  add()->mutable_stats();
  add()->mutable_stats()->set_name("p");
  add()->mutable_health()->set_name("p");
  add()->mutable_breakers();
  add()->mutable_reset()->set_name("p");
  auto* ev = add()->mutable_events();
  ev->set_plugin("p");
  ev->set_max(100);
  ev->set_follow(true);
  add()->mutable_events();
  auto* au = add()->mutable_audit();
  au->set_since_unix_ms(1700000000000);
  au->set_plugin("p");
  au->set_limit(100000);
  add()->mutable_audit_verify();
  add()->mutable_rotate_key();
  add()->mutable_backup()->set_path("/var/backups/corral-2024.db");
  auto* sub = add()->mutable_subscribe();
  sub->add_plugins("p");
  sub->add_plugins("q");
  sub->add_types("transition");
  sub->add_types("alert");
  sub->set_min_severity("warning");
  sub->set_after_seq(41);
  sub->set_follow(true);
  sub->set_max(500);
  add()->mutable_subscribe();
  for (const auto& req : all) {
    EXPECT_EQ(verdict(req, 1), "ok") << req.ShortDebugString();
    EXPECT_EQ(verdict(req, 2), "ok") << req.ShortDebugString();
  }
  // Signed, in v2.
  for (auto req : all) {
    *req.mutable_auth() = valid_auth();
    EXPECT_EQ(verdict(req, 2), "ok") << req.ShortDebugString();
  }
  v1::Request all_perms = start_of("p");
  *all_perms.mutable_auth() = valid_auth();
  all_perms.mutable_auth()->mutable_token()->add_permissions("*");
  all_perms.mutable_auth()->mutable_token()->clear_session_id();
  EXPECT_EQ(verdict(all_perms), "ok");
}

TEST(RequestValidation, NoCommandIsTheRoutersToAnswer) {
  v1::Request req;
  req.set_correlation_id(std::string(500, ' '));
  add_unknown(req);  // a command from a newer protocol: the router says UNIMPLEMENTED
  EXPECT_EQ(verdict(req, 2), "ok");
  EXPECT_EQ(verdict(req, 1), "ok");
}

TEST(RequestValidation, CorrelationId) {
  v1::Request req;
  req.mutable_list();
  req.set_correlation_id(std::string(128, 'c'));
  EXPECT_EQ(verdict(req), "ok");
  req.set_correlation_id(std::string(129, 'c'));
  EXPECT_THAT(verdict(req), StartsWith("correlation_id: 129 bytes; at most 128"));
  req.set_correlation_id("has space");
  EXPECT_THAT(verdict(req), StartsWith("correlation_id: \"has space\" must be printable ASCII"));
  req.set_correlation_id("tab\there");
  EXPECT_THAT(verdict(req), StartsWith("correlation_id: \"tab\\x09here\""));
}

TEST(RequestValidation, RequiredPluginNames) {
  struct Case {
    const char* path;
    void (*set)(v1::Request&, const std::string&);
  };
  const Case cases[] = {
      {"status.name",
       [](v1::Request& r, const std::string& n) { r.mutable_status()->set_name(n); }},
      {"start.name", [](v1::Request& r, const std::string& n) { r.mutable_start()->set_name(n); }},
      {"stop.name", [](v1::Request& r, const std::string& n) { r.mutable_stop()->set_name(n); }},
      {"restart.name",
       [](v1::Request& r, const std::string& n) { r.mutable_restart()->set_name(n); }},
      {"logs.name", [](v1::Request& r, const std::string& n) { r.mutable_logs()->set_name(n); }},
      {"health.name",
       [](v1::Request& r, const std::string& n) { r.mutable_health()->set_name(n); }},
      {"reset.name", [](v1::Request& r, const std::string& n) { r.mutable_reset()->set_name(n); }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path);
    v1::Request req;
    c.set(req, "");
    EXPECT_THAT(verdict(req), StartsWith(std::string(c.path) + ": required"));
    c.set(req, "../x");
    EXPECT_THAT(verdict(req),
                StartsWith(std::string(c.path) +
                           ": \"../x\" is not a valid plugin name (1-63 letters, digits, '-', "
                           "'_' or '.', starting with a letter or digit)"));
    c.set(req, "-x");
    EXPECT_THAT(verdict(req), StartsWith(std::string(c.path) + ": \"-x\" is not a valid"));
    c.set(req, std::string(64, 'a'));
    EXPECT_THAT(verdict(req), StartsWith(std::string(c.path) + ": \"aaaa"));
    c.set(req, std::string(63, 'a'));
    EXPECT_EQ(verdict(req), "ok");
  }
}

TEST(RequestValidation, OptionalPluginNames) {
  v1::Request req;
  req.mutable_stats();
  EXPECT_EQ(verdict(req), "ok");
  req.mutable_stats()->set_name("a/b");
  EXPECT_THAT(verdict(req), StartsWith("stats.name: \"a/b\" is not a valid plugin name"));
  req.mutable_events();
  EXPECT_EQ(verdict(req), "ok");
  req.mutable_events()->set_plugin("a b");
  EXPECT_THAT(verdict(req), StartsWith("events.plugin: \"a b\" is not a valid plugin name"));
  req.mutable_audit();
  EXPECT_EQ(verdict(req), "ok");
  req.mutable_audit()->set_plugin(".hidden");
  EXPECT_THAT(verdict(req), StartsWith("audit.plugin: \".hidden\" is not a valid plugin name"));
  req = run_of("/bin/true");
  EXPECT_EQ(verdict(req), "ok");
  req.mutable_run()->set_name("x:y");
  EXPECT_THAT(verdict(req), StartsWith("run.name: \"x:y\" is not a valid plugin name"));
}

TEST(RequestValidation, Ranges) {
  v1::Request req;
  req.mutable_stop()->set_name("p");
  req.mutable_stop()->set_timeout_ms(request_limits::kMaxStopTimeoutMs);
  EXPECT_EQ(verdict(req), "ok");
  req.mutable_stop()->set_timeout_ms(request_limits::kMaxStopTimeoutMs + 1);
  EXPECT_THAT(verdict(req), StartsWith("stop.timeout_ms: 600001; at most 600000"));
  req.mutable_restart()->set_name("p");
  req.mutable_restart()->set_timeout_ms(3600000);
  EXPECT_THAT(verdict(req), StartsWith("restart.timeout_ms: 3600000; at most 600000"));

  req.mutable_logs()->set_name("p");
  req.mutable_logs()->set_tail(100000);
  EXPECT_EQ(verdict(req), "ok");
  req.mutable_logs()->set_tail(100001);
  EXPECT_THAT(verdict(req), StartsWith("logs.tail: 100001; at most 100000"));

  req.mutable_events()->set_max(100000);
  EXPECT_EQ(verdict(req), "ok");
  req.mutable_events()->set_max(100001);
  EXPECT_THAT(verdict(req), StartsWith("events.max: 100001; at most 100000"));

  req.mutable_audit()->set_limit(100001);
  EXPECT_THAT(verdict(req), StartsWith("audit.limit: 100001; at most 100000"));
  req.mutable_audit()->set_limit(0);
  req.mutable_audit()->set_since_unix_ms(-1);
  EXPECT_THAT(verdict(req), StartsWith("audit.since_unix_ms: -1; must be >= 0"));
  req.mutable_audit()->set_since_unix_ms(0);
  EXPECT_EQ(verdict(req), "ok");
}

TEST(RequestValidation, HelloClientName) {
  v1::Request req;
  req.mutable_hello()->set_client_name("my tool 1.0");
  req.mutable_hello()->set_max_version(99);  // versions are the router's to judge
  EXPECT_EQ(verdict(req, 0), "ok");
  req.mutable_hello()->set_client_name(std::string(257, 'n'));
  EXPECT_THAT(verdict(req, 0), StartsWith("hello.client_name: 257 bytes; at most 256"));
  req.mutable_hello()->set_client_name("bell\a");
  EXPECT_THAT(verdict(req, 0), StartsWith("hello.client_name: \"bell\\x07\" must be printable"));
}

TEST(RequestValidation, RunExec) {
  EXPECT_THAT(verdict(run_of("")), StartsWith("run.exec: required"));
  EXPECT_THAT(verdict(run_of("bin/true")),
              StartsWith("run.exec: \"bin/true\" must be an absolute path"));
  EXPECT_THAT(verdict(run_of("/usr/../bin/true")),
              StartsWith("run.exec: \"/usr/../bin/true\" must be an absolute path without \"..\" "
                         "components"));
  EXPECT_THAT(verdict(run_of("/bin/..")), HasSubstr("without \"..\" components"));
  EXPECT_THAT(verdict(run_of("/./bin/true")), HasSubstr("without \".\" components"));
  EXPECT_THAT(verdict(run_of("/bin//true")), HasSubstr("without empty components"));
  EXPECT_THAT(verdict(run_of("/bin/")), HasSubstr("without empty components"));
  EXPECT_THAT(verdict(run_of(std::string("/bin/tr\0ue", 10))),
              StartsWith("run.exec: \"/bin/tr\\x00ue\" must not contain NUL bytes"));
  EXPECT_EQ(verdict(run_of("/" + std::string(4094, 'x'))), "ok");
  EXPECT_THAT(verdict(run_of("/" + std::string(4095, 'x'))),
              StartsWith("run.exec: 4096 bytes; at most 4095"));
  EXPECT_EQ(verdict(run_of("/opt/a..b/.hidden")), "ok") << "only whole components are special";
}

TEST(RequestValidation, RunArgs) {
  auto req = run_of("/bin/true");
  req.mutable_run()->add_args("ok");
  req.mutable_run()->add_args(std::string("a\0b", 3));
  EXPECT_THAT(verdict(req), StartsWith("run.args[1]: \"a\\x00b\" must not contain NUL bytes"));
  req.mutable_run()->set_args(1, std::string(128 << 10, 'a'));
  EXPECT_EQ(verdict(req), "ok");
  req.mutable_run()->set_args(1, std::string((128 << 10) + 1, 'a'));
  EXPECT_THAT(verdict(req), StartsWith("run.args[1]: 131073 bytes; at most 131072"));
  req = run_of("/bin/true");
  for (int i = 0; i < 4097; ++i) req.mutable_run()->add_args("x");
  EXPECT_THAT(verdict(req), StartsWith("run.args: 4097 entries; at most 4096"));
}

TEST(RequestValidation, RunEnv) {
  auto req = run_of("/bin/true");
  auto& env = *req.mutable_run()->mutable_env();
  env["A=B"] = "1";
  EXPECT_THAT(verdict(req), StartsWith("run.env: key \"A=B\" is not a valid variable name"));
  env.clear();
  env["1A"] = "1";
  EXPECT_THAT(verdict(req), StartsWith("run.env: key \"1A\" is not a valid variable name"));
  env.clear();
  env[std::string(257, 'K')] = "1";
  EXPECT_THAT(verdict(req), StartsWith("run.env: key \"KKKK"));
  env.clear();
  env[std::string(256, 'K')] = "1";
  EXPECT_EQ(verdict(req), "ok");
  env.clear();
  env["HOME"] = std::string("/ro\0ot", 6);
  EXPECT_THAT(verdict(req), StartsWith("run.env[\"HOME\"]: \"/ro\\x00ot\" must not contain NUL"));
  env["HOME"] = std::string((128 << 10) + 1, 'v');
  EXPECT_THAT(verdict(req), StartsWith("run.env[\"HOME\"]: 131073 bytes; at most 131072"));
  env.clear();
  for (int i = 0; i < 4097; ++i) env["V" + std::to_string(i)] = "";
  EXPECT_THAT(verdict(req), StartsWith("run.env: 4097 variables; at most 4096"));
}

TEST(RequestValidation, RunWorkingDirAndBinds) {
  auto req = run_of("/bin/true");
  req.mutable_run()->set_working_dir("tmp");
  EXPECT_THAT(verdict(req), StartsWith("run.working_dir: \"tmp\" must be an absolute path"));
  req.mutable_run()->set_working_dir("/tmp/");
  EXPECT_THAT(verdict(req), StartsWith("run.working_dir: \"/tmp/\" must be an absolute path"));
  req.mutable_run()->set_working_dir("/tmp");
  EXPECT_EQ(verdict(req), "ok");

  req.mutable_run()->add_ro_binds("/a");
  req.mutable_run()->add_ro_binds("/a:/b");
  req.mutable_run()->add_ro_binds("/a/../b");
  EXPECT_THAT(verdict(req), StartsWith("run.ro_binds[2]: \"/a/../b\" must be an absolute path "
                                       "without \"..\" components"));
  req.mutable_run()->set_ro_binds(2, "/a:rel");
  EXPECT_THAT(verdict(req), StartsWith("run.ro_binds[2]: target \"rel\" must be an absolute path"));
  req.mutable_run()->set_ro_binds(2, ":/b");
  EXPECT_THAT(verdict(req), StartsWith("run.ro_binds[2]: source \"\" must be an absolute path"));
  req.mutable_run()->set_ro_binds(2, "");
  EXPECT_THAT(verdict(req), StartsWith("run.ro_binds[2]: empty"));
  req.mutable_run()->clear_ro_binds();
  req.mutable_run()->add_binds("/w:/./x");
  EXPECT_THAT(verdict(req), StartsWith("run.binds[0]: target \"/./x\""));
  req.mutable_run()->clear_binds();
  for (int i = 0; i < 257; ++i) req.mutable_run()->add_binds("/w");
  EXPECT_THAT(verdict(req), StartsWith("run.binds: 257 entries; at most 256"));
}

TEST(RequestValidation, RunChoicesAndLimits) {
  auto req = run_of("/bin/true");
  for (const char* p : {"", "default", "strict", "none"}) {
    req.mutable_run()->set_seccomp_profile(p);
    EXPECT_EQ(verdict(req), "ok") << p;
  }
  req.mutable_run()->set_seccomp_profile("lax");
  EXPECT_THAT(verdict(req), StartsWith("run.seccomp_profile: \"lax\" is not one of \"default\", "
                                       "\"strict\", \"none\""));
  req.mutable_run()->clear_seccomp_profile();
  for (const char* n : {"", "none", "host"}) {
    req.mutable_run()->set_network(n);
    EXPECT_EQ(verdict(req), "ok") << n;
  }
  req.mutable_run()->set_network("bridge");
  EXPECT_THAT(verdict(req), StartsWith("run.network: \"bridge\" is not one of"));
  req.mutable_run()->clear_network();

  req.mutable_run()->set_pids_max(4194304);
  EXPECT_EQ(verdict(req), "ok");
  req.mutable_run()->set_pids_max(4194305);
  EXPECT_THAT(verdict(req), StartsWith("run.pids_max: 4194305; at most 4194304"));
  req.mutable_run()->clear_pids_max();

  req.mutable_run()->set_memory_max(4 << 20);
  EXPECT_EQ(verdict(req), "ok");
  req.mutable_run()->set_memory_max(uint64_t{1} << 50);
  EXPECT_EQ(verdict(req), "ok");
  req.mutable_run()->set_memory_max((4 << 20) - 1);
  EXPECT_THAT(verdict(req), StartsWith("run.memory_max: 4194303 bytes; must be 0 (no limit) or"));
  req.mutable_run()->set_memory_max((uint64_t{1} << 50) + 1);
  EXPECT_THAT(verdict(req), StartsWith("run.memory_max: "));
}

TEST(RequestValidation, BackupPath) {
  v1::Request req;
  req.mutable_backup();
  EXPECT_THAT(verdict(req), StartsWith("backup.path: required"));
  req.mutable_backup()->set_path("backup.db");
  EXPECT_THAT(verdict(req), StartsWith("backup.path: \"backup.db\" must be an absolute path"));
  req.mutable_backup()->set_path("/var/backups/");
  EXPECT_THAT(verdict(req), StartsWith("backup.path: \"/var/backups/\""));
  req.mutable_backup()->set_path("/");
  EXPECT_THAT(verdict(req), StartsWith("backup.path: \"/\" must name a file"));
  req.mutable_backup()->set_path("/var/../etc/shadow");
  EXPECT_THAT(verdict(req), StartsWith("backup.path: \"/var/../etc/shadow\""));
  req.mutable_backup()->set_path("/" + std::string(4095, 'b'));
  EXPECT_THAT(verdict(req), StartsWith("backup.path: 4096 bytes; at most 4095"));
}

TEST(RequestValidation, Subscribe) {
  v1::Request req;
  auto* s = req.mutable_subscribe();
  s->add_plugins("a");
  s->add_plugins("b/c");
  EXPECT_THAT(verdict(req), StartsWith("subscribe.plugins[1]: \"b/c\" is not a valid plugin name"));
  s->set_plugins(1, "");
  EXPECT_THAT(verdict(req), StartsWith("subscribe.plugins[1]: required"));
  s->set_plugins(1, "a");
  EXPECT_THAT(verdict(req), StartsWith("subscribe.plugins[1]: \"a\" is listed twice"));
  s->clear_plugins();
  for (int i = 0; i < 65; ++i) s->add_plugins("p" + std::to_string(i));
  EXPECT_THAT(verdict(req), StartsWith("subscribe.plugins: 65 entries; at most 64"));
  s->mutable_plugins()->RemoveLast();
  EXPECT_EQ(verdict(req), "ok");

  for (const char* t : {"signal", "transition", "action", "alert"}) s->add_types(t);
  EXPECT_EQ(verdict(req), "ok");
  s->add_types("signal");
  EXPECT_THAT(verdict(req), StartsWith("subscribe.types: 5 entries; at most 4"));
  s->clear_types();
  s->add_types("alert");
  s->add_types("alert");
  EXPECT_THAT(verdict(req), StartsWith("subscribe.types[1]: \"alert\" is listed twice"));
  s->set_types(1, "Alert");
  EXPECT_THAT(verdict(req), StartsWith("subscribe.types[1]: \"Alert\" is not one of \"signal\", "
                                       "\"transition\", \"action\", \"alert\""));
  s->clear_types();

  for (const char* sev : {"", "info", "warning", "critical"}) {
    s->set_min_severity(sev);
    EXPECT_EQ(verdict(req), "ok") << sev;
  }
  s->set_min_severity("error");
  EXPECT_THAT(verdict(req), StartsWith("subscribe.min_severity: \"error\" is not one of"));
  s->clear_min_severity();
  s->set_max(100000);
  EXPECT_EQ(verdict(req), "ok");
  s->set_max(100001);
  EXPECT_THAT(verdict(req), StartsWith("subscribe.max: 100001; at most 100000"));
}

TEST(RequestValidation, AuthNeedsProtocolV2) {
  auto req = start_of("p");
  *req.mutable_auth() = valid_auth();
  EXPECT_EQ(verdict(req, 1),
            "auth: signed requests need protocol v2; this connection negotiated v1");
  EXPECT_THAT(verdict(req, 0), StartsWith("auth: signed requests need protocol v2"));
  EXPECT_EQ(verdict(req, 2), "ok");
}

TEST(RequestValidation, AuthFields) {
  auto req = start_of("p");
  auto& a = *req.mutable_auth();
  a = valid_auth();
  a.clear_client_id();
  EXPECT_THAT(verdict(req), StartsWith("auth.client_id: required"));
  a.set_client_id("web backend");
  EXPECT_THAT(verdict(req), StartsWith("auth.client_id: \"web backend\" must be 1-64 letters"));
  a.set_client_id(std::string(65, 'c'));
  EXPECT_THAT(verdict(req), StartsWith("auth.client_id: "));
  a.set_client_id(std::string(64, 'c'));
  EXPECT_EQ(verdict(req), "ok");

  a.set_nonce(std::string(8, 'n'));
  EXPECT_EQ(verdict(req), "auth.nonce: 8 bytes; must be 16 to 64");
  a.set_nonce(std::string(65, 'n'));
  EXPECT_THAT(verdict(req), StartsWith("auth.nonce: 65 bytes; must be 16 to 64"));
  a.set_nonce(std::string(64, '\0'));
  EXPECT_EQ(verdict(req), "ok");

  a.set_signature(std::string(31, 's'));
  EXPECT_THAT(verdict(req), StartsWith("auth.signature: 31 bytes; must be 32"));
  a.set_signature(std::string(32, 's'));

  a.set_timestamp_unix_ms(0);
  EXPECT_THAT(verdict(req), StartsWith("auth.timestamp_unix_ms: 0; must be > 0"));
  a.set_timestamp_unix_ms(-5);
  EXPECT_THAT(verdict(req), StartsWith("auth.timestamp_unix_ms: -5; must be > 0"));
  a.set_timestamp_unix_ms(1);

  a.clear_token();
  EXPECT_THAT(verdict(req), StartsWith("auth.token: required"));
}

TEST(RequestValidation, AuthToken) {
  auto req = start_of("p");
  *req.mutable_auth() = valid_auth();
  auto& t = *req.mutable_auth()->mutable_token();
  t.clear_subject();
  EXPECT_THAT(verdict(req), StartsWith("auth.token.subject: required"));
  t.set_subject(" alice");
  EXPECT_THAT(verdict(req), StartsWith("auth.token.subject: \" alice\" must be printable ASCII"));
  t.set_subject("alice\n");
  EXPECT_THAT(verdict(req), StartsWith("auth.token.subject: \"alice\\x0a\""));
  t.set_subject(std::string(257, 's'));
  EXPECT_THAT(verdict(req), StartsWith("auth.token.subject: 257 bytes; at most 256"));
  t.set_subject(std::string(256, 's'));
  EXPECT_EQ(verdict(req), "ok");

  t.set_session_id("a b");
  EXPECT_THAT(verdict(req), StartsWith("auth.token.session_id: \"a b\" must be printable"));
  t.set_session_id(std::string(129, 'i'));
  EXPECT_THAT(verdict(req), StartsWith("auth.token.session_id: 129 bytes; at most 128"));
  t.set_session_id(std::string(128, 'i'));
  EXPECT_EQ(verdict(req), "ok");

  t.add_permissions("plugins.write");
  EXPECT_THAT(verdict(req), StartsWith("auth.token.permissions[2]: \"plugins.write\" is not a "
                                       "permission corrald knows (plugins.read, "));
  t.set_permissions(2, "logs.read");
  EXPECT_THAT(verdict(req), StartsWith("auth.token.permissions[2]: \"logs.read\" is listed twice"));
  t.clear_permissions();
  for (int i = 0; i < 65; ++i) t.add_permissions("*");
  EXPECT_THAT(verdict(req), StartsWith("auth.token.permissions: 65 entries; at most 64"));
  t.clear_permissions();
  EXPECT_EQ(verdict(req), "ok") << "a token with no permissions allows nothing, but is well-formed";

  t.set_expires_unix_ms(0);
  EXPECT_THAT(verdict(req), StartsWith("auth.token.expires_unix_ms: 0; must be > 0"));
}

TEST(RequestValidation, UnknownFieldsRefusedInV2IgnoredInV1) {
  auto top = start_of("p");
  add_unknown(top);
  EXPECT_EQ(verdict(top, 2),
            "request: field 99 is not part of protocol v2 as this corrald knows it; leave it out "
            "or upgrade corrald");
  EXPECT_EQ(verdict(top, 1), "ok");

  auto start = start_of("p");
  add_unknown(*start.mutable_start());
  EXPECT_THAT(verdict(start, 2), StartsWith("start: field 99 is not part of protocol v2"));
  EXPECT_EQ(verdict(start, 1), "ok");

  auto signed_req = start_of("p");
  *signed_req.mutable_auth() = valid_auth();
  add_unknown(*signed_req.mutable_auth()->mutable_token());
  EXPECT_THAT(verdict(signed_req, 2), StartsWith("auth.token: field 99 is not part of protocol"));
  add_unknown(*signed_req.mutable_auth());
  EXPECT_THAT(verdict(signed_req, 2), StartsWith("auth: field 99 "));

  v1::Request sub;
  sub.mutable_subscribe()->add_types("alert");
  sub.mutable_subscribe()
      ->GetReflection()
      ->MutableUnknownFields(sub.mutable_subscribe())
      ->AddLengthDelimited(7, "x");
  EXPECT_THAT(verdict(sub, 2), StartsWith("subscribe: field 7 is not part of protocol v2"));
  EXPECT_EQ(verdict(sub, 1), "ok");
}

TEST(RequestValidation, UnknownFieldsFromTheWire) {
  // StartRequest{name: "p"} followed by field 7 (varint 1), as a newer client would send it.
  std::string start = std::string("\x0a\x01p", 3) + std::string("\x38\x01", 2);
  std::string wire = "\x72" + std::string(1, static_cast<char>(start.size())) + start;
  v1::Request req;
  ASSERT_TRUE(req.ParseFromString(wire));
  ASSERT_TRUE(req.has_start());
  EXPECT_EQ(verdict(req, 2),
            "start: field 7 is not part of protocol v2 as this corrald knows it; leave it out or "
            "upgrade corrald");
  EXPECT_EQ(verdict(req, 1), "ok");
}

TEST(RequestValidation, BadValuesAreEscapedAndCut) {
  auto req = start_of(std::string("\x01\xff\"x\\", 5));
  EXPECT_THAT(verdict(req), StartsWith("start.name: \"\\x01\\xff\\\"x\\\\\" is not a valid"));
  req = start_of(std::string(1000, '\x80'));
  std::string msg = verdict(req);
  EXPECT_THAT(msg, StartsWith("start.name: \"\\x80"));
  EXPECT_THAT(msg, HasSubstr("\"... (1000 bytes) is not a valid plugin name"));
  EXPECT_LT(msg.size(), 80u * 4 + 200);
  for (char c : msg) {
    EXPECT_TRUE(c >= 0x20 && c <= 0x7e) << "unescaped byte " << int{c};
  }
  EXPECT_THAT(verdict(run_of("/" + std::string(5000, 'x'))), Not(HasSubstr("xxxxxxxxxx")));
}

TEST(RequestValidation, QuoteValue) {
  EXPECT_EQ(quote_value(""), "\"\"");
  EXPECT_EQ(quote_value("a b"), "\"a b\"");
  EXPECT_EQ(quote_value(std::string("\0\n\x7f", 3)), "\"\\x00\\x0a\\x7f\"");
  EXPECT_EQ(quote_value(std::string(80, 'a')), "\"" + std::string(80, 'a') + "\"");
  EXPECT_EQ(quote_value(std::string(81, 'a')), "\"" + std::string(80, 'a') + "\"... (81 bytes)");
}

}  // namespace
}  // namespace corral::supervisor
