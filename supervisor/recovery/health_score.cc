#include "supervisor/recovery/health_score.h"

#include <algorithm>
#include <cmath>

namespace corral::supervisor::recovery {

namespace {
constexpr size_t kMaxHits = 256;
constexpr double kLeakPoints = 20;
}  // namespace

double HealthScore::penalty(const Signal& s) {
  switch (s.kind) {
    case SignalKind::kExit:
      return s.failure ? 20 : 0;
    case SignalKind::kLaunchFailed:
      return 25;
    case SignalKind::kOomKill:
      return 30;
    case SignalKind::kSeccomp:
      return 40;
    case SignalKind::kThreshold:
      if (s.cleared) return 0;
      return s.severity == Severity::kCritical ? 15 : 5;
    case SignalKind::kLiveness:
    case SignalKind::kNotReady:
      return 20;
    case SignalKind::kLeak:  // counted while in force (HealthContext::leaks), not decayed
    case SignalKind::kProbeOk:
    case SignalKind::kReady:
    case SignalKind::kStable:
    case SignalKind::kOperator:
      return 0;
  }
  return 0;
}

void HealthScore::add(const Signal& s) {
  double p = penalty(s);
  if (p <= 0) return;
  hits_.push_back({s.at, p, std::string(signal_kind_name(s.kind)) + ": " + s.cause});
  while (hits_.size() > kMaxHits) hits_.pop_front();
}

double HealthScore::decayed(const Hit& h, Clock::time_point now) const {
  const double age = std::chrono::duration<double>(now - h.at).count();
  const double hl = std::chrono::duration<double>(half_life_).count();
  return h.points * std::exp2(-std::max(0.0, age) / hl);
}

double HealthScore::cap(const HealthContext& ctx, std::string* why) {
  auto say = [&](const char* w, double c) {
    if (why != nullptr) *why = w;
    return c;
  };
  if (ctx.phase == RecoveryPhase::kQuarantined) return say("quarantined", 0);
  if (ctx.phase == RecoveryPhase::kEscalated) return say("escalated", 0);
  if (ctx.breaker == BreakerState::kOpen) return say("breaker open", 20);
  if (ctx.wanted && !ctx.running) return say("not running", 30);
  if (ctx.breaker == BreakerState::kRepairing) return say("repairing", 50);
  if (ctx.phase == RecoveryPhase::kDegraded) return say("degraded", 50);
  if (ctx.breaker == BreakerState::kHalfOpen) return say("breaker half-open", 60);
  if (ctx.running && !ctx.ready) return say("not ready yet", 70);
  return 100;
}

int HealthScore::score(Clock::time_point now, const HealthContext& ctx) const {
  double total = 100 - kLeakPoints * ctx.leaks;
  for (const Hit& h : hits_) total -= decayed(h, now);
  total = std::min(total, cap(ctx, nullptr));
  return static_cast<int>(std::lround(std::clamp(total, 0.0, 100.0)));
}

std::vector<HealthPart> HealthScore::explain(Clock::time_point now, const HealthContext& ctx,
                                             size_t max_parts) const {
  std::vector<HealthPart> out;
  for (const Hit& h : hits_) {
    double p = decayed(h, now);
    if (p >= 0.5) out.push_back({h.what, p});
  }
  if (ctx.leaks != 0)
    out.push_back({std::to_string(ctx.leaks) + " leak alert(s)", kLeakPoints * ctx.leaks});
  std::sort(out.begin(), out.end(),
            [](const HealthPart& a, const HealthPart& b) { return a.points > b.points; });
  if (out.size() > max_parts) out.resize(max_parts);
  std::string why;
  double c = cap(ctx, &why);
  if (c < 100)
    out.insert(out.begin(),
               {"at most " + std::to_string(static_cast<int>(c)) + ": " + why, 100 - c});
  return out;
}

}  // namespace corral::supervisor::recovery
