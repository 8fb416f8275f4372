#pragma once
/// The matching rules of weft's access policies, in one place so the bus (which enforces
/// them) and agents (which offer their model only what the bus will allow) agree.

#include <string>
#include <string_view>
#include <vector>

#include <weft/service/config.hh>

namespace weft::service {

/// Glob match: '*' matches any run of characters ('/' included); everything else literally.
bool glob_match(std::string_view pattern, std::string_view text);

/// [agents.<id>.tools]: true when `tool` matches no deny glob and at least one allow glob.
bool tool_allowed(const tool_policy& p, std::string_view tool);

/// What a delegated Claude Code run of an agent may use: each Claude Code tool that does
/// what a weft tool does is allowed exactly when the agent has that tool's family and its
/// policy allows it (Bash ~ exec, Read/Glob/Grep/LS ~ read_file, Edit/MultiEdit/Write/
/// NotebookEdit ~ write_file and edit_file, WebFetch/WebSearch ~ web_fetch), and is not in
/// `excluded`. Allowed ones go to --allowedTools (so -p mode does not refuse them),
/// the others and every excluded tool to --disallowedTools.
struct claude_permissions {
  std::vector<std::string> allowed, disallowed;
};
claude_permissions claude_permissions_of(const tool_policy& p, const std::vector<std::string>& excluded);

}  // namespace weft::service
