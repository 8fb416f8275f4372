// weft-monitor — the security monitor: per-agent sliding-window counters over the bus's
// events, rules with thresholds from [security.monitor], alerts and quarantine.
//
// Subscribes to Memory.v1 ToolCalled (from agent/*: the tool, and the paths its arguments
// name), Bus.v1 AccessDenied (from bus), Llm.v1 Spent (from llm) and the bus's
// AgentQuarantined/AgentReleased. Rules: tool_burst (tool calls per minute), denial_burst
// (denials per minute), cost_per_hour, sensitive_path (a call naming $WEFT_HOME/keys,
// $WEFT_HOME/oauth2, another agent's workspace or a configured path), new_host (a URL's host
// the agent did not name in its first calls and known_hosts does not list), exec_after_fetch
// (a shell command running an interpreter soon after a call that fetched a URL). Actions: alert
// (Monitor.v1 Alert published — the witness chain records it — a log line, and with notify a
// Chat.v1 Deliver to the admin's chat), throttle (an alert, then Bus.v1 Throttle: the bus
// refuses the agent's tool calls beyond throttle_calls_per_minute for throttle_seconds) or
// quarantine (an alert, then Bus.v1 Quarantine: the bus refuses every call from and to the
// agent's addresses; then weftd stops the agent's tool processes over its control socket).
// `weftctl security release AGENT` lifts either; the bus keeps both across its restarts. Serves Monitor.v1 GetState at bus address
// `monitor` to weftd and ctl/*.
//
// Options: --help, --version.
// Started by weftd when [security.monitor] enabled = true, with $WEFT_BUS, $WEFT_ADDRESS,
// $WEFT_TOKEN_FD, $WEFT_NOTIFY_FD, $WEFT_EVENTS, $WEFT_HOME, $WEFT_RUNTIME_DIR, $WEFT_CONFIG.
//
// Example config:
//   [security.monitor]
//   enabled = true
//   tool_calls_per_minute = 120
//   tool_burst_action = "alert"
//   sensitive_paths = ["$WEFT_HOME/keys", "$WEFT_HOME/oauth2"]
//   sensitive_path_action = "quarantine"
//   known_hosts = ["*.github.com", "pypi.org"]
//   new_host_action = "alert"
//   exec_after_fetch_seconds = 600
//   exec_after_fetch_action = "quarantine"
//   tool_burst_action = "throttle"
//   throttle_calls_per_minute = 10
//   throttle_seconds = 300
//   notify = "telegram:12345"
#include <weft/service/main.hh>
#include <weft/service/paths.hh>

#include "services/monitor/monitor_service.hh"

using namespace weft;

namespace {

constexpr std::string_view help = R"(usage: weft-monitor [--help] [--version]
The security monitor of weft, started by weftd when [security.monitor] enabled = true: counts
each agent's tool calls, bus denials and LLM cost in sliding windows, alerts on bursts and on
tool calls naming sensitive paths, new hosts and interpreters run after a web fetch; throttles
(the bus refuses the agent's tool calls beyond a rate for a while) and quarantines (the bus
refuses the agent's calls, weftd stops its tool processes) where [security.monitor] says so;
with notify = "<channel>:<chat id>" each action is also sent to that chat. 'weftctl security
monitor' shows its state; 'weftctl security release AGENT' lifts a throttle or quarantine.
See docs/guides/security.md.

Options:
  --help      show this help
  --version   show the version

Environment:
  WEFT_CONFIG       config file ([security.monitor], [agents.*]); built-in default when unset
  WEFT_HOME         state directory ($WEFT_HOME in sensitive_paths; agents' default workspaces)
  WEFT_RUNTIME_DIR  where weftd's control socket is (to stop a quarantined agent's tools)
  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD, WEFT_EVENTS   set by weftd
  WEFT_LOG          log levels, e.g. 'debug' or 'info,monitor=debug'
)";

}  // namespace

int main(int argc, char** argv) {
  return service::run_main(argc, argv, {.program = "weft-monitor", .log_name = "monitor", .help = help},
                           [](service::main_context& m) {
                             auto home = service::home_dir(m.cfg.home);
                             monitor::monitor_service svc(*m.rt, std::move(m.cfg), home);
                             return m.rt->run();
                           });
}
