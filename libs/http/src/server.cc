#include <weft/http/server.hh>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <weft/base/unix_socket.hh>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace weft::http {

using namespace std::chrono_literals;
using clock = event_loop::clock;

std::string listen_address::to_string() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

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

result<std::unique_ptr<server>> server::listen(event_loop& loop, const listen_address& where, server_options opts,
                                               std::string log_name) {
  bool v6 = where.host.find(':') != std::string::npos;
  unique_fd fd(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fail(errc::io, "Failed to create a socket: {}", std::strerror(errno));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(where.port);
    if (::inet_pton(AF_INET6, where.host.c_str(), &s6->sin6_addr) != 1)
      return fail(errc::invalid_argument, "Failed to listen on '{}': not an IP address", where.to_string());
    len = sizeof *s6;
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(where.port);
    if (::inet_pton(AF_INET, where.host.c_str(), &s4->sin_addr) != 1)
      return fail(errc::invalid_argument, "Failed to listen on '{}': not an IP address", where.to_string());
    len = sizeof *s4;
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd.get(), 128) != 0) {
    auto e = errno;
    // Its own code: retrying does not help, and the fix (another port) is the user's.
    if (e == EADDRINUSE) return fail(errc::address_in_use, "Failed to listen on {}: address in use", where.to_string());
    return fail(errc::io, "Failed to listen on {}: {}", where.to_string(), std::strerror(e));
  }
  len = sizeof ss;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  std::uint16_t port = v6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                          : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return serve(loop, std::move(fd), port, std::move(opts), std::move(log_name));
}

result<std::unique_ptr<server>> server::listen_unix(event_loop& loop, const std::string& path, mode_t mode,
                                                    server_options opts, std::string log_name) {
  auto fd = weft::listen_unix(path, mode);
  if (!fd) return fd.take_error();
  return serve(loop, std::move(*fd), 0, std::move(opts), std::move(log_name));
}

result<std::unique_ptr<server>> server::serve(event_loop& loop, unique_fd fd, std::uint16_t port, server_options opts,
                                              std::string log_name) {
  int raw = fd.get();
  std::unique_ptr<server> s(new server(loop, std::move(fd), port, std::move(opts), std::move(log_name)));
  auto w = loop.watch(raw, EPOLLIN, [p = s.get()](std::uint32_t) { p->accept_all(); });
  if (!w) return w.take_error();
  s->_listen_watch = *w;
  return s;
}

server::server(event_loop& loop, unique_fd fd, std::uint16_t port, server_options opts, std::string log_name)
    : _loop(loop), _listen_fd(std::move(fd)), _port(port), _opts(std::move(opts)), _log(log::get(log_name)) {}

server::~server() {
  for (auto& [id, c] : _conns) {
    _loop.unwatch(c.watch);
    _loop.cancel(c.timer);
  }
  _loop.unwatch(_listen_watch);
}

void server::accept_all() {
  for (;;) {
    unique_fd fd(::accept4(_listen_fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) return;
    if (_conns.size() >= _opts.max_connections) {
      _log.warning("Failed to accept a connection: {} connections open (the limit), closing it", _conns.size());
      static constexpr char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!::write(fd.get(), busy, sizeof busy - 1);
      continue;
    }
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto id = _next++;
    auto w = _loop.watch(fd.get(), EPOLLIN, [this, id](std::uint32_t ev) { on_ready(id, ev); });
    if (!w) {
      _log.warning("Failed to accept a connection: {}, closing it", w.err().message);
      continue;
    }
    ++_accepted;
    connection c;
    c.fd = std::move(fd);
    c.watch = *w;
    c.events = EPOLLIN;
    c.last_activity = clock::now();
    _conns.emplace(id, std::move(c));
    update(id);
  }
}

void server::on_ready(conn_id id, std::uint32_t events) {
  if (events & EPOLLOUT) flush(id);
  if (!_conns.count(id)) return;
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(id);
  if (_conns.count(id)) update(id);
}

void server::on_readable(conn_id id) {
  auto& c = _conns.at(id);
  char buf[16384];
  for (;;) {
    auto n = ::read(c.fd.get(), buf, sizeof buf);
    if (n > 0) {
      if (c.st != state::reading) {
        // Bytes while answering: keep them (pipelining) within the request limits, or close.
        if (c.in.size() + static_cast<std::size_t>(n) > _opts.lim.max_header_bytes + _opts.lim.max_body_bytes) {
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
    if (n == 0) {  // the peer closed
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

void server::process(conn_id id) {
  auto it = _conns.find(id);
  if (it == _conns.end()) return;
  auto& c = it->second;
  if (c.st != state::reading || c.in.empty()) return;
  auto r = parse_request(c.in, _opts.lim);
  if (r.status == parse_status::incomplete) return;
  if (r.status == parse_status::bad) {
    _log.debug("Refusing a request: {}", r.reason);
    c.out += format_response(r.http_status, "text/plain; charset=utf-8", r.reason + "\n", false);
    c.in.clear();
    c.st = state::closing;
    c.last_activity = clock::now();
    flush(id);
    if (_conns.count(id)) update(id);
    return;
  }
  c.in.erase(0, r.consumed);
  c.has_partial = !c.in.empty();
  if (c.has_partial) c.first_byte = clock::now();
  c.keep_alive = r.req.keep_alive;
  c.st = state::waiting;
  update(id);
  if (on_request) on_request(id, r.req);
}

bool server::respond(conn_id id, int status, std::string_view content_type, std::string_view body,
                     const header_list& extra) {
  auto it = _conns.find(id);
  if (it == _conns.end() || it->second.st != state::waiting) return false;
  auto& c = it->second;
  c.out += format_response(status, content_type, body, c.keep_alive, extra);
  c.st = c.keep_alive ? state::reading : state::closing;
  c.last_activity = clock::now();
  flush(id);
  if (!_conns.count(id)) return true;
  update(id);
  if (_conns.at(id).st == state::reading) process(id);  // a pipelined request
  return true;
}

bool server::start_stream(conn_id id, std::string_view content_type) {
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
  if (!_conns.count(id)) return false;
  update(id);
  return true;
}

bool server::write(conn_id id, std::string_view bytes) {
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
  if (!_conns.count(id)) return false;
  update(id);
  return true;
}

void server::flush(conn_id id) {
  auto it = _conns.find(id);
  if (it == _conns.end()) return;
  auto& c = it->second;
  while (!c.out.empty()) {
    auto n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      c.out.erase(0, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // update() waits for EPOLLOUT
    drop(id, c.st == state::waiting || c.st == state::streaming);
    return;
  }
  if (c.st == state::closing) drop(id, false);
}

void server::close(conn_id id) {
  auto it = _conns.find(id);
  if (it == _conns.end()) return;
  if (it->second.out.empty()) {
    drop(id, false);
    return;
  }
  it->second.st = state::closing;  // closed once what is queued is written
  it->second.last_activity = clock::now();
  update(id);
}

void server::drop(conn_id id, bool notify) {
  auto it = _conns.find(id);
  if (it == _conns.end()) return;
  _loop.unwatch(it->second.watch);  // before the fd closes with the entry
  _loop.cancel(it->second.timer);
  _conns.erase(it);
  if (notify && on_close) on_close(id);
}

void server::update(conn_id id) {
  auto it = _conns.find(id);
  if (it == _conns.end()) return;
  auto& c = it->second;
  // Read in every state but closing: requests, pipelined bytes, and a peer that hangs up.
  std::uint32_t ev = c.st == state::closing ? 0u : static_cast<std::uint32_t>(EPOLLIN);
  if (!c.out.empty()) ev |= EPOLLOUT;
  if (ev != c.events) {
    if (auto s = _loop.modify(c.watch, ev); !s) {
      _log.warning("Failed to watch a connection: {}, closing it", s.err().message);
      drop(id, c.st == state::waiting || c.st == state::streaming);
      return;
    }
    c.events = ev;
  }
  auto deadline = clock::time_point::max();
  if (c.st == state::reading)
    deadline = c.has_partial ? c.first_byte + _opts.request_timeout : c.last_activity + _opts.idle_timeout;
  else if (c.st == state::closing)
    deadline = c.last_activity + _opts.request_timeout;  // a peer that never reads its answer
  if (deadline == c.deadline) return;
  _loop.cancel(c.timer);
  c.timer = 0;
  c.deadline = deadline;
  if (deadline != clock::time_point::max()) c.timer = _loop.at(deadline, [this, id] { expire(id); });
}

void server::expire(conn_id id) {
  auto it = _conns.find(id);
  if (it == _conns.end()) return;
  auto& c = it->second;
  c.timer = 0;
  c.deadline = clock::time_point::max();
  if (c.st == state::reading && c.has_partial) {
    c.out += format_response(408, "text/plain; charset=utf-8", "request timeout\n", false);
    c.st = state::closing;
    flush(id);
    drop(id, false);
  } else if (c.st == state::reading || c.st == state::closing) {
    drop(id, false);
  } else {
    update(id);
  }
}

}  // namespace weft::http
