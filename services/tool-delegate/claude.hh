#pragma once
/// Running Claude Code non-interactively for a delegated task, and knowing whether it is
/// there: `claude -p <task> --output-format stream-json --verbose …` in a process group of
/// its own (weft::run_command), with the environment given and nothing inherited; each line
/// of its stream is read as it comes, the steps (assistant text, a tool used, a tool's
/// result) handed to the caller for progress, and the final `result` line returned.
/// Success is decided on the result's `is_error`, never on `subtype` (protocols.md §2.5).
/// Plain functions, tested against the real CLI and a fake Anthropic API.

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <weft/base/result.hh>

namespace weft::delegate {

struct claude_request {
  std::string exec;                      ///< absolute path of the `claude` executable
  std::string task;                      ///< the prompt
  int dir_fd = -1;                       ///< working directory (O_PATH), already checked by the caller
  std::vector<std::string> env;          ///< NAME=value: the whole environment (claude_environment())
  std::vector<std::string> allowed_tools, disallowed_tools;
  std::string permission_mode;           ///< "", acceptEdits, plan, …
  std::optional<unsigned> max_turns;
  std::string resume;                    ///< a session id from an earlier result: --resume
  std::string model;                     ///< "": Claude Code's default
  std::string mcp_config;                ///< JSON for --mcp-config (with --strict-mcp-config); "": none
  std::string permission_prompt_tool;    ///< --permission-prompt-tool (an MCP tool of mcp_config); "": none
  std::chrono::milliseconds timeout{600000};
  std::chrono::milliseconds kill_grace{1000};
  std::size_t max_line = 8 * 1024 * 1024;  ///< a longer stream line fails the run
  /// Run in the forked child right before exec (command_spec::before_exec): the delegate
  /// puts sandbox::command_filter there, as the shell tool does for its commands.
  bool (*before_exec)(const void* arg) noexcept = nullptr;
  const void* before_exec_arg = nullptr;
};

/// One step of a run, for progress.
struct claude_step {
  enum class kind { started, text, tool_use, tool_result };
  kind what;
  std::string text;      ///< started: model; text: the text; tool_use: "Name: input summary"; tool_result: its head
  bool is_error = false;  ///< tool_result: the tool failed or was denied
};

struct claude_result {
  std::string text;               ///< result.result
  bool is_error = false;          ///< result.is_error: decides success
  std::string subtype;            ///< success, error_max_turns, … (for the message, not the decision)
  unsigned turns = 0;             ///< num_turns
  double cost_usd = 0;            ///< total_cost_usd
  std::string session_id;         ///< for --resume
  std::string model;              ///< from system/init
  std::string version;            ///< claude_code_version from system/init
  std::vector<std::string> denied;  ///< tool names of permission_denials
  std::vector<std::string> tools;   ///< the tools Claude Code was given (system/init)
  std::size_t bad_lines = 0;      ///< stream lines that were not JSON objects (skipped)
};

/// The environment of a run: PATH, HOME (a private directory, so runs share no state with
/// the user's own Claude Code), LANG, no update checks or telemetry, then `extra` (the
/// endpoint and credential variables of the chosen auth mode).
std::vector<std::string> claude_environment(const std::string& home, const std::vector<std::string>& extra);

/// The argv of a run (argv[0] = exec).
std::vector<std::string> claude_argv(const claude_request& r);

/// Runs the task. `cancel_fd` (-1: none) ends it when readable; `progress` gets each step
/// on the calling thread. A run that reaches its result returns it (is_error or not);
/// otherwise a typed error: errc::not_found (no such executable), errc::timeout,
/// errc::cancelled, errc::io (exited before a result, stream ended, a line too long),
/// each message naming what happened and the last line Claude Code wrote to stderr.
result<claude_result> run_claude(const claude_request& r, int cancel_fd,
                                 const std::function<void(const claude_step&)>& progress);

/// Reads a whole stream-json output (what run_claude reads from the process) into a result
/// and its steps: the parser alone, for tests and the fuzz target. `got_result` says whether
/// a result line came.
claude_result read_claude_stream(std::string_view bytes, const std::function<void(const claude_step&)>& progress,
                                 bool& got_result, std::size_t max_line = 8 * 1024 * 1024);

/// What a probe of the executable found.
struct claude_probe {
  std::string exec;
  std::string version;   ///< "2.1.197" when it answered
  std::string error;     ///< why it is not usable; empty when usable
  std::chrono::system_clock::time_point at;
  bool usable() const { return error.empty(); }
};

/// `<exec> --version` with a time limit, in an empty environment but for PATH and `home`.
claude_probe probe_claude(const std::string& exec, const std::string& home,
                          std::chrono::milliseconds timeout = std::chrono::seconds(20));

/// Which `claude` to run: `configured` when set (must be an executable file), else the
/// first `claude` on `path` (a PATH-style list). errc::not_found says where it looked.
result<std::string> find_claude(const std::string& configured, const std::string& path);

/// Whether Claude Code is usable, asked again when the answer is older than `ttl`, or
/// `retry` after a failure (a run that failed to start also marks it failed). Thread-safe.
class claude_health {
 public:
  claude_health(std::string configured, std::string path, std::string home,
                std::chrono::milliseconds ttl = std::chrono::minutes(10),
                std::chrono::milliseconds retry = std::chrono::seconds(30));
  claude_probe get();
  /// A run could not start: the next get() probes again.
  void failed(const std::string& why);
  /// The last probe without probing (empty `at`: never probed).
  claude_probe last() const;

 private:
  std::string _configured, _path, _home;
  std::chrono::milliseconds _ttl, _retry;
  mutable std::mutex _mu;
  claude_probe _last;
  std::chrono::steady_clock::time_point _probed{};
};

}  // namespace weft::delegate
