#include <weft/service/policy.hh>

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

}  // namespace weft::service
