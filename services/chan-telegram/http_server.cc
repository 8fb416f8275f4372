#include "http_server.hh"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace weft::chan {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

result<listen_address> parse_listen(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return fail(errc::invalid_argument, "'{}' is not host:port", text);
  listen_address a;
  a.host = std::string(text.substr(0, colon));
  if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']') a.host = a.host.substr(1, a.host.size() - 2);
  if (a.host == "localhost") a.host = "127.0.0.1";
  auto p = std::string(text.substr(colon + 1));
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos || std::stoul(p) > 65535)
    return fail(errc::invalid_argument, "'{}' has no valid port", text);
  a.port = static_cast<std::uint16_t>(std::stoul(p));
  return a;
}

bool is_loopback(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr a{};
  if (::inet_pton(AF_INET, std::string(host).c_str(), &a) != 1) return false;
  return (ntohl(a.s_addr) >> 24) == 127;
}

result<std::unique_ptr<http_server>> http_server::listen(const listen_address& where, server_options opts,
                                                         std::string log_name) {
  bool v6 = where.host.find(':') != std::string::npos;
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(errc::io, "Failed to create a socket: {}", std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(where.port);
    if (::inet_pton(AF_INET6, where.host.c_str(), &s6->sin6_addr) != 1) {
      ::close(fd);
      return fail(errc::invalid_argument, "Failed to listen on '[{}]:{}': not an IP address", where.host, where.port);
    }
    len = sizeof *s6;
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(where.port);
    if (::inet_pton(AF_INET, where.host.c_str(), &s4->sin_addr) != 1) {
      ::close(fd);
      return fail(errc::invalid_argument, "Failed to listen on '{}:{}': not an IP address", where.host, where.port);
    }
    len = sizeof *s4;
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 128) != 0) {
    auto e = errno;
    ::close(fd);
    return fail(errc::io, "Failed to listen on '{}:{}': {}", where.host, where.port, std::strerror(e));
  }
  len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  std::uint16_t port = v6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                          : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return std::unique_ptr<http_server>(new http_server(fd, port, std::move(opts), std::move(log_name)));
}

http_server::http_server(int fd, std::uint16_t port, server_options opts, std::string log_name)
    : _listen_fd(fd), _port(port), _opts(std::move(opts)), _log(log::get(log_name)) {}

http_server::~http_server() {
  for (auto& [id, c] : _conns) ::close(c.fd);
  ::close(_listen_fd);
}

std::vector<pollfd> http_server::poll_fds() const {
  std::vector<pollfd> v;
  v.push_back({_listen_fd, POLLIN, 0});
  for (auto& [id, c] : _conns) {
    short ev = 0;
    // Read while reading a request, and on any connection to notice the peer closing.
    if (c.st == state::reading || c.st == state::waiting || c.st == state::streaming) ev |= POLLIN;
    if (!c.out.empty()) ev |= POLLOUT;
    v.push_back({c.fd, ev, 0});
  }
  return v;
}

void http_server::handle(const std::vector<pollfd>& ready) {
  for (auto& p : ready) {
    if (!p.revents) continue;
    if (p.fd == _listen_fd) {
      accept_all();
      continue;
    }
    auto it = _by_fd.find(p.fd);
    if (it == _by_fd.end()) continue;
    auto id = it->second;
    if (p.revents & POLLOUT) on_writable(id);
    if (!_conns.count(id)) continue;
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) on_readable(id);
  }
}

void http_server::accept_all() {
  for (;;) {
    int fd = ::accept4(_listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (_conns.size() >= _opts.max_connections) {
      _log.warning("Failed to accept a connection: {} connections open (the limit), closing it", _conns.size());
      static constexpr char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!::write(fd, busy, sizeof busy - 1);
      ::close(fd);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto id = _next++;
    connection c;
    c.fd = fd;
    c.last_activity = clock::now();
    _conns.emplace(id, std::move(c));
    _by_fd[fd] = id;
  }
}

void http_server::on_readable(conn_id id) {
  auto& c = _conns.at(id);
  char buf[16384];
  for (;;) {
    auto n = ::read(c.fd, buf, sizeof buf);
    if (n > 0) {
      if (c.st != state::reading) {
        // Bytes while answering: keep them (pipelining) within the header limit, or close.
        if (c.in.size() + static_cast<std::size_t>(n) > _opts.limits.max_header_bytes + _opts.limits.max_body_bytes) {
          drop(id, true);
          return;
        }
      }
      if (c.in.empty() && !c.has_partial) {
        c.first_byte = clock::now();
        c.has_partial = true;
      }
      c.in.append(buf, static_cast<std::size_t>(n));
      c.last_activity = clock::now();
      if (static_cast<std::size_t>(n) < sizeof buf) break;
      continue;
    }
    if (n == 0) {  // peer closed
      drop(id, c.st == state::waiting || c.st == state::streaming);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    drop(id, c.st == state::waiting || c.st == state::streaming);
    return;
  }
  if (c.st == state::reading) process(id);
}

void http_server::process(conn_id id) {
  auto it = _conns.find(id);
  if (it == _conns.end()) return;
  auto& c = it->second;
  if (c.st != state::reading || c.in.empty()) return;
  auto r = parse_request(c.in, _opts.limits);
  if (r.status == parse_status::incomplete) return;
  if (r.status == parse_status::bad) {
    _log.debug("Refusing a request: {}", r.reason);
    c.out += format_response(r.http_status, "text/plain; charset=utf-8", r.reason + "\n", false);
    c.in.clear();
    c.st = state::closing;
    flush(id);
    return;
  }
  c.in.erase(0, r.consumed);
  c.has_partial = !c.in.empty();
  if (c.has_partial) c.first_byte = clock::now();
  c.keep_alive = r.request.keep_alive;
  c.st = state::waiting;
  if (on_request) on_request(id, r.request);
}

bool http_server::respond(conn_id id, int status, std::string_view content_type, std::string_view body,
                          const std::vector<std::pair<std::string, std::string>>& extra) {
  auto it = _conns.find(id);
  if (it == _conns.end() || it->second.st != state::waiting) return false;
  auto& c = it->second;
  c.out += format_response(status, content_type, body, c.keep_alive, extra);
  c.st = c.keep_alive ? state::reading : state::closing;
  c.last_activity = clock::now();
  flush(id);
  if (_conns.count(id) && _conns.at(id).st == state::reading) process(id);  // a pipelined request
  return true;
}

bool http_server::start_stream(conn_id id, std::string_view content_type) {
  auto it = _conns.find(id);
  if (it == _conns.end() || it->second.st != state::waiting) return false;
  auto& c = it->second;
  c.out += fmt::format(
      "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nCache-Control: no-store\r\nConnection: close\r\n"
      "X-Accel-Buffering: no\r\nX-Content-Type-Options: nosniff\r\n\r\n",
      content_type);
  c.st = state::streaming;
  c.keep_alive = false;
  flush(id);
  return _conns.count(id) != 0;
}

bool http_server::write(conn_id id, std::string_view bytes) {
  auto it = _conns.find(id);
  if (it == _conns.end() || it->second.st != state::streaming) return false;
  auto& c = it->second;
  if (c.out.size() + bytes.size() > _opts.max_output_bytes) {
    _log.warning("Failed to stream to a client: {} bytes unread (the limit is {}), closing it", c.out.size(),
                 _opts.max_output_bytes);
    drop(id, true);
    return false;
  }
  c.out += bytes;
  flush(id);
  return _conns.count(id) != 0;
}

void http_server::flush(conn_id id) {
  auto it = _conns.find(id);
  if (it == _conns.end()) return;
  auto& c = it->second;
  while (!c.out.empty()) {
    auto n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      c.out.erase(0, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    drop(id, c.st == state::waiting || c.st == state::streaming);
    return;
  }
  if (c.st == state::closing) drop(id, false);
}

void http_server::on_writable(conn_id id) { flush(id); }

void http_server::close(conn_id id) {
  auto it = _conns.find(id);
  if (it == _conns.end()) return;
  if (it->second.out.empty()) {
    drop(id, false);
    return;
  }
  it->second.st = state::closing;  // closed once what is queued is written
}

void http_server::drop(conn_id id, bool notify) {
  auto it = _conns.find(id);
  if (it == _conns.end()) return;
  ::close(it->second.fd);
  _by_fd.erase(it->second.fd);
  _conns.erase(it);
  if (notify && on_close) on_close(id);
}

std::chrono::milliseconds http_server::expire() {
  auto now = clock::now();
  auto next = std::chrono::milliseconds(1000);
  std::vector<conn_id> dead;
  for (auto& [id, c] : _conns) {
    if (c.st == state::reading) {
      auto deadline = c.has_partial ? c.first_byte + _opts.request_timeout : c.last_activity + _opts.idle_timeout;
      if (now >= deadline) {
        dead.push_back(id);
        continue;
      }
      next = std::min(next, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) + 1ms);
    } else if (c.st == state::closing && now >= c.last_activity + _opts.request_timeout) {
      dead.push_back(id);  // a peer that never reads its error answer
    }
  }
  for (auto id : dead) {
    auto& c = _conns.at(id);
    if (c.has_partial) {
      c.out += format_response(408, "text/plain; charset=utf-8", "request timeout\n", false);
      c.st = state::closing;
      flush(id);
      if (_conns.count(id)) drop(id, false);
    } else {
      drop(id, false);
    }
  }
  return next;
}

}  // namespace weft::chan
