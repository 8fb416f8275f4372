// weft-agent — one agent: answers io.weft.Chat.v1.Turn with TurnResult.
//
// Purpose: runs the tool loop of one agent (model → tools in parallel → model …) against
// the llm service (address `llm`) and the agent's tool processes (tool/fs/<id>,
// tool/shell/<id>, tool/web), keeps each conversation in <workspace>/sessions/*.jsonl and
// answers a repeated Turn from there (the router's redelivery). See docs/agents.md.
//
// Started by weftd, one process per [agents.<id>], at bus address agent/<id>, with
// $WEFT_BUS, $WEFT_ADDRESS, $WEFT_TOKEN_FD and $WEFT_NOTIFY_FD.
//
// Environment:
//   WEFT_ADDRESS     agent/<id>; the id is its last segment (or $WEFT_AGENT)
//   WEFT_CONFIG      config file (else $WEFT_HOME/clawft.toml, …; else the built-in default)
//   WEFT_WORKSPACE   workspace (else [agents.<id>] workspace, else $WEFT_HOME/agents/<id>)
//   WEFT_HOME        state directory (default ~/.clawft)
//   WEFT_SKILLS_DIR  built-in skills directory (none when unset)
//   WEFT_LOG         log levels, e.g. "debug" or "info,agent=debug"
//
// Serves: io.weft.Chat.v1.Turn. Calls: io.weft.Llm.v1.Complete (llm),
// io.weft.Tool.v1.ListTools and Call (tool processes), io.weft.Memory.v1.Put and Search
// (memory: session messages indexed, memory_search/memory_store tools, summaries).
// Publishes io.weft.Memory.v1.ToolCalled after each tool call (the witness chain; the paths,
// hosts and shell command words the call names, for weft-monitor).
//
// Example config:
//   [agents.main]
//   max_iterations = 10
//   tool_timeout_ms = 30000
//   [agents.main.tools]
//   allow = ["*"]
//   deny = ["exec"]
#include <cstdlib>

#include <weft/ipc/address.hh>
#include <weft/service/main.hh>
#include <weft/service/paths.hh>

#include "services/agent/agent.hh"
#include "services/agent/workspace.hh"

using namespace weft;

namespace {

constexpr std::string_view help = R"(usage: weft-agent [--help] [--version]

Runs one weft agent: answers io.weft.Chat.v1.Turn requests at agent/<id> with the tool
loop (model, then the tools it asks for in parallel, then the model again …), keeping
each conversation in <workspace>/sessions/<session>.jsonl. Started by weftd.

Environment:
  WEFT_ADDRESS     bus address agent/<id>; the agent id is its last segment
  WEFT_AGENT       agent id (when WEFT_ADDRESS has none)
  WEFT_CONFIG      config file; else $WEFT_HOME/clawft.toml, ~/.clawft/clawft.toml,
                   /etc/weft/clawft.toml; else the built-in default
  WEFT_WORKSPACE   workspace directory; else [agents.<id>] workspace; else
                   $WEFT_HOME/agents/<id>
  WEFT_HOME        state directory (default ~/.clawft)
  WEFT_SKILLS_DIR  directory of built-in skills (none when unset)
  WEFT_BUS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD   set by weftd
  WEFT_LOG         log levels, e.g. "debug" or "info,agent=debug"

Settings come from [agents.<id>] (max_iterations, tool_timeout_ms, max_tokens, tier,
model, workspace, [agents.<id>.tools] allow/deny/families). See docs/agents.md.

Delegation ([delegation], docs/guides/delegation.md): a message matching a "flow" rule of
[delegation.routing_rules] goes to Claude Code (the delegate_to_claude tool of
tool/delegate/<id>) as the task, its steps streamed into the chat; when Claude Code cannot
run, the model answers and the reply says why. A "local" rule keeps delegate_to_claude
from the model for that message.

Memory ([memory], docs/turn.md "Memory"): each message of a session is sent to the memory
service (address 'memory') once its line is synced; the model is offered memory_search
and memory_store (subject to [agents.<id>.tools]); a session longer than
summarise_after_messages is summarised by the model into <workspace>/memory/summaries/
and the summary replaces the old messages in the context. After each tool call the agent
publishes io.weft.Memory.v1.ToolCalled for the witness chain. [memory] enabled = false
turns indexing and the memory tools off.
)";

std::string env_or(const char* name, std::string fallback = {}) {
  auto* v = std::getenv(name);
  return v && *v ? std::string(v) : std::move(fallback);
}

/// The agent's options from the config and the environment, with its workspace prepared.
result<agent::agent_options> options_of(const service::main_context& m) {
  auto& cfg = m.cfg;
  auto id = env_or("WEFT_AGENT", std::string(ipc::addr::last_segment(m.address)));
  agent::agent_options o;
  o.id = id;
  if (auto it = cfg.agents.find(id); it != cfg.agents.end()) {
    o.settings = it->second;
  } else {
    o.settings.id = id;
    m.log.info("no [agents.{}] in '{}': using the defaults", id, cfg.source);
  }
  o.name = o.settings.name.empty() ? id : o.settings.name;
  auto home = service::home_dir(cfg.home);
  o.workspace = env_or("WEFT_WORKSPACE", o.settings.workspace.empty() ? home + "/agents/" + id : o.settings.workspace);

  // Context budget: the tier's window minus the output reserve, and never more than the
  // bus can carry (a request of N tokens is about 4N bytes).
  std::string tier = o.settings.tier.empty() ? cfg.llm.default_tier : o.settings.tier;
  std::size_t window = 128000;
  for (auto& t : cfg.llm.tiers)
    if (t.name == tier || (tier.empty() && &t == &cfg.llm.tiers.front())) {
      window = t.max_context_tokens;
      break;
    }
  std::size_t reserve = o.settings.max_tokens ? o.settings.max_tokens : 4096;
  o.budget_tokens = window > reserve + 1024 ? window - reserve : 1024;
  o.budget_tokens = std::min<std::size_t>(o.budget_tokens, cfg.bus.max_message_bytes * 3 / 4 / 4);

  o.tool_processes = service::tool_process_addresses(o.settings.tools, id);
  o.skill_dirs = skills::skill_dirs_of(home, o.workspace);
  // What the llm service may take for one request: every attempt with its retry waits.
  auto per_attempt = std::chrono::milliseconds(cfg.llm.timeout_ms) + std::chrono::milliseconds(cfg.llm.retry_min_wait_ms) * 4;
  o.llm_deadline = per_attempt * (cfg.llm.retries + 1) + std::chrono::seconds(5);
  o.memory = cfg.memory;
  o.delegation_rules = cfg.delegation.routing_rules;
  o.delegate_timeout = std::chrono::milliseconds(cfg.delegation.timeout_ms);
  if (cfg.delegation.claude_enabled && service::claude_executable(cfg.delegation).empty())
    o.delegate_absent = "Claude Code is not installed: weftd found no `claude` on its PATH (install it and run "
                        "`weftctl reload`, or set [delegation] claude_path)";

  auto created = agent::bootstrap_workspace(o.workspace, id, o.name);
  if (!created) return fail(errc::io, "Failed to prepare the workspace of agent '{}': {}", id, created.err().message);
  for (auto& p : *created) m.log.info("created '{}'", p);
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  return service::run_main(argc, argv, {.program = "weft-agent", .log_name = "agent", .help = help},
                           [](service::main_context& m) {
                             auto o = options_of(m);
                             if (!o) return m.fail(o.err());
                             agent::agent a(*m.rt, std::move(*o));
                             return a.run();
                           });
}
