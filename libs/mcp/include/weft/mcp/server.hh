#pragma once
/// An MCP server dispatcher, independent of the transport: fed each received line, it
/// answers through a send function. It owns the protocol (handshake, version negotiation,
/// era pinning, params checks, error codes, what the capabilities promise); the methods
/// themselves are handlers, which may answer later (e.g. after a bus round trip).
///
/// Eras: the connection's opening request pins it (protocols.md §1.8): `initialize` without a
/// 2026-07-28 `_meta` → legacy; `server/discover` or a `_meta` protocol version → 2026-07-28.
/// A modern request is checked in this order: a `_meta` version other than 2026-07-28 →
/// -32022 with data {supported, requested}; a method this revision does not have (`initialize`,
/// `ping`, `logging/setLevel`, `resources/subscribe`, …) → -32601; `_meta` without its
/// protocol version or its client capabilities (an object) → -32602. Results carry
/// `resultType:"complete"` and `_meta[serverInfo]`, list results `ttlMs:0` and
/// `cacheScope:"private"`. `subscriptions/listen` is how a modern client hears of changes:
/// the request stays open, is acknowledged at once (`notifications/subscriptions/acknowledged`
/// with the honoured subset of toolsListChanged, resourcesListChanged, promptsListChanged and
/// resourceSubscriptions), and every later notification carries
/// `_meta["io.modelcontextprotocol/subscriptionId"]` = the listen request's id.
/// `notifications/cancelled` ends one; end_listens() answers all.
/// Not implemented for the modern era: input_required/MRTR, per-request log levels.
///
/// Legacy sessions: before `initialize` only `ping` is accepted; other requests get -32600
/// "Server not initialized". Requests between the `initialize` answer and
/// `notifications/initialized` are served (clients pipeline them). The dispatcher itself
/// serves `resources/subscribe`/`unsubscribe` (options::resource_updates) and
/// `logging/setLevel` (options::logging), and `resources/templates/list` when resources are
/// offered without a templates handler (an empty list).
///
/// A missing resource (a handler's error named ResourceNotFound) is -32002 with data {uri}
/// in the legacy era and -32602 with data {uri} in the modern one.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/log.hh>
#include <weft/base/result.hh>
#include <weft/mcp/jsonrpc.hh>
#include <weft/mcp/version.hh>

namespace weft::mcp {

/// A method handler: given the request's params (an object, {} when absent; checked: the
/// string `name` of tools/call and prompts/get, `uri` of resources/read, a string `cursor`
/// of lists, an object `arguments`, {} when absent; the `ref` and `argument` of
/// completion/complete), it calls `reply` once, now or later, with the result object or an
/// error. Errors in `domain` keep their code (e.g. InvalidParams → -32602; ResourceNotFound
/// as above); others become -32603. A tool's own failure belongs in the result
/// (`isError: true`), not here.
using reply_fn = std::function<void(result<json>)>;
using handler = std::function<void(const json& params, reply_fn reply)>;

/// The methods a server offers; an empty handler means "not offered" (-32601 and no capability).
struct handlers {
  handler list_tools, call_tool;
  handler list_resources, read_resource;
  /// resources/templates/list; with list_resources but without this, an empty list.
  handler list_resource_templates;
  handler list_prompts, get_prompt;
  /// completion/complete: ref {type:"ref/prompt", name} or {type:"ref/resource", uri},
  /// argument {name, value}, context.arguments. More than 100 values are cut to 100 with
  /// hasMore (the spec's limit).
  handler complete;
};

/// The lists a server can say changed.
enum class list_kind : std::uint8_t { tools = 1, resources = 2, prompts = 3 };

/// The era a server gives a connection's opening request: a `_meta` protocol version that
/// is not a legacy one, or `server/discover` → modern (so an `initialize` carrying the
/// 2026-07-28 `_meta` is a modern request, for a method that revision does not have);
/// `initialize` → legacy; anything else (e.g. `ping`) → none.
std::optional<era> opening_era(const request& opening);

/// 2026-07-28: the fields every request's `_meta` must carry — the protocol version (a
/// string) and the client capabilities (an object). The -32602 message when one is missing.
std::optional<std::string> missing_meta(const json& params);

class server {
 public:
  using sender = std::function<void(std::string)>;

  struct options {
    std::string name = "weft";
    std::string version;  ///< the program's version (weft-mcp: service::version())
    std::string title;
    std::string instructions;
    limits lim;
    std::size_t max_in_flight = 64;  ///< handler calls not yet answered; more → -32603
    /// The caller tells sessions when its resource and prompt lists change
    /// (notify_list_changed): capabilities resources.listChanged and prompts.listChanged.
    bool list_changes = false;
    /// The caller tells sessions when a resource changes (notify_resource_updated):
    /// capability resources.subscribe; legacy resources/subscribe|unsubscribe, modern
    /// resourceSubscriptions.
    bool resource_updates = false;
    /// The caller sends its log records (log()): legacy capability logging, logging/setLevel.
    bool logging = false;
    /// Serves 2026-07-28 requests only, from the first one (HTTP without a session).
    bool stateless = false;
  };

  server(options opt, handlers h, sender send);
  ~server() { *_alive = false; }
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Handles one received line. Returns an error only for input that is not a JSON-RPC
  /// message (after answering it with -32700/-32600), for the caller to log.
  status receive(std::string_view line);

  /// Sends `notifications/<kind>/list_changed` if a legacy session is initialized (and the
  /// capabilities promised it), or to every modern subscription that asked for it. Returns
  /// whether anything was sent.
  bool notify_list_changed(list_kind k);
  bool notify_tools_changed() { return notify_list_changed(list_kind::tools); }
  /// Sends `notifications/resources/updated` {uri} if this session subscribed to `uri`
  /// (legacy) or a subscription lists it (modern). Returns whether anything was sent.
  bool notify_resource_updated(std::string_view uri);
  /// Sends a log record as `notifications/message` when the client asked (logging/setLevel)
  /// for records this severe: weft's trace and debug are MCP's debug, info is info,
  /// warning warning, error error. Returns whether it was sent.
  bool log(log::level l, std::string_view logger, std::string_view text);

  /// Ends every open subscription with its final result (the server is going away).
  void end_listens();
  /// Open subscriptions/listen requests (modern).
  std::size_t listens() const { return _listens.size(); }
  static constexpr std::size_t max_listens = 16;  ///< per connection; more → -32603
  /// Resources one session (legacy) or one subscription (modern) may watch; more → -32602.
  static constexpr std::size_t max_resource_subscriptions = 256;

  std::optional<mcp::era> era() const { return _era; }
  /// The negotiated (legacy) or pinned (modern) protocol version; empty before.
  const std::string& protocol_version() const { return _version; }
  bool initialized() const { return _initialized; }
  std::size_t in_flight() const { return *_in_flight; }
  /// The resources this (legacy) session subscribed to.
  const std::set<std::string, std::less<>>& subscriptions() const { return _subscribed; }

 private:
  struct listen_entry {
    request_id id;
    bool tools = false, resources = false, prompts = false;
    std::set<std::string, std::less<>> uris;
  };
  /// What an answer needs to know of its request.
  struct context {
    request_id id;
    bool modern = false;
    bool list = false;
    std::string uri;  ///< resources/read: named in a ResourceNotFound error
  };
  void dispatch(const request& q);
  void serve_legacy_builtin(const request& q, const json& params);
  void listen(const request_id& id, const json& params);
  void answer(const context& c, result<json> r);
  void send_error(const request_id& id, int code, std::string message, json data = json());
  json capabilities(mcp::era e) const;
  /// Whether this server has `method` in era `e` (-32601 otherwise).
  bool offers(std::string_view method, mcp::era e) const;
  bool promises_changes(list_kind k) const;

  options _opt;
  handlers _h;
  sender _send;
  std::optional<mcp::era> _era;
  std::vector<listen_entry> _listens;  // open subscriptions/listen
  std::set<std::string, std::less<>> _subscribed;  // legacy resources/subscribe
  std::optional<int> _log_severity;                // legacy logging/setLevel: MCP severity index
  std::string _version;
  bool _initialized = false;
  // Shared with pending replies: a reply after the server is gone is dropped, not a crash.
  std::shared_ptr<std::size_t> _in_flight = std::make_shared<std::size_t>(0);
  std::shared_ptr<bool> _alive = std::make_shared<bool>(true);
};

}  // namespace weft::mcp
