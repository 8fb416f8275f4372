// weftctl (also installed as `weft`) — the weft admin CLI.
//
// Talks to a running weftd over its control socket and, for `call`, `peers` and `trace`,
// to the bus with credentials weftd issues to it (address ctl/<pid>).
// Exit codes: 0 ok, 1 failure (including an error answer), 2 usage or invalid config.
#include <cstring>
#include <string>
#include <vector>

#include <weft/base/log.hh>
#include <weft/service/exit.hh>
#include <weft/service/paths.hh>

#include "commands.hh"

using namespace weft;

namespace {

constexpr const char* help_text =
    "usage: weftctl [OPTIONS] COMMAND [ARGS]\n"
    "\n"
    "Administer a running weft (weftd).\n"
    "\n"
    "Commands:\n"
    "  status                      services, their state, pid, restarts and last exit\n"
    "  start|stop|restart SERVICE… act on services; waits until done\n"
    "  reload                      re-read the config; apply only what changed\n"
    "  config check [FILE]         validate a config without starting anything\n"
    "  call ADDRESS TYPE [JSON]    send one request on the bus and print the reply\n"
    "                              e.g. weftctl call echo/1 io.weft.test.Echo.v1.Echo '{\"text\":\"hi\"}'\n"
    "  peers                       peers connected to the bus\n"
    "  trace SERVICE|ADDRESS       print decoded bus traffic to and from it\n"
    "  log-level ADDRESS SPEC      change a service's log levels now, e.g. bus debug\n"
    "  route explain --channel C [--user-id ID] [--chat-id ID] [--KEY VALUE]…\n"
    "                              which agent a message with these identifiers goes to, and why\n"
    "  chat [--agent ID] [-m TEXT] talk to an agent (default main), replies streamed; without -m,\n"
    "                              one turn per line read from stdin (prompt 'you> ')\n"
    "  memory search|stats|export|import|forget|wipe …\n"
    "                              an agent's memory (weftctl memory --help)\n"
    "  audit verify [--dir DIR]    check the witness chain; report the first bad record\n"
    "  llm policy [set|clear …]    runtime tier-routing policy of the llm service (persisted)\n"
    "  mcp add|list|remove|serve|info …\n"
    "                              MCP servers for the agents, and weft as an MCP server\n"
    "                              (weftctl mcp --help)\n"
    "\n"
    "Options:\n"
    "  --json                      machine-readable output\n"
    "  --runtime-dir DIR           weftd's runtime directory (default as weftd)\n"
    "  --timeout MS                how long to wait for answers (default 30000)\n"
    "  --count N                   trace: stop after N messages\n"
    "  -h, --help                  this help\n";

}  // namespace

int main(int argc, char** argv) {
  log::configure_from_env();
  ctl::options o;
  std::string runtime;
  long count = 0;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto need = [&](std::string_view what) -> const char* {
      if (i + 1 >= argc) return nullptr;
      (void)what;
      return argv[++i];
    };
    bool own_options = !args.empty() && (args[0] == "route" || args[0] == "chat" || args[0] == "memory" ||
                                         args[0] == "audit" || args[0] == "llm" || args[0] == "mcp");
    // memory, audit, llm and mcp have help of their own.
    bool own_help =
        !args.empty() && (args[0] == "memory" || args[0] == "audit" || args[0] == "llm" || args[0] == "mcp");
    if ((a == "-h" || a == "--help") && !own_help) {
      fmt::print("{}", help_text);
      return 0;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--runtime-dir") {
      auto v = need("a directory");
      if (!v) return service::usage_error("weftctl", "--runtime-dir needs a directory");
      runtime = v;
    } else if (a == "--timeout") {
      auto v = need("milliseconds");
      if (!v || std::atol(v) <= 0) return service::usage_error("weftctl", "--timeout needs a positive number of ms");
      o.timeout_ms = static_cast<unsigned>(std::atol(v));
    } else if (a == "--count") {
      auto v = need("a number");
      if (!v || std::atol(v) <= 0) return service::usage_error("weftctl", "--count needs a positive number");
      count = std::atol(v);
    } else if (own_options) {
      args.emplace_back(a);  // these commands parse their own options
    } else if (a.size() > 1 && a[0] == '-') {
      return service::usage_error("weftctl", fmt::format("unknown option '{}'", a));
    } else {
      args.emplace_back(a);
    }
  }
  o.runtime_dir = service::runtime_dir(runtime);
  if (args.empty()) return service::usage_error("weftctl", "no command given");
  auto& cmd = args[0];
  auto nargs = args.size() - 1;
  if (cmd == "status" && nargs == 0) return ctl::cmd_status(o);
  if ((cmd == "start" || cmd == "stop" || cmd == "restart") && nargs >= 1)
    return ctl::cmd_control(o, cmd, {args.begin() + 1, args.end()});
  if (cmd == "reload" && nargs == 0) return ctl::cmd_reload(o);
  if (cmd == "config" && nargs >= 1 && args[1] == "check" && nargs <= 2)
    return ctl::cmd_config_check(o, nargs == 2 ? args[2] : std::string());
  if (cmd == "call" && (nargs == 2 || nargs == 3)) return ctl::cmd_call(o, args[1], args[2], nargs == 3 ? args[3] : "{}");
  if (cmd == "peers" && nargs == 0) return ctl::cmd_peers(o);
  if (cmd == "trace" && nargs == 1) return ctl::cmd_trace(o, args[1], count);
  if (cmd == "log-level" && nargs == 2) return ctl::cmd_log_level(o, args[1], args[2]);
  if (cmd == "route" && nargs >= 1 && args[1] == "explain")
    return ctl::cmd_route_explain(o, std::vector<std::string>(args.begin() + 2, args.end()));
  if (cmd == "chat") return ctl::cmd_chat(o, std::vector<std::string>(args.begin() + 1, args.end()));
  if (cmd == "memory") return ctl::cmd_memory(o, std::vector<std::string>(args.begin() + 1, args.end()));
  if (cmd == "audit") return ctl::cmd_audit(o, std::vector<std::string>(args.begin() + 1, args.end()));
  if (cmd == "llm") return ctl::cmd_llm(o, std::vector<std::string>(args.begin() + 1, args.end()));
  if (cmd == "mcp") return ctl::cmd_mcp(o, std::vector<std::string>(args.begin() + 1, args.end()));
  static const char* known[] = {"status", "start", "stop", "restart", "reload", "config", "call", "peers", "trace", "log-level", "route"};
  for (auto k : known)
    if (cmd == k) return service::usage_error("weftctl", fmt::format("wrong arguments for '{}'", cmd));
  return service::usage_error("weftctl", fmt::format("unknown command '{}'", cmd));
}
