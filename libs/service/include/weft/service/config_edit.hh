#pragma once
/// Editing one table of a config file a person wrote, keeping the rest byte for byte:
/// `weftctl mcp add` appends a [tools.mcp_servers.<name>] table, `weftctl mcp remove`
/// cuts one out. Pure text functions (no files, no sockets), so the fuzz build compiles
/// them: whatever the file holds, an edit either gives text that parses or an error.

#include <map>
#include <string>
#include <string_view>

#include <weft/base/result.hh>
#include <weft/service/config.hh>

namespace weft::service {

/// A TOML basic string holding `s` exactly: quotes, backslashes and control characters
/// escaped, and "${" written "$${" so the loader does not substitute it.
std::string toml_string(std::string_view s);
/// A bare TOML key when it can be one, else a quoted one.
std::string toml_key(std::string_view k);
/// `{ k = "v", … }`
std::string toml_inline_table(const std::map<std::string, std::string>& m);

/// `text` with a `[tools.mcp_servers.<name>]` table for `e` appended (after a blank line).
/// errc::invalid_argument when `text` is not TOML, already defines that server, or would not
/// parse with the table added.
result<std::string> add_mcp_server_table(std::string_view text, std::string_view name, const mcp_server_entry& e);

/// `text` without the `[tools.mcp_servers.<name>]` table (and the comment lines leading into
/// it). errc::not_found when there is no such table of its own; errc::invalid_argument when
/// cutting it out would leave text that does not parse or still defines the server (a
/// sub-table, a dotted key elsewhere, a header-like line inside a multi-line string).
result<std::string> remove_mcp_server_table(std::string_view text, std::string_view name);

}  // namespace weft::service
