#include <weft/service/policy.hh>

#include <algorithm>
#include <array>

namespace weft::service {

bool glob_match(std::string_view p, std::string_view t) {
  // Iterative matcher with single-star backtracking: linear in practice, no recursion.
  size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (pi < p.size() && p[pi] == t[ti]) {
      ++pi;
      ++ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

bool tool_allowed(const tool_policy& p, std::string_view tool) {
  for (auto& g : p.deny)
    if (glob_match(g, tool)) return false;
  for (auto& g : p.allow)
    if (glob_match(g, tool)) return true;
  return false;
}

namespace {

struct claude_tool_rule {
  std::string_view claude;                      ///< Claude Code's tool
  std::string_view family;                      ///< the weft family doing the same
  std::array<std::string_view, 2> weft_tools;   ///< all of these must be allowed ("" unused)
};

constexpr std::array<claude_tool_rule, 13> claude_tool_rules = {{
    {"Bash", "shell", {"exec", ""}},
    {"BashOutput", "shell", {"exec", ""}},
    {"KillShell", "shell", {"exec", ""}},
    {"Read", "fs", {"read_file", ""}},
    {"Glob", "fs", {"list_dir", ""}},
    {"Grep", "fs", {"read_file", ""}},
    {"LS", "fs", {"list_dir", ""}},
    {"Edit", "fs", {"edit_file", "write_file"}},
    {"MultiEdit", "fs", {"edit_file", "write_file"}},
    {"Write", "fs", {"write_file", ""}},
    {"NotebookEdit", "fs", {"edit_file", "write_file"}},
    {"WebFetch", "web", {"web_fetch", ""}},
    {"WebSearch", "web", {"web_fetch", ""}},
}};

}  // namespace

claude_permissions claude_permissions_of(const tool_policy& p, const std::vector<std::string>& excluded) {
  claude_permissions out;
  auto listed = [](const std::vector<std::string>& v, std::string_view x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  };
  for (auto& r : claude_tool_rules) {
    bool ok = listed(p.families, std::string(r.family)) && !listed(excluded, std::string(r.claude)) &&
              std::all_of(r.weft_tools.begin(), r.weft_tools.end(),
                          [&](std::string_view t) { return t.empty() || tool_allowed(p, t); });
    (ok ? out.allowed : out.disallowed).emplace_back(r.claude);
  }
  for (auto& e : excluded)
    if (!listed(out.disallowed, e)) out.disallowed.push_back(e);
  return out;
}

delegation_router::delegation_router(const std::vector<delegation_rule>& rules) {
  for (auto& r : rules) {
    // Validated when the config was read; std::regex reports a bad one only by throwing.
    try {
      _rules.emplace_back(r, std::regex(r.pattern, std::regex::ECMAScript | std::regex::icase));
    } catch (const std::regex_error&) {
    }
  }
}

const delegation_rule* delegation_router::match(std::string_view text) const {
  text = text.substr(0, std::min(text.size(), max_text));
  for (auto& [rule, re] : _rules) {
    try {
      if (std::regex_search(text.begin(), text.end(), re)) return &rule;
    } catch (const std::regex_error&) {  // error_complexity, error_stack
    }
  }
  return nullptr;
}

}  // namespace weft::service
