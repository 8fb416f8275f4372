#pragma once
/// The code tool family over one agent's workspace: tree-sitter outlines, definitions and
/// usages of a symbol across the workspace, queries, syntax checks and safe structural
/// edits (code_index.hh), and the answers of a language server where one is configured
/// (lsp.hh). Plain functions bound to a workspace, tested without a bus.

#include <memory>
#include <string>
#include <vector>

#include <weft/toolserver/tool.hh>
#include <weft/toolserver/workspace.hh>

namespace weft::tools::code {

struct code_limits {
  std::size_t max_file_bytes = 4 * 1024 * 1024;  ///< larger files are not parsed
  std::size_t max_files = 20000;                 ///< files a workspace-wide search looks at
  std::size_t max_results = 500;                 ///< usages, definitions, captures, outline entries
};

class lsp_pool;

/// The code_* tools (and the lsp_* tools when `servers` is given) bound to `ws`.
std::vector<tool_def> code_tools(const workspace& ws, code_limits lim, std::shared_ptr<lsp_pool> servers = nullptr);

/// Each file under `dir` (relative to the workspace; "" for all of it) that a grammar
/// takes, in name order, skipping hidden directories, node_modules and target: calls
/// `visit(relative_path, content)` for those no larger than the limit. Stops after
/// `lim.max_files` files (returns false then).
bool for_each_source(const workspace& ws, const std::string& dir, const code_limits& lim,
                     const std::function<void(const std::string& path, std::string&& content)>& visit);

}  // namespace weft::tools::code
