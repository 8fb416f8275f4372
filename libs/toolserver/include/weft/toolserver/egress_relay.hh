#pragma once
/// The door out of a tool's network namespace when its agent has network = "public". The
/// namespace has only its own loopback, so nothing inside can reach the host or the
/// internet; this relay listens on 127.0.0.1:3128 there and joins each connection to the
/// agent's UNIX socket of the egress proxy ($WEFT_RUNTIME_DIR/egress/<agent>.sock — UNIX
/// sockets cross network namespaces), which decides what may be reached. Commands find it
/// through HTTP_PROXY, HTTPS_PROXY and ALL_PROXY (proxy_environment()).
///
/// It runs on the tool process's event loop; it checks nothing itself (the egress does).

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/event_loop.hh>
#include <weft/base/fd.hh>
#include <weft/base/fd_relay.hh>
#include <weft/base/result.hh>

namespace weft::tools {

class egress_relay {
 public:
  /// Inside the namespace nothing else listens, so a fixed port is free.
  static constexpr std::uint16_t port = 3128;
  static constexpr std::size_t default_max_connections = 64;

  /// Listens on 127.0.0.1:port. errc::io when it cannot (e.g. no internet sockets at all:
  /// the fallback where no network namespace could be made).
  static result<std::unique_ptr<egress_relay>> start(event_loop& loop, std::string egress_socket,
                                                     std::size_t max_connections = default_max_connections);
  ~egress_relay();
  egress_relay(const egress_relay&) = delete;
  egress_relay& operator=(const egress_relay&) = delete;

  /// "http://127.0.0.1:3128"
  static std::string url();
  std::size_t connections() const { return _relays.size(); }

 private:
  egress_relay(event_loop& loop, std::string egress_socket, std::size_t max_connections, unique_fd listener);
  void accept_all();

  event_loop& _loop;
  std::string _socket;
  std::size_t _max;
  unique_fd _listener;
  event_loop::id _watch = 0;
  std::map<std::uint64_t, std::unique_ptr<fd_relay>> _relays;
  std::uint64_t _next = 1;
};

/// The environment a command needs to go out through `url`: http_proxy, https_proxy,
/// all_proxy in both cases (curl reads only the lower-case http_proxy), and no_proxy for
/// the namespace's own loopback.
std::vector<std::string> proxy_environment(std::string_view url);

}  // namespace weft::tools
