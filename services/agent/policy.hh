#pragma once
/// Which tools an agent offers its model: the same allow/deny globs the bus enforces on
/// Tool.v1.Call (deny wins; '*' matches any run of characters), so the model is not
/// offered a tool the bus would refuse.

#include <string_view>

#include <weft/service/config.hh>

#include <weft/service/policy.hh>

namespace weft::agent {

using service::glob_match;    // the bus's rules (libs/service/policy.hh)
using service::tool_allowed;

/// True for names a tool can have on the bus: 1–64 of [A-Za-z0-9_-].
bool valid_tool_name(std::string_view name);

}  // namespace weft::agent
