// [[agent_routes]], [routing] and [delegation]: which agent answers which message. The
// reference is docs/config.md.
#include <weft/service/config.hh>

#include <regex>

#include "config_check.hh"

namespace weft::service {

namespace {

using namespace detail;

constexpr std::size_t max_regex_chars = 1024;

// ---------------------------------------------------------------------------------------
// [[agent_routes]], [routing]

agent_route read_route(checker& ck, const toml::table& t, const std::string& label, const config& c) {
  agent_route r;
  r.where = ck.where(t.source());
  ck.check_keys(t, label, {"channel", "match", "agent"});
  if (auto channel = ck.read_required(t, label, "channel")) {
    r.channel = *channel;
    std::vector<std::string_view> known = {"*"};
    known.insert(known.end(), channel_names.begin(), channel_names.end());
    known.insert(known.end(), unsupported_channels.begin(), unsupported_channels.end());
    if (!contains(known, *channel))
      ck.error(t.get("channel")->source(), fmt::format("{} channel '{}' is not a channel; use one of: {}{}", label,
                                                       clean(*channel), fmt::join(known, ", "),
                                                       suggestion(*channel, known)));
  }
  if (auto* m = t.get("match"); m && !m->is_table()) {
    ck.error(m->source(), fmt::format("{} match must be a table of strings, e.g. {{ chat_id = \"123\" }}, not {}",
                                      label, a_type(*m)));
  } else if (m) {
    for (auto& [mk, mv] : *m->as_table()) {
      std::string key(mk.str());
      if (!valid_name(key)) {
        ck.error(mk.source(), fmt::format("{} match key '{}' is invalid: use a-z, 0-9, '-' and '_'", label,
                                          clean(key)));
      } else if (auto* i = mv.as_integer()) {
        // Telegram ids are often written as numbers.
        r.match[key] = std::to_string(i->get());
      } else if (!mv.is_string()) {
        ck.error(mv.source(), fmt::format("{} match.{} must be a string or an integer, not {}", label, key,
                                          a_type(mv)));
      } else if (auto value = ck.expand(mv, fmt::format("{} match.{}", label, key))) {
        r.match[key] = std::move(*value);
      }
    }
  }
  if (auto agent = ck.read_required(t, label, "agent")) {
    r.agent = *agent;
    check_reference(ck, t, label, "agent", *agent, keys_of(c.agents), "an agent in [agents]");
  }
  return r;
}

}  // namespace

namespace detail {

void read_routes(checker& ck, const toml::node& n, config& c) {
  auto* routes = n.as_array();
  if (!routes) {
    ck.error(n.source(), fmt::format("agent_routes must be an array of tables ([[agent_routes]]), not {}", a_type(n)));
    return;
  }
  for (std::size_t i = 0; i < routes->size(); ++i) {
    auto label = fmt::format("agent_routes[{}]", i);
    auto* rt = routes->get(i)->as_table();
    if (!rt) {
      ck.error(routes->get(i)->source(), fmt::format("{} must be a table, not {}", label, a_type(*routes->get(i))));
      continue;
    }
    auto r = read_route(ck, *rt, label, c);
    for (std::size_t j = 0; j < c.agent_routes.size(); ++j)
      if (c.agent_routes[j].channel == r.channel && c.agent_routes[j].match == r.match && !r.channel.empty()) {
        ck.warning(rt->source(), fmt::format("{} matches the same messages as agent_routes[{}], which comes first "
                                             "and wins; it is never used, ignoring.",
                                             label, j));
        break;
      }
    c.agent_routes.push_back(std::move(r));
  }
}

void read_routing(checker& ck, const toml::table& t, config& c) {
  const std::string label = "[routing]";
  ck.check_keys(t, label, {"default_agent"});
  if (auto a = ck.read_string(t, label, "default_agent")) {
    c.routing.default_agent = *a;
    check_reference(ck, t, label, "default_agent", *a, keys_of(c.agents), "an agent in [agents]");
  }
}

// ---------------------------------------------------------------------------------------
// [delegation]

void read_delegation(checker& ck, const toml::table& t, config& c) {
  const std::string label = "[delegation]";
  auto& d = c.delegation;
  ck.check_keys(t, label, {"claude_enabled", "claude_flow_enabled", "claude_path", "auth", "config_dir", "timeout_ms",
                           "max_turns", "excluded_tools", "ask", "ask_timeout_ms", "routing_rules"});
  d.claude_enabled = ck.read_bool(t, label, "claude_enabled").value_or(d.claude_enabled);
  d.claude_flow_enabled = ck.read_bool(t, label, "claude_flow_enabled").value_or(d.claude_flow_enabled);
  for (auto [key, field] : {std::pair{"claude_path", &d.claude_path}, std::pair{"config_dir", &d.config_dir}})
    if (auto v = ck.read_string(t, label, key)) {
      *field = *v;
      if (!v->empty() && v->front() != '/')
        ck.error(t.get(key)->source(), fmt::format("{} {} must be an absolute path, not '{}'", label, key, clean(*v)));
    }
  constexpr std::array<std::pair<std::string_view, delegate_auth>, 2> auth_names = {
      std::pair{"weft", delegate_auth::weft}, std::pair{"login", delegate_auth::login}};
  d.auth = ck.read_enum(t, label, "auth", auth_names).value_or(d.auth);
  d.timeout_ms = ck.read_uint(t, label, "timeout_ms", std::uint32_t{1000}, std::uint32_t{24 * 3600 * 1000})
                     .value_or(d.timeout_ms);
  d.max_turns = ck.read_uint(t, label, "max_turns", std::uint32_t{1}, std::uint32_t{1000}).value_or(d.max_turns);
  if (auto ex = ck.read_strings(t, label, "excluded_tools")) d.excluded_tools = std::move(*ex);
  if (auto ask = ck.read_strings(t, label, "ask")) d.ask = std::move(*ask);
  d.ask_timeout_ms = ck.read_uint(t, label, "ask_timeout_ms", std::uint32_t{1000}, std::uint32_t{3600 * 1000})
                         .value_or(d.ask_timeout_ms);
  auto* n = t.get("routing_rules");
  if (!n) return;
  auto* rules = n->as_table();
  if (!rules) {
    ck.error(n->source(), fmt::format("[delegation] routing_rules must be a table of \"regex\" = \"target\" "
                                      "([delegation.routing_rules]), not {}",
                                      a_type(*n)));
    return;
  }
  const std::string rl = "[delegation.routing_rules]";
  for (auto [k, v] : in_file_order(*rules)) {
    delegation_rule r;
    r.pattern = std::string(k->str());
    r.where = ck.where(k->source());
    if (r.pattern.size() > max_regex_chars) {
      ck.error(k->source(), fmt::format("{} pattern is {} characters long; at most {} are allowed", rl,
                                        r.pattern.size(), max_regex_chars));
    } else {
      // std::regex reports a bad pattern only by throwing: this is that boundary.
      try {
        std::regex re(r.pattern, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        ck.error(k->source(), fmt::format("{} pattern '{}' is not a valid ECMAScript regular expression: {}", rl,
                                          clean(r.pattern), e.what()));
      }
    }
    if (!v->is_string()) {
      ck.error(v->source(), fmt::format("{} target of '{}' must be a string, not {}", rl, clean(r.pattern),
                                        a_type(*v)));
      continue;
    }
    auto target = ck.expand(*v, fmt::format("{} target of '{}'", rl, clean(r.pattern)));
    if (!target) continue;
    r.target = *target;
    if (r.target.substr(0, 6) == "agent:") {
      auto id = r.target.substr(6);
      if (!c.agents.count(id)) {
        auto ids = keys_of(c.agents);
        ck.error(v->source(), fmt::format("{} target '{}' names agent '{}', which is not in [agents]{}", rl,
                                          clean(r.target), clean(id), suggestion(id, ids)));
      }
    } else if (r.target != "flow" && r.target != "local") {
      ck.error(v->source(), fmt::format("{} target '{}' must be 'flow', 'local' or 'agent:<id>'", rl,
                                        clean(r.target)));
    }
    d.routing_rules.push_back(std::move(r));
  }
}

}  // namespace detail

}  // namespace weft::service
