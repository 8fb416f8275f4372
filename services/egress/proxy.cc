#include "services/egress/proxy.hh"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/core.h>

#include <weft/base/unix_socket.hh>

#include "services/egress/request.hh"

namespace weft::egress {

namespace {

bool same_address(const sockaddr* a, const sockaddr* b) {
  if (a->sa_family != b->sa_family) return false;
  if (a->sa_family == AF_INET)
    return reinterpret_cast<const sockaddr_in*>(a)->sin_addr.s_addr == reinterpret_cast<const sockaddr_in*>(b)->sin_addr.s_addr;
  if (a->sa_family == AF_INET6)
    return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr, &reinterpret_cast<const sockaddr_in6*>(b)->sin6_addr,
                       sizeof(in6_addr)) == 0;
  return false;
}

std::string_view status_text(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 408: return "Request Timeout";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Error";
  }
}

std::string answer(int status, std::string_view reason) {
  auto body = fmt::format("weft egress: {}\n", reason);
  // The reason in a header too: a client of a CONNECT (libcurl) never sees the body.
  std::string header(reason.substr(0, 512));
  for (auto& c : header)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return fmt::format("HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n"
                     "X-Weft-Egress: refused\r\nX-Weft-Egress-Reason: {}\r\nConnection: close\r\n\r\n{}",
                     status, status_text(status), body.size(), header, body);
}

/// Best effort: the answers are small and the socket's buffer is empty, so one send fits.
void send_now(int fd, std::string_view text) { (void)::send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT); }

/// What the resolver worker found: addresses to try, in order, or why there are none.
struct lookup {
  std::vector<sockaddr_storage> allowed;
  std::string refused;  ///< every address refused: the reason for the first
  std::string failed;   ///< the name did not resolve
};

lookup resolve_and_check(const std::string& host, std::uint16_t port, const proxy::check_fn& check,
                         const plugin::allowlist* list) {
  lookup out;
  // A scoped socket: the name must be on the list before it is looked up.
  if (list) {
    if (auto v = plugin::listed(*list, host, port); !v) {
      out.refused = std::move(v.reason);
      return out;
    }
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  auto service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
    out.failed = fmt::format("Failed to resolve '{}': {}", host, ::gai_strerror(rc));
    return out;
  }
  if (list) {
    std::vector<sockaddr_storage> all;
    for (auto* ai = res; ai; ai = ai->ai_next) {
      sockaddr_storage ss{};
      std::memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
      all.push_back(ss);
    }
    ::freeaddrinfo(res);
    // Every address must pass, or none is tried: a name that resolves to a listed public
    // address and to a loopback one is refused whole.
    if (auto v = plugin::allowed(*list, host, port, all); !v) {
      out.refused = std::move(v.reason);
      return out;
    }
    for (auto& ss : all) {
      auto* sa = reinterpret_cast<const sockaddr*>(&ss);
      // allowed() passed public addresses and declared ones; the general policy adds this
      // host's own public addresses, which only a declaration lets through.
      if (!check(sa).empty() && !plugin::declares(*list, sa)) {
        auto text = net::address_text(sa);
        out.refused = text == host ? fmt::format("{} is an address of this host, not declared in the network list", text)
                                   : fmt::format("'{}' resolves to {}, an address of this host, not declared in the network list", host, text);
        out.allowed.clear();
        return out;
      }
      out.allowed.push_back(ss);
    }
    return out;
  }
  for (auto* ai = res; ai; ai = ai->ai_next) {
    auto why = check(ai->ai_addr);
    if (why.empty()) {
      sockaddr_storage ss{};
      std::memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
      out.allowed.push_back(ss);
    } else if (out.refused.empty()) {
      auto text = net::address_text(ai->ai_addr);
      out.refused = text == host ? fmt::format("{} is {}", text, why) : fmt::format("'{}' resolves to {}, which is {}", host, text, why);
    }
  }
  ::freeaddrinfo(res);
  return out;
}

socklen_t length_of(const sockaddr_storage& ss) {
  return ss.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

}  // namespace

// ---- target_policy ----------------------------------------------------------------------

std::string target_policy::refusal(const sockaddr* addr) const {
  bool declared = false;
  for (auto& p : _test_public) declared = declared || p.contains(addr);
  if (auto why = net::forbidden_reason(addr); !why.empty() && !declared) return why;
  // A public address of this machine reaches a service bound to 0.0.0.0 as surely as
  // 127.0.0.1 does.
  ifaddrs* ifs = nullptr;
  if (::getifaddrs(&ifs) != 0) return "unknown: this host's addresses could not be read";
  bool own = false;
  for (auto* i = ifs; i && !own; i = i->ifa_next) own = i->ifa_addr && same_address(i->ifa_addr, addr);
  ::freeifaddrs(ifs);
  return own ? "an address of this host" : "";
}

bool target_policy::allowed_test_block(const net::prefix& p) {
  static const net::prefix benchmarking = *net::parse_prefix("198.18.0.0/15");
  return benchmarking.covers(p);
}

// ---- proxy ------------------------------------------------------------------------------

struct proxy::connection {
  event_loop* loop;
  std::string agent;
  std::string scope;
  std::shared_ptr<const plugin::allowlist> list;
  unique_fd client;
  event_loop::id watch = 0, timer = 0;
  std::string buf;  // read from the client; what follows the head is sent on
  proxy_request req;
  bool have_request = false;
  std::vector<sockaddr_storage> candidates;
  std::size_t next = 0;
  std::string last_error;
  unique_fd target;
  std::unique_ptr<fd_relay> relay;

  void stop_waiting() {
    if (watch) loop->unwatch(watch), watch = 0;
    if (timer) loop->cancel(timer), timer = 0;
  }
  ~connection() { stop_waiting(); }
};

proxy::proxy(event_loop& loop, worker_pool& resolver, limits lim, check_fn check, refused_fn on_refused)
    : _loop(loop),
      _resolver(resolver),
      _lim(lim),
      _check(std::make_shared<const check_fn>(std::move(check))),
      _on_refused(std::move(on_refused)) {}

proxy::~proxy() {
  *_alive = false;
  _conns.clear();
  close_listeners();
}

status proxy::listen(const std::string& agent, const std::string& path) {
  auto l = std::make_unique<listener>();
  l->agent = agent;
  l->path = path;
  auto fd = listen_unix(path, 0600);
  if (!fd) return fd.take_error();
  l->fd = std::move(*fd);
  auto* raw = l.get();
  auto w = _loop.watch(raw->fd.get(), EPOLLIN, [this, raw](std::uint32_t) { accept_from(*raw); });
  if (!w) return w.take_error();
  raw->watch = *w;
  _listeners.push_back(std::move(l));
  return {};
}

status proxy::listen_scoped(const std::string& agent, const std::string& scope, const std::string& path,
                            std::shared_ptr<const plugin::allowlist> list) {
  for (auto& l : _listeners)
    if (l->path == path) {
      l->list = std::move(list);
      return {};
    }
  if (auto s = listen(agent, path); !s) return s;
  _listeners.back()->scope = scope;
  _listeners.back()->list = std::move(list);
  return {};
}

void proxy::close_listener(const std::string& path) {
  for (auto it = _listeners.begin(); it != _listeners.end(); ++it)
    if ((*it)->path == path) {
      if ((*it)->watch) _loop.unwatch((*it)->watch);
      ::unlink(path.c_str());
      _listeners.erase(it);
      return;
    }
}

std::vector<std::string> proxy::scoped_paths() const {
  std::vector<std::string> out;
  for (auto& l : _listeners)
    if (l->list) out.push_back(l->path);
  return out;
}

void proxy::close_listeners() {
  for (auto& l : _listeners) {
    if (l->watch) _loop.unwatch(l->watch);
    ::unlink(l->path.c_str());
  }
  _listeners.clear();
}

void proxy::accept_from(listener& l) {
  for (;;) {
    unique_fd c(::accept4(l.fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!c) return;  // EAGAIN, or a client that gave up already
    auto& mine = _per_agent[l.agent];
    std::string over;
    if (_conns.size() >= _lim.max_connections)
      over = fmt::format("too many connections at once ({}, the limit for all agents)", _lim.max_connections);
    else if (mine >= _lim.max_connections_per_agent)
      over = fmt::format("too many connections at once ({}, the limit per agent)", _lim.max_connections_per_agent);
    if (!over.empty()) {
      send_now(c.get(), answer(503, over));
      if (_on_refused) _on_refused({l.agent, l.scope, "-", "-", 503, over});
      continue;
    }
    auto id = _next++;
    auto conn = std::make_unique<connection>();
    conn->loop = &_loop;
    conn->agent = l.agent;
    conn->scope = l.scope;
    conn->list = l.list;
    conn->client = std::move(c);
    auto w = _loop.watch(conn->client.get(), EPOLLIN, [this, id](std::uint32_t) { on_client_readable(id); });
    if (!w) continue;
    conn->watch = *w;
    conn->timer = _loop.after(_lim.head_timeout, [this, id] {
      _conns.at(id)->timer = 0;
      refuse(id, 408, "no complete request head in time");
    });
    ++mine;
    _conns.emplace(id, std::move(conn));
  }
}

void proxy::on_client_readable(std::uint64_t id) {
  auto& c = *_conns.at(id);
  char tmp[4096];
  ssize_t n = ::recv(c.client.get(), tmp, sizeof tmp, MSG_DONTWAIT);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return drop(id);  // gone before asking
  if (n < 0) return;
  c.buf.append(tmp, static_cast<std::size_t>(n));
  auto end = head_end(c.buf);
  if (end == std::string::npos) {
    if (c.buf.size() > max_head_bytes) refuse(id, 400, "the request head is longer than 16 KiB");
    return;
  }
  auto req = parse_request(std::string_view(c.buf).substr(0, end));
  if (!req) return refuse(id, 400, req.err().message);
  c.req = std::move(*req);
  c.have_request = true;
  c.buf.erase(0, end);
  c.stop_waiting();  // the rest of what it sends waits in the socket until the relay
  resolve(id);
}

void proxy::resolve(std::uint64_t id) {
  auto& c = *_conns.at(id);
  bool queued = _resolver.queued() < _lim.max_resolving &&
                _resolver.submit([check = _check, list = c.list, host = c.req.host, port = c.req.port] {
                                   return resolve_and_check(host, port, *check, list.get());
                                 },
                                 [this, alive = _alive, id](lookup found) {
                                   if (!*alive || !_conns.count(id)) return;
                                   auto& c = *_conns.at(id);
                                   if (!found.failed.empty()) return refuse(id, 502, found.failed);
                                   if (found.allowed.empty()) return refuse(id, 403, found.refused);
                                   c.candidates = std::move(found.allowed);
                                   connect_next(id);
                                 });
  if (!queued) refuse(id, 503, fmt::format("too many name lookups waiting ({})", _lim.max_resolving));
}

void proxy::connect_next(std::uint64_t id) {
  auto& c = *_conns.at(id);
  c.stop_waiting();
  c.target.reset();
  while (c.next < c.candidates.size()) {
    auto& ss = c.candidates[c.next++];
    unique_fd t(::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!t) {
      c.last_error = std::strerror(errno);
      continue;
    }
    if (::connect(t.get(), reinterpret_cast<const sockaddr*>(&ss), length_of(ss)) != 0 && errno != EINPROGRESS) {
      c.last_error = fmt::format("{} ({})", std::strerror(errno), net::address_text(reinterpret_cast<const sockaddr*>(&ss)));
      continue;
    }
    c.target = std::move(t);
    auto w = _loop.watch(c.target.get(), EPOLLOUT, [this, id](std::uint32_t) { on_connected(id); });
    if (!w) return refuse(id, 502, w.err().message);
    c.watch = *w;
    c.timer = _loop.after(_lim.connect_timeout, [this, id] {
      _conns.at(id)->timer = 0;
      refuse(id, 504, fmt::format("Failed to connect to '{}': no answer within {} ms", _conns.at(id)->req.target(),
                                  _lim.connect_timeout.count()));
    });
    return;
  }
  refuse(id, 502, fmt::format("Failed to connect to '{}': {}", c.req.target(), c.last_error));
}

void proxy::on_connected(std::uint64_t id) {
  auto& c = *_conns.at(id);
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(c.target.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    auto& ss = c.candidates[c.next - 1];
    c.last_error = fmt::format("{} ({})", std::strerror(err), net::address_text(reinterpret_cast<const sockaddr*>(&ss)));
    return connect_next(id);
  }
  c.stop_waiting();
  start_relay(id);
}

void proxy::start_relay(std::uint64_t id) {
  auto& c = *_conns.at(id);
  std::string to_target = c.req.tunnel ? std::move(c.buf) : c.req.head + c.buf;
  std::string to_client = c.req.tunnel ? "HTTP/1.1 200 Connection established\r\n\r\n" : "";
  fd_relay::limits rl{.max_bytes = _lim.max_bytes, .idle = _lim.idle_timeout};
  auto r = fd_relay::start(_loop, std::move(c.client), std::move(c.target), rl,
                           [this, id](fd_relay::end why, std::uint64_t, std::uint64_t) {
                             if (why == fd_relay::end::too_many_bytes && _on_refused) {
                               auto& c = *_conns.at(id);
                               _on_refused({c.agent, c.scope, c.req.method, c.req.target(), 0,
                                            fmt::format("more than {} bytes on one connection: closed", _lim.max_bytes)});
                             }
                             drop(id);
                           },
                           std::move(to_target), std::move(to_client));
  if (!r) return drop(id);
  c.relay = std::move(*r);
}

void proxy::refuse(std::uint64_t id, int status, std::string reason) {
  auto it = _conns.find(id);
  if (it == _conns.end()) return;
  auto& c = *it->second;
  if (c.client) send_now(c.client.get(), answer(status, reason));
  if (_on_refused)
    _on_refused({c.agent, c.scope, c.have_request ? c.req.method : "-", c.have_request ? c.req.target() : "-", status, reason});
  drop(id);
}

void proxy::drop(std::uint64_t id) {
  auto it = _conns.find(id);
  if (it == _conns.end()) return;
  if (auto a = _per_agent.find(it->second->agent); a != _per_agent.end() && a->second > 0) --a->second;
  _conns.erase(it);
}

}  // namespace weft::egress
