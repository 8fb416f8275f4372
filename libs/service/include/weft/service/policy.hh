#pragma once
/// The matching rules of weft's access policies, in one place so the bus (which enforces
/// them) and agents (which offer their model only what the bus will allow) agree.

#include <string_view>

#include <weft/service/config.hh>

namespace weft::service {

/// Glob match: '*' matches any run of characters ('/' included); everything else literally.
bool glob_match(std::string_view pattern, std::string_view text);

/// [agents.<id>.tools]: true when `tool` matches no deny glob and at least one allow glob.
bool tool_allowed(const tool_policy& p, std::string_view tool);

}  // namespace weft::service
