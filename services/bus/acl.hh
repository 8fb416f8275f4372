#pragma once
/// Who may send what to whom. Rules from [[bus.acl]]; a matching deny wins over any
/// allow; when no rule matches, [bus] default_policy decides.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <weft/service/config.hh>

namespace weft::bus {

struct acl_decision {
  bool allowed;
  std::string rule;  ///< "bus.acl[2] (clawft.toml:14:1)" or "default"
};

class acl {
 public:
  acl() = default;
  acl(std::vector<service::acl_rule> rules, service::acl_action default_policy,
      std::map<std::string, service::tool_policy> agent_tools = {});
  acl_decision check(std::string_view from, std::string_view to, std::string_view type) const;

 private:
  /// [agents.<id>.tools] and workspace ownership for requests from agents to tools; a
  /// decision only when it denies.
  std::optional<acl_decision> check_tools(std::string_view from, std::string_view to, std::string_view type) const;

  std::vector<service::acl_rule> _rules;
  service::acl_action _default = service::acl_action::allow;
  std::map<std::string, service::tool_policy> _agent_tools;
};

}  // namespace weft::bus
