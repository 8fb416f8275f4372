#pragma once
/// The matching rules of weft's access policies, in one place so the bus (which enforces
/// them) and agents (which offer their model only what the bus will allow) agree.

#include <regex>
#include <string>
#include <string_view>
#include <utility>
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

/// [delegation.routing_rules], compiled once: which rule decides where a message goes (the
/// agent acts on "flow" and "local"; `weftctl route explain --text` shows the match).
class delegation_router {
 public:
  /// Texts longer than this are matched on their first max_text bytes.
  static constexpr std::size_t max_text = 4096;
  explicit delegation_router(const std::vector<delegation_rule>& rules);
  /// The first rule whose pattern occurs in `text` (ECMAScript, case-insensitive), or
  /// nullptr. A pattern the regex engine gives up on (too complex for the text) does not match.
  const delegation_rule* match(std::string_view text) const;
  bool empty() const { return _rules.empty(); }

 private:
  std::vector<std::pair<delegation_rule, std::regex>> _rules;
};

}  // namespace weft::service
