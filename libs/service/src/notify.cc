#include <weft/service/notify.hh>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace weft::service {

notifier notifier::from_env() {
  notifier n;
  auto usec = [](const char* name) -> long long {
    const char* v = std::getenv(name);
    return v ? std::atoll(v) : 0;
  };
  if (const char* fd = std::getenv("WEFT_NOTIFY_FD"); fd && *fd) {
    n._fd = std::atoi(fd);
    n._interval = std::chrono::milliseconds(usec("WEFT_WATCHDOG_USEC") / 2000);
    // Children of this process must not inherit our supervisor channel.
    ::unsetenv("WEFT_NOTIFY_FD");
    ::unsetenv("WEFT_WATCHDOG_USEC");
  } else if (const char* path = std::getenv("NOTIFY_SOCKET"); path && *path) {
    n._fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    n._path = path;
    n._interval = std::chrono::milliseconds(usec("WATCHDOG_USEC") / 2000);
  }
  return n;
}

std::chrono::milliseconds notifier::beat_if_due(std::chrono::milliseconds idle) {
  if (_interval.count() <= 0) return idle;
  auto now = std::chrono::steady_clock::now();
  if (now >= _next_beat) {
    (void)heartbeat();
    _next_beat = now + _interval;
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(_next_beat - now);
}

notifier::notifier(notifier&& o) noexcept
    : _fd(o._fd), _path(std::move(o._path)), _interval(o._interval), _next_beat(o._next_beat) {
  o._fd = -1;
}
notifier& notifier::operator=(notifier&& o) noexcept {
  if (this != &o) {
    if (_fd >= 0) ::close(_fd);
    _fd = o._fd;
    _path = std::move(o._path);
    _interval = o._interval;
    _next_beat = o._next_beat;
    o._fd = -1;
  }
  return *this;
}
notifier::~notifier() {
  if (_fd >= 0) ::close(_fd);
}

status notifier::send(std::string_view state) {
  if (_fd < 0) return {};
  ssize_t r;
  if (_path.empty()) {
    r = ::send(_fd, state.data(), state.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  } else {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (_path.size() >= sizeof sa.sun_path)
      return fail(errc::invalid_argument, "NOTIFY_SOCKET '{}' is too long", _path);
    std::memcpy(sa.sun_path, _path.data(), _path.size());
    if (sa.sun_path[0] == '@') sa.sun_path[0] = '\0';  // abstract namespace
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + _path.size());
    r = ::sendto(_fd, state.data(), state.size(), MSG_NOSIGNAL | MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&sa), len);
  }
  if (r < 0) return fail(errc::io, "Failed to notify the supervisor: {}", std::strerror(errno));
  return {};
}

}  // namespace weft::service
