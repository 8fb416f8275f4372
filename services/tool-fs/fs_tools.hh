#pragma once
/// The fs tool family (read_file, write_file, edit_file, list_dir) over one agent's
/// workspace: plain functions, so they are tested without a bus.

#include <vector>

#include <weft/toolserver/tool.hh>
#include <weft/toolserver/workspace.hh>

namespace weft::tools {

/// Limits of the fs tools.
struct fs_limits {
  std::size_t max_read_bytes = 256 * 1024;      ///< read_file output; beyond it is cut with a marker
  std::size_t max_edit_bytes = 8 * 1024 * 1024;  ///< edit_file refuses larger files
  std::size_t max_write_bytes = 8 * 1024 * 1024;  ///< write_file refuses larger content
  std::size_t max_entries = 1000;               ///< list_dir
};

result<tool::result> read_file(const workspace& ws, const json& args, const fs_limits& lim = {});
result<tool::result> write_file(const workspace& ws, const json& args, const fs_limits& lim = {});
result<tool::result> edit_file(const workspace& ws, const json& args, const fs_limits& lim = {});
result<tool::result> list_dir(const workspace& ws, const json& args, const fs_limits& lim = {});

/// The four tools with their JSON Schemas, bound to `ws`.
std::vector<tool_def> fs_tools(const workspace& ws, fs_limits lim = {});

}  // namespace weft::tools
