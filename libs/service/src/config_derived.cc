// The built-in default configuration and the services derived from a configuration:
// which processes weftd runs, with which environment, sandbox and inputs.
#include <weft/ipc/address.hh>
#include <weft/service/config.hh>

#include <cstdlib>

#include <weft/service/paths.hh>

#include "config_check.hh"

namespace weft::service {

namespace {

using namespace detail;

/// The GiB/MiB rlimits of a per-agent tool process.
constexpr std::uint64_t gib = 1ull << 30;
/// No RLIMIT_AS: runtimes such as V8 reserve far more address space than they use, so a
/// cap that stops a runaway process also breaks `node`; memory limits belong to cgroups.
constexpr std::uint64_t tool_max_address_space = 0;
constexpr std::uint64_t tool_max_open_files = 256;
/// RLIMIT_NPROC counts every process of the user, not only the tool's: high enough for a
/// desktop session running weft under the user's own account, low enough to stop a fork bomb.
constexpr std::uint64_t tool_max_processes = 4096;
constexpr std::uint64_t tool_max_file_size = 1 * gib;



}  // namespace

config default_config() {
  config c;
  agent_settings main;
  main.id = "main";
  c.agents.emplace(main.id, main);
  c.bus.agent_tools.emplace(main.id, main.tools);
  c.channels.web = web_settings{};
  c.routing.default_agent = "main";
  providers_from_environment(c);
  // weft's MCP server on 127.0.0.1:8781 as agent main (HTTP behind a token).
  c.mcp = mcp_serve_settings{};
  c.mcp->agent = "main";
  tool_policy p;
  p.families.clear();
  c.bus.agent_tools["main/mcp"] = p;
  detail::finish_secret_vars(c);
  return c;
}

std::vector<service_spec> derived_services(const config& c,
                                           const std::function<std::string(std::string_view)>& locate) {
  std::vector<service_spec> out;
  if (c.agents.empty()) return out;
  auto add = [&](std::string name, std::string_view program, std::string address, std::vector<std::string> after) {
    service_spec s;
    s.name = std::move(name);
    s.exec = locate(program);
    s.address = std::move(address);
    s.after = std::move(after);
    s.where = "(derived)";
    out.push_back(std::move(s));
    return &out.back();
  };
  add("llm", "weft-llm", "llm", {"bus"});
  // Memory needs llm only for embeddings, which it asks for in the background: it starts
  // (and serves keyword search) without it.
  if (c.memory.enabled) add("memory", "weft-memory", "memory", {"bus"});

  bool any_web = false;
  for (auto& [id, a] : c.agents) {
    auto workspace = workspace_of(c, a);
    for (auto family : per_agent_families) {
      if (!contains(a.tools.families, family)) continue;
      auto* s = add(fmt::format("tool-{}-{}", family, id), fmt::format("weft-tool-{}", family),
                    ipc::addr::tool(family, id), {"bus"});
      s->env = {{"WEFT_AGENT", id}, {"WEFT_WORKSPACE", workspace}};
      auto& sb = s->sandbox;
      sb.enabled = true;
      sb.read_write = {workspace, "/dev/null"};  // `cmd > /dev/null` must work
      sb.read_only = {"/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc", "/dev/zero", "/dev/urandom", "/proc/self"};
      // The program itself (exec needs it under Landlock) and the config file it reads.
      if (auto slash = s->exec.rfind('/'); slash != std::string::npos && slash > 0)
        sb.read_only.push_back(s->exec.substr(0, slash));
      if (!c.source.empty() && c.source.front() == '/') sb.read_only.push_back(c.source);
      sb.max_address_space = tool_max_address_space;
      sb.max_open_files = tool_max_open_files;
      sb.max_processes = tool_max_processes;
      sb.max_file_size = tool_max_file_size;
    }
    any_web = any_web || contains(a.tools.families, "web");
  }
  if (any_web) add("tool-web", "weft-tool-web", "tool/web", {"bus"});
  // The MCP client host: one shared process for every [tools.mcp_servers] entry. It re-reads
  // them on SIGHUP, so a reload adds or removes servers without touching the others.
  if (!c.tools.mcp_servers.empty()) add("tool-mcp", "weft-tool-mcp", "tool/mcp", {"bus"})->reload_signal = true;

  std::vector<std::string> agents;
  for (auto& [id, a] : c.agents) {
    std::vector<std::string> after = {"llm"};
    if (c.memory.enabled) after.push_back("memory");
    for (auto family : per_agent_families)
      if (contains(a.tools.families, family)) after.push_back(fmt::format("tool-{}-{}", family, id));
    if (contains(a.tools.families, "web")) after.push_back("tool-web");
    auto* s = add("agent-" + id, "weft-agent", ipc::addr::agent(id), std::move(after));
    s->env = {{"WEFT_AGENT", id}, {"WEFT_WORKSPACE", workspace_of(c, a)}};
    agents.push_back(s->name);
  }
  add("router", "weft-router", "router", agents);
  if (c.channels.telegram)
    add("chan-telegram", "weft-chan-telegram", "chan/telegram", {"router"})->enabled = c.channels.telegram->enabled;
  if (c.channels.web)
    add("chan-web", "weft-chan-web", "chan/web", {"router"})->enabled = c.channels.web->enabled;
  // weft as an MCP server, calling tools as agent/<agent>/mcp.
  if (c.mcp && c.mcp->enabled && c.agents.count(c.mcp->agent))
    add("mcp", "weft-mcp", ipc::addr::agent_mcp(c.mcp->agent), {"bus"})->env = {{"WEFT_AGENT", c.mcp->agent}};

  // A service gets the environment variables of the sections it owns, those every service
  // gets, and no others.
  for (auto& s : out) add_secret_env(c, s);

  // A [services.<name>] of the same name replaces the derived one.
  std::erase_if(out, [&](const service_spec& d) {
    return std::any_of(c.services.begin(), c.services.end(), [&](const service_spec& s) { return s.name == d.name; });
  });
  return out;
}

std::vector<std::string> tool_process_addresses(const tool_policy& p, std::string_view id) {
  std::vector<std::string> out;
  for (auto& f : p.families)
    out.push_back(contains(per_agent_families, f) ? ipc::addr::tool(f, id) : ipc::addr::tool(f));
  return out;
}

void add_secret_env(const config& c, service_spec& s) {
  // Which providers are usable is no secret; the keys stay with llm.
  std::vector<std::string> ready;
  for (auto& [name, p] : c.providers)
    if (p.enabled) ready.push_back(name);
  if (!ready.empty()) s.env.emplace("WEFT_PROVIDERS_READY", fmt::format("{}", fmt::join(ready, ",")));
  for (auto key : {std::string("*"), s.name})
    if (auto it = c.secret_vars.find(key); it != c.secret_vars.end())
      for (auto& v : it->second)
        if (const char* value = std::getenv(v.c_str())) s.env.emplace(v, value);
}

std::optional<std::string> agent_of_address(std::string_view address) {
  std::vector<std::string_view> seg;
  for (std::size_t start = 0;;) {
    auto slash = address.find('/', start);
    seg.push_back(address.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  std::string_view id;
  if (seg[0] == "agent" && seg.size() >= 2) id = seg[1];
  else if (seg[0] == "tool" && (seg.size() == 3 || seg.size() == 4) && contains(per_agent_families, seg[1])) id = seg[2];
  if (id.empty()) return std::nullopt;
  return std::string(id);
}

}  // namespace weft::service
