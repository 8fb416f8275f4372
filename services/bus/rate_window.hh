#pragma once
/// How a throttled agent's tool calls are counted: at most `per_minute` admitted in any 60
/// seconds. Exact (one timestamp per admitted call, so at most per_minute of them: the bus
/// caps the rate it accepts); a refused call is not counted, so an agent that keeps trying
/// does not push its own window forward.

#include <cstdint>
#include <deque>

namespace weft::bus {

class rate_window {
 public:
  static constexpr std::int64_t span_ms = 60000;

  explicit rate_window(std::uint32_t per_minute) : _rate(per_minute) {}

  /// The call at `now_ms` is within the rate (and is counted), or not.
  bool admit(std::int64_t now_ms) {
    forget(now_ms);
    if (_times.size() >= _rate) return false;
    _times.push_back(now_ms);
    return true;
  }

  /// Milliseconds from `now_ms` until a call would be admitted; 0: now.
  std::int64_t wait_ms(std::int64_t now_ms) {
    forget(now_ms);
    if (_times.size() < _rate) return 0;
    if (_times.empty()) return span_ms;  // a rate of 0 admits nothing
    return _times.front() + span_ms - now_ms;
  }

  std::uint32_t rate() const { return _rate; }
  /// A new rate; the calls admitted so far still count against it.
  void set_rate(std::uint32_t per_minute) { _rate = per_minute; }

 private:
  void forget(std::int64_t now_ms) {
    // A clock that went back leaves newer stamps in place: they age out when it catches up.
    while (!_times.empty() && _times.front() <= now_ms - span_ms) _times.pop_front();
  }

  std::uint32_t _rate;
  std::deque<std::int64_t> _times;  // when the admitted calls of the window came, oldest first
};

}  // namespace weft::bus
