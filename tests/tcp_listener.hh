#pragma once
/// A test's TCP listener on a loopback address with a free port: a target to reach, or a
/// door that must stay shut ("nothing arrived" is accepted_any() finding nothing).

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdint>

#include <weft/base/fd.hh>

namespace weft::test {

struct tcp_listener {
  unique_fd fd;
  std::uint16_t port = 0;
  /// Blocking unless `nonblocking` (then accept() never waits).
  explicit tcp_listener(const char* ip = "127.0.0.1", bool nonblocking = false)
      : fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0)) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    REQUIRE(::inet_pton(AF_INET, ip, &sa.sin_addr) == 1);
    socklen_t len = sizeof sa;
    REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    REQUIRE(::listen(fd.get(), 16) == 0);
    REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len) == 0);
    port = ntohs(sa.sin_port);
  }
  /// Whether a connection is waiting, without taking it.
  bool pending() {
    pollfd p{fd.get(), POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
  }
  /// Takes a waiting connection, if any: whether one had arrived.
  bool accepted_any() {
    if (!pending()) return false;
    return bool(unique_fd(::accept4(fd.get(), nullptr, nullptr, SOCK_CLOEXEC)));
  }
};

}  // namespace weft::test
