#include "ctl/store_commands.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <iostream>

#include <google/protobuf/util/json_util.h>

#include "common/unique_fd.h"
#include "ctl/audit_format.h"
#include "ctl/client.h"
#include "ctl/exit_codes.h"
#include "supervisor/store/audit_verify.h"
#include "supervisor/store/backup.h"
#include "supervisor/store/signing_key.h"
#include "supervisor/store/sqlite.h"
#include "supervisor/store/store.h"

#ifndef CORRAL_VERSION
#define CORRAL_VERSION "0.0.0"
#endif

namespace corral::ctl {

namespace {

int fail(const Error& e) {
  std::cerr << "corralctl: " << e.describe() << "\n";
  return exit_code_for(e);
}

void print_json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(m, &out, o).ok()) return;
  std::cout << out << "\n" << std::flush;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The offline verification of a store file against a key directory.
int verify_offline(const StoreCommand& c) {
  auto db = supervisor::store::Db::open(c.db, false);
  if (!db) return fail(db.error());
  std::string keys = c.keys;
  if (keys.empty()) {
    auto slash = c.db.rfind('/');
    keys = (slash == std::string::npos ? std::string(".") : c.db.substr(0, slash)) + "/keys";
  }
  auto ring = supervisor::store::KeyRing::open_public(keys);
  if (!ring) return fail(ring.error().wrap("reading the trusted public keys (--keys)"));
  auto rep = supervisor::store::verify_audit(*db, ring->public_keys());
  if (!rep) return fail(rep.error());
  v1::AuditVerifyResponse v;
  v.set_ok(rep->ok());
  v.set_records(rep->records);
  v.set_checkpoints(rep->checkpoints);
  v.set_last_seq(rep->last_seq);
  v.set_signed_through(rep->signed_through);
  for (const auto& p : rep->problems) {
    auto* o = v.add_problems();
    o->set_seq(p.seq);
    o->set_kind(p.kind);
    o->set_detail(p.detail);
  }
  for (const auto& [id, pub] : ring->public_keys()) v.add_trusted_keys(id);
  v.set_store(c.db);
  if (c.json) {
    print_json(v);
  } else {
    std::cout << format_audit_verify(v);
  }
  return v.ok() ? kExitOk : kExitFailure;
}

int restore(const StoreCommand& c) {
  // corrald's own lock: held, corrald runs and its store must not be replaced under it.
  std::string lock = c.runtime_dir + "/corrald.lock";
  UniqueFd fd(::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd) return fail(sys_error("restore: cannot open " + lock).error());
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    return fail(Error{Code::kFailedPrecondition, 0,
                      "restore: corrald is running (it holds " + lock +
                          "); stop it first (systemctl stop corrald)"});
  }
  auto kept = supervisor::store::restore_store(c.file, c.state_dir);
  if (!kept) return fail(kept.error());
  std::cout << "restored " << c.file << " to " << supervisor::store::store_db_path(c.state_dir)
            << "\n";
  if (!kept->empty()) std::cout << "the store it replaced is kept as " << *kept << "\n";
  return kExitOk;
}

}  // namespace

int run_store_command(const StoreCommand& c) {
  if (c.name == "audit verify" && !c.db.empty()) return verify_offline(c);
  if (c.name == "admin restore") return restore(c);

  ClientOptions co;
  co.socket_path = c.socket.empty() ? default_socket_path() : c.socket;
  co.timeout = std::chrono::milliseconds(c.timeout_ms);
  co.client_name = std::string("corralctl/") + CORRAL_VERSION;
  auto client = Client::connect(co);
  if (!client) return fail(client.error());
  v1::Request req;
  if (c.name == "audit") {
    auto* a = req.mutable_audit();
    if (!c.since.empty()) {
      auto since = parse_since(c.since, now_ms());
      if (!since) {
        std::cerr << "corralctl: --since: \"" << c.since
                  << "\" is not a duration (10m, 2h, 1d), a date (2026-12-03[T10:15[:30]], UTC) "
                     "or unix milliseconds\n";
        return kExitUsage;
      }
      a->set_since_unix_ms(*since);
    }
    a->set_plugin(c.plugin);
    a->set_limit(c.limit);
  } else if (c.name == "audit verify") {
    req.mutable_audit_verify();
  } else if (c.name == "admin rotate-key") {
    req.mutable_rotate_key();
  } else if (c.name == "admin backup") {
    std::string path = c.file;
    if (!path.empty() && path[0] != '/') {
      char cwd[4096];
      if (::getcwd(cwd, sizeof cwd) != nullptr) path = std::string(cwd) + "/" + path;
    }
    req.mutable_backup()->set_path(path);
  } else {
    std::cerr << "corralctl: unknown command " << c.name << "\n";
    return kExitUsage;
  }
  auto resp = client->call(std::move(req));
  if (!resp) return fail(resp.error());
  if (auto st = check_status(*resp); !st) return fail(st.error());
  if (c.name == "audit") {
    if (c.json) return print_json(resp->audit()), kExitOk;
    std::cout << format_audit(resp->audit());
  } else if (c.name == "audit verify") {
    if (c.json) {
      print_json(resp->audit_verify());
    } else {
      std::cout << format_audit_verify(resp->audit_verify());
    }
    return resp->audit_verify().ok() ? kExitOk : kExitFailure;
  } else if (c.name == "admin rotate-key") {
    if (c.json) return print_json(resp->rotate_key()), kExitOk;
    std::cout << "signing key rotated: " << resp->rotate_key().old_key_id() << " -> "
              << resp->rotate_key().new_key_id()
              << " (the old public key is kept; old checkpoints still verify)\n";
  } else {
    if (c.json) return print_json(resp->backup()), kExitOk;
    const auto& b = resp->backup();
    std::cout << "backed up to " << b.path() << ": " << b.bytes() << " bytes, "
              << b.journal_entries() << " journal entries, " << b.audit_records()
              << " audit records\n";
  }
  return kExitOk;
}

}  // namespace corral::ctl
