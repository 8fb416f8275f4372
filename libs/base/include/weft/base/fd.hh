#pragma once
/// A file descriptor that closes itself: every fd weft opens is owned by exactly one
/// unique_fd, so an early return or an exception cannot leak it and nothing closes it twice.

#include <unistd.h>

#include <utility>

namespace weft {

class unique_fd {
 public:
  unique_fd() = default;
  /// Takes ownership of `fd` (-1: none).
  explicit unique_fd(int fd) : _fd(fd) {}
  unique_fd(unique_fd&& o) noexcept : _fd(std::exchange(o._fd, -1)) {}
  unique_fd& operator=(unique_fd&& o) noexcept {
    if (this != &o) reset(std::exchange(o._fd, -1));
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  int get() const { return _fd; }
  explicit operator bool() const { return _fd >= 0; }
  /// Gives the fd up without closing it.
  int release() { return std::exchange(_fd, -1); }
  /// Closes the held fd (if any) and holds `fd` instead. close() errors are not reported:
  /// on Linux the fd is gone either way, and a write error was reported by fsync before.
  void reset(int fd = -1) {
    if (_fd >= 0) ::close(_fd);
    _fd = fd;
  }

 private:
  int _fd = -1;
};

}  // namespace weft
