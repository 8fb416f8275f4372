// weft-tool-delegate — Claude Code as a delegate of one agent (docs/guides/delegation.md).
//
// Serves io.weft.Tool.v1 at $WEFT_ADDRESS (tool/delegate/<agent>): delegate_to_claude, and
// the unlisted status that `weftctl delegate status` calls. Started per agent by weftd with
// the same sandbox as tool-shell (Landlock to the workspace and the claude installation,
// own network and PID namespaces, rlimits): Claude Code and every command it runs stay in
// the agent's workspace. With auth "weft" (the default) the only way out of the network
// namespace is a relay from 127.0.0.1:3129 to llm's Messages endpoint
// ($WEFT_RUNTIME_DIR/llm/messages.sock), and each run gets a short-lived token from llm
// (Llm.v1 IssueRunToken): no provider key ever reaches this process or Claude Code.
#include <cstdlib>

#include <fmt/ranges.h>

#include <weft/sandbox/sandbox.hh>
#include <weft/service/exit.hh>
#include <weft/service/paths.hh>
#include <weft/toolserver/egress_relay.hh>
#include <weft/toolserver/tool_main.hh>

#include "proto/llm_v1.hh"
#include "services/tool-delegate/delegate.hh"

using namespace weft;

namespace {
constexpr const char* help = R"(usage: weft-tool-delegate [--help] [--version]
Claude Code as a delegate of one agent, served on the weft bus (io.weft.Tool.v1):
  delegate_to_claude{task, cwd?, allowed_tools?, max_turns?, new_session?}
    runs `claude -p TASK --output-format stream-json --verbose` in the workspace (or cwd
    inside it), in a process group of its own, with the agent's tool permissions; it and
    what it runs may create no AF_UNIX socket (as the shell tool's commands)
    (--allowedTools/--disallowedTools); its steps are sent as progress, its result is the
    tool's result; a follow-up in the same chat session resumes the Claude Code session.
    At the time limit or on cancel the whole process group is killed.
  status{} (not offered to models): path, version, auth mode, last probe and error.
  With WEFT_DELEGATE_ASK, Claude Code asks before each use of those tools (an MCP
  permission-prompt tool served here): the question goes to the chat as a progress line,
  the person's /allow or /deny (Tool.v1 Answer from the caller) or the time limit decides.
  At most 4 runs at once; 16 more may wait.

Environment (set by weftd from [delegation] and [agents.<id>.tools]):
  WEFT_WORKSPACE            the agent's workspace (required)
  WEFT_AGENT                agent id (default: last segment of WEFT_ADDRESS)
  WEFT_CLAUDE_PATH          the claude executable; unset: `claude` on PATH
  WEFT_DELEGATE_AUTH        weft (default: a run token for llm's endpoint) or login
  WEFT_CLAUDE_CONFIG_DIR    login: Claude Code's config directory (its own login)
  WEFT_DELEGATE_TIMEOUT_MS  one run's time limit (default 600000)
  WEFT_DELEGATE_MAX_TURNS   Claude Code's --max-turns (default 50)
  WEFT_DELEGATE_ALLOWED, WEFT_DELEGATE_DISALLOWED   comma-separated Claude Code tools
  WEFT_NETWORK              "public" (login auth): Claude Code goes out through the egress proxy
  WEFT_DELEGATE_ASK         comma-separated Claude Code tools to ask the person about (permission
                            prompts on 127.0.0.1:3130 in this namespace; /allow or /deny in the chat)
  WEFT_DELEGATE_ASK_TIMEOUT_MS  how long a question waits (default 120000); no answer denies
  PATH, WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD, WEFT_LOG, WEFT_RUNTIME_DIR
)";

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  for (std::size_t start = 0; start < s.size();) {
    auto end = std::min(s.find(',', start), s.size());
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

unsigned long env_number(const char* name, unsigned long fallback) {
  auto v = env_or(name, "");
  char* end = nullptr;
  auto n = std::strtoul(v.c_str(), &end, 10);
  return v.empty() || *end || n == 0 ? fallback : n;
}
}  // namespace

int main(int argc, char** argv) {
  tools::tool_main_options o{.program = "weft-tool-delegate",
                             .log_name = "tool-delegate",
                             .help = help,
                             .per_agent = true,
                             .unsandboxed_note = "Claude Code can reach anything this user can",
                             .server = {.family = "delegate", .workers = 4, .max_queued = 16}};
  // Built once, before any thread: each run gets it in its child before exec.
  auto filter = sandbox::command_filter::prepare();
  if (!filter) {  // libseccomp could not compile it: no run without it
    fmt::print(stderr, "weft-tool-delegate: {}\n", filter.err().message);
    return service::to_int(service::exit_code::failure);
  }
  std::unique_ptr<tools::egress_relay> relay;
  std::unique_ptr<delegate::approvals> prompts;
  std::unique_ptr<delegate::delegate_tools> tools_of_agent;
  return tools::tool_main(argc, argv, o, [&](const tools::tool_setup& s) {
    delegate::delegate_config cfg;
    cfg.claude_path = env_or("WEFT_CLAUDE_PATH", "");
    cfg.path = env_or("PATH", cfg.path);
    cfg.weft_auth = env_or("WEFT_DELEGATE_AUTH", "weft") != "login";
    cfg.config_dir = env_or("WEFT_CLAUDE_CONFIG_DIR", s.ws->root() + "/.weft/claude");
    cfg.timeout = std::chrono::milliseconds(env_number("WEFT_DELEGATE_TIMEOUT_MS", 600000));
    cfg.max_turns = static_cast<unsigned>(env_number("WEFT_DELEGATE_MAX_TURNS", 50));
    cfg.allowed = split_commas(env_or("WEFT_DELEGATE_ALLOWED", ""));
    cfg.disallowed = split_commas(env_or("WEFT_DELEGATE_DISALLOWED", ""));
    cfg.ask = split_commas(env_or("WEFT_DELEGATE_ASK", ""));
    if (!cfg.ask.empty()) {
      auto timeout = std::chrono::milliseconds(env_number("WEFT_DELEGATE_ASK_TIMEOUT_MS", 120000));
      if (auto p = delegate::approvals::start(s.rt, timeout)) {
        prompts = std::move(*p);
        cfg.prompts = prompts.get();
        s.log.info("permission prompts for {} on http://127.0.0.1:{} (in this namespace)",
                   fmt::join(cfg.ask, ", "), delegate::approvals::port);
      } else {
        // Never a silent yes: the tools to ask about are then not allowed at all.
        s.log.warning("{}; {} will be refused instead of asked", p.err().message, fmt::join(cfg.ask, ", "));
        for (auto& t : cfg.ask)
          if (std::erase(cfg.allowed, t)) cfg.disallowed.push_back(t);
        cfg.ask.clear();
      }
    }
    cfg.before_exec = sandbox::command_filter::before_exec;
    cfg.before_exec_arg = &*filter;
    if (cfg.weft_auth) {
      auto socket = service::runtime_dir() + "/llm/messages.sock";
      auto r = tools::egress_relay::start(s.rt.loop(), socket,
                                          {.port = tools::egress_relay::llm_port, .what = "llm's Messages endpoint"});
      if (r) {
        relay = std::move(*r);
        cfg.llm_url = relay->url();
        s.log.info("auth: weft (a run token from llm; {} -> '{}')", cfg.llm_url, socket);
      } else {
        s.log.warning("{}; delegated runs cannot reach llm.", r.err().message);
        cfg.llm_url = "http://127.0.0.1:9";  // refused at once: the run fails with a clear API error
      }
    } else if (!tools::egress_proxy_url().empty()) {
      cfg.proxy_env = tools::proxy_environment(tools::egress_proxy_url());
      s.log.info("auth: Claude Code's own login in '{}', out through the egress proxy", cfg.config_dir);
    } else {
      s.log.warning("auth: Claude Code's own login in '{}', but this agent's tools have network = \"none\": Claude "
                    "Code cannot reach Anthropic; set [agents.{}.tools] network = \"public\" or use auth = \"weft\"",
                    cfg.config_dir, s.ws->agent());
    }
    auto agent = s.ws->agent();
    auto& rt = s.rt;
    tools_of_agent = std::make_unique<delegate::delegate_tools>(
        *s.ws, std::move(cfg), [&rt, agent](std::chrono::milliseconds ttl) -> result<std::string> {
          proto::llm_v1::issue_run_token req{agent, static_cast<std::uint32_t>(ttl.count())};
          auto r = rt.call_and_wait("llm", req, {.timeout = std::chrono::seconds(10), .retry = true});
          if (!r) return fail(errc::unavailable, "Failed to get a run token from llm: {}", r.err().to_string());
          auto t = r->as<proto::llm_v1::run_token>();
          if (!t) return fail(errc::io, "Failed to read llm's run token: {}", t.err().message);
          return t->token;
        });
    return tools_of_agent->defs();
  });
}
