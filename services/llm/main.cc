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
// (libcurl multi, kept-alive connections) on the same thread that serves the bus; retries
// (429/529/5xx/connection failures) honour Retry-After; tiers route by context size;
// per-agent daily budgets are kept in $WEFT_HOME/llm/spend.json. See docs/llm.md.
//
// Also serves the runtime routing policy (per-agent tier overrides, `weftctl llm policy`):
//   GetPolicy → Policy      anyone;
//   SetPolicy → Policy      weftd and ctl/* only (Denied otherwise); durable before the answer.
// Kept in $WEFT_HOME/llm/policy.json and loaded at start; a corrupt file or an override naming
// a tier that is no longer configured is logged as a warning and ignored.
//
// Started by weftd with $WEFT_BUS, $WEFT_ADDRESS, $WEFT_TOKEN_FD, $WEFT_NOTIFY_FD,
// $WEFT_HOME and $WEFT_CONFIG. Reads [providers.*], [llm] and [agents.*] of the config.
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
#include <cstring>
#include <unistd.h>

#include <weft/base/log.hh>
#include <weft/service/exit.hh>
#include <weft/service/paths.hh>
#include <weft/service/service_loop.hh>
#include <weft/service/startup.hh>

#include "services/llm/llm_service.hh"

using namespace weft;

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0) {
      fmt::print(
          "usage: weft-llm\n"
          "The LLM gateway of weft, started by weftd: answers io.weft.Llm.v1 Complete and Embed at bus\n"
          "address 'llm' by calling the configured providers (OpenAI-style and Anthropic-style APIs),\n"
          "with retries, tiered routing, streaming and per-agent daily cost budgets.\n\n"
          "Options:\n"
          "  --help   show this help\n\n"
          "Environment:\n"
          "  WEFT_CONFIG       config file ([providers.*], [llm], [agents.*]); built-in default when unset\n"
          "  WEFT_HOME         state directory; spend ledger in $WEFT_HOME/llm/spend.json, runtime routing\n"
          "                    policy (weftctl llm policy) in $WEFT_HOME/llm/policy.json\n"
          "  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD   set by weftd\n"
          "  ANTHROPIC_API_KEY, OPENAI_API_KEY, …   provider keys (see docs/llm.md); never logged\n"
          "  WEFT_LOG          log levels, e.g. 'debug' or 'info,llm=debug'\n");
      return 0;
    }
    return service::usage_error("weft-llm", fmt::format("unknown option '{}'", argv[i]));
  }
  int signal_fd = service::block_stop_signals();
  log::configure_from_env();
  auto& lg = log::get("llm");
  auto cfg = service::load_service_config();
  if (!cfg) return service::exit_with(lg, cfg.err());
  auto on = service::join_bus_from_env();
  if (!on) return service::exit_with(lg, on.err());
  auto& [notify, ctx, bus] = **on;
  auto spend = service::home_dir(cfg->home) + "/llm/spend.json";
  auto policy = service::home_dir(cfg->home) + "/llm/policy.json";
  llm::llm_service svc(*bus, std::move(*cfg), spend, policy);
  int rc = svc.run(notify, signal_fd);
  ::close(signal_fd);
  return rc;
}
