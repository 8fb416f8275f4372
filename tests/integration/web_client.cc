#include "tests/integration/web_client.hh"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

namespace weft::test::web {

using namespace std::chrono_literals;

sse_stream::sse_stream(std::uint16_t port, const std::string& path, const std::string& auth_header) {
  _fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  auto req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" + auth_header + "\r\n\r\n";
  REQUIRE(::write(_fd, req.data(), req.size()) == static_cast<ssize_t>(req.size()));
}

sse_stream::~sse_stream() { ::close(_fd); }

bool sse_stream::read_until(const std::string& needle, std::chrono::seconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (_data.find(needle) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{_fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    auto n = ::read(_fd, buf, sizeof buf);
    if (n <= 0) return false;
    _data.append(buf, static_cast<std::size_t>(n));
  }
  return true;
}

std::uint16_t web_port(stack& s) {
  std::ifstream in(s.runtime() + "/web.port");
  unsigned p = 0;
  in >> p;
  return static_cast<std::uint16_t>(p);
}

std::uint16_t wait_web_port(stack& s) {
  auto until = std::chrono::steady_clock::now() + 30s;
  while (web_port(s) == 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(20ms);
  return web_port(s);
}

std::string web_token(stack& s) {
  std::ifstream in(s.dir() + "/home/channels/web/token");
  std::string t;
  in >> t;
  return t;
}

std::vector<std::string> bearer(const std::string& token) { return {"Authorization: Bearer " + token}; }

http_reply post_message(std::uint16_t port, const std::string& token, const std::string& body) {
  return http(port, "POST", "/api/messages", body, "application/json", bearer(token));
}

}  // namespace weft::test::web
