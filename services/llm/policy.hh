#pragma once
/// The llm service's decisions, as pure functions: which provider and model answer a
/// request (tiered routing), what it costs, and whether a failed attempt is retried and
/// after how long.

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include <weft/base/result.hh>
#include <weft/base/time.hh>
#include <weft/service/config.hh>

#include "proto/llm_v1.hh"

namespace weft::llm {

namespace lv = weft::proto::llm_v1;

/// What every Complete is answered when no provider is enabled, and what the person who
/// asked (the chat shows it) does about it: the file to edit — the one weftd runs on, or,
/// when it runs on the built-in default, where to create one — and that `weftctl reload`
/// applies it.
std::string not_configured_sentence(const service::config& cfg);

/// Where one request goes and what it costs there.
struct route {
  const service::provider_settings* provider = nullptr;
  std::string model;
  std::string tier;                  ///< tier name; empty when chosen by explicit model or default provider
  double input_cost_per_mtok = 0;
  double output_cost_per_mtok = 0;
};

/// The enabled provider requests go to when nothing else says: [llm] default_provider, else
/// the first enabled provider by name. nullptr when none is enabled.
const service::provider_settings* default_provider(const service::config& cfg);

/// Prompt size estimate: characters of system, messages, tool calls and tool specs / 4.
std::uint64_t estimate_tokens(const lv::complete& c);

/// Chooses provider and model:
///  1. the request's explicit model: "provider/model", or a model of the default provider
///     when the prefix is not a provider name;
///  2. the request's tier;
///  3. the runtime override's tier (`weftctl llm policy set`, see runtime_policy.hh), when
///     `ov` is given and names a configured tier;
///  4. the agent's configured model (as in 1), else the agent's tier;
///  5. [llm] default_tier, else the first tier. When the prompt estimate exceeds the chosen
///     tier's max_context_tokens, the cheapest tier whose context fits (input price, then
///     output price, then file order); when none fits, the tier with the largest context;
///  6. no tiers: the default provider and its default model.
/// `ov`'s disabled_tiers are never chosen by 3–5 or the context fallback: a disabled tier
/// chosen there is replaced by the fallback rule. A tier named in the request is honoured.
/// NotConfigured (one sentence) when no provider is enabled or a name is unknown, or when the
/// override disables every usable tier.
result<route> choose_route(const service::config& cfg, const lv::complete& c, const lv::tier_override* ov = nullptr);

/// USD for the tokens at the route's prices.
double cost_usd(const route& r, std::uint64_t input_tokens, std::uint64_t output_tokens);

/// What one HTTP attempt came to, as far as retrying is concerned.
enum class attempt_result : std::uint8_t {
  ok = 0,
  http_error = 1,      ///< a non-2xx status
  connect_failed = 2,  ///< refused, DNS, TLS, reset before any response
  timeout = 3,
  malformed = 4,       ///< unreadable body (never retried)
  cut_stream = 5,      ///< a stream that ended early (retried only if nothing was passed on)
  stream_error = 6,    ///< an error event inside a 2xx stream
};

struct attempt_outcome {
  attempt_result kind = attempt_result::ok;
  long status = 0;
  std::optional<std::chrono::milliseconds> retry_after;  ///< from Retry-After / retry-after-ms
  bool streamed_to_requester = false;  ///< some text was already passed on
  bool stream_error_retryable = false; ///< for stream_error: overload / rate limit
};

struct retry_decision {
  bool retry = false;
  std::chrono::milliseconds wait{0};
};

/// Whether to try again after `attempts` attempts (1 = the first failed). Retried: 429,
/// 529, 5xx, connection failures, a cut stream or an overload error event when nothing
/// was passed on yet; at most `cfg.retries` times. The wait is
/// max(retry_min_wait_ms · 2^(attempts-1) capped at 30 s, Retry-After), plus up to 10 %
/// jitter (`jitter01` in [0,1)) — never less than Retry-After asks.
retry_decision decide_retry(const service::llm_settings& cfg, std::uint32_t attempts, const attempt_outcome& o,
                            double jitter01);

/// The final error for a failed attempt that is not retried (again). `detail` is the
/// provider's message or the transport's reason.
error final_error(const attempt_outcome& o, std::uint32_t attempts, std::string_view provider, std::string_view detail);

/// Parses a Retry-After value: delta-seconds or an HTTP date (relative to `now`).
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, utc_time now);

}  // namespace weft::llm
