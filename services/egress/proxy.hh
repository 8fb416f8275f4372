#pragma once
/// The egress proxy: the only way out of the network namespaces of the shell tools whose
/// agent has `network = "public"`. Each such agent has a UNIX socket of its own
/// ($WEFT_RUNTIME_DIR/egress/<agent>.sock; UNIX sockets cross network namespaces, and the
/// tool process relays 127.0.0.1:3128 inside its namespace to it). On it the proxy speaks
/// HTTP proxy: CONNECT for tunnels (https), absolute-form requests for plain http.
///
/// Every target is resolved here and checked address by address; the connection goes to
/// the address that was checked (a name that resolves differently a moment later changes
/// nothing). Refused: anything net::forbidden_reason names (loopback, RFC 1918, ULA,
/// link-local, CGNAT, …) and every address of this host, whatever its range — so neither
/// weft's own front doors (web API, MCP server, webhook receiver) nor anything else on the
/// host or its LAN is reachable. Each refusal is answered `403` with the reason and
/// reported once to `on_refused` (the audit line).
///
/// Limits (each a refusal with its own answer): connections at once in all and per agent
/// (503), the request head's size (400) and time (408), the connect time (504), bytes per
/// connection and idle time (the connection is closed).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <weft/base/event_loop.hh>
#include <weft/base/fd.hh>
#include <weft/base/fd_relay.hh>
#include <weft/base/net_address.hh>
#include <weft/base/worker_pool.hh>
#include <weft/plugin/allowlist.hh>

namespace weft::egress {

struct limits {
  std::size_t max_connections = 256;          ///< at once, every agent together
  std::size_t max_connections_per_agent = 64; ///< at once, per agent
  std::uint64_t max_bytes = 1ull << 30;       ///< per connection, both ways (1 GiB)
  std::chrono::milliseconds head_timeout{30000};
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds idle_timeout{300000};
  std::size_t max_resolving = 64;             ///< DNS lookups waiting for a worker
};

/// Which addresses may be reached: the public ones, minus this host's, plus blocks a test
/// declared public (never loopback or this host's own addresses).
class target_policy {
 public:
  /// `test_public`: blocks treated as public. weft-egress takes them only from
  /// $WEFT_EGRESS_TEST_PUBLIC and only within 198.18.0.0/15 (see allowed_test_block).
  explicit target_policy(std::vector<net::prefix> test_public = {}) : _test_public(std::move(test_public)) {}
  /// Why `addr` may not be reached, or empty. Reads this host's interface addresses
  /// (getifaddrs) each time, so an address added later is refused too. Thread-safe.
  std::string refusal(const sockaddr* addr) const;

  /// Whether `p` may be declared public by a test: only within the benchmarking block
  /// 198.18.0.0/15 (RFC 2544), which no production service lives in.
  static bool allowed_test_block(const net::prefix& p);

 private:
  std::vector<net::prefix> _test_public;
};

/// One refusal, for the audit line: who, what, why.
struct refusal {
  std::string agent;
  std::string scope;   ///< "plugin:<name>" or "skill:<name>" for a scoped socket; empty for the agent's own
  std::string method;  ///< CONNECT, GET, … ("-" when the request never arrived)
  std::string target;  ///< "host:port" as asked, or "-"
  int status;          ///< the HTTP status answered
  std::string reason;
};

class proxy {
 public:
  using refused_fn = std::function<void(const refusal&)>;
  /// Why an address may not be reached, or empty (target_policy::refusal; tests pass their
  /// own). Called on the resolver's threads.
  using check_fn = std::function<std::string(const sockaddr*)>;

  proxy(event_loop& loop, worker_pool& resolver, limits lim, check_fn check, refused_fn on_refused);
  ~proxy();
  proxy(const proxy&) = delete;
  proxy& operator=(const proxy&) = delete;

  /// Listens for `agent` on the UNIX socket `path` (replacing a stale file; mode 0600).
  /// errc::io with the path when it cannot.
  status listen(const std::string& agent, const std::string& path);

  /// A plugin's or skill's own socket (`scope`: "plugin:<name>", "skill:<name>"): a target
  /// must be on `list` by name and port before anything is resolved (plugin::listed, so a
  /// name not on it is never looked up), then every address it resolves to must pass
  /// plugin::allowed (public, or declared by the list); an address of this host passes only
  /// when the list declares it. Listening again on a `path` already open only replaces its
  /// list (connections in flight keep the one they started with).
  status listen_scoped(const std::string& agent, const std::string& scope, const std::string& path,
                       std::shared_ptr<const plugin::allowlist> list);
  /// Stops listening on `path` (a scope that went away) and removes the socket file.
  void close_listener(const std::string& path);
  /// The paths of the scoped listeners open now.
  std::vector<std::string> scoped_paths() const;

  /// Stops accepting; connections in flight go on (the drain waits for them).
  void close_listeners();
  /// Connections in flight (all states).
  std::size_t connections() const { return _conns.size(); }

 private:
  struct connection;
  struct listener {
    std::string agent, path;
    std::string scope;                              ///< empty: the agent's own socket
    std::shared_ptr<const plugin::allowlist> list;  ///< scoped: what it may reach
    unique_fd fd;
    event_loop::id watch = 0;
  };
  void accept_from(listener& l);
  void on_client_readable(std::uint64_t id);
  void resolve(std::uint64_t id);
  void connect_next(std::uint64_t id);
  void on_connected(std::uint64_t id);
  void start_relay(std::uint64_t id);
  void refuse(std::uint64_t id, int status, std::string reason);
  void drop(std::uint64_t id);

  event_loop& _loop;
  worker_pool& _resolver;
  limits _lim;
  std::shared_ptr<const check_fn> _check;
  refused_fn _on_refused;
  std::vector<std::unique_ptr<listener>> _listeners;
  std::map<std::uint64_t, std::unique_ptr<connection>> _conns;
  std::map<std::string, std::size_t> _per_agent;
  std::uint64_t _next = 1;
  std::shared_ptr<bool> _alive = std::make_shared<bool>(true);  // for resolver completions
};

}  // namespace weft::egress
