// [agents] (and each agent's [agents.<id>.tools]), and the order in which the sections of
// the agent turn are read. The reference is docs/config.md.
#include <weft/service/config.hh>

#include <cstdlib>

#include <weft/service/paths.hh>

#include "config_check.hh"

namespace weft::service {

namespace {

using namespace detail;

constexpr std::size_t max_agent_id_chars = 48;

constexpr std::array<std::string_view, 12> tool_families = {"fs",    "shell", "web",  "mcp",      "delegate", "git",
                                                           "cargo", "forge", "code", "calendar", "email",    "plugins"};

constexpr std::array<std::pair<std::string_view, tool_network>, 2> network_names = {
    std::pair{"none", tool_network::none}, std::pair{"public", tool_network::public_internet}};

/// Agent ids become service names (tool-shell-<id>, at most 64 characters) and an address
/// segment (agent/<id>).
bool valid_agent_id(std::string_view n) {
  return !n.empty() && n.size() <= max_agent_id_chars && lower_alnum(n[0]) &&
         std::all_of(n.begin(), n.end(), [](char c) { return lower_alnum(c) || c == '-'; });
}


// ---------------------------------------------------------------------------------------
// [agents]

tool_policy read_tool_policy(checker& ck, const toml::table& t, const std::string& label) {
  tool_policy p;
  p.where = ck.where(t.source());
  ck.check_keys(t, label, {"allow", "deny", "families", "network"});
  for (auto [key, field] : {std::pair{"allow", &p.allow}, std::pair{"deny", &p.deny}}) {
    auto globs = ck.read_strings(t, label, key);
    if (!globs) continue;
    auto& nodes = *t.get(key)->as_array();
    for (std::size_t i = 0; i < globs->size(); ++i)
      if (!valid_tool_glob((*globs)[i]))
        ck.error(nodes[i].source(), fmt::format("{} {} '{}' can never match a tool name: use letters, digits, "
                                                "'_', '.', '-' and the wildcard '*'",
                                                label, key, clean((*globs)[i])));
    *field = std::move(*globs);
  }
  if (auto families = ck.read_strings(t, label, "families")) {
    auto& nodes = *t.get("families")->as_array();
    std::vector<std::string> seen;
    for (std::size_t i = 0; i < families->size(); ++i) {
      auto& f = (*families)[i];
      if (!contains(tool_families, f))
        ck.error(nodes[i].source(), fmt::format("{} families '{}' is not a tool family; use {}{}", label, clean(f),
                                                fmt::join(tool_families, ", "), suggestion(f, tool_families)));
      else if (contains(seen, f))
        ck.error(nodes[i].source(), fmt::format("{} families lists '{}' twice", label, f));
      else
        seen.push_back(f);
    }
    p.families = std::move(seen);
  }
  return p;
}

agent_settings read_agent(checker& ck, const std::string& id, const toml::table& t, const config& c) {
  auto label = fmt::format("[agents.{}]", clean(id));
  agent_settings a;
  a.id = id;
  a.where = ck.where(t.source());
  a.tools.where = a.where;
  ck.check_keys(t, label, {"name", "tier", "model", "workspace", "max_iterations", "tool_timeout_ms", "max_tokens",
                           "budget_usd", "tools"});
  a.name = ck.read_string(t, label, "name").value_or(a.name);
  a.model = ck.read_string(t, label, "model").value_or(a.model);
  if (auto tier = ck.read_string(t, label, "tier")) {
    a.tier = *tier;
    std::vector<std::string_view> names;
    for (auto& tr : c.llm.tiers) names.push_back(tr.name);
    check_reference(ck, t, label, "tier", *tier, names, "a tier in [[llm.tiers]]");
  }
  if (auto ws = ck.read_string(t, label, "workspace")) {
    a.workspace = *ws;
    while (a.workspace.size() > 1 && a.workspace.back() == '/') a.workspace.pop_back();
    if (!ws->empty() && ws->front() != '/')
      ck.error(t.get("workspace")->source(),
               fmt::format("{} workspace must be an absolute path, not '{}'", label, clean(*ws)));
  }
  a.max_iterations =
      ck.read_uint(t, label, "max_iterations", std::uint32_t{1}, std::uint32_t{1000}).value_or(a.max_iterations);
  a.tool_timeout_ms = ck.read_uint(t, label, "tool_timeout_ms", std::uint32_t{1}, u32_max).value_or(a.tool_timeout_ms);
  a.max_tokens = ck.read_uint(t, label, "max_tokens", std::uint32_t{0}, u32_max).value_or(a.max_tokens);
  a.budget_usd = ck.read_non_negative(t, label, "budget_usd").value_or(a.budget_usd);
  if (auto* n = t.get("tools"); n && !n->is_table())
    ck.error(n->source(), fmt::format("{} tools must be a table ([agents.{}.tools]), not {}", label, clean(id),
                                      a_type(*n)));
  else if (n) {
    auto tools_label = fmt::format("[agents.{}.tools]", clean(id));
    a.tools = read_tool_policy(ck, *n->as_table(), tools_label);
    a.network = ck.read_enum(*n->as_table(), tools_label, "network", network_names).value_or(a.network);
  }
  return a;
}

}  // namespace

namespace detail {

void read_agents(checker& ck, const toml::table& t, config& c) {
  std::map<std::string, std::string> workspace_owner;
  for (auto [k, v] : in_file_order(t)) {
    std::string id(k->str());
    if (!valid_agent_id(id))
      ck.error(k->source(), fmt::format("agent id '{}' is invalid: use 1 to {} of a-z, 0-9 and '-', starting with "
                                        "a letter or digit (it becomes the service agent-<id>)",
                                        clean(id), max_agent_id_chars));
    auto* at = v->as_table();
    if (!at) {
      ck.error(v->source(), fmt::format("[agents.{}] must be a table, not {}", clean(id), a_type(*v)));
      continue;
    }
    auto a = read_agent(ck, id, *at, c);
    if (auto [it, fresh] = workspace_owner.emplace(workspace_of(c, a), id); !fresh)
      ck.error((at->contains("workspace") ? at->get("workspace") : at)->source(),
               fmt::format("[agents.{}] workspace '{}' is already the workspace of [agents.{}]", clean(id),
                           clean(it->first), clean(it->second)));
    c.agents[id] = std::move(a);
  }
}

void read_agent_sections(checker& ck, const toml::table& root, config& c) {
  auto section = [&](std::string_view name) -> const toml::table* {
    auto* n = root.get(name);
    if (!n) return nullptr;
    if (!n->is_table()) {
      ck.error(n->source(), fmt::format("[{}] must be a table, not {}", name, a_type(*n)));
      return nullptr;
    }
    return n->as_table();
  };
  // Later sections refer to earlier ones: tiers to providers, agents to tiers, routes and
  // rules to agents.
  // Secrets reach only the service that owns their section (config::secret_vars).
  ck.track_env(&c.secret_vars["llm"]);
  if (auto* t = section("providers")) read_providers(ck, *t, c);
  else if (!root.contains("providers")) providers_from_environment(c);
  ck.track_env(nullptr);
  if (auto* t = section("llm")) read_llm(ck, *t, c);
  if (auto* t = section("agents")) read_agents(ck, *t, c);
  if (auto* t = section("channels")) read_channels(ck, *t, c);
  if (auto* n = root.get("agent_routes")) read_routes(ck, *n, c);
  if (auto* t = section("routing")) read_routing(ck, *t, c);
  if (auto* t = section("delegation")) read_delegation(ck, *t, c);
  if (auto* t = section("memory")) read_memory(ck, *t, c);
  // Claude Code switched off, or not installed: no agent has the delegate tools (their
  // process is not run).
  if (!c.delegation.claude_enabled || claude_executable(c.delegation).empty())
    for (auto& [id, a] : c.agents) std::erase(a.tools.families, "delegate");
  for (auto& [id, a] : c.agents) c.bus.agent_tools[id] = a.tools;
  if (auto* t = section("mcp")) read_mcp(ck, *t, c);
  ck.track_env(&c.secret_vars["tool-mcp"]);
  if (auto* t = section("tools")) read_tools(ck, *t, c);
  ck.track_env(nullptr);
  if (auto* t = section("oauth2")) read_oauth2(ck, *t, c);
  finish_secret_vars(c);
}

std::string workspace_of(const config& c, const agent_settings& a) {
  return a.workspace.empty() ? home_dir(c.home) + "/agents/" + a.id : a.workspace;
}

}  // namespace detail

}  // namespace weft::service
