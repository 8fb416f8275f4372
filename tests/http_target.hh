#pragma once
/// A test's HTTP server on 127.0.0.1 (a free port), on a thread of its own: answers every
/// request with 200 and `text`, and counts the requests that reached it — a target a test
/// means to be reached, or one that must not be (hits stays 0).

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <string>
#include <thread>

#include <fmt/format.h>

#include <weft/base/fd.hh>

#include "tests/tcp_listener.hh"

namespace weft::test {

struct http_target {
  tcp_listener l{"127.0.0.1", /*nonblocking=*/true};
  std::atomic<int> hits{0};
  std::atomic<bool> stop{false};
  std::thread th;
  explicit http_target(std::string text) {
    th = std::thread([this, text = std::move(text)] {
      while (!stop) {
        pollfd p{l.fd.get(), POLLIN, 0};
        if (::poll(&p, 1, 50) != 1) continue;
        unique_fd c(::accept4(l.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!c) continue;
        std::string got;
        char buf[4096];
        timeval tv{5, 0};
        ::setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        while (got.find("\r\n\r\n") == std::string::npos) {
          auto n = ::recv(c.get(), buf, sizeof buf, 0);
          if (n <= 0) break;
          got.append(buf, static_cast<std::size_t>(n));
        }
        ++hits;
        auto answer = fmt::format("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                                  text.size(), text);
        (void)::send(c.get(), answer.data(), answer.size(), MSG_NOSIGNAL);
      }
    });
  }
  ~http_target() {
    stop = true;
    th.join();
  }
  std::uint16_t port() const { return l.port; }
};

}  // namespace weft::test
