#pragma once
/// The server side of MCP's Streamable HTTP transport (protocols.md §1.5–1.7) as a state
/// machine without sockets: it is given each HTTP request {method, path, headers, body} of
/// a connection and answers through callbacks (a response now or later, an SSE stream and
/// the events written to it). The caller owns the sockets (e.g. http::server), so every
/// status below is unit-tested without a network.
///
/// One `mcp::server` dispatcher per session. At `path` (default /mcp):
/// - Origin: absent is fine (non-browser clients); http(s)://127.0.0.1, localhost or [::1]
///   with an optional port, and the configured `allowed_origins`, are accepted; anything
///   else → 403. Checked first (DNS rebinding).
/// - Token: when set, `Authorization: Bearer <token>` → else 401.
/// - POST: Accept must name application/json and text/event-stream (or */*) → else 406;
///   Content-Type application/json → else 415; body over the limit → 413; not JSON → 400
///   with -32700; not JSON-RPC → 400 with -32600. `initialize` opens a session
///   (`Mcp-Session-Id` in the answer); other messages need the header → 400 when missing,
///   404 when unknown or terminated. `MCP-Protocol-Version`: missing means 2025-03-26; an
///   unsupported one → 400. Notifications and responses → 202; requests → 200
///   application/json with the one response (possibly later, after the handler answers).
///   A request of the 2026-07-28 era (`server/discover`, a `_meta` protocol version that is
///   not a legacy one, or an `MCP-Protocol-Version: 2026-07-28` header) without a session is
///   served statelessly by a dispatcher of its own — an `initialize` too, which that revision
///   does not have (404, -32601). Its MCP-Protocol-Version, Mcp-Method and (tools/call,
///   prompts/get: params.name; resources/read: uri) Mcp-Name headers must repeat the body →
///   else 400 with -32020. Its errors: unknown method 404; version errors, header
///   mismatches, missing client capabilities and a `_meta` without its required fields
///   (-32602) 400; others 200. A `subscriptions/listen` POST becomes an SSE stream at its
///   acknowledgement and stays open (list_changed events) until the client closes it (at
///   most `max_sessions` of them). Stateless notifications → 202.
/// - GET (Accept text/event-stream → else 406): the session's SSE stream for server
///   notifications (list_changed, resources/updated, log messages); one per session (a
///   second → 409).
/// - DELETE: ends the session (200); its pending POSTs get 404, its stream is closed.
/// - Other methods → 405. Error bodies are JSON-RPC error responses with id null.
///
/// Admission: a new session is let in by `admit()` when set (the caller's one rule over
/// every transport it serves); else, beyond `max_sessions`, by the transport: the
/// least recently used idle session (no stream, nothing in flight; `external_sessions()`
/// counted) is ended; when none is idle → 503. Sessions idle longer than `idle_expiry` are
/// ended by expire_idle(), which the caller runs now and then.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <weft/mcp/server.hh>

namespace weft::mcp::http {

struct request {
  std::string method;
  std::string path;                            ///< without the query
  std::map<std::string, std::string> headers;  ///< names lower-case
  std::string body;
  std::string header(const std::string& lower_name) const;
};

struct response {
  int status = 200;
  std::string content_type;  ///< empty: no body
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool stream = false;  ///< start an SSE stream (text/event-stream) that stays open
};

/// True for an Origin weft accepts without configuration: http(s)://127.0.0.1, localhost or
/// [::1], optionally with :port, nothing after. Exact (case-insensitive) matches of `extra`
/// are accepted too.
bool origin_allowed(std::string_view origin, const std::vector<std::string>& extra);

/// One SSE event carrying a JSON-RPC message ("event: message").
std::string sse_message(std::string_view json_line, std::uint64_t id);

class transport {
 public:
  using conn_id = std::uint64_t;

  struct options {
    std::string path = "/mcp";
    std::vector<std::string> allowed_origins;
    std::string token;  ///< empty: no token needed
    std::size_t max_sessions = 32;
    std::size_t max_body_bytes = 4u << 20;
    /// A session with no stream and nothing in flight this long is ended by expire_idle().
    std::chrono::milliseconds idle_expiry{std::chrono::minutes(30)};
    server::options session;  ///< for every session's dispatcher
  };
  using clock = std::chrono::steady_clock;
  /// A session that could make room: no stream, nothing in flight.
  struct idle_session {
    std::string id;
    clock::time_point used;  ///< its last request
  };

  /// The answer to a connection's request (exactly once per request, now or later).
  std::function<void(conn_id, response)> respond;
  /// Bytes for a connection that was answered with `stream`.
  std::function<void(conn_id, std::string)> write;
  /// Ends a stream (its session was deleted).
  std::function<void(conn_id)> close;
  /// The handlers of a new session's dispatcher.
  std::function<handlers(const std::string& session)> make_handlers;
  /// Sessions held elsewhere that count against max_sessions (stdio), when admit is unset.
  std::function<std::size_t()> external_sessions;
  /// Asked before each new session opens: true when it may, after making room if the limit
  /// is reached, under the caller's rule (e.g. ending this transport's
  /// least_recently_used_idle() or a session of another transport); false: no room.
  std::function<bool()> admit;

  explicit transport(options o);
  ~transport();
  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;

  /// One complete HTTP request on connection `c`.
  void handle(conn_id c, const request& r);
  /// The connection went away (pending answers for it are dropped, its stream forgotten).
  void closed(conn_id c);
  /// Calls `fn` with the dispatcher of every session that has a stream to write to (a legacy
  /// session's GET stream, a 2026-07-28 subscription); `fn` says whether it sent anything.
  /// Returns how many sessions got something.
  std::size_t notify(const std::function<bool(server&)>& fn);
  /// Sends notifications/tools/list_changed to every initialized session with a stream.
  /// Returns how many sessions got it.
  std::size_t notify_tools_changed() {
    return notify([](server& s) { return s.notify_tools_changed(); });
  }
  /// An SSE comment to every open stream (keeps proxies from closing idle ones).
  void keep_alive();

  /// Sessions held (stateless dispatchers of 2026-07-28 requests not counted).
  std::size_t sessions() const;
  /// Open 2026-07-28 subscriptions/listen streams.
  std::size_t listen_streams() const;
  /// Ends every subscription with its final result, which closes its stream (shutdown).
  void end_listens();
  bool has_session(const std::string& id) const { return _sessions.count(id) != 0; }
  /// The least recently used session that could make room, if any.
  std::optional<idle_session> least_recently_used_idle() const;
  /// Ends a session (its pending POSTs get 404, its stream is closed).
  void end_session(const std::string& sid, std::string_view why);
  /// Ends the sessions idle (no stream, nothing in flight) since before now - idle_expiry.
  /// Returns how many.
  std::size_t expire_idle(clock::time_point now);
  /// The protocol version a session negotiated (empty when unknown).
  std::string session_version(const std::string& id) const;

 private:
  struct session;
  struct pending {
    std::string session;
    std::optional<request_id> id;  ///< the request awaited; nullopt: answered or not a request
    bool opening = false;          ///< an initialize: its answer names the session
    bool listen = false;           ///< a stateless subscriptions/listen: its ack opens a stream
    bool bad_meta = false;         ///< a stateless request whose _meta lacks required fields: -32602 is a 400
  };
  void post(conn_id c, const request& r);
  void get(conn_id c, const request& r);
  void del(conn_id c, const request& r);
  void on_line(const std::string& sid, std::string line);
  session* find_session(conn_id c, const request& r);
  bool make_room();
  void answer_error(conn_id c, int status, int code, std::string message,
                    std::vector<std::pair<std::string, std::string>> headers = {});
  std::string new_session_id();

  options _o;
  std::map<std::string, std::unique_ptr<session>> _sessions;
  std::map<conn_id, pending> _pending;   // POSTs waiting for their response
  std::map<conn_id, std::string> _streams;  // GET streams → session
  // The POST being handled right now: a line its dispatcher sends synchronously answers it.
  std::optional<conn_id> _current;
  std::uint64_t _event_seq = 0;
  std::uint64_t _use_seq = 0;
  std::uint64_t _ephemeral_seq = 0;
};

}  // namespace weft::mcp::http
