// weft-tool-shell — runs shell commands in one agent's workspace.
//
// Serves io.weft.Tool.v1 at $WEFT_ADDRESS (tool/shell/<agent>): ListTools there, Call at
// tool/shell/<agent>/exec. Each command runs as `/bin/sh -c` in its own process group with
// stdin from /dev/null, PATH/HOME/LANG only, output capped, killed at its time limit.
// A command may create no AF_UNIX socket (seccomp, set in the child before exec): Landlock
// does not control connecting to a socket file, so this is what keeps commands from
// weftd's control socket, the bus and other agents' egress sockets.
// Commands run on worker threads (at most 8 at once, 64 waiting), so the bus loop keeps
// answering while they run. weftd's Landlock sandbox (when derived from [agents.<id>])
// confines the commands to the workspace as well: they inherit it. See docs/tools.md.
//
// Environment (set by weftd):
//   WEFT_WORKSPACE  the agent's workspace directory (created when missing); required
//   WEFT_AGENT      the agent id; default: the last segment of WEFT_ADDRESS
//   PATH            passed on to commands (default /usr/local/bin:/usr/bin:/bin)
//   WEFT_NETWORK    "public": relay 127.0.0.1:3128 (in the tool's own network namespace) to
//                   $WEFT_RUNTIME_DIR/egress/<agent>.sock, and give commands
//                   http(s)_proxy/all_proxy (both cases) and no_proxy for loopback
//   WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD, WEFT_LOG, WEFT_SANDBOX
//
// Example config (weftd derives this from [agents.work]):
//   [services.tool-shell-work]
//   exec = "/usr/libexec/weft/weft-tool-shell"
//   address = "tool/shell/work"
//   env = { WEFT_AGENT = "work", WEFT_WORKSPACE = "/var/lib/weft/agents/work" }
#include <cstdlib>
#include <memory>

#include <weft/sandbox/sandbox.hh>
#include <weft/service/exit.hh>
#include <weft/service/paths.hh>
#include <weft/toolserver/egress_relay.hh>
#include <weft/toolserver/tool_main.hh>

#include "services/tool-shell/shell.hh"

using namespace weft;

namespace {
constexpr const char* help = R"(usage: weft-tool-shell [--help] [--version]
Runs shell commands in one agent's workspace, served on the weft bus (io.weft.Tool.v1):
  exec{command, timeout_ms?, cwd?, skill?}
    /bin/sh -c COMMAND in the workspace (or cwd inside it), own process group,
    stdin /dev/null, environment PATH, HOME=<workspace>, LANG=C.UTF-8, TMPDIR=<workspace>/.tmp
    (and the proxy variables with WEFT_NETWORK=public);
    no AF_UNIX sockets: socket(AF_UNIX) and datagram socketpairs fail with EPERM
    (stream socketpairs and pipes work);
    stdout+stderr together, at most 64 KiB kept; exit status reported;
    time limit: timeout_ms, else the Call's timeout_ms, else 30 s; at most 10 min;
    at the limit the whole process group gets TERM, then KILL 2 s later;
    a command run for a skill whose SKILL.md has network: entries (named by 'skill', or
    naming the skill's folder) goes out only through that skill's relay (127.0.0.1:3140+)
    to its own socket at the egress, where only its list is reachable, and may connect
    over TCP to that port alone (Landlock network rules; refused where the kernel has none).
  At most 8 commands run at once; 64 more may wait.
  On TERM: running commands get 5 s to finish, then are killed.

Environment:
  WEFT_WORKSPACE   the agent's workspace directory (required; created when missing)
  WEFT_AGENT       agent id (default: last segment of WEFT_ADDRESS)
  PATH             given to commands (default /usr/local/bin:/usr/bin:/bin)
  WEFT_NETWORK     "public": commands reach public addresses through the egress proxy
                   (HTTP_PROXY/HTTPS_PROXY/ALL_PROXY=http://127.0.0.1:3128); else none
  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD   set by weftd
  WEFT_LOG         log levels, e.g. "debug"
)";
}

int main(int argc, char** argv) {
  tools::tool_main_options o{.program = "weft-tool-shell",
                             .log_name = "tool-shell",
                             .help = help,
                             .per_agent = true,
                             .unsandboxed_note = "commands can reach anything this user can",
                             .server = {.family = "shell", .workers = 8, .max_queued = 64}};
  // Built once, before any thread: each command gets it in its child before exec.
  auto filter = sandbox::command_filter::prepare();
  if (!filter) {  // libseccomp could not compile it: no command runs without it
    fmt::print(stderr, "weft-tool-shell: {}\n", filter.err().message);
    return service::to_int(service::exit_code::failure);
  }
  auto shared_filter = std::make_shared<const sandbox::command_filter>(std::move(*filter));
  std::unique_ptr<tools::skill_lanes> lanes;  // outlives the tool server's run
  return tools::tool_main(argc, argv, o, [&](const tools::tool_setup& s) {
    tools::shell_limits lim;
    lim.filter = shared_filter;
    if (const char* p = std::getenv("PATH"); p && *p) lim.path = p;
    if (!tools::egress_proxy_url().empty()) lim.extra_env = tools::proxy_environment(tools::egress_proxy_url());
    // Skills with a network list: their commands go out through lanes of their own. The
    // skills are read at each call (one installed later counts at once).
    auto egress_dir = tools::egress_proxy_url().empty() ? std::string()
                                                         : service::runtime_dir() + "/egress/" + s.ws->agent();
    lanes = std::make_unique<tools::skill_lanes>(s.rt.loop(), egress_dir,
                                                 skills::skill_dirs_of(service::home_dir(), s.ws->root()), s.log);
    lim.lane_of = [l = lanes.get()](std::string_view command, const std::optional<std::string>& skill) {
      return l->lane_for(command, skill);
    };
    return tools::shell_tools(*s.ws, lim);
  });
}
