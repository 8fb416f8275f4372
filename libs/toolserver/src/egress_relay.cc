#include <weft/toolserver/egress_relay.hh>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include <fmt/core.h>

namespace weft::tools {

namespace {

/// What a client gets when the proxy cannot be reached: an HTTP answer it can show.
void answer_unavailable(int fd, std::string_view why) {
  auto body = fmt::format("weft relay: {}\n", why);
  auto text = fmt::format("HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n"
                          "Connection: close\r\n\r\n{}",
                          body.size(), body);
  (void)::send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace

result<std::unique_ptr<egress_relay>> egress_relay::start(event_loop& loop, std::string unix_socket, options o) {
  unique_fd l(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(o.port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  if (!l || ::setsockopt(l.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::bind(l.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(l.get(), 64) != 0)
    return fail(errc::io, "Failed to listen on 127.0.0.1:{} for the relay to {}: {}", o.port, o.what,
                std::strerror(errno));
  std::unique_ptr<egress_relay> r(new egress_relay(loop, std::move(unix_socket), o, std::move(l)));
  auto w = loop.watch(r->_listener.get(), EPOLLIN, [self = r.get()](std::uint32_t) { self->accept_all(); });
  if (!w) return w.take_error();
  r->_watch = *w;
  return r;
}

egress_relay::egress_relay(event_loop& loop, std::string unix_socket, options o, unique_fd listener)
    : _loop(loop), _socket(std::move(unix_socket)), _max(o.max_connections), _port(o.port), _what(o.what),
      _listener(std::move(listener)) {}

egress_relay::~egress_relay() {
  _relays.clear();
  if (_watch) _loop.unwatch(_watch);
}

std::string egress_relay::url() const { return fmt::format("http://127.0.0.1:{}", _port); }

void egress_relay::accept_all() {
  for (;;) {
    unique_fd c(::accept4(_listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!c) return;
    if (_relays.size() >= _max) {
      answer_unavailable(c.get(), fmt::format("too many connections at once from this tool ({})", _max));
      continue;
    }
    unique_fd up(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", _socket.c_str());
    if (!up || ::connect(up.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      answer_unavailable(c.get(), fmt::format("Failed to reach {} at '{}': {}", _what, _socket, std::strerror(errno)));
      continue;
    }
    auto id = _next++;
    auto r = fd_relay::start(_loop, std::move(c), std::move(up), {},
                             [this, id](fd_relay::end, std::uint64_t, std::uint64_t) { _relays.erase(id); });
    if (r) _relays.emplace(id, std::move(*r));
  }
}

std::vector<std::string> proxy_environment(std::string_view url) {
  std::vector<std::string> env;
  for (auto name : {"http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"})
    env.push_back(fmt::format("{}={}", name, url));
  for (auto name : {"no_proxy", "NO_PROXY"}) env.push_back(fmt::format("{}=localhost,127.0.0.1,::1", name));
  return env;
}

}  // namespace weft::tools
