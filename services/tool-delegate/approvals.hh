#pragma once
/// The permission prompt of delegated runs ([delegation] ask): before a step its allowed
/// tools do not cover, Claude Code calls the MCP tool `approve` (--permission-prompt-tool
/// mcp__weft__approve), served here over Streamable HTTP on 127.0.0.1:3130 inside the
/// delegate's network namespace — reachable by its own runs only — one path per run
/// (/approve/<run>). The question goes to the person as a progress line of the run's call;
/// the caller's Tool.v1 Answer ("allow" or "deny", sent by the agent for `/allow` or `/deny`
/// in the chat) or the time limit (deny) decides, and Claude Code gets
/// {"behavior":"allow","updatedInput":…} or {"behavior":"deny","message":…}.
///
/// Threads: open() and close() are called from a run's worker and wait for the loop; the
/// HTTP server, the MCP sessions and the questions live on the loop.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <weft/base/result.hh>
#include <weft/http/server.hh>
#include <weft/mcp/http_server_transport.hh>
#include <weft/service/runtime.hh>

namespace weft::delegate {

class approvals {
 public:
  static constexpr std::uint16_t port = 3130;
  /// Listens on 127.0.0.1:port (in the delegate's own network namespace) and takes Tool.v1
  /// Answer events. errc::io when it cannot listen.
  static result<std::unique_ptr<approvals>> start(service::runtime& rt, std::chrono::milliseconds timeout);
  ~approvals();
  approvals(const approvals&) = delete;
  approvals& operator=(const approvals&) = delete;

  /// From a run's worker: an endpoint for one run, whose questions are put to `caller` (the
  /// address that made the Call `call_id`) through `ask`. Returns the URL for --mcp-config.
  std::string open(const std::string& caller, const std::string& call_id, std::function<void(std::string)> ask);
  /// From the run's worker, when the run is over: a question still open is denied.
  void close(const std::string& url);

  /// The question put to the person, from approve's arguments (tool_name, input).
  static std::string question(const nlohmann::json& args, std::chrono::milliseconds timeout);

 private:
  approvals(service::runtime& rt, std::chrono::milliseconds timeout, std::unique_ptr<http::server> srv);
  struct run;
  void call_approve(const std::string& id, const nlohmann::json& params, mcp::reply_fn reply);
  void decide(run& r, bool allow, const std::string& why);
  void on_answer(const std::string& from, const std::string& call_id, const std::string& answer);
  /// Runs `fn` on the loop and waits for it (from a worker).
  void on_loop(std::function<void()> fn);

  service::runtime& _rt;
  std::chrono::milliseconds _timeout;
  std::unique_ptr<http::server> _http;
  std::map<std::string, std::unique_ptr<run>> _runs;  // by run id; loop thread only
  std::uint64_t _next = 1;                             // loop thread only
};

}  // namespace weft::delegate
