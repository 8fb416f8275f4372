#pragma once
/// The bus side shared by the tool processes (weft-tool-fs, -shell, -web), so each only
/// writes its tools: answers ListTools at its own address and Call at <address>/<tool>,
/// checks the call (tool name, JSON arguments) before any work starts, runs tools on a
/// bounded pool of worker threads so a slow command or fetch never blocks the bus loop,
/// sends heartbeats, signals READY once serving, and drains on TERM.
///
/// Threads: only the main thread touches the bus client. Workers hand finished results
/// back through a queue and an eventfd the main loop polls.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <weft/ipc/bus_client.hh>
#include <weft/service/notify.hh>

#include "proto/tool_v1.hh"

namespace weft::tools {

namespace tool = weft::proto::tool_v1;
using json = nlohmann::json;

/// What a running tool may look at: its call and whether the server wants it to stop.
struct call_context {
  const tool::call& call;
  /// Becomes readable (and cancelled() true) when the server gives up on in-flight work
  /// at the end of a drain: long tools poll it and stop.
  int cancel_fd;
  const std::atomic<bool>& cancel_flag;
  bool cancelled() const { return cancel_flag.load(std::memory_order_relaxed); }
};

/// One tool of a process.
struct tool_def {
  tool::tool_spec spec;  ///< input_schema is JSON Schema text
  /// Runs on a worker thread with the parsed arguments (always a JSON object). A tool that
  /// ran and failed returns Result{is_error}; refusals and bad input are Tool.v1 errors.
  std::function<result<tool::result>(const json& args, const call_context& ctx)> run;
};

struct server_options {
  std::string family;                     ///< fs, shell, web
  std::size_t workers = 4;                ///< tools running at once
  std::size_t max_queued = 64;            ///< calls waiting for a worker; more are refused
  std::chrono::milliseconds drain_timeout{5000};  ///< after TERM, then in-flight calls are cancelled
  std::size_t max_content = 768 * 1024;           ///< Result.content beyond this is cut (bus message limit)
};

class tool_server {
 public:
  tool_server(ipc::bus_client& bus, service::notifier& n, server_options o);
  ~tool_server();

  void add(tool_def t);

  /// Serves until TERM/INT (0) or a fatal error (1). READY is sent once serving.
  int run();

  /// The ListTools answer (for tests and --help).
  tool::tools list() const;

 private:
  struct job {
    ipc::message request;
    tool::call call;
    json args;
    const tool_def* def;
  };
  struct done {
    ipc::message request;
    result<tool::result> out;
  };

  void handle(const ipc::message& m);
  void worker();
  void flush_done();

  ipc::bus_client& _bus;
  service::notifier& _notify;
  server_options _opts;
  std::map<std::string, tool_def, std::less<>> _tools;
  log::logger& _log;

  std::mutex _mu;
  std::condition_variable _cv;
  std::deque<job> _queue;
  std::deque<done> _done;
  std::size_t _running = 0;  // popped by a worker, result not yet in _done
  bool _quit = false;
  std::vector<std::thread> _threads;
  int _done_fd = -1;    // eventfd: a worker finished
  int _cancel_fd = -1;  // eventfd: drain timed out, stop running tools
  std::atomic<bool> _cancel{false};
  int _signal_fd = -1;
};

/// Argument helpers for tools: a missing required or mistyped field is BadArguments
/// naming the field.
result<std::string> string_arg(const json& args, std::string_view name);
result<std::optional<std::string>> optional_string_arg(const json& args, std::string_view name);
result<std::optional<std::uint64_t>> optional_uint_arg(const json& args, std::string_view name);
result<std::optional<bool>> optional_bool_arg(const json& args, std::string_view name);

}  // namespace weft::tools
