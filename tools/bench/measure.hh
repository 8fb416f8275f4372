#pragma once
// p50/p99 of repeated runs of one operation, for the benchmarks that time in-process calls.
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace weft::bench {

struct figures {
  double p50, p99;  ///< milliseconds
};

inline figures measure(int runs, const std::function<void()>& fn) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, static_cast<std::size_t>(ms.size() * 0.99))]};
}

}  // namespace weft::bench
