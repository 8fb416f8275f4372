#pragma once
/// An MCP server dispatcher, independent of the transport: fed each received line, it
/// answers through a send function. It owns the protocol (handshake, version negotiation,
/// era pinning, params checks, error codes); the methods themselves are handlers, which may
/// answer later (e.g. after a bus round trip).
///
/// Eras: the connection's opening request pins it (protocols.md §1.8): `initialize` →
/// legacy; `server/discover` or a `_meta` protocol version → 2026-07-28. Modern requests
/// must carry `_meta["io.modelcontextprotocol/protocolVersion"] == "2026-07-28"` (else -32022
/// with data {supported, requested}); their results carry `resultType:"complete"` and
/// `_meta[serverInfo]`, list results `ttlMs:0` and `cacheScope:"private"`.
/// `subscriptions/listen` is how a modern client hears of changes: the request stays open,
/// is acknowledged at once (`notifications/subscriptions/acknowledged` with the honoured
/// subset, i.e. toolsListChanged when tools are offered), and every later
/// `notifications/tools/list_changed` carries `_meta["io.modelcontextprotocol/subscriptionId"]`
/// = the listen request's id. `notifications/cancelled` ends one; end_listens() answers all.
/// Not implemented for the modern era: input_required/MRTR, per-request log levels.
///
/// Before `initialize` a legacy connection accepts only `ping`; other requests get -32600
/// "Server not initialized". Requests between the `initialize` answer and
/// `notifications/initialized` are served (clients pipeline them).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/result.hh>
#include <weft/mcp/jsonrpc.hh>
#include <weft/mcp/version.hh>

namespace weft::mcp {

/// A method handler: given the request's params (an object, {} when absent; checked: the
/// string `name` of tools/call and prompts/get, `uri` of resources/read, a string `cursor`
/// of lists, an object `arguments`, {} when absent), it calls
/// `reply` once, now or later, with the result object or an error. Errors in `domain` keep
/// their code (e.g. InvalidParams → -32602); others become -32603. A tool's own failure
/// belongs in the result (`isError: true`), not here.
using reply_fn = std::function<void(result<json>)>;
using handler = std::function<void(const json& params, reply_fn reply)>;

/// The methods a server offers; an empty handler means "not offered" (-32601 and no capability).
struct handlers {
  handler list_tools, call_tool;
  handler list_resources, read_resource;
  handler list_prompts, get_prompt;
};

class server {
 public:
  using sender = std::function<void(std::string)>;

  struct options {
    std::string name = "weft";
    std::string version = "0.1";
    std::string title;
    std::string instructions;
    limits lim;
    std::size_t max_in_flight = 64;  ///< handler calls not yet answered; more → -32603
  };

  server(options opt, handlers h, sender send);
  ~server() { *_alive = false; }
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Handles one received line. Returns an error only for input that is not a JSON-RPC
  /// message (after answering it with -32700/-32600), for the caller to log.
  status receive(std::string_view line);

  /// Sends `notifications/tools/list_changed` if a legacy session is initialized, or to every
  /// modern subscription that asked for it. Returns whether anything was sent.
  bool notify_tools_changed();
  /// Ends every open subscription with its final result (the server is going away).
  void end_listens();
  /// Open subscriptions/listen requests (modern).
  std::size_t listens() const { return _listens.size(); }
  static constexpr std::size_t max_listens = 16;  ///< per connection; more → -32603

  std::optional<mcp::era> era() const { return _era; }
  /// The negotiated (legacy) or pinned (modern) protocol version; empty before.
  const std::string& protocol_version() const { return _version; }
  bool initialized() const { return _initialized; }
  std::size_t in_flight() const { return *_in_flight; }

 private:
  void dispatch(const request& q);
  void listen(const request_id& id, const json& params);
  void answer(const request_id& id, result<json> r, bool modern, bool list);
  void send_error(const request_id& id, int code, std::string message, json data = json());
  json capabilities() const;

  options _opt;
  handlers _h;
  sender _send;
  std::optional<mcp::era> _era;
  std::vector<request_id> _listens;  // open subscriptions/listen (all for tools list_changed)
  std::string _version;
  bool _initialized = false;
  // Shared with pending replies: a reply after the server is gone is dropped, not a crash.
  std::shared_ptr<std::size_t> _in_flight = std::make_shared<std::size_t>(0);
  std::shared_ptr<bool> _alive = std::make_shared<bool>(true);
};

}  // namespace weft::mcp
