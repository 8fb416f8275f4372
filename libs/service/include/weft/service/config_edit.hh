#pragma once
/// Editing one table of a config file a person wrote, keeping the rest byte for byte:
/// `weftctl mcp add` appends a [tools.mcp_servers.<name>] table, `weftctl mcp remove`
/// cuts one out. Pure text functions (no files, no sockets), so the fuzz build compiles
/// them: whatever the file holds, an edit either gives text that parses or an error.

#include <map>
#include <string>
#include <string_view>
#include <vector>

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

/// `text` with the string at `path` (keys from the root, through tables and inline tables:
/// {"providers", "openai", "api_key"}) replaced by `value_toml`, the TOML text of the new
/// value (`"${VAR}"` as written, not escaped), and every other byte kept: `weftctl security
/// scan --fix` moving an inline secret out. errc::not_found when no string is written there
/// on one line ("…" or '…'; multi-line strings are refused too); errc::invalid_argument when
/// the result would not parse or would differ anywhere but at `path`.
result<std::string> replace_string_value(std::string_view text, const std::vector<std::string>& path,
                                         std::string_view value_toml);

}  // namespace weft::service
