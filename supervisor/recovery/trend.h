// Trend: least-squares line through a metric's samples of the last `window`, and the time it
// predicts until a limit. LeakDetector turns that into an edge-triggered alert: raised when the
// line rises steadily (r^2 >= min_r2) and reaches the limit within `horizon`, cleared when the
// prediction moves past twice the horizon or the line stops rising (leak detection before OOM).
#pragma once

#include <chrono>
#include <deque>
#include <optional>
#include <string>

#include "common/clock.h"

namespace corral::supervisor::recovery {

struct TrendFit {
  double slope_per_s = 0;  // units per second
  double r2 = 0;           // 0..1, how well the line fits
  double last = 0;         // the newest value
  size_t points = 0;
  double span_s = 0;  // newest - oldest sample time
};

class Trend {
 public:
  explicit Trend(std::chrono::milliseconds window = std::chrono::seconds(60)) : window_(window) {}
  void add(Clock::time_point at, double value);
  [[nodiscard]] std::optional<TrendFit> fit() const;  // nullopt: fewer than 3 points
  void clear() { points_.clear(); }

 private:
  std::chrono::milliseconds window_;
  std::deque<std::pair<Clock::time_point, double>> points_;
};

struct LeakSettings {
  std::chrono::milliseconds window{60000};
  std::chrono::milliseconds horizon{300000};  // alert when the limit is nearer than this
  std::chrono::milliseconds min_span{3000};   // the points must cover at least this long
  size_t min_points = 5;
  double min_r2 = 0.8;
};

struct LeakAlert {
  bool cleared = false;
  double eta_s = 0;  // predicted seconds to the limit (raised)
  TrendFit fit;
  [[nodiscard]] std::string describe(std::string_view metric, double limit) const;
};

class LeakDetector {
 public:
  LeakDetector(LeakSettings settings, double limit)
      : settings_(settings), limit_(limit), trend_(settings.window) {}
  // A new value; a change of the alert's state, if any.
  [[nodiscard]] std::optional<LeakAlert> on_value(Clock::time_point at, double value);
  // The prediction now: seconds to the limit (nullopt: not rising steadily).
  [[nodiscard]] std::optional<double> eta_s() const;
  [[nodiscard]] bool alerted() const { return alerted_; }
  [[nodiscard]] double limit() const { return limit_; }
  [[nodiscard]] std::optional<TrendFit> fit() const { return trend_.fit(); }

 private:
  LeakSettings settings_;
  double limit_;
  Trend trend_;
  bool alerted_ = false;
};

}  // namespace corral::supervisor::recovery
