#include "policy.hh"

namespace weft::agent {

bool glob_match(std::string_view p, std::string_view t) {
  // Iterative matcher with single-star backtracking, as services/bus/acl.cc.
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

bool tool_allowed(const service::tool_policy& p, std::string_view tool) {
  for (auto& g : p.deny)
    if (glob_match(g, tool)) return false;
  for (auto& g : p.allow)
    if (glob_match(g, tool)) return true;
  return false;
}

bool valid_tool_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace weft::agent
