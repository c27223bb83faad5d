#include "supervisor/recovery/trend.h"

#include <cmath>
#include <cstdio>

namespace corral::supervisor::recovery {

void Trend::add(Clock::time_point at, double value) {
  points_.emplace_back(at, value);
  while (!points_.empty() && points_.front().first < at - window_) points_.pop_front();
}

std::optional<TrendFit> Trend::fit() const {
  const size_t n = points_.size();
  if (n < 3) return std::nullopt;
  // Times relative to the oldest point, so the sums stay small.
  const auto t0 = points_.front().first;
  double st = 0, sv = 0;
  for (const auto& [at, v] : points_) {
    st += std::chrono::duration<double>(at - t0).count();
    sv += v;
  }
  const double mt = st / static_cast<double>(n);
  const double mv = sv / static_cast<double>(n);
  double stt = 0, stv = 0, svv = 0;
  for (const auto& [at, v] : points_) {
    const double dt = std::chrono::duration<double>(at - t0).count() - mt;
    const double dv = v - mv;
    stt += dt * dt;
    stv += dt * dv;
    svv += dv * dv;
  }
  TrendFit f;
  f.points = n;
  f.last = points_.back().second;
  f.span_s = std::chrono::duration<double>(points_.back().first - t0).count();
  if (stt <= 0) return f;
  f.slope_per_s = stv / stt;
  // A flat series fits a flat line perfectly; a rising one by how much of its spread the line
  // explains.
  f.r2 = svv <= 0 ? 1.0 : (stv * stv) / (stt * svv);
  return f;
}

std::optional<double> LeakDetector::eta_s() const {
  auto f = trend_.fit();
  if (!f || f->points < settings_.min_points ||
      f->span_s < std::chrono::duration<double>(settings_.min_span).count() ||
      f->slope_per_s <= 0 || f->r2 < settings_.min_r2) {
    return std::nullopt;
  }
  return std::max(0.0, (limit_ - f->last) / f->slope_per_s);
}

std::optional<LeakAlert> LeakDetector::on_value(Clock::time_point at, double value) {
  trend_.add(at, value);
  const auto eta = eta_s();
  const double horizon = std::chrono::duration<double>(settings_.horizon).count();
  if (!alerted_ && eta && *eta <= horizon) {
    alerted_ = true;
    return LeakAlert{false, *eta, *trend_.fit()};
  }
  if (alerted_ && (!eta || *eta > 2 * horizon)) {
    // The line may be gone (it stopped rising): report the last fit there is.
    auto f = trend_.fit();
    alerted_ = false;
    return LeakAlert{true, eta.value_or(0), f.value_or(TrendFit{})};
  }
  return std::nullopt;
}

std::string LeakAlert::describe(std::string_view metric, double limit) const {
  char buf[200];
  if (cleared) {
    std::snprintf(buf, sizeof buf, "%.*s no longer rising toward %.0f",
                  static_cast<int>(metric.size()), metric.data(), limit);
  } else {
    std::snprintf(buf, sizeof buf, "%.*s %.0f rising %.1f/s (r2 %.2f): %.0f in %.1f s",
                  static_cast<int>(metric.size()), metric.data(), fit.last, fit.slope_per_s, fit.r2,
                  limit, eta_s);
  }
  return buf;
}

}  // namespace corral::supervisor::recovery
