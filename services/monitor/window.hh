#pragma once
/// A sliding-window sum in fixed memory: "how many tool calls in the last 60 s" without
/// keeping one timestamp per call. The window is cut into buckets; a value lands in the
/// bucket of its time, and a bucket older than the window counts for nothing. The answer
/// is exact to one bucket's width (60 one-second buckets: calls of the last 59 to 60 s).

#include <algorithm>
#include <cstdint>
#include <vector>

namespace weft::monitor {

/// Milliseconds on the monitor's own monotonic clock (tests pass their own).
using millis = std::int64_t;

class window_counter {
 public:
  /// A window of `span_ms` in `buckets` buckets (span_ms a multiple of buckets; both > 0).
  window_counter(millis span_ms, std::size_t buckets)
      : _width(span_ms / static_cast<millis>(buckets)), _sums(buckets, 0.0), _slots(buckets, -1) {}

  void add(millis now, double v = 1) {
    auto slot = now / _width;
    auto i = static_cast<std::size_t>(slot % static_cast<millis>(_sums.size()));
    if (_slots[i] != slot) _slots[i] = slot, _sums[i] = 0;
    _sums[i] += v;
  }

  /// The sum of the values added within the window that ends at `now`.
  double sum(millis now) const {
    auto slot = now / _width;
    auto oldest = slot - static_cast<millis>(_sums.size()) + 1;
    double s = 0;
    for (std::size_t i = 0; i < _sums.size(); ++i)
      if (_slots[i] >= oldest && _slots[i] <= slot) s += _sums[i];
    return s;
  }

  void clear() {
    std::fill(_sums.begin(), _sums.end(), 0.0);
    std::fill(_slots.begin(), _slots.end(), -1);
  }

 private:
  millis _width;
  std::vector<double> _sums;
  std::vector<millis> _slots;  // which bucket-width slot each bucket holds; -1: none
};

}  // namespace weft::monitor
