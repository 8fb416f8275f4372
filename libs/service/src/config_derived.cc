// The built-in default configuration and the services derived from a configuration:
// which processes weftd runs, with which environment, sandbox and inputs.
#include <weft/ipc/address.hh>
#include <weft/service/config.hh>

#include <climits>
#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <tuple>

#include <nlohmann/json.hpp>

#include <weft/base/command.hh>
#include <weft/service/paths.hh>
#include <weft/service/policy.hh>

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



/// Claude Code runs with more files open than a shell command (a runtime, its caches).
constexpr std::uint64_t delegate_max_open_files = 1024;

/// What the delegate process of agent `a` is given beyond a tool process's sandbox: which
/// `claude` to run (resolved here, on weftd's PATH, so its directory can be opened to the
/// sandbox), how it authenticates, its limits and the permissions derived from the agent's
/// tool policy (docs/guides/delegation.md).
void configure_delegate(const config& c, const agent_settings& a, const std::string& workspace, service_spec& s) {
  auto& d = c.delegation;
  std::string exec = claude_executable(d);
  if (!exec.empty()) {
    // The real file (npm links bin/claude to the package's binary): its directory, and the
    // package around a bin/ directory, are readable in the sandbox.
    char real[PATH_MAX];
    if (::realpath(exec.c_str(), real)) {
      std::string file = real, dir = file.substr(0, file.rfind('/'));
      if (dir.size() > 4 && dir.substr(dir.size() - 4) == "/bin") dir.resize(dir.size() - 4);
      if (!dir.empty()) s.sandbox.read_only.push_back(dir);
      exec = file;
    }
    s.env["WEFT_CLAUDE_PATH"] = exec;
  }
  s.env["WEFT_DELEGATE_AUTH"] = d.auth == delegate_auth::login ? "login" : "weft";
  if (d.auth == delegate_auth::login) {
    auto dir = d.config_dir.empty() ? workspace + "/.weft/claude" : d.config_dir;
    s.env["WEFT_CLAUDE_CONFIG_DIR"] = dir;
    if (dir.rfind(workspace + "/", 0) != 0) s.sandbox.read_write.push_back(dir);
  }
  s.env["WEFT_DELEGATE_TIMEOUT_MS"] = std::to_string(d.timeout_ms);
  s.env["WEFT_DELEGATE_MAX_TURNS"] = std::to_string(d.max_turns);
  auto perms = claude_permissions_of(a.tools, d.excluded_tools);
  s.env["WEFT_DELEGATE_ALLOWED"] = fmt::format("{}", fmt::join(perms.allowed, ","));
  s.env["WEFT_DELEGATE_DISALLOWED"] = fmt::format("{}", fmt::join(perms.disallowed, ","));
  if (!d.ask.empty()) {
    s.env["WEFT_DELEGATE_ASK"] = fmt::format("{}", fmt::join(d.ask, ","));
    s.env["WEFT_DELEGATE_ASK_TIMEOUT_MS"] = std::to_string(d.ask_timeout_ms);
  }
  s.sandbox.max_open_files = delegate_max_open_files;
  // Claude Code reads /proc/self/maps, /proc/stat and the CPU list in its own process, which
  // a /proc/self rule naming the tool process cannot cover: a /proc of its own PID
  // namespace, and the CPU topology.
  s.sandbox.own_proc = true;
  s.sandbox.read_only.push_back("/sys/devices/system/cpu");
}

/// What the cargo tools of an agent are given: the `cargo` on weftd's PATH (as found, not
/// resolved: a rustup proxy dispatches on its name), its directory and a rustup toolchain
/// home readable in the sandbox, and a /proc of their own (rustc and its build scripts read
/// /proc/self in their own processes).
void configure_cargo(const cargo_settings& cs, service_spec& s) {
  const char* path = std::getenv("PATH");
  auto exec = cs.cargo.empty() ? find_executable("cargo", path && *path ? path : "/usr/local/bin:/usr/bin:/bin")
                               : std::optional<std::string>(cs.cargo);
  s.env["WEFT_CARGO_TIMEOUT_MS"] = std::to_string(cs.timeout_ms);
  if (exec) {
    s.env["WEFT_CARGO"] = *exec;
    s.sandbox.read_only.push_back(exec->substr(0, exec->rfind('/')));
  }
  std::string rustup;
  if (const char* r = std::getenv("RUSTUP_HOME"); r && *r) rustup = r;
  else if (const char* h = std::getenv("HOME"); h && *h && ::access((std::string(h) + "/.rustup").c_str(), F_OK) == 0)
    rustup = std::string(h) + "/.rustup";
  if (!rustup.empty()) {
    s.env["RUSTUP_HOME"] = rustup;
    s.sandbox.read_only.push_back(rustup);
  }
  s.sandbox.own_proc = true;
  s.sandbox.read_only.push_back("/sys/devices/system/cpu");
  s.sandbox.max_open_files = delegate_max_open_files;
}

/// The directory a language server's files are in, to open read-only in the sandbox: an
/// npm bin link's package (node_modules/<pkg>/…), else the program's directory.
std::string server_tree(const std::string& program) {
  char real[PATH_MAX];
  if (!::realpath(program.c_str(), real)) return program.substr(0, program.rfind('/'));
  std::string file = real;
  if (auto nm = file.find("/node_modules/"); nm != std::string::npos) {
    auto pkg = file.find('/', nm + 14);
    if (pkg != std::string::npos && file[nm + 14] == '@') pkg = file.find('/', pkg + 1);
    if (pkg != std::string::npos) return file.substr(0, pkg);
  }
  return file.substr(0, file.rfind('/'));
}

/// What the code tools of an agent are given: the language servers ([tools.code.lsp], or
/// clangd for C and C++ when it is installed), resolved on weftd's PATH, with their files
/// readable in the sandbox, and the limits.
void configure_code(const code_settings& cs, service_spec& s) {
  const char* path = std::getenv("PATH");
  std::string search = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";
  auto servers = cs.lsp;
  if (!cs.lsp_given)
    if (auto clangd = find_executable("clangd", search))
      for (auto lang : {"c", "cpp"}) servers[lang] = {*clangd, "--background-index", "--log=error"};
  nlohmann::json lsp = nlohmann::json::object();
  std::vector<std::string> trees;
  for (auto& [lang, cmd] : servers) {
    if (cmd.empty()) continue;  // turned off
    auto program = cmd[0].find('/') == std::string::npos ? find_executable(cmd[0], search) : std::optional(cmd[0]);
    if (!program) continue;  // reported by `weftctl config check`; the tool says none is configured
    auto resolved = cmd;
    resolved[0] = *program;
    lsp[lang] = resolved;
    auto tree = server_tree(*program);
    if (std::find(trees.begin(), trees.end(), tree) == trees.end()) trees.push_back(tree);
    // A script (#!/usr/bin/env node) needs its interpreter's directory too.
    if (auto node = find_executable("node", search); node && tree.find("/node_modules/") != std::string::npos) {
      auto dir = node->substr(0, node->rfind('/'));
      if (std::find(trees.begin(), trees.end(), dir) == trees.end()) trees.push_back(dir);
    }
  }
  for (auto& t : trees) s.sandbox.read_only.push_back(t);
  s.env["WEFT_CODE_LSP"] = lsp.dump();
  s.env["WEFT_CODE_LSP_IDLE_MS"] = std::to_string(cs.lsp_idle_ms);
  s.env["WEFT_CODE_MAX_FILE_BYTES"] = std::to_string(cs.max_file_bytes);
  // Language servers (node, clangd) read /proc/self and the CPU list in their own processes.
  s.sandbox.own_proc = true;
  s.sandbox.read_only.push_back("/sys/devices/system/cpu");
  s.sandbox.max_open_files = delegate_max_open_files;
}

/// A copy of `c` without file positions: a table that only moved is not a change.
std::shared_ptr<const config> positionless(const config& c) {
  auto out = std::make_shared<config>(c);
  for (auto& [n, p] : out->providers) p.where.clear();
  for (auto& t : out->llm.tiers) t.where.clear();
  for (auto& [id, a] : out->agents) a.where.clear(), a.tools.where.clear();
  if (out->channels.telegram) out->channels.telegram->where.clear();
  if (out->channels.web) out->channels.web->where.clear();
  for (auto& r : out->agent_routes) r.where.clear();
  for (auto& r : out->delegation.routing_rules) r.where.clear();
  for (auto& m : out->memory.shares) m.where.clear();
  if (out->mcp) out->mcp->where.clear();
  for (auto& [n, m] : out->tools.mcp_servers) m.where.clear();
  out->tools.git.where.clear();
  out->tools.cargo.where.clear();
  out->tools.code.where.clear();
  out->tools.calendar.where.clear();
  for (auto& [n, acc] : out->tools.calendar.accounts) acc.where.clear();
  out->tools.email.where.clear();
  for (auto& [n, acc] : out->tools.email.accounts) acc.where.clear();
  for (auto& [n, f] : out->tools.forges) f.where.clear();
  out->tools.web_search.where.clear();
  out->oauth2.where.clear();
  for (auto& [n, p] : out->oauth2.providers) p.where.clear();
  for (auto& r : out->bus.acl) r.where.clear();
  for (auto& [n, p] : out->bus.agent_tools) p.where.clear();
  out->services.clear();  // each compares its own spec
  out->warnings.clear();
  return out;
}

/// The provider memory asks llm for embeddings from, by memory's rule: [llm]
/// embedding_provider, else default_provider, else the first usable one.
const provider_settings* embedding_provider(const config& c) {
  auto usable = [&](const std::string& name) -> const provider_settings* {
    auto it = c.providers.find(name);
    return it != c.providers.end() && it->second.enabled ? &it->second : nullptr;
  };
  if (!c.llm.embedding_provider.empty()) return usable(c.llm.embedding_provider);
  if (!c.llm.default_provider.empty()) return usable(c.llm.default_provider);
  for (auto& [name, p] : c.providers)
    if (p.enabled) return &p;
  return nullptr;
}

/// What llm reads of each agent (model choice and budget); an agent with none of them set
/// is served like an unknown one, so adding it changes nothing for llm.
std::map<std::string, std::tuple<std::string, std::string, double>> llm_view_of_agents(const config& c) {
  std::map<std::string, std::tuple<std::string, std::string, double>> out;
  for (auto& [id, a] : c.agents)
    if (!a.tier.empty() || !a.model.empty() || a.budget_usd != 0) out[id] = {a.tier, a.model, a.budget_usd};
  return out;
}

/// One part of what a service reads, the same in `a` and `b`. The parts and who reads them:
///   paths               [weft] home and runtime_dir          every derived service that reads the file
///   providers, llm      [providers], [llm]                   llm
///   agents.llm          each agent's tier, model, budget     llm
///   embedding           the provider memory embeds with      memory
///   llm.turn            [llm] tiers, default_tier, timeouts  agent-<id>
///   agent:<id>          [agents.<id>]                        agent-<id>, mcp
///   agents.ids          which agents exist                   router, memory
///   memory              [memory]                             memory, agent-<id>
///   routes              [[agent_routes]], [routing]          router
///   channels.<name>     [channels.<name>]                    chan-<name>
///   mcp                 [mcp]                                mcp
///   bus.limits          [bus] max_message_bytes              memory, agent-<id>, chan-telegram, mcp
///   supervisor.stop     [supervisor] stop_timeout_ms         agent-<id>
///   tools.web_search    [tools.web_search]                   tool-web
///   delegation.turn     [delegation] routing_rules, timeout_ms  agent-<id>
/// The tool processes read no config (their agent and workspace come in the environment),
/// and tool-mcp re-reads [tools.mcp_servers] on SIGHUP.
bool same_part(const config& a, const config& b, std::string_view part) {
  if (part == "paths") return a.home == b.home && a.runtime_dir == b.runtime_dir;
  if (part == "providers") return a.providers == b.providers;
  if (part == "llm") return a.llm == b.llm;
  if (part == "agents.llm") return llm_view_of_agents(a) == llm_view_of_agents(b);
  if (part == "embedding") {
    auto *pa = embedding_provider(a), *pb = embedding_provider(b);
    return (pa ? std::optional(*pa) : std::nullopt) == (pb ? std::optional(*pb) : std::nullopt) &&
           a.llm.embedding_model == b.llm.embedding_model;
  }
  if (part == "llm.turn")
    return a.llm.tiers == b.llm.tiers && a.llm.default_tier == b.llm.default_tier &&
           a.llm.timeout_ms == b.llm.timeout_ms && a.llm.retries == b.llm.retries &&
           a.llm.retry_min_wait_ms == b.llm.retry_min_wait_ms;
  if (part.substr(0, 6) == "agent:") {
    auto id = std::string(part.substr(6));
    auto ia = a.agents.find(id), ib = b.agents.find(id);
    if (ia == a.agents.end() || ib == b.agents.end()) return (ia == a.agents.end()) == (ib == b.agents.end());
    // network is the shell tool's alone (its spec changes with it); the agent does not read it.
    auto without_network = [](agent_settings x) {
      x.network = tool_network::none;
      return x;
    };
    return without_network(ia->second) == without_network(ib->second);
  }
  if (part == "agents.ids") return keys_of(a.agents) == keys_of(b.agents);
  if (part == "agents.workspaces") {
    if (keys_of(a.agents) != keys_of(b.agents)) return false;
    for (auto& [id, x] : a.agents)
      if (workspace_of(a, x) != workspace_of(b, b.agents.at(id))) return false;
    return true;
  }
  if (part == "memory") return a.memory == b.memory;
  if (part == "security.monitor") {  // position aside
    auto x = a.security.monitor, y = b.security.monitor;
    x.where.clear(), y.where.clear();
    return x == y;
  }
  if (part == "routes") return a.agent_routes == b.agent_routes && a.routing == b.routing;
  if (part == "delegation.turn")
    return a.delegation.routing_rules == b.delegation.routing_rules && a.delegation.timeout_ms == b.delegation.timeout_ms;
  if (part == "channels.telegram") return a.channels.telegram == b.channels.telegram;
  if (part == "channels.web") return a.channels.web == b.channels.web;
  if (part == "mcp") return a.mcp == b.mcp;
  if (part == "tools.forges") return a.tools.forges == b.tools.forges;
  if (part == "tools.web_search") return a.tools.web_search == b.tools.web_search;
  if (part == "tools.calendar") {
    auto x = a.tools.calendar, y = b.tools.calendar;
    x.where.clear(), y.where.clear();
    for (auto* o : {&x, &y})
      for (auto& [n, acc] : o->accounts) acc.where.clear();
    return x == y;
  }
  if (part == "tools.email") {
    auto x = a.tools.email, y = b.tools.email;
    x.where.clear(), y.where.clear();
    for (auto* o : {&x, &y})
      for (auto& [n, acc] : o->accounts) acc.where.clear();
    return x == y;
  }
  if (part == "oauth2") {  // positions aside
    auto x = a.oauth2, y = b.oauth2;
    x.where.clear(), y.where.clear();
    for (auto* o : {&x, &y})
      for (auto& [n, p] : o->providers) p.where.clear();
    return x == y;
  }
  if (part == "bus.limits") return a.bus.max_message_bytes == b.bus.max_message_bytes;
  if (part == "supervisor.stop") return a.supervisor.stop_timeout_ms == b.supervisor.stop_timeout_ms;
  return a == b;  // a part nobody named: the whole config
}

}  // namespace

bool service_inputs::operator==(const service_inputs& o) const {
  if (parts != o.parts) return false;
  if (parts.empty()) return true;
  if (!from || !o.from) return from == o.from;
  return std::all_of(parts.begin(), parts.end(), [&](auto& p) { return same_part(*from, *o.from, p); });
}

config default_config() {
  config c;
  agent_settings main;
  main.id = "main";
  if (claude_executable(c.delegation).empty()) std::erase(main.tools.families, "delegate");
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
  auto snapshot = positionless(c);
  auto add = [&](std::string name, std::string_view program, std::string address, std::vector<std::string> after,
                 std::vector<std::string> reads = {}) {
    service_spec s;
    s.name = std::move(name);
    s.exec = locate(program);
    s.address = std::move(address);
    s.after = std::move(after);
    s.where = "(derived)";
    if (!reads.empty()) s.reads = {std::move(reads), snapshot};
    out.push_back(std::move(s));
    return &out.back();
  };
  add("llm", "weft-llm", "llm", {"bus"}, {"paths", "providers", "llm", "agents.llm"});
  // Memory needs llm only for embeddings, which it asks for in the background: it starts
  // (and serves keyword search) without it.
  if (c.memory.enabled)
    add("memory", "weft-memory", "memory", {"bus"}, {"paths", "embedding", "memory", "agents.ids", "bus.limits"});
  // The OAuth2 broker: the one process with client secrets and refresh tokens. The session
  // bus is its way to the desktop keyring, where the store's key may live.
  if (c.oauth2.configured) {
    auto* s = add("oauth2", "weft-oauth2", "oauth2", {"bus"}, {"paths", "oauth2"});
    if (const char* bus = std::getenv("DBUS_SESSION_BUS_ADDRESS"); bus && *bus) s->env["DBUS_SESSION_BUS_ADDRESS"] = bus;
  }

  // The egress proxy, for the shell and git tools of agents with network = "public" (and
  // their delegate processes when Claude Code uses its own login, so it must reach Anthropic):
  // one UNIX socket per agent ($WEFT_RUNTIME_DIR/egress/<id>.sock), the only way out of
  // their network namespaces.
  // The plugin host goes out only for the plugins whose manifest lists hosts, each through a
  // socket of its own where only its list is reachable (as a skill's commands do).
  auto goes_out = [&](const agent_settings& a, std::string_view family) {
    if (a.network != tool_network::public_internet || !contains(a.tools.families, family)) return false;
    return family == "shell" || family == "git" || family == "plugins" ||
           (family == "delegate" && c.delegation.auth == delegate_auth::login);
  };
  std::vector<std::string> egress_args;
  for (auto& [id, a] : c.agents)
    if (goes_out(a, "shell") || goes_out(a, "git") || goes_out(a, "delegate") || goes_out(a, "plugins"))
      egress_args.insert(egress_args.end(), {"--agent", id, "--workspace", id + "=" + workspace_of(c, a)});
  if (!egress_args.empty()) {
    auto* e = add("egress", "weft-egress", "egress", {"bus"});
    e->args = std::move(egress_args);
    // Tests declare an address block of theirs public (weft-egress takes only blocks within
    // 198.18.0.0/15, the benchmarking range, and says so in a warning).
    if (const char* v = std::getenv("WEFT_EGRESS_TEST_PUBLIC"); v && *v) e->env["WEFT_EGRESS_TEST_PUBLIC"] = v;
  }

  bool any_web = false;
  for (auto& [id, a] : c.agents) {
    auto workspace = workspace_of(c, a);
    for (auto family : per_agent_families) {
      if (!contains(a.tools.families, family)) continue;
      bool egress = goes_out(a, family);
      // The plugins family is the WASM plugin host (services/plugin-host): it runs the
      // plugins found in <home>/plugins/<id>/ under the same tool sandbox as the others.
      auto program = family == "plugins" ? std::string("weft-plugin-host") : fmt::format("weft-tool-{}", family);
      auto* s = add(fmt::format("tool-{}-{}", family, id), program,
                    ipc::addr::tool(family, id), egress ? std::vector<std::string>{"bus", "egress"}
                                                        : std::vector<std::string>{"bus"});
      s->env = {{"WEFT_AGENT", id}, {"WEFT_WORKSPACE", workspace}};
      if (egress) s->env["WEFT_NETWORK"] = "public";
      auto& sb = s->sandbox;
      sb.enabled = true;
      // No route to the host's loopback (weft's web API, MCP server, webhook receiver) or
      // anywhere else: a network namespace of its own.
      sb.own_network = true;
      // And a PID namespace, of which it is the init: when it dies, whatever its commands
      // left running dies with it.
      sb.own_pids = true;
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
      // The shared skills (and the built-in ones), read-only: a skill's scripts run from
      // there, under its network list when it has one (services/tool-shell/skill_lanes.hh).
      if (family == "shell") {
        std::error_code ec;
        for (auto& dir : {home_dir(c.home) + "/skills", std::string(std::getenv("WEFT_SKILLS_DIR") ? std::getenv("WEFT_SKILLS_DIR") : "")})
          if (!dir.empty() && std::filesystem::is_directory(dir, ec)) sb.read_only.push_back(dir);
      }
      if (family == "delegate") configure_delegate(c, a, workspace, *s);
      if (family == "plugins") {
        // The plugins are read from the admin's tree, outside the workspace (the agent's
        // tools cannot add one or widen a manifest), read-only. Without network, no internet
        // socket at all; with it, only the relays to the plugins' egress sockets in its own
        // namespace (and the fetching threads confined to their ports).
        auto dir = plugins_dir(home_dir(c.home), id);
        s->env["WEFT_PLUGINS_DIR"] = dir;
        sb.read_only.push_back(dir);
        sb.deny_network = !egress;
      }
      if (family == "git" && !c.tools.git.author.empty()) s->env["WEFT_GIT_AUTHOR"] = c.tools.git.author;
      if (family == "cargo") configure_cargo(c.tools.cargo, *s);
      if (family == "code") configure_code(c.tools.code, *s);
    }
    any_web = any_web || contains(a.tools.families, "web");
  }
  // The web tools: one shared process; with [tools.web_search], the only one given the
  // search provider's key.
  if (any_web) add("tool-web", "weft-tool-web", "tool/web", {"bus"}, {"paths", "tools.web_search"});
  // Pull requests on forges: one shared process, the only one given the forge tokens.
  bool any_forge = std::any_of(c.agents.begin(), c.agents.end(),
                               [](auto& a) { return contains(a.second.tools.families, "forge"); });
  if (any_forge && !c.tools.forges.empty()) add("tool-forge", "weft-tool-forge", "tool/forge", {"bus"}, {"paths", "tools.forges"});
  // Calendars: one shared process holding the accounts' passwords, for the agents that list
  // the calendar family.
  bool any_calendar = std::any_of(c.agents.begin(), c.agents.end(),
                                  [](auto& a) { return contains(a.second.tools.families, "calendar"); });
  if (any_calendar && !c.tools.calendar.accounts.empty())
    add("tool-calendar", "weft-tool-calendar", "tool/calendar", {"bus"}, {"paths", "tools.calendar"});
  // Mail: one shared process holding the accounts' passwords, for the agents that list the
  // email family.
  bool any_email = std::any_of(c.agents.begin(), c.agents.end(), [](auto& a) { return contains(a.second.tools.families, "email"); });
  if (any_email && !c.tools.email.accounts.empty())
    add("tool-email", "weft-tool-email", "tool/email", {"bus"}, {"paths", "tools.email"});
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
    if (contains(a.tools.families, "forge") && !c.tools.forges.empty()) after.push_back("tool-forge");
    if (contains(a.tools.families, "calendar") && !c.tools.calendar.accounts.empty()) after.push_back("tool-calendar");
    if (contains(a.tools.families, "email") && !c.tools.email.accounts.empty()) after.push_back("tool-email");
    auto* s = add("agent-" + id, "weft-agent", ipc::addr::agent(id), std::move(after),
                  {"paths", "agent:" + id, "llm.turn", "memory", "bus.limits", "supervisor.stop", "delegation.turn"});
    s->env = {{"WEFT_AGENT", id}, {"WEFT_WORKSPACE", workspace_of(c, a)}};
    agents.push_back(s->name);
  }
  add("router", "weft-router", "router", agents, {"paths", "routes", "agents.ids"});
  // The security monitor: it listens to the bus's events and asks weftd (control socket) to
  // stop a quarantined agent's tool processes, so it is not sandboxed like a tool.
  if (c.security.monitor.enabled)
    add("monitor", "weft-monitor", "monitor", {"bus"}, {"paths", "security.monitor", "agents.ids", "agents.workspaces"});
  if (c.channels.telegram)
    add("chan-telegram", "weft-chan-telegram", "chan/telegram", {"router"},
        {"paths", "channels.telegram", "bus.limits"})
        ->enabled = c.channels.telegram->enabled;
  if (c.channels.web)
    add("chan-web", "weft-chan-web", "chan/web", {"router"}, {"paths", "channels.web"})->enabled =
        c.channels.web->enabled;
  // weft as an MCP server, calling tools as agent/<agent>/mcp.
  // It serves the agent's tools, so it starts once they are there: a client listing the
  // tools at once must not find them missing.
  if (c.mcp && c.mcp->enabled && c.agents.count(c.mcp->agent)) {
    std::vector<std::string> after = {"bus"};
    auto& a = c.agents.at(c.mcp->agent);
    for (auto family : per_agent_families)
      if (contains(a.tools.families, family)) after.push_back(fmt::format("tool-{}-{}", family, a.id));
    if (contains(a.tools.families, "web")) after.push_back("tool-web");
    add("mcp", "weft-mcp", ipc::addr::agent_mcp(c.mcp->agent), std::move(after),
        {"paths", "mcp", "agent:" + c.mcp->agent, "bus.limits"})
        ->env = {{"WEFT_AGENT", c.mcp->agent}};
  }

  // A service gets the environment variables of the sections it owns, those every service
  // gets, and no others.
  for (auto& s : out) add_secret_env(c, s);

  // A [services.<name>] of the same name replaces the derived one.
  std::erase_if(out, [&](const service_spec& d) {
    return std::any_of(c.services.begin(), c.services.end(), [&](const service_spec& s) { return s.name == d.name; });
  });
  return out;
}

std::string claude_executable(const delegation_settings& d) {
  if (!d.claude_path.empty()) return d.claude_path;
  const char* path = std::getenv("PATH");
  return find_executable("claude", path && *path ? path : "/usr/local/bin:/usr/bin:/bin").value_or("");
}

std::vector<std::string> tool_process_addresses(const tool_policy& p, std::string_view id) {
  std::vector<std::string> out;
  for (auto& f : p.families)
    out.push_back(contains(per_agent_families, f) ? ipc::addr::tool(f, id) : ipc::addr::tool(f));
  return out;
}

void add_secret_env(const config& c, service_spec& s) {
  // Which providers are usable is no secret, but only the services that read providers
  // hear of them (a provider added must not change every service's environment, which
  // would restart them all on reload): llm, which also holds the keys, and memory, which
  // needs only the one it embeds with.
  std::vector<std::string> ready;
  if (s.name == "llm") {
    for (auto& [name, p] : c.providers)
      if (p.enabled) ready.push_back(name);
  } else if (s.name == "memory") {
    if (auto* p = embedding_provider(c)) ready.push_back(p->name);
  }
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
