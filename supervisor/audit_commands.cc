// The Router's side of the store: the journal commit before a mutating command acts, the audit
// record before every answer, and the audit and admin commands.
#include <spdlog/spdlog.h>

#include "proto/status.h"
#include "supervisor/output_pipe.h"
#include "supervisor/plugin_manager.h"
#include "supervisor/router.h"
#include "supervisor/store/signing_key.h"
#include "supervisor/store_service.h"

namespace corral::supervisor {

PendingAudit pending_audit_of(const v1::Request& req, const std::string& correlation) {
  PendingAudit a;
  a.request_id = req.id();
  a.correlation_id = correlation;
  a.at_unix_ms = unix_now_ms();
  a.started = std::chrono::steady_clock::now();
  const auto* field = req.GetDescriptor()->FindFieldByNumber(req.command_case());
  if (field == nullptr) {
    a.command = "(none)";
    return a;
  }
  a.command = field->name();
  a.mutating = is_mutating(a.command);
  const auto& msg = req.GetReflection()->GetMessage(req, field);
  a.args_digest = store::to_hex(store::sha256(msg.SerializeAsString()));
  for (const char* n : {"name", "plugin"}) {
    const auto* f = msg.GetDescriptor()->FindFieldByName(n);
    if (f != nullptr && f->type() == google::protobuf::FieldDescriptor::TYPE_STRING &&
        !f->is_repeated()) {
      a.plugin = msg.GetReflection()->GetString(msg, f).substr(0, 128);
      break;
    }
  }
  return a;
}

std::optional<v1::Response> answer_after_audit(const PendingAudit& a, const v1::Response& resp,
                                               Result<Audited> audited,
                                               const Result<void>& synced) {
  if (audited && *audited == Audited::kQueued && a.mutating && resp.status().code() == v1::OK) {
    // A mutating command applied while the trail could not be written (the disk filled between
    // its journal commit and its record): the record waits in the backlog, and the answer says so.
    audited = std::unexpected(Error{Code::kResourceExhausted, 0,
                                    "the store stopped taking writes; the record waits in memory"});
  }
  if (audited) {
    if (a.mutating && !synced && resp.status().code() == v1::OK) {
      v1::Response out = resp;
      proto::set_error(out, synced.error().wrap("applied, but not known to be on disk"));
      return out;
    }
    return std::nullopt;
  }
  spdlog::error("audit: cannot record {}: {}", a.command, audited.error().describe());
  v1::Response out;
  out.set_id(resp.id());
  out.set_correlation_id(resp.correlation_id());
  std::string why = audited.error().describe();
  if (resp.status().code() != v1::OK) {
    // Already a refusal: its own reason stays first.
    out = resp;
    out.mutable_status()->set_message(resp.status().message() +
                                      " (and its audit record could not be written: " + why + ")");
  } else if (a.mutating) {
    proto::set_error(out, Error{Code::kInternal, audited.error().errnum,
                                a.command +
                                    " was applied (it is in the journal), but its audit "
                                    "record could not be written: " +
                                    why});
  } else {
    proto::set_error(out, Error{audited.error().code, audited.error().errnum,
                                "corrald answers no command it cannot audit: " + why});
  }
  return out;
}

void Router::audit(const Session& s, const PendingAudit& a, const v1::Response& resp,
                   AuditDone done) {
  if (store_ == nullptr) {
    if (done) done(Audited::kWritten, {});
    return;
  }
  auto cb = std::move(done);
  if (a.on_behalf.empty()) return store_->audit_command(s.peer(), a, resp, a.mutating, cb);
  // Who the signed request acted for, ahead of the result's message.
  v1::Response shown = resp;
  shown.mutable_status()->set_message("for " + a.on_behalf + ": " + resp.status().message());
  store_->audit_command(s.peer(), a, shown, a.mutating, cb);
}

void Router::refused(const Session& s, const std::string& what, const std::string& message) {
  if (store_ != nullptr) store_->audit_refusal(s.peer(), what, "resource exhausted", message);
}

bool Router::commit(Plugin& p, const std::string& command, bool acts,
                    std::optional<v1::Wanted> wanted, std::optional<uint64_t> expected,
                    v1::Response& resp) {
  if (store_ == nullptr) {
    if (expected && *expected != p.generation()) {
      proto::set_error(resp, Error{Code::kConflict, 0, "generation mismatch"});
      return false;
    }
    return true;
  }
  Result<void> ok;
  if (acts) {
    auto seq = store_->commit(p, command, wanted, expected, resp.correlation_id());
    if (!seq) ok = std::unexpected(seq.error());
  } else {
    ok = store_->check_generation(p, expected);
  }
  if (!ok) {
    proto::set_error(resp, ok.error());
    return false;
  }
  return true;
}

void Router::audit_commands(const Session& s, const v1::Request& req, v1::Response& resp) {
  if (store_ == nullptr) {
    return proto::set_error(resp, Error{Code::kFailedPrecondition, 0, "this corrald has no store"});
  }
  const bool admin =
      req.command_case() == v1::Request::kRotateKey || req.command_case() == v1::Request::kBackup;
  if (admin && s.peer().uid != 0) {
    const auto* f = req.GetDescriptor()->FindFieldByNumber(req.command_case());
    return proto::set_error(
        resp, Error{Code::kPermissionDenied, 0,
                    "permission denied: " + f->name() + " is an admin command (uid 0); uid " +
                        std::to_string(s.peer().uid) + " may not run it"});
  }
  switch (req.command_case()) {
    case v1::Request::kAudit:
      return store_->audit_query(req.audit(), resp);
    case v1::Request::kAuditVerify:
      return store_->audit_verify(resp);
    case v1::Request::kRotateKey:
      return store_->rotate_key(resp);
    case v1::Request::kBackup:
      return store_->backup(req.backup(), resp);
    default:
      return proto::set_error(resp, Error{Code::kUnimplemented, 0, "not a store command"});
  }
}

}  // namespace corral::supervisor
