#pragma once
/// Which tools an agent offers its model: the same allow/deny globs the bus enforces on
/// Tool.v1.Call (deny wins; '*' matches any run of characters), so the model is not
/// offered a tool the bus would refuse.

#include <string_view>

#include <weft/service/config.hh>

namespace weft::agent {

/// Glob match where '*' matches any run of characters (the bus's rule).
bool glob_match(std::string_view pattern, std::string_view text);

/// True when `tool` matches no deny glob and at least one allow glob.
bool tool_allowed(const service::tool_policy& p, std::string_view tool);

/// True for names a tool can have on the bus: 1–64 of [A-Za-z0-9_-].
bool valid_tool_name(std::string_view name);

}  // namespace weft::agent
