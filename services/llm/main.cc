// weft-llm — the LLM gateway service, the only weft process that holds provider API keys.
//
// Serves io.weft.Llm.v1 at bus address `llm`:
//   Complete → Completion   chat completion with tools; with stream = true, Delta events go
//                           to the requester (directed events) before the Completion.
//   Embed    → Embeddings   OpenAI-compatible /embeddings, vectors as little-endian float32.
// Errors: NotConfigured, RateLimited, Upstream, Timeout, Malformed, BudgetExceeded,
// BadRequest, Unavailable (proto/io.weft.Llm.v1.toml).
//
// Providers speak one of two wire styles: OpenAI chat completions (also Azure, Ollama,
// llama.cpp, vLLM, OpenRouter, …) and Anthropic Messages. Requests run concurrently
// (libs/http's client, kept-alive connections) on the runtime's event loop; retries
// (429/529/5xx/connection failures) honour Retry-After; tiers route by context size;
// per-agent daily budgets are kept in $WEFT_HOME/llm/spend.json. See docs/llm.md.
//
// Also serves the runtime routing policy (per-agent tier overrides, `weftctl llm policy`):
//   GetPolicy → Policy      anyone;
//   SetPolicy → Policy      weftd and ctl/* only (Denied otherwise); durable before the answer.
// Kept in $WEFT_HOME/llm/policy.json and loaded at start; a corrupt file or an override naming
// a tier that is no longer configured is logged as a warning and ignored.
//
// On TERM, requests in hand (queued, on the wire, waiting to retry) are finished, for at most
// the runtime's drain timeout ([supervisor] stop_timeout_ms less 500 ms); new ones are
// answered ShuttingDown, which callers retry.
//
// Options: --help, --version.
// Started by weftd with $WEFT_BUS, $WEFT_ADDRESS, $WEFT_TOKEN_FD, $WEFT_NOTIFY_FD,
// $WEFT_EVENTS, $WEFT_HOME and $WEFT_CONFIG. Reads [providers.*], [llm] and [agents.*] of the config.
//
// Example config:
//   [providers.anthropic]            # key from $ANTHROPIC_API_KEY
//   [llm]
//   default_provider = "anthropic"
//   retries = 3
//   [[llm.tiers]]
//   name = "fast"
//   provider = "anthropic"
//   model = "claude-haiku-4-5"
//   input_cost_per_mtok = 1.0
//   output_cost_per_mtok = 5.0
#include <weft/service/main.hh>
#include <weft/service/paths.hh>

#include "services/llm/llm_service.hh"

using namespace weft;

namespace {

constexpr std::string_view help = R"(usage: weft-llm [--help] [--version]
The LLM gateway of weft, started by weftd: answers io.weft.Llm.v1 Complete and Embed at bus
address 'llm' by calling the configured providers (OpenAI-style and Anthropic-style APIs),
with retries, tiered routing, streaming and per-agent daily cost budgets.

Options:
  --help      show this help
  --version   show the version

Environment:
  WEFT_CONFIG       config file ([providers.*], [llm], [agents.*]); built-in default when unset
  WEFT_HOME         state directory; spend ledger in $WEFT_HOME/llm/spend.json, runtime routing
                    policy (weftctl llm policy) in $WEFT_HOME/llm/policy.json
  WEFT_RUNTIME_DIR  sockets: $WEFT_RUNTIME_DIR/llm/messages.sock, the Anthropic-Messages endpoint
                    for delegated Claude Code runs (POST /v1/messages with a run token)
  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD, WEFT_EVENTS   set by weftd
  ANTHROPIC_API_KEY, OPENAI_API_KEY, …   provider keys (see docs/llm.md); never logged
  WEFT_LOG          log levels, e.g. 'debug' or 'info,llm=debug'
)";

}  // namespace

int main(int argc, char** argv) {
  return service::run_main(argc, argv, {.program = "weft-llm", .log_name = "llm", .help = help},
                           [](service::main_context& m) {
                             auto home = service::home_dir(m.cfg.home);
                             auto svc = llm::llm_service::create(*m.rt, std::move(m.cfg), home + "/llm/spend.json",
                                                                 home + "/llm/policy.json",
                                                                 service::runtime_dir() + "/llm/messages.sock");
                             if (!svc) return m.fail(svc.err());
                             return m.rt->run();
                           });
}
