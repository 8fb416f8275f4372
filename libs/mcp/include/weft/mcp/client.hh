#pragma once
/// An MCP client session of either era, independent of the transport: it is handed a
/// function that sends one serialised message and is fed each received line. connect()
/// finds the era the server speaks (protocols.md §1.9); initialize() forces the legacy era. No threads: the
/// caller's event loop drives time through expire(now). Callbacks run inside the call that
/// completes them (receive, expire, fail_all, or the request call itself on a local refusal).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/result.hh>
#include <weft/mcp/jsonrpc.hh>
#include <weft/mcp/version.hh>

namespace weft::mcp {

/// What `initialize` (legacy) or `server/discover` (2026-07-28) learned about the server.
struct server_hello {
  mcp::era era = era::legacy;
  std::string protocol_version;
  json capabilities;  ///< the server's capabilities object
  std::string name, title, version;
  std::string instructions;
};

/// One entry of `tools/list`.
struct tool {
  std::string name, title, description;
  json input_schema;   ///< always an object
  json output_schema;  ///< null when absent
  json annotations;    ///< null when absent
};

/// One content block of a tool result. `type` is text, image, audio, resource,
/// resource_link or anything newer; `raw` keeps the whole block for what is not lifted out.
struct content_block {
  std::string type;
  std::string text;       ///< text
  std::string data;       ///< image, audio: base64
  std::string mime_type;  ///< image, audio, resource_link
  std::string uri;        ///< resource (resource.uri), resource_link
  json raw;
};

/// The result of `tools/call`. A tool failure is `is_error`, not an error result.
struct call_result {
  std::vector<content_block> content;
  json structured;  ///< structuredContent, null when absent
  bool is_error = false;
};

/// Parses a tools/call result object (exposed for tests and for HTTP transports).
result<call_result> parse_call_result(const json& r);
/// Parses a tools/list result's `tools` entry.
result<tool> parse_tool(const json& t);

class client {
 public:
  using clock = std::chrono::steady_clock;
  using sender = std::function<void(std::string)>;

  struct options {
    std::string name = "weft";
    std::string version = "0.1";
    json capabilities = json::object();
    std::string protocol_version = "2025-11-25";
    std::chrono::milliseconds timeout{30'000};  ///< per request (a whole tools/list listing shares one)
    limits lim;
    std::size_t max_pages = 1000;  ///< tools/list pages before giving up (a cursor loop)
  };

  client(options opt, sender send);

  /// Which era connect() tries.
  enum class mode : std::uint8_t {
    automatic,  ///< probe with server/discover; legacy when the server does not speak 2026-07-28
    legacy,     ///< initialize only
    modern,     ///< server/discover only; a server without 2026-07-28 is an error
  };

  /// Sends `initialize`; on an acceptable answer sends `notifications/initialized` and the
  /// session is ready. Other requests fail until then.
  void initialize(clock::time_point now, std::function<void(result<server_hello>)> done);
  /// Starts a session in the era the server speaks. `automatic`: `server/discover` first (with
  /// the 2026-07-28 `_meta`); a DiscoverResult offering 2026-07-28 makes the session modern and
  /// ready at once (no handshake). Any error answer means a legacy server (or a modern one
  /// without our version) and initialize() follows on the same connection; so does silence
  /// for `probe_timeout` (the caller's expire() notices), but then the probe stays pending:
  /// a slow modern server's late DiscoverResult still wins over the initialize it refuses.
  /// When initialize fails after a -32022, the error names both. In a modern session every request carries
  /// the `_meta` protocol fields, ping() is a `server/discover` (the era has no ping), and a
  /// result asking for input (`resultType: "input_required"`, MRTR) fails with a clear error:
  /// weft offers no client capabilities that a server could ask for.
  void connect(clock::time_point now, mode m, std::chrono::milliseconds probe_timeout,
               std::function<void(result<server_hello>)> done);
  /// Modern sessions: opens `subscriptions/listen` for tools list_changed. The request stays
  /// open without a deadline; the server's notifications on it reach on_tools_changed().
  /// `ended` runs when the subscription ends (the server answered or failed it, or the
  /// transport closed): the caller may listen again. Returns the request id (0: refused,
  /// `ended` ran already).
  std::int64_t listen_tools(clock::time_point now, std::function<void(status)> ended);
  /// The era probe of protocols.md §1.9, allowed before initialize: `server/discover` with the
  /// 2026-07-28 `_meta`. A result or a -32022 answer means the server is modern; any other
  /// error or a timeout means legacy (legacy servers answer -32601 and keep going), after
  /// which initialize() may follow on the same connection. Modern sessions themselves are
  /// not implemented by this client (README.md).
  void probe_era(clock::time_point now, std::function<void(mcp::era)> done);
  /// All tools, following `nextCursor` until it is absent. The whole listing must finish
  /// within `timeout` (zero: options::timeout).
  void list_tools(clock::time_point now, std::function<void(result<std::vector<tool>>)> done,
                  std::chrono::milliseconds timeout = {});
  /// Returns the request id (for cancel), 0 when it was refused locally (done ran already).
  /// `meta` (an object) is the request's `_meta` (a progress token, a trace id, what a
  /// caller passes through); its `io.modelcontextprotocol/` keys are dropped, since the
  /// session sets those itself.
  std::int64_t call_tool(clock::time_point now, std::string name, json arguments,
                         std::function<void(result<call_result>)> done, json meta = {});
  void ping(clock::time_point now, std::function<void(status)> done);
  /// Any request; `done` gets the raw result object. Returns the id as call_tool does.
  std::int64_t request(clock::time_point now, std::string method, json params, std::function<void(result<json>)> done);

  /// Stops waiting for request `id`: its entry is dropped (`done` is not called, a late
  /// answer is ignored) and the peer gets `notifications/cancelled {requestId, reason}`.
  /// False when `id` is not pending. initialize is never cancelled on the wire (MCP).
  bool cancel(std::int64_t id, std::string_view reason);

  /// Called on `notifications/tools/list_changed`.
  void on_tools_changed(std::function<void()> cb) { _on_tools_changed = std::move(cb); }
  /// Called for every other server notification.
  void on_notification(std::function<void(const notification&)> cb) { _on_notification = std::move(cb); }

  /// Handles one received line: completes a request, dispatches a notification, answers a
  /// server request (`ping` with {}, anything else -32601). Returns an error for input that
  /// is not a JSON-RPC message (the caller logs it; the session continues).
  status receive(std::string_view line);
  /// Fails every request whose deadline is before `now` with errc::timeout and tells the
  /// peer with `notifications/cancelled` (except initialize).
  void expire(clock::time_point now);
  /// The earliest time expire() has something to do (a request's deadline, the probe's
  /// fallback); nullopt when nothing waits. For an event loop's timer.
  std::optional<clock::time_point> next_deadline() const;
  /// Fails every pending request with `e` (the transport closed) and ends the session.
  void fail_all(const error& e);

  bool ready() const { return _state == state::ready; }
  bool modern() const { return _hello.era == era::modern && _state == state::ready; }
  std::size_t pending() const { return _pending.size(); }
  const server_hello& hello() const { return _hello; }

 private:
  enum class state : std::uint8_t { idle, probing, initializing, ready, closed };
  struct pending_request {
    std::string method;
    clock::time_point deadline;
    std::chrono::milliseconds timeout;
    std::function<void(result<json>)> done;
  };

  std::int64_t send_request(clock::time_point deadline, std::chrono::milliseconds timeout, std::string method,
                            json params, std::function<void(result<json>)> done);
  void send_cancelled(std::int64_t id, std::string_view reason);
  json with_meta(json params) const;  ///< params plus the 2026-07-28 `_meta` protocol fields
  result<server_hello> read_discover(const json& r) const;
  result<server_hello> read_initialize(const json& r) const;
  /// `version`: the protocolVersion asked for; empty: options::protocol_version.
  std::int64_t send_initialize(clock::time_point now, std::function<void(result<server_hello>)> done,
                               std::string_view version = {});
  struct connecting;
  void send_probe(clock::time_point now);  ///< connect's server/discover
  /// Automatic connect: initialize beside the unanswered probe, in `version` (empty: the
  /// options' version; a version the server listed in a -32022 answer otherwise).
  void fall_back(clock::time_point now, std::string_view version = {});
  void finish_connect(result<server_hello> h);
  error connect_failure(const connecting& cx) const;
  void list_page(clock::time_point deadline, std::chrono::milliseconds timeout, std::string cursor, std::size_t page, std::shared_ptr<std::vector<tool>> acc,
                 std::function<void(result<std::vector<tool>>)> done);
  void complete(std::int64_t id, result<json> r);

  options _opt;
  sender _send;
  state _state = state::idle;
  std::int64_t _next_id = 1;
  clock::time_point _now{};  ///< the latest time the caller gave (for requests a callback starts)
  std::shared_ptr<connecting> _connecting;  ///< while connect() has not finished
  std::map<std::int64_t, pending_request> _pending;
  server_hello _hello;
  std::function<void()> _on_tools_changed;
  std::function<void(const notification&)> _on_notification;
};

}  // namespace weft::mcp
