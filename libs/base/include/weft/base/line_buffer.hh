#pragma once
/// A byte stream cut into lines as it arrives (a child's JSON-lines output, an SSE body):
/// each complete line goes to the caller without its '\n'; the unfinished rest waits for
/// more, up to a limit, so a peer that never ends a line cannot grow memory without bound.

#include <cstddef>
#include <string>
#include <string_view>

namespace weft {

class line_buffer {
 public:
  explicit line_buffer(std::size_t max_line) : _max(max_line) {}

  /// Calls `on_line(std::string_view)` for each line completed by `bytes`. False when the
  /// unfinished line is now longer than the limit: it is dropped (the caller decides
  /// whether that ends the stream).
  template <class F>
  bool feed(std::string_view bytes, F&& on_line) {
    _buf.append(bytes);
    std::size_t start = 0;
    for (auto nl = _buf.find('\n', start); nl != std::string::npos; nl = _buf.find('\n', start)) {
      on_line(std::string_view(_buf).substr(start, nl - start));
      start = nl + 1;
    }
    _buf.erase(0, start);
    if (_buf.size() <= _max) return true;
    _buf.clear();
    return false;
  }
  /// The last line, when the stream ended without a '\n'.
  template <class F>
  void finish(F&& on_line) {
    if (!_buf.empty()) on_line(std::string_view(_buf));
    _buf.clear();
  }

 private:
  std::size_t _max;
  std::string _buf;
};

}  // namespace weft
