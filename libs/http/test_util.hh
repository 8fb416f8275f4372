#pragma once
/// What the libs/http tests share: turning an event loop until something happened, and a
/// raw TCP peer on 127.0.0.1 that sends exactly the bytes a test wants.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include <doctest/doctest.h>

#include <weft/base/event_loop.hh>
#include <weft/base/fd.hh>

namespace weft::http::test {

/// Turns `loop` until `done()` (true) or, as a guard against a hang, 10 s (false).
template <class F>
bool pump_until(event_loop& loop, F done) {
  auto end = event_loop::clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (event_loop::clock::now() > end) return false;
    loop.run_once(std::chrono::milliseconds(5));
  }
  return true;
}

/// A non-blocking client socket; read() takes what arrived so far.
class raw_peer {
 public:
  explicit raw_peer(std::uint16_t port, int rcvbuf = 0) : _fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    REQUIRE(_fd);
    if (rcvbuf) ::setsockopt(_fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(_fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    ::fcntl(_fd.get(), F_SETFL, O_NONBLOCK);
  }
  void send(std::string_view bytes) {
    REQUIRE(::send(_fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
  }
  /// Reads what is there; true when something new arrived or the peer closed.
  bool read() {
    char buf[65536];
    bool any = false;
    for (;;) {
      auto n = ::recv(_fd.get(), buf, sizeof buf, 0);
      if (n > 0) {
        _got.append(buf, static_cast<std::size_t>(n));
        any = true;
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        any = any || !_closed;
        _closed = true;
      }
      return any;
    }
  }
  const std::string& got() const { return _got; }
  bool closed() const { return _closed; }
  /// Whether `needle` arrived (reads first).
  bool has(std::string_view needle) {
    read();
    return _got.find(needle) != std::string::npos;
  }
  bool is_closed() {
    read();
    return _closed;
  }

 private:
  unique_fd _fd;
  std::string _got;
  bool _closed = false;
};

}  // namespace weft::http::test
