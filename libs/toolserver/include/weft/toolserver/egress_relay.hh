#pragma once
/// The door out of a tool's network namespace when its agent has network = "public". The
/// namespace has only its own loopback, so nothing inside can reach the host or the
/// internet; this relay listens on 127.0.0.1:3128 there and joins each connection to the
/// agent's UNIX socket of the egress proxy ($WEFT_RUNTIME_DIR/egress/<agent>.sock — UNIX
/// sockets cross network namespaces), which decides what may be reached. Commands find it
/// through HTTP_PROXY, HTTPS_PROXY and ALL_PROXY (proxy_environment()).
///
/// It runs on the tool process's event loop; it checks nothing itself (the egress does).
/// The same relay, on another port, is the delegate tool's way to llm's Anthropic-Messages
/// endpoint ($WEFT_RUNTIME_DIR/llm/messages.sock): a TCP port inside the namespace joined to
/// a UNIX socket outside it.

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
  /// Inside the namespace nothing else listens, so fixed ports are free.
  static constexpr std::uint16_t port = 3128;
  static constexpr std::uint16_t llm_port = 3129;  ///< the delegate tool's relay to llm
  static constexpr std::size_t default_max_connections = 64;

  struct options {
    std::size_t max_connections = default_max_connections;
    std::uint16_t port = egress_relay::port;
    std::string_view what = "the egress proxy";  ///< in the 502 a client gets when the socket is not there
  };
  /// Listens on 127.0.0.1:<port>. errc::io when it cannot (e.g. no internet sockets at all:
  /// the fallback where no network namespace could be made).
  static result<std::unique_ptr<egress_relay>> start(event_loop& loop, std::string unix_socket, options o);
  static result<std::unique_ptr<egress_relay>> start(event_loop& loop, std::string unix_socket) {
    return start(loop, std::move(unix_socket), options{});
  }
  ~egress_relay();
  egress_relay(const egress_relay&) = delete;
  egress_relay& operator=(const egress_relay&) = delete;

  /// "http://127.0.0.1:3128"
  std::string url() const;
  std::size_t connections() const { return _relays.size(); }

 private:
  egress_relay(event_loop& loop, std::string unix_socket, options o, unique_fd listener);
  void accept_all();

  event_loop& _loop;
  std::string _socket;
  std::size_t _max;
  std::uint16_t _port;
  std::string _what;
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
