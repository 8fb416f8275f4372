#include "acl.hh"

#include <fmt/core.h>

namespace weft::bus {

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

acl::acl(std::vector<service::acl_rule> rules, service::acl_action default_policy)
    : _rules(std::move(rules)), _default(default_policy) {}

acl_decision acl::check(std::string_view from, std::string_view to, std::string_view type) const {
  int allow_rule = -1;
  for (size_t i = 0; i < _rules.size(); ++i) {
    auto& r = _rules[i];
    if (!glob_match(r.from, from) || !glob_match(r.to, to)) continue;
    bool type_ok = false;
    for (auto& t : r.types)
      if (glob_match(t, type)) {
        type_ok = true;
        break;
      }
    if (!type_ok) continue;
    if (r.action == service::acl_action::deny)
      return {false, fmt::format("bus.acl[{}]{}", i, r.where.empty() ? "" : " (" + r.where + ")")};
    if (allow_rule < 0) allow_rule = static_cast<int>(i);
  }
  if (allow_rule >= 0) {
    auto& r = _rules[static_cast<size_t>(allow_rule)];
    return {true, fmt::format("bus.acl[{}]{}", allow_rule, r.where.empty() ? "" : " (" + r.where + ")")};
  }
  return {_default == service::acl_action::allow, "default"};
}

}  // namespace weft::bus
