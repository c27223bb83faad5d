// Tiny latency summary shared by the benchmarks: median, p90, p99 and mean of samples in µs
// (report), or p50, p99 and max in ms (report_ms).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <vector>

namespace corral::bench {

// The q-quantile (0..1) of already sorted samples: the nearest rank below (p99 of 30 samples is
// the second largest). Empty: 0.
inline double quantile_sorted(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  return sorted[static_cast<size_t>(q * static_cast<double>(sorted.size() - 1))];
}

inline void report(const char* label, std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return quantile_sorted(us, q); };
  double mean = std::accumulate(us.begin(), us.end(), 0.0) / static_cast<double>(us.size());
  std::printf("%-44s n=%-6zu p50=%9.1f us  p90=%9.1f us  p99=%9.1f us  mean=%9.1f us\n", label,
              us.size(), at(0.5), at(0.9), at(0.99), mean);
}

// Latencies in milliseconds: p50, p99 and the maximum.
inline void report_ms(const char* label, std::vector<double> ms) {
  if (ms.empty()) {
    std::printf("%-52s n=0\n", label);
    return;
  }
  std::sort(ms.begin(), ms.end());
  std::printf("%-52s n=%-4zu p50=%8.2f ms  p99=%8.2f ms  max=%8.2f ms\n", label, ms.size(),
              quantile_sorted(ms, 0.5), quantile_sorted(ms, 0.99), ms.back());
}

template <class F>
double time_us(F&& f) {
  auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace corral::bench
