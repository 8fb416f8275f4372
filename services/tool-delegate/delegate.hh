#pragma once
/// The delegate tool family of one agent: delegate_to_claude, which hands a task to Claude
/// Code (claude.hh runs it) in a directory of the agent's workspace, with the agent's
/// permissions and, by default, credentials that are a per-run token for llm's Messages
/// endpoint rather than a key; and the hidden `status`, which `weftctl delegate status`
/// calls. Streamed steps go to the caller as Tool.v1 Progress; the final result carries
/// what the agent records (turns, cost, Claude Code's session) in Result.structured.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <weft/toolserver/tool.hh>
#include <weft/toolserver/workspace.hh>

#include "services/tool-delegate/approvals.hh"
#include "services/tool-delegate/claude.hh"

namespace weft::delegate {

/// How runs are made; from the environment weftd gives the process (main.cc).
struct delegate_config {
  std::string claude_path;          ///< configured or resolved by weftd; "": look on `path`
  std::string path = "/usr/local/bin:/usr/bin:/bin";  ///< PATH for finding and running claude
  bool weft_auth = true;            ///< true: a token from llm; false: Claude Code's own login
  std::string config_dir;           ///< login: CLAUDE_CONFIG_DIR
  std::string llm_url;              ///< weft auth: ANTHROPIC_BASE_URL (the relay to llm's socket)
  std::vector<std::string> proxy_env;  ///< login: the egress proxy variables (network = "public"); empty: no way out
  /// Put on Claude Code before exec (it and every command it runs inherit it): no AF_UNIX
  /// socket of its own, so no socket file — the bus, weftd's control socket, another
  /// agent's egress or llm socket — is reachable from a run (see sandbox::command_filter).
  bool (*before_exec)(const void* arg) noexcept = nullptr;
  const void* before_exec_arg = nullptr;
  std::chrono::milliseconds timeout{600000};
  unsigned max_turns = 50;
  std::vector<std::string> allowed, disallowed;  ///< from the agent's tool policy
  std::vector<std::string> ask;     ///< allowed tools that need a yes from the person ([delegation] ask)
  approvals* prompts = nullptr;     ///< where those questions are served (with `ask`)
};

/// Asks llm for a run token: (token) or an error saying why not.
using token_fn = std::function<result<std::string>(std::chrono::milliseconds ttl)>;

/// Which path a delegated task took, in Result.structured "path".
inline constexpr std::string_view path_claude = "claude-code";   ///< Claude Code ran and answered
inline constexpr std::string_view path_unavailable = "unavailable";  ///< it could not run: fall back
inline constexpr std::string_view path_failed = "failed";          ///< it ran and was stopped (time limit, cancel)

class delegate_tools {
 public:
  delegate_tools(const tools::workspace& ws, delegate_config cfg, token_fn token);
  std::vector<tools::tool_def> defs();

  /// The Claude Code session of each chat session (the Call's meta "session"), kept in
  /// <workspace>/.weft/delegate/sessions.json so a follow-up resumes it.
  std::string session_of(const std::string& key) const;

 private:
  result<tools::tool::result> run(const tools::json& args, const tools::call_context& ctx);
  result<tools::tool::result> status();
  void remember_session(const std::string& key, const std::string& id);

  const tools::workspace& _ws;
  delegate_config _cfg;
  token_fn _token;
  std::string _home;  ///< HOME of the runs: <workspace>/.weft/claude-home
  std::unique_ptr<claude_health> _health;
  mutable std::mutex _mu;
  std::map<std::string, std::string> _sessions;
};

/// A step of a run as one line for the chat.
std::string progress_line(const claude_step& s);

}  // namespace weft::delegate
