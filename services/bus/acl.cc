#include "acl.hh"

#include <algorithm>

#include <weft/service/policy.hh>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace weft::bus {

using service::glob_match;

acl::acl(std::vector<service::acl_rule> rules, service::acl_action default_policy,
         std::map<std::string, service::tool_policy> agent_tools)
    : _rules(std::move(rules)), _default(default_policy), _agent_tools(std::move(agent_tools)) {}

namespace {

constexpr std::string_view tool_call_type = "io.weft.Tool.v1.Call";
constexpr std::string_view chat_deliver_type = "io.weft.Chat.v1.Deliver";

std::vector<std::string_view> segments(std::string_view a) {
  std::vector<std::string_view> out;
  for (std::size_t start = 0;;) {
    auto slash = a.find('/', start);
    out.push_back(a.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) return out;
    start = slash + 1;
  }
}

}  // namespace

std::optional<acl_decision> acl::check_tools(std::string_view from, std::string_view to, std::string_view type) const {
  if (from.substr(0, 6) != "agent/" || to.substr(0, 5) != "tool/") return std::nullopt;
  // agent/<id>, or a process acting as that agent: agent/<id>/mcp (weft's MCP server).
  auto identity = from.substr(6);
  auto agent = identity.substr(0, identity.find('/'));
  auto seg = segments(to);
  // A Call goes to <process>/<tool>; anything else to the process itself.
  bool call = type == tool_call_type;
  std::size_t process_len = call ? seg.size() - 1 : seg.size();
  // tool/<family>/<owner> is a per-agent process: only its owner may use it.
  if (process_len >= 3 && seg[2] != agent)
    return acl_decision{false, fmt::format("tool process '{}' belongs to agent '{}'",
                                           fmt::join(seg.begin(), seg.begin() + 3, "/"), seg[2])};
  if (!call) return std::nullopt;
  auto tool = seg.back();
  // The agent's own policy, then the acting process's (both must allow; deny wins).
  std::vector<std::string_view> keys = {agent};
  if (identity != agent) keys.push_back(identity);
  for (auto key : keys) {
    auto it = _agent_tools.find(std::string(key));
    if (it == _agent_tools.end()) continue;
    auto& p = it->second;
    if (service::tool_allowed(p, tool)) continue;
    auto where = p.where.empty() ? std::string() : " (" + p.where + ")";
    // Name the list that decided: a matching deny glob wins, else the allow list lacks it.
    bool by_deny = std::any_of(p.deny.begin(), p.deny.end(), [&](auto& g) { return glob_match(g, tool); });
    auto list = by_deny ? "deny" : "allow";
    if (key == agent) return acl_decision{false, fmt::format("agents.{}.tools.{}{}", agent, list, where)};
    return acl_decision{false, fmt::format("mcp.{}{}", list, where)};
  }
  return std::nullopt;
}

acl_decision acl::check(std::string_view from, std::string_view to, std::string_view type) const {
  // Built in, whatever the rules say: a channel posts what it is handed as the bot, to any
  // chat, so only the router (replies), the monitor (admin notices) and the admin's own
  // ctl/* peers may hand it messages — not a tool process, an agent or anything else.
  if (type == chat_deliver_type && to.substr(0, 5) == "chan/" && from != "router" && from != "monitor" &&
      from.substr(0, 4) != "ctl/")
    return {false, "built-in: only the router, the monitor and weftctl deliver to channels"};
  if (auto d = check_tools(from, to, type)) return *d;
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
