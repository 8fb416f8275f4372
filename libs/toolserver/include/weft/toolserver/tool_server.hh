#pragma once
/// The bus side shared by the tool processes (weft-tool-fs, -shell, -web), so each only
/// writes its tools: on the service runtime it answers ListTools at its own address and
/// Call at <address>/<tool>, checks the call (the tool the address names, JSON object
/// arguments) before any work starts, runs tools on a bounded weft::worker_pool so a slow
/// command or fetch never blocks the loop, and cuts every result at the content limit.
///
/// A caller may stop one of its calls with a Tool.v1 Cancel naming its call_id: each call
/// has its own cancel descriptor, which that fires (a tool such as the delegate then kills
/// what it started).
///
/// Stop is the runtime's drain: after TERM new calls are answered ShuttingDown, the calls in
/// hand (running and queued) go on and are answered; those still running drain_timeout
/// later are cancelled (call_context::cancelled(), cancel_fd readable) and answered with
/// what the tool makes of that.
///
/// Threads: the runtime's loop thread receives, checks and answers; tools run on the
/// pool's workers and see only their call_context.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <weft/base/log.hh>
#include <weft/base/worker_pool.hh>
#include <weft/service/runtime.hh>
#include <weft/toolserver/tool.hh>

namespace weft::tools {

struct server_options {
  std::string family;                     ///< fs, shell, web
  std::size_t workers = 4;                ///< tools running at once
  std::size_t max_queued = 64;            ///< calls waiting for a worker; more are refused (Failed)
  /// After TERM, then the calls still running are cancelled. Keep it below the runtime's
  /// drain_timeout, so that what a cancelled tool returns is still answered.
  std::chrono::milliseconds drain_timeout{5000};
  std::size_t max_content = 768 * 1024;  ///< Result.content beyond this is cut (bus message limit)
};

class tool_server {
 public:
  /// Registers ListTools and Call on `rt`; add the tools before rt.run(). The server must
  /// outlive rt.run(). errc::io when the cancel descriptor cannot be made.
  static result<std::unique_ptr<tool_server>> create(service::runtime& rt, server_options o);
  /// Cancels what still runs, waits for it, and fails the calls left unanswered (the
  /// runtime gave up draining before they ended).
  ~tool_server();
  tool_server(const tool_server&) = delete;
  tool_server& operator=(const tool_server&) = delete;

  void add(tool_def t);

  /// The ListTools answer (for tests and --help).
  tool::tools list() const;
  /// Calls taken and not answered yet (waiting for a worker or running).
  std::size_t in_flight() const { return _calls.size(); }

 private:
  tool_server(service::runtime& rt, server_options o, std::unique_ptr<cancel_signal> cancel);
  void call(tool::call c, service::responder r);
  void finish(std::uint64_t id, result<tool::result> out);
  void cancel_running();
  void cancel_call(const std::string& from, const std::string& call_id);

  service::runtime& _rt;
  server_options _opts;
  log::logger& _log;
  std::map<std::string, tool_def, std::less<>> _tools;
  std::unique_ptr<cancel_signal> _cancel;
  struct in_hand {
    service::responder r;
    std::shared_ptr<cancel_signal> cancel;  // this call's own "stop now"
    std::string from, call_id;
  };
  std::map<std::uint64_t, in_hand> _calls;  // by job id, answered by finish()
  std::uint64_t _next_job = 1;
  // Completions of a pool stopped in the destructor may still sit in the loop's queue.
  std::shared_ptr<bool> _alive = std::make_shared<bool>(true);
  event_loop::id _cancel_timer = 0;
  worker_pool _pool;
};

/// Cuts `r.content` to at most `max_content` bytes (at a UTF-8 character boundary) with a
/// marker saying so, and sets `truncated`: the bus refuses a message over its
/// max_message_bytes without telling the caller, so no result may come near it, whatever a
/// tool's own caps say.
void cut_to_limit(tool::result& r, std::size_t max_content);

}  // namespace weft::tools
