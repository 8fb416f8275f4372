#pragma once
/// How the client host reaches one MCP server: a child process on stdio, or a Streamable
/// HTTP endpoint. A transport is driven by the host's poll loop: it names the fds it waits
/// on, does non-blocking work in on_io()/tick(), and reports through its events. None of
/// its calls blocks, so one hanging server never holds up the others or the bus.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <poll.h>

#include <weft/base/result.hh>
#include <weft/service/config.hh>

namespace weft::mcp_host {

using clock = std::chrono::steady_clock;

struct transport_events {
  std::function<void(std::string line)> line;     ///< one JSON-RPC message received
  std::function<void(std::string reason)> closed;  ///< the connection is gone (reported once)
};

class transport {
 public:
  virtual ~transport() = default;
  /// Sends one serialised message (no newline). Never blocks: output is queued.
  virtual void send(std::string line) = 0;
  /// Appends the fds to poll (events POLLIN/POLLOUT).
  virtual void fds(std::vector<pollfd>& out) = 0;
  /// Called after every poll (whether or not its fds were ready): reads, writes, reaps.
  virtual void on_io(clock::time_point now) = 0;
  /// The latest time on_io must run again (timers), if any.
  virtual std::optional<clock::time_point> wake_at() const { return std::nullopt; }
  /// Starts an orderly stop; the events are not called any more. finished() says when
  /// nothing is left (the child was reaped).
  virtual void shutdown(clock::time_point now, bool hard) = 0;
  virtual bool finished() const = 0;
  /// The child's pid (stdio), -1 otherwise.
  virtual pid_t pid() const { return -1; }
};

/// Starts `command args` for entry `e` with exactly the environment the entry gives (plus
/// PATH and HOME) in `cwd`, its own process group, stdin/stdout pipes and stderr read for
/// the log. Errors: "Failed to start '<command>': <reason>".
result<std::unique_ptr<transport>> start_stdio(const service::mcp_server_entry& e, const std::string& cwd,
                                               transport_events ev);

/// A Streamable HTTP transport for `e.url`: one worker thread doing the POSTs (libcurl),
/// handing received messages back through an eventfd.
result<std::unique_ptr<transport>> start_http(const service::mcp_server_entry& e, transport_events ev);

/// The child environment of a stdio entry (exposed for tests): `e.env`, plus PATH
/// (default /usr/local/bin:/usr/bin:/bin) and HOME (= cwd) unless `e.env` sets them.
std::vector<std::string> child_environment(const service::mcp_server_entry& e, const std::string& cwd);

/// `command` looked up in `path` (a ':' list) when it has no '/'; empty when not found.
std::string find_program(const std::string& command, const std::string& path);

}  // namespace weft::mcp_host
