// Tiny latency summary shared by the benchmarks: median, p90, p99 and mean of samples in µs.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <vector>

namespace corral::bench {

inline void report(const char* label, std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[static_cast<size_t>(q * static_cast<double>(us.size() - 1))];
  };
  double mean = std::accumulate(us.begin(), us.end(), 0.0) / static_cast<double>(us.size());
  std::printf("%-44s n=%-6zu p50=%9.1f us  p90=%9.1f us  p99=%9.1f us  mean=%9.1f us\n", label,
              us.size(), at(0.5), at(0.9), at(0.99), mean);
}

template <class F>
double time_us(F&& f) {
  auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace corral::bench
