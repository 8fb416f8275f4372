#pragma once
/// What a tool family (fs, shell, web, …) writes against, apart from the server that runs it:
/// a tool's spec and its function, the context a running call sees (its Call and the
/// server's "stop now"), and the argument helpers that turn a missing or mistyped field
/// into BadArguments naming the field. Families depend on this, not on the bus.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <weft/base/fd.hh>
#include <weft/base/result.hh>

#include "proto/tool_v1.hh"

namespace weft::tools {

namespace tool = weft::proto::tool_v1;
using json = nlohmann::json;

/// What a running tool may look at: its call and whether the server wants it to stop.
struct call_context {
  const tool::call& call;
  /// Becomes readable (and cancelled() true) when the server gives up on in-flight work
  /// at the end of a drain: long tools poll it and stop. Never read by the server, so it
  /// stays readable for every tool polling it.
  int cancel_fd;
  const std::atomic<bool>& cancel_flag;
  /// Where progress() goes: to the caller as Tool.v1 Progress when its Call had a
  /// progress_id (the tool server sets it), else nowhere.
  std::function<void(std::string)> progress_sink = {};
  /// Who made the call (the bus stamped it): a tool that waits for the caller's Tool.v1
  /// Answer accepts it from this address only.
  std::string caller = {};
  bool cancelled() const { return cancel_flag.load(std::memory_order_relaxed); }
  /// A step of a long call for the person waiting (not the result). Any thread; cheap when
  /// the caller asked for none.
  void progress(std::string text) const {
    if (progress_sink) progress_sink(std::move(text));
  }
};

/// The "stop now" a server gives its running tools, once: a flag for tools that check
/// between steps and a descriptor that becomes readable for tools blocked in poll() (a
/// shell command's pipe, a transfer). Fired on the server's thread, read on the workers'.
class cancel_signal {
 public:
  /// errc::io when the kernel refuses the descriptor (out of fds).
  static result<std::unique_ptr<cancel_signal>> create();
  cancel_signal(const cancel_signal&) = delete;
  cancel_signal& operator=(const cancel_signal&) = delete;

  /// Sets the flag and makes fd() readable; later calls do nothing.
  void fire();
  bool fired() const { return _flag.load(std::memory_order_relaxed); }
  int fd() const { return _fd.get(); }
  /// The context of a call run under this signal.
  call_context context(const tool::call& c, std::function<void(std::string)> progress = {},
                       std::string caller = {}) const {
    return call_context{c, _fd.get(), _flag, std::move(progress), std::move(caller)};
  }

 private:
  explicit cancel_signal(unique_fd fd) : _fd(std::move(fd)) {}
  // An eventfd nobody reads: once written it is readable for good, a broadcast to every
  // poller. It is the tools' cancel line, not a wake-up of the server's loop.
  unique_fd _fd;
  std::atomic<bool> _flag{false};
};

/// One tool of a process.
struct tool_def {
  tool::tool_spec spec;  ///< input_schema is JSON Schema text
  /// Runs on a worker thread with the parsed arguments (always a JSON object). A tool that
  /// ran and failed returns Result{is_error}; refusals and bad input are Tool.v1 errors.
  std::function<result<tool::result>(const json& args, const call_context& ctx)> run;
  /// Callable but not listed (not offered to models): for the admin CLI, e.g. the delegate
  /// family's status. The bus still decides who may call it.
  bool hidden = false;
};

/// Argument helpers for tools: a missing required or mistyped field is BadArguments
/// naming the field.
result<std::string> string_arg(const json& args, std::string_view name);
result<std::optional<std::string>> optional_string_arg(const json& args, std::string_view name);
result<std::optional<std::uint64_t>> optional_uint_arg(const json& args, std::string_view name);
result<std::optional<bool>> optional_bool_arg(const json& args, std::string_view name);
/// An array of strings, or a missing field as none; one string is taken as a list of one.
result<std::vector<std::string>> string_list_arg(const json& args, std::string_view name);

/// What a tool that ran gives back: text for the model and the same as JSON for programs
/// (invalid UTF-8 in outside data replaced, never thrown on).
tool::result answer(std::string text, const json& structured);
/// A failure as the caller sees it: Tool.v1 errors (refusals, bad input) stay errors; any
/// other is a tool that ran and failed (Result{is_error}) with the message.
result<tool::result> ran_and_failed(const error& e);
/// The agent a call comes from as the bus stamped it: agent/<id> (or agent/<id>/mcp, weft's
/// MCP server acting as it) → <id>; anyone else → "".
std::string calling_agent(std::string_view caller);

}  // namespace weft::tools
