#pragma once
/// A Language Server Protocol client for the code tools: the language servers of one
/// workspace (clangd for C and C++, an npm server such as pyright for Python, …), each a
/// child process speaking JSON-RPC with Content-Length framing over its stdin and stdout.
/// A server is started on first use, initialized with the workspace as its root, reused by
/// every later call, shut down when it has been idle for a while, and started again when it
/// has exited or crashed (the documents it had open are opened again). Documents are kept
/// in step with the files: each call sends the file's current text if it changed.
/// Expects SIGPIPE ignored (service::run_main does): a server that died is then an EPIPE.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <weft/toolserver/tool.hh>
#include <weft/toolserver/workspace.hh>

#include "services/tool-code/lsp_wire.hh"

namespace weft::tools::code {

struct lsp_settings {
  /// By language (code_index.hh names: c, cpp, python, …): the command, its program absolute.
  std::map<std::string, std::vector<std::string>> servers;
  std::chrono::milliseconds idle{5 * 60 * 1000};        ///< an unused server is shut down after this
  std::chrono::milliseconds request_timeout{30 * 1000};  ///< one request's answer
  std::chrono::milliseconds diagnostics_wait{10 * 1000}; ///< for the diagnostics of a changed file
  std::string path_env = "/usr/local/bin:/usr/bin:/bin";
  /// Put on the server before exec (the tool sandbox's command filter).
  bool (*before_exec)(const void* arg) noexcept = nullptr;
  const void* before_exec_arg = nullptr;
};

/// A position in a file: 1-based line, 1-based byte column (as the other code tools).
struct lsp_location {
  std::string path;  ///< relative to the workspace, or absolute when outside it
  std::uint32_t line = 0, column = 0, end_line = 0, end_column = 0;
};

class lsp_server;

class lsp_pool {
 public:
  lsp_pool(const workspace& ws, lsp_settings s);
  ~lsp_pool();
  lsp_pool(const lsp_pool&) = delete;
  lsp_pool& operator=(const lsp_pool&) = delete;

  /// Whether a server is configured for `language`.
  bool serves(std::string_view language) const;
  std::string configured_summary() const;

  /// The server for the file at `path` (started, initialized, the file open and current).
  /// `restarted` tells whether it had to be started again after exiting.
  struct session {
    std::shared_ptr<lsp_server> server;
    std::string uri;
    std::string text;  ///< the file's text as sent
    bool restarted = false;
    std::uint64_t generation = 0;  ///< the run of the server the file was opened in
  };
  result<session> open(const std::string& path);

  /// Sends a request to run `run` of the server (0: whichever runs; a session's
  /// generation: refused if the server was started again since) and waits for its result
  /// (`timeout` 0: the configured one).
  result<json> request(lsp_server& s, std::string method, json params, std::uint64_t run = 0,
                       std::chrono::milliseconds timeout = {});

  /// The diagnostics last published for `uri`, waiting (up to diagnostics_wait) for the
  /// ones of the text last sent.
  json diagnostics(lsp_server& s, const std::string& uri);

  /// Whether the server is indexing the workspace (its $/progress reports), for notes.
  bool indexing(lsp_server& s) const;

  /// The pid of the server for `language`, or -1 (for tests and status).
  int pid_of(std::string_view language) const;

  /// Shuts down servers idle for longer than the setting (called by the pool's own thread).
  void reap_idle();

  const workspace& ws() const { return _ws; }
  const lsp_settings& settings() const { return _s; }
  std::string relative_of_uri(const std::string& uri) const;

 private:
  const workspace& _ws;
  lsp_settings _s;
  mutable std::mutex _mu;
  std::map<std::string, std::shared_ptr<lsp_server>> _servers;  ///< by server key (the command)
  struct idle_thread;
  std::unique_ptr<idle_thread> _idle;
};

/// lsp_definition, lsp_references, lsp_hover, lsp_diagnostics, lsp_rename_preview.
std::vector<tool_def> lsp_tools(const workspace& ws, std::shared_ptr<lsp_pool> pool);

}  // namespace weft::tools::code
