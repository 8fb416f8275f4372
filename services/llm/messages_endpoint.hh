#pragma once
/// llm's Anthropic-Messages endpoint for delegated Claude Code runs: HTTP/1.1 on a UNIX
/// socket ($WEFT_RUNTIME_DIR/llm/messages.sock, mode 0660), `POST /v1/messages` passed on
/// to the configured Anthropic-style provider with the real key, its answer (an SSE stream
/// or JSON) passed back as it arrives. A run authenticates with a short-lived token issued
/// over the bus (Llm.v1 IssueRunToken) instead of a key, so no process but llm ever holds
/// one; each request is checked against the agent's daily budget first, and what it used
/// (the stream's or body's `usage`) is counted against it at the price of the
/// [[llm.tiers]] entry for that provider and model.
///
/// Errors are answered in Anthropic's shape ({"type":"error","error":{"type","message"}})
/// so Claude Code shows them as it shows the API's own.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <weft/base/event_loop.hh>
#include <weft/base/line_buffer.hh>
#include <weft/http/client.hh>
#include <weft/http/server.hh>
#include <weft/service/config.hh>

#include "proto/llm_v1.hh"

namespace weft::llm {

class spend_ledger;

class messages_endpoint {
 public:
  static constexpr std::chrono::hours default_ttl{1};
  static constexpr std::chrono::hours max_ttl{24};
  static constexpr std::size_t max_tokens_held = 4096;

  /// Listens on `socket_path`. The endpoint must not outlive `loop`, `http`, `cfg` or `ledger`.
  static result<std::unique_ptr<messages_endpoint>> start(event_loop& loop, http::client& http,
                                                          const service::config& cfg, spend_ledger& ledger,
                                                          std::string socket_path);
  ~messages_endpoint();

  /// A token for `agent`'s runs, good for `ttl` (0: default_ttl; at most max_ttl).
  proto::llm_v1::run_token issue(const std::string& agent, std::chrono::milliseconds ttl);
  const std::string& socket() const { return _socket; }
  /// Requests being passed on now.
  std::size_t in_flight() const { return _forwarding.size(); }

 private:
  struct forward;
  messages_endpoint(event_loop& loop, http::client& http, const service::config& cfg, spend_ledger& ledger,
                    std::string socket_path);
  void on_request(http::server::conn_id c, const http::request& req);
  void on_close(http::server::conn_id c);
  void fail(http::server::conn_id c, int status, std::string_view type, std::string_view message);
  void charge(const forward& f);

  event_loop& _loop;
  http::client& _http;
  const service::config& _cfg;
  spend_ledger& _ledger;
  std::string _socket;
  std::unique_ptr<http::server> _server;
  struct grant {
    std::string agent;
    event_loop::clock::time_point expires;
  };
  std::map<std::string, grant> _tokens;
  std::map<http::server::conn_id, std::unique_ptr<forward>> _forwarding;
};

/// The provider the endpoint passes requests to: [llm] default_provider when it is an
/// enabled Anthropic-style provider with a key, else the first such provider by name;
/// nullptr when there is none.
const service::provider_settings* anthropic_provider(const service::config& cfg);

/// Input and output tokens of a Messages answer: from an SSE stream's message_start and
/// message_delta events, or a JSON body's `usage`. Fed piece by piece.
class usage_reader {
 public:
  void feed(std::string_view bytes);
  void finish();
  std::uint64_t input_tokens() const { return _in; }
  std::uint64_t output_tokens() const { return _out; }
  std::string model() const { return _model; }

 private:
  void line(std::string_view l);
  void object(std::string_view json_text);
  line_buffer _lines{16u << 20};
  std::string _body;
  bool _sse = false, _decided = false;
  std::uint64_t _in = 0, _out = 0;
  std::string _model;
};

}  // namespace weft::llm
