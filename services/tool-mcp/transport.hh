#pragma once
/// How the client host reaches one MCP server: a child process on stdio, or a Streamable
/// HTTP endpoint. A transport lives on the host's event loop: it watches its own descriptors
/// and sets its own timers there (stdio), or runs its requests on the host's HTTP client
/// (libs/http, on the same loop), and reports through its events. None of its calls blocks,
/// so one hanging server never holds up the others or the bus.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <weft/base/event_loop.hh>
#include <weft/base/result.hh>
#include <weft/http/client.hh>
#include <weft/service/config.hh>

namespace weft::mcp_host {

using clock = std::chrono::steady_clock;

/// What a transport reports. Called on the loop's thread, never from inside send().
struct transport_events {
  std::function<void(std::string line)> line;     ///< one JSON-RPC message received
  std::function<void(std::string reason)> closed;  ///< the connection is gone (reported once)
};

class transport {
 public:
  virtual ~transport() = default;
  /// Sends one serialised message (no newline). Never blocks: output is queued.
  virtual void send(std::string line) = 0;
  /// Starts an orderly stop (`hard`: at once); the events are not called any more.
  /// `finished` runs (on the loop, once) when nothing is left: the child was reaped, the
  /// HTTP session ended. The transport may be destroyed from then on, not inside it.
  virtual void shutdown(bool hard, std::function<void()> finished) = 0;
  virtual bool finished() const = 0;
  /// The child's pid (stdio), -1 otherwise.
  virtual pid_t pid() const { return -1; }
};

/// Starts `command args` for entry `e` with exactly the environment the entry gives (plus
/// PATH and HOME) in `cwd`, its own process group, stdin/stdout pipes and stderr read for
/// the log, all watched on `loop`. Errors: "Failed to start '<command>': <reason>".
result<std::unique_ptr<transport>> start_stdio(event_loop& loop, const service::mcp_server_entry& e,
                                               const std::string& cwd, transport_events ev);

/// A Streamable HTTP transport for `e.url`, its requests on `client` (which outlives it).
result<std::unique_ptr<transport>> start_http(event_loop& loop, http::client& client,
                                              const service::mcp_server_entry& e, transport_events ev);

/// The child environment of a stdio entry (exposed for tests): `e.env`, plus PATH
/// (default /usr/local/bin:/usr/bin:/bin) and HOME (= cwd) unless `e.env` sets them.
std::vector<std::string> child_environment(const service::mcp_server_entry& e, const std::string& cwd);

/// `command` looked up in `path` (a ':' list) when it has no '/'; empty when not found.
std::string find_program(const std::string& command, const std::string& path);

}  // namespace weft::mcp_host
