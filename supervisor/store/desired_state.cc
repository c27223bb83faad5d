#include "supervisor/store/desired_state.h"

namespace corral::supervisor::store {

void DesiredState::apply(uint64_t seq, const std::string& plugin, int64_t at_unix_ms,
                         const v1::JournalBody& body) {
  seq_ = seq;
  auto& r = plugins_[plugin];
  r.set_name(plugin);
  // The generation counts changes to what is wanted of the plugin (registration, commands,
  // quarantine and escalation), not corrald's bookkeeping of its runs and breaker trips, which
  // would otherwise make every client's expected generation stale at each restart.
  switch (body.entry_case()) {
    case v1::JournalBody::kRunStarted:
    case v1::JournalBody::kRunEnded:
    case v1::JournalBody::kBreaker:
      break;
    default:
      r.set_generation(r.generation() + 1);
  }
  r.set_updated_unix_ms(at_unix_ms);
  switch (body.entry_case()) {
    case v1::JournalBody::kRegistered:
      r.set_registered(true);
      r.set_manifest_digest(body.registered().manifest_digest());
      r.set_manifest_path(body.registered().manifest_path());
      break;
    case v1::JournalBody::kUnregistered:
      r.set_registered(false);
      break;
    case v1::JournalBody::kWanted:
      r.set_wanted(body.wanted().wanted());
      // An operator's start, restart or reset ends quarantine and escalation.
      if (body.wanted().command() == "reset") {
        r.set_phase(v1::PHASE_NORMAL);
        r.clear_phase_cause();
        r.set_breaker_trips(0);
      }
      break;
    case v1::JournalBody::kPhase:
      r.set_phase(body.phase().phase());
      r.set_phase_cause(body.phase().cause());
      break;
    case v1::JournalBody::kBreaker:
      r.set_breaker_trips(body.breaker().trips());
      break;
    case v1::JournalBody::kRunStarted:
      *r.mutable_live_run() = body.run_started();
      break;
    case v1::JournalBody::kRunEnded:
      r.clear_live_run();
      break;
    case v1::JournalBody::ENTRY_NOT_SET:
      break;
  }
}

const v1::PluginRecord* DesiredState::find(const std::string& plugin) const {
  auto it = plugins_.find(plugin);
  return it == plugins_.end() ? nullptr : &it->second;
}

uint64_t DesiredState::generation(const std::string& plugin) const {
  const auto* r = find(plugin);
  return r == nullptr ? 0 : r->generation();
}

v1::Snapshot DesiredState::snapshot() const {
  v1::Snapshot s;
  s.set_seq(seq_);
  for (const auto& [name, r] : plugins_) *s.add_plugins() = r;
  return s;
}

DesiredState DesiredState::from_snapshot(const v1::Snapshot& s) {
  DesiredState d;
  d.seq_ = s.seq();
  for (const auto& r : s.plugins()) d.plugins_[r.name()] = r;
  return d;
}

const char* wanted_name(v1::Wanted w) {
  switch (w) {
    case v1::WANTED_UP:
      return "up";
    case v1::WANTED_DOWN:
      return "down";
    default:
      return "unspecified";
  }
}

const char* phase_name(v1::Phase p) {
  switch (p) {
    case v1::PHASE_QUARANTINED:
      return "quarantined";
    case v1::PHASE_ESCALATED:
      return "escalated";
    default:
      return "normal";
  }
}

}  // namespace corral::supervisor::store
