// weftctl plugin list|info|explain: the WASM plugins of agents, as weft-plugin-host finds
// them (<home>/plugins/<agent>/<name>/plugin.toml), read from disk with libs/plugin. explain
// prints the profile derived for the agent (libs/plugin's explain()), the one the host uses.
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <weft/plugin/folder.hh>
#include <weft/plugin/manifest.hh>
#include <weft/plugin/profile.hh>
#include <weft/service/config.hh>
#include <weft/service/paths.hh>

#include "commands.hh"
#include "plugin_admin.hh"

namespace weft::ctl {

namespace fs = std::filesystem;
using json = nlohmann::json;

result<plugin_site> find_plugin_site(const options& o) {
  plugin_site s;
  auto w = ask_weftd(o);
  if (w) {
    s.weftd = true;
    s.config = w->config;
  } else {
    s.config = service::find_config("").value_or("");
  }
  auto cfg = service::load_config_or_default(s.config, /*lenient_env=*/true);
  if (!cfg) return cfg.take_error();
  s.cfg = std::move(*cfg);
  s.home = w && !w->home.empty() ? w->home : service::home_dir(s.cfg.home);
  return s;
}

status has_agent(const plugin_site& s, const std::string& agent) {
  if (s.cfg.agents.count(agent)) return {};
  std::vector<std::string> ids;
  for (auto& [id, a] : s.cfg.agents) ids.push_back(id);
  return fail(errc::not_found, "no agent '{}' in the config {} ({})", agent,
              s.config.empty() ? "(built-in default)" : "'" + s.config + "'",
              ids.empty() ? std::string("it has none") : fmt::format("agents: {}", fmt::join(ids, ", ")));
}

std::string workspace_of(const plugin_site& s, const std::string& agent) {
  auto& a = s.cfg.agents.at(agent);
  return a.workspace.empty() ? s.home + "/agents/" + agent : a.workspace;
}

bool runs_plugins(const plugin_site& s, const std::string& agent) {
  auto& f = s.cfg.agents.at(agent).tools.families;
  return std::find(f.begin(), f.end(), "plugins") != f.end();
}

plugin::agent_policy policy_for(const plugin_site& s, const std::string& agent) {
  using hf = plugin::host_function;
  // The network as weftd gives the host process: $WEFT_NETWORK of its derived service.
  bool network = false;
  for (auto& d : service::derived_services(s.cfg, [](std::string_view p) { return std::string(p); }))
    if (d.name == "tool-plugins-" + agent) network = d.env.count("WEFT_NETWORK") && d.env.at("WEFT_NETWORK") == "public";
  // What services/plugin-host grants every plugin of an agent (host_options::host_functions).
  return {.agent = agent, .workspace = workspace_of(s, agent), .network = network,
          .host_functions = {hf::log, hf::result, hf::clock, hf::kv_get, hf::kv_put, hf::file_read, hf::file_write,
                             hf::http_fetch}};
}

namespace {

/// Every plugin folder of every agent (or of --agent), in the config weftd runs or would.
result<std::vector<found>> find_plugins(const options& o, const plugin_args& a) {
  auto site = find_plugin_site(o);
  if (!site) return site.take_error();
  if (!a.agent.empty())
    if (auto st = has_agent(*site, a.agent); !st) return st.take_error();
  std::vector<found> out;
  for (auto& [id, ag] : site->cfg.agents) {
    if (!a.agent.empty() && a.agent != id) continue;
    std::error_code ec;
    std::vector<std::string> names;
    auto dir = service::plugins_dir(site->home, id);
    for (auto& e : fs::directory_iterator(dir, ec)) {
      auto n = e.path().filename().string();
      if (!n.empty() && n[0] != '.' && e.is_directory(ec) && !e.is_symlink(ec)) names.push_back(n);
    }
    std::sort(names.begin(), names.end());
    for (auto& n : names) out.push_back({id, workspace_of(*site, id), dir + "/" + n, n, policy_for(*site, id)});
  }
  return out;
}

}  // namespace

result<found> find_one(const options& o, const plugin_args& a) {
  auto all = find_plugins(o, a);
  if (!all) return all.take_error();
  std::vector<found> hits;
  for (auto& f : *all)
    if (f.name == a.name) hits.push_back(f);
  if (hits.empty()) return fail(errc::not_found, "no plugin folder '{}' in {}", a.name, a.agent.empty() ? "any agent's plugins folder (<home>/plugins/<agent>)" : "the plugins folder of agent '" + a.agent + "'");
  if (hits.size() > 1) {
    std::vector<std::string> ids;
    for (auto& h : hits) ids.push_back(h.agent);
    return fail(errc::invalid_argument, "agents {} each have it; name one with --agent", fmt::join(ids, ", "));
  }
  return hits[0];
}

namespace {

std::string capability_list(const plugin::manifest& m) {
  std::vector<std::string> out;
  for (auto c : m.capabilities) {
    bool unsupported = std::find(plugin::unsupported_capabilities.begin(), plugin::unsupported_capabilities.end(), c) !=
                       plugin::unsupported_capabilities.end();
    out.push_back(std::string(plugin::name_of(c)) + (unsupported ? " (not supported by this build)" : ""));
  }
  return fmt::format("{}", fmt::join(out, ", "));
}

}  // namespace

int cmd_plugin_list(const options& o, const plugin_args& a) {
  auto all = find_plugins(o, a);
  if (!all) return failure(fmt::format("Failed to list plugins: {}", all.err().message));
  json rows = json::array();
  for (auto& f : *all) {
    auto m = plugin::load_manifest(f.dir);
    json r{{"agent", f.agent}, {"name", f.name}, {"folder", f.dir}, {"disabled", false}};
    if (auto off = plugin::read_disabled(f.dir))
      r.update({{"disabled", true}, {"disabled_reason", off->reason}, {"disabled_since", off->since}});
    if (m) {
      std::vector<std::string> tools;
      for (auto& t : m->tools) tools.push_back(f.name + "__" + t.name);
      std::vector<std::string> unsupported;
      for (auto c : m->unsupported()) unsupported.emplace_back(plugin::name_of(c));
      r.update({{"version", m->version}, {"valid", m->name == f.name}, {"tools", tools}, {"unsupported", unsupported}});
      if (m->name != f.name) r["error"] = fmt::format("its manifest names it '{}', not its folder's name", m->name);
    } else {
      r.update({{"version", ""}, {"valid", false}, {"tools", json::array()}, {"error", m.err().message}});
    }
    rows.push_back(std::move(r));
  }
  if (o.json) {
    fmt::print("{}\n", rows.dump(2, ' ', false, json::error_handler_t::replace));
    return 0;
  }
  if (rows.empty()) {
    fmt::print("no plugins (an agent's plugins are folders in <home>/plugins/<agent>; weftctl plugin install adds one)\n");
    return 0;
  }
  fmt::print("{:<24} {:<10} {:<12} {}\n", "NAME", "VERSION", "AGENT", "TOOLS");
  for (auto& r : rows) {
    std::string tools = r["valid"].get<bool>() ? fmt::format("{}", fmt::join(r["tools"].get<std::vector<std::string>>(), ", "))
                                               : "invalid: " + r["error"].get<std::string>().substr(0, 200);
    if (r["disabled"].get<bool>())
      tools = plugin::disabled_message({.reason = r["disabled_reason"].get<std::string>()}) + " — " + tools;
    fmt::print("{:<24} {:<10} {:<12} {}\n", r["name"].get<std::string>(), r["version"].get<std::string>(),
               r["agent"].get<std::string>(), tools);
  }
  return 0;
}

int cmd_plugin_info(const options& o, const plugin_args& a) {
  auto f = find_one(o, a);
  if (!f) return failure(fmt::format("Failed to show plugin '{}': {}", a.name, f.err().message));
  auto m = plugin::load_manifest(f->dir);
  if (!m) return failure(fmt::format("Failed to show plugin '{}': {}", a.name, m.err().message));
  std::vector<std::string> unsupported;
  for (auto c : m->unsupported()) unsupported.emplace_back(plugin::name_of(c));
  std::vector<std::string> hfs;
  for (auto h : m->permissions.host_functions) hfs.emplace_back(plugin::name_of(h));
  auto off = plugin::read_disabled(f->dir);
  if (o.json) {
    json tools = json::array();
    for (auto& t : m->tools)
      tools.push_back({{"name", f->name + "__" + t.name}, {"description", t.description}, {"export", t.export_name},
                       {"input_schema", json::parse(t.input_schema.empty() ? "{}" : t.input_schema, nullptr, false)}});
    json j{{"name", m->name}, {"version", m->version}, {"publisher", m->publisher}, {"description", m->description},
           {"agent", f->agent}, {"folder", f->dir}, {"entry", m->entry}, {"tools", tools},
           {"unsupported", unsupported}, {"host_functions", hfs},
           {"files_read", m->permissions.files_read}, {"files_write", m->permissions.files_write},
           {"limits", {{"memory_mib", m->permissions.limits.memory_mib}, {"time_ms", m->permissions.limits.time_ms},
                       {"instructions", m->permissions.limits.instructions},
                       {"result_bytes", m->permissions.limits.result_bytes}}},
           {"warnings", m->warnings}, {"disabled", off.has_value()}};
    if (off) j.update({{"disabled_reason", off->reason}, {"disabled_since", off->since}});
    std::vector<std::string> caps;
    for (auto c : m->capabilities) caps.emplace_back(plugin::name_of(c));
    j["capabilities"] = caps;
    fmt::print("{}\n", j.dump(2, ' ', false, json::error_handler_t::replace));
    return 0;
  }
  fmt::print("{} {}\n", m->name, m->version);
  fmt::print("  publisher:      {}\n  description:    {}\n  agent:          {}\n  folder:         {}\n  entry:          {}\n",
             m->publisher, m->description, f->agent, f->dir, m->entry);
  if (off)
    fmt::print("  state:          {}{} (weftctl plugin enable {} --agent {})\n", plugin::disabled_message(*off),
               off->since.empty() ? "" : ", since " + off->since, f->name, f->agent);
  fmt::print("  capabilities:   {}\n", capability_list(*m));
  if (!unsupported.empty())
    fmt::print("  unsupported:    {} (named in the manifest; not supported by this build, not run)\n", fmt::join(unsupported, ", "));
  fmt::print("  host functions: {}\n", fmt::join(hfs, ", "));
  if (!m->permissions.files_read.empty()) fmt::print("  files read:     {}\n", fmt::join(m->permissions.files_read, ", "));
  if (!m->permissions.files_write.empty()) fmt::print("  files write:    {}\n", fmt::join(m->permissions.files_write, ", "));
  auto& l = m->permissions.limits;
  fmt::print("  limits:         {} MiB memory, {} ms a call, {} instructions, {} bytes of result\n", l.memory_mib, l.time_ms,
             l.instructions, l.result_bytes);
  fmt::print("  tools:\n");
  for (auto& t : m->tools) fmt::print("    {}__{}  {}\n", f->name, t.name, t.description);
  for (auto& w : m->warnings) fmt::print(stderr, "{}\n", w);
  return 0;
}

int cmd_plugin_explain(const options& o, const plugin_args& a) {
  auto f = find_one(o, a);
  if (!f) return failure(fmt::format("Failed to explain plugin '{}': {}", a.name, f.err().message));
  auto m = plugin::load_manifest(f->dir);
  if (!m) return failure(fmt::format("Failed to explain plugin '{}': {}", a.name, m.err().message));
  auto p = plugin::derive_profile(*m, f->policy);
  if (!p) return failure(fmt::format("Failed to explain plugin '{}': {}", a.name, p.err().message));
  fmt::print("{}", plugin::explain(*p));
  return 0;
}

}  // namespace weft::ctl
