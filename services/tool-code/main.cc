// weft-tool-code — source code analysis in one agent's workspace (docs/tools.md).
//
// Serves io.weft.Tool.v1 at $WEFT_ADDRESS (tool/code/<agent>): tree-sitter outlines,
// definitions, usages, queries, syntax checks and safe edits; and, where a language server
// is configured ([tools.code.lsp]; clangd by default when installed), definitions,
// references, hover, diagnostics and rename previews from it. Started per agent by weftd
// with the tool sandbox when the agent's families list "code".
#include <cstdlib>

#include <weft/sandbox/sandbox.hh>
#include <weft/service/exit.hh>
#include <weft/toolserver/tool_main.hh>

#include "services/tool-code/code_index.hh"
#include "services/tool-code/code_tools.hh"
#include "services/tool-code/lsp.hh"

using namespace weft;

namespace {
constexpr const char* help = R"(usage: weft-tool-code [--help] [--version]
Source code analysis in one agent's workspace, served on the weft bus (io.weft.Tool.v1):
  code_outline {path}                    functions, classes, methods, types with line ranges
  code_definitions {symbol, path?}       where a name is defined, across the workspace
  code_usages {symbol, path?, max?}      every identifier naming it (not comments, strings)
  code_query {path, query, max?}         a tree-sitter query's captures
  code_check {path}                      syntax errors
  code_rename {path, symbol, new_name, line?}   rename in a file or a function; refused if
                                         the name is taken or the result does not parse
  code_replace {path, text, symbol? | line, column?, node_type?}   replace a node's text;
                                         refused if the result does not parse
  With a language server for the file's language:
  lsp_definition, lsp_references, lsp_hover {path, line, column}
  lsp_diagnostics {path}, lsp_rename_preview {path, line, column, new_name}
  Languages (tree-sitter grammars of this build): see code_outline's error for a file of
  another kind. Servers start on first use, stop when idle, start again after a crash.

Environment (set by weftd from [tools.code]):
  WEFT_WORKSPACE, WEFT_AGENT   the agent's workspace and id
  WEFT_CODE_MAX_FILE_BYTES     larger files are not parsed (default 4 MiB)
  WEFT_CODE_LSP                JSON: {"cpp": ["/usr/bin/clangd", …], "python": […]}
  WEFT_CODE_LSP_IDLE_MS        an unused server is stopped after this (default 5 min)
  PATH                         for the servers
  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD, WEFT_LOG   set by weftd
)";
}  // namespace

int main(int argc, char** argv) {
  tools::tool_main_options o{.program = "weft-tool-code",
                             .log_name = "tool-code",
                             .help = help,
                             .per_agent = true,
                             .unsandboxed_note = "language servers can read anything this user can",
                             .server = {.family = "code", .workers = 2, .max_queued = 32}};
  auto filter = sandbox::command_filter::prepare();
  if (!filter) {
    fmt::print(stderr, "weft-tool-code: {}\n", filter.err().message);
    return service::to_int(service::exit_code::failure);
  }
  return tools::tool_main(argc, argv, o, [&](const tools::tool_setup& s) {
    tools::code::code_limits lim;
    if (const char* m = std::getenv("WEFT_CODE_MAX_FILE_BYTES"); m && std::atoll(m) > 0)
      lim.max_file_bytes = static_cast<std::size_t>(std::atoll(m));
    tools::code::lsp_settings ls;
    if (const char* p = std::getenv("PATH"); p && *p) ls.path_env = p;
    if (const char* i = std::getenv("WEFT_CODE_LSP_IDLE_MS"); i && std::atoll(i) > 0)
      ls.idle = std::chrono::milliseconds(std::atoll(i));
    if (const char* j = std::getenv("WEFT_CODE_LSP"); j && *j) {
      auto v = tools::json::parse(j, nullptr, false);
      if (v.is_object())
        for (auto& [lang, cmd] : v.items())
          if (cmd.is_array() && !cmd.empty() && std::all_of(cmd.begin(), cmd.end(), [](auto& x) { return x.is_string(); }))
            ls.servers[lang] = cmd.template get<std::vector<std::string>>();
          else
            s.log.warning("WEFT_CODE_LSP: the server of '{}' is not a list of strings; ignored", lang);
      else
        s.log.warning("WEFT_CODE_LSP is not a JSON object; no language servers");
    }
    ls.before_exec = sandbox::command_filter::before_exec;
    ls.before_exec_arg = &*filter;
    auto pool = std::make_shared<tools::code::lsp_pool>(*s.ws, ls);
    s.log.info("grammars: {}; language servers: {}", tools::code::supported_summary(), pool->configured_summary());
    return tools::code::code_tools(*s.ws, lim, pool);
  });
}
