// weft-mcp — weft as an MCP server for IDEs and Claude Code (issue 5, item 2).
//
// Purpose: offers one agent's tools (the union of its tool processes' ListTools, filtered by
// [agents.<id>.tools] and [mcp] allow/deny — the bus enforces both on every call) and its
// skills (as MCP resources weft://skills/<name>, prompts and completions) to MCP clients:
//   - Streamable HTTP at http://<[mcp] listen>/mcp (default 127.0.0.1:8781), behind a Bearer
//     token kept in $WEFT_HOME/mcp/http.token and an Origin check;
//   - stdio, through `weftctl mcp serve`, which relays lines over the bus as
//     io.weft.Mcp.v1 Open/Frame/Close.
// Calls tools as agent/<id>/mcp with io.weft.Tool.v1.Call. See docs/guides/mcp.md.
//
// Options: --help, --version.
// Serves: io.weft.Mcp.v1 Open at agent/<id>/mcp (then Frame and Close events both ways).
// Calls: io.weft.Tool.v1 ListTools and Call at the agent's tool processes; Bus.v1 Ping at
// the weftctl of a quiet stdio session. Hears: Bus.v1 PeerChanged, Tool.v1 ToolsChanged.
//
// Started by weftd when [mcp] is present and enabled (the built-in default config has it),
// at bus address agent/<id>/mcp with WEFT_AGENT=<id>.
//
// Example config:
//   [mcp]
//   agent = "main"
//   listen = "127.0.0.1:8781"
//   deny = ["exec"]
#include <cstdlib>

#include <weft/service/main.hh>
#include <weft/service/paths.hh>

#include "services/mcp/mcp_service.hh"

using namespace weft;

namespace {

constexpr std::string_view help = R"(usage: weft-mcp [--help] [--version]

weft as an MCP server: offers one agent's tools and skills to MCP clients (VS Code,
Claude Code, …) over Streamable HTTP and, through `weftctl mcp serve`, over stdio.
Started by weftd when [mcp] is enabled, at bus address agent/<agent>/mcp.

What it serves: tools/list (the agent's tools allowed by [agents.<id>.tools] and [mcp]
allow/deny, sorted by name, with their JSON schemas), tools/call, ping,
notifications/tools/list_changed when tool processes come, go or change, resources
(weft://skills/<name>, the SKILL.md files; the template weft://skills/{name}; subscriptions
and list_changed when skills change on disk), prompts (one per skill), completions (skill
names, the words of a skill's argument-hint) and, after logging/setLevel, the server's
notices as notifications/message.

Config ([mcp] in the file named by $WEFT_CONFIG; docs/config.md):
  agent            whose tools (default: routing.default_agent, else main, else the first)
  listen           HTTP host:port (default 127.0.0.1:8781; port 0: any free port, written
                   to $WEFT_RUNTIME_DIR/mcp.port; "": stdio only)
  require_token    HTTP needs Authorization: Bearer <token> (default true); the token is
                   $WEFT_HOME/mcp/http.token, created at first start (weftctl mcp info)
  allowed_origins  Origins accepted besides http(s)://127.0.0.1|localhost|[::1][:port]
  allow, deny      tool-name globs offered / never offered
  max_sessions     open sessions, HTTP and stdio together (default 32); when all are
                   held, a new one takes the place of the least recently used idle one
                   (HTTP: nothing in flight, no open stream; stdio: nothing in flight and
                   quiet for 10 minutes), else it is refused; HTTP sessions idle for 30
                   minutes are ended

Environment:
  WEFT_AGENT       agent id (else the middle of WEFT_ADDRESS agent/<id>/mcp)
  WEFT_CONFIG, WEFT_HOME, WEFT_RUNTIME_DIR, WEFT_SKILLS_DIR (built-in skills)
  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD, WEFT_EVENTS   set by weftd
  WEFT_LOG         log levels, e.g. "debug" or "info,mcp=debug"
  WEFT_MCP_STDIO_PING_MS  a stdio session quiet this long has its weftctl pinged, and is
                   closed when that weftctl is gone (default 30000)
  WEFT_MCP_SKILL_SCAN_MS  how often skill folders are looked at while a session is open,
                   for resources/updated and list_changed (default 2000)
)";

std::string env_or(const char* name, std::string fallback = {}) {
  auto* v = std::getenv(name);
  return v && *v ? std::string(v) : std::move(fallback);
}

std::chrono::milliseconds env_ms(const char* name, std::chrono::milliseconds fallback) {
  auto ms = std::atol(env_or(name).c_str());
  return ms > 0 ? std::chrono::milliseconds(ms) : fallback;
}

mcpsrv::mcp_options options_of(service::main_context& m) {
  auto& cfg = m.cfg;
  mcpsrv::mcp_options o;
  o.agent = env_or("WEFT_AGENT");
  if (o.agent.empty())
    if (auto a = service::agent_of_address(m.address)) o.agent = *a;
  if (o.agent.empty() && cfg.mcp) o.agent = cfg.mcp->agent;
  if (o.agent.empty()) o.agent = "main";
  if (cfg.mcp) o.settings = *cfg.mcp;
  o.settings.agent = o.agent;
  o.stdio_ping_after = env_ms("WEFT_MCP_STDIO_PING_MS", o.stdio_ping_after);
  o.skill_scan = env_ms("WEFT_MCP_SKILL_SCAN_MS", o.skill_scan);
  service::agent_settings as;
  as.id = o.agent;
  if (auto it = cfg.agents.find(o.agent); it != cfg.agents.end()) as = it->second;
  else m.log.warning("no [agents.{}] in '{}': offering the default tool families", o.agent, cfg.source);
  o.agent_policy = as.tools;
  o.tool_processes = service::tool_process_addresses(as.tools, o.agent);
  auto home = service::home_dir(cfg.home);
  auto workspace = env_or("WEFT_WORKSPACE", as.workspace.empty() ? home + "/agents/" + o.agent : as.workspace);
  o.skill_dirs = skills::skill_dirs_of(home, workspace);
  o.token_file = home + "/mcp/http.token";
  o.port_file = service::runtime_dir(cfg.runtime_dir) + "/mcp.port";
  o.version = std::string(service::version());
  auto limit = cfg.bus.max_message_bytes;
  o.max_frame_bytes = limit > 32 * 1024 ? limit - 16 * 1024 : limit / 2;
  if (cfg.mcp && !cfg.mcp->enabled) m.log.warning("[mcp] enabled = false, but weft-mcp was started: serving anyway");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  return service::run_main(argc, argv, {.program = "weft-mcp", .log_name = "mcp", .help = help},
                           [](service::main_context& m) {
                             mcpsrv::mcp_service s(*m.rt, options_of(m));
                             s.start();
                             return m.rt->run();
                           });
}
