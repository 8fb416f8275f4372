#include "services/llm/policy.hh"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/ranges.h>

namespace weft::llm {

using service::config;
using service::llm_tier;
using service::provider_settings;

const provider_settings* default_provider(const config& cfg) {
  if (!cfg.llm.default_provider.empty()) {
    auto it = cfg.providers.find(cfg.llm.default_provider);
    if (it != cfg.providers.end() && it->second.enabled) return &it->second;
  }
  for (auto& [name, p] : cfg.providers)
    if (p.enabled) return &p;
  return nullptr;
}

std::uint64_t estimate_tokens(const lv::complete& c) {
  std::uint64_t chars = c.system.size();
  for (auto& t : c.messages) {
    chars += t.text.size();
    for (auto& tc : t.tool_calls) chars += tc.name.size() + tc.arguments.size();
  }
  for (auto& t : c.tools) chars += t.name.size() + t.description.size() + t.input_schema.size();
  return chars / 4;
}

double cost_usd(const route& r, std::uint64_t in, std::uint64_t out) {
  return static_cast<double>(in) * r.input_cost_per_mtok / 1e6 + static_cast<double>(out) * r.output_cost_per_mtok / 1e6;
}

std::string not_configured_sentence(const config& cfg) {
  constexpr std::string_view apply = "then run `weftctl reload` (no restart needed)";
  if (cfg.source == service::builtin_config_source)
    return fmt::format(
        "No LLM provider is configured, and weft runs on its built-in default without a config file: create '{}' "
        "with a [providers.<name>] table and its api_key (for example [providers.anthropic] with api_key = \"…\"), "
        "plus what the default gave you ([agents.main], [channels.web], [routing] default_agent = \"main\", [mcp]; "
        "see docs/config.md), {}.",
        service::new_config_path(), apply);
  std::vector<std::string> keyless;
  for (auto& [name, p] : cfg.providers)
    if (!p.enabled) keyless.push_back(fmt::format("[providers.{}]", name));
  if (!keyless.empty())
    return fmt::format("No LLM provider is usable: {} in '{}' {} no API key. Set api_key in {}, {}.",
                       fmt::join(keyless, ", "), cfg.source, keyless.size() == 1 ? "has" : "have",
                       keyless.size() == 1 ? "that table" : "one of them", apply);
  return fmt::format(
      "No LLM provider is configured: add a [providers.<name>] table with its api_key to '{}' (for example "
      "[providers.anthropic] with api_key = \"…\"; see docs/config.md), {}.",
      cfg.source, apply);
}

namespace {

error not_configured(const config& cfg) {
  return lv::make(lv::error_code::not_configured, "{}", not_configured_sentence(cfg));
}

result<route> route_to_tier(const config& cfg, const llm_tier& t) {
  auto it = cfg.providers.find(t.provider);
  if (it == cfg.providers.end() || !it->second.enabled)
    return lv::make(lv::error_code::not_configured,
                    "Tier '{}' uses provider '{}', which is not configured or has no API key: add [providers.{}] "
                    "with its key to clawft.toml and restart weft.",
                    t.name, t.provider, t.provider);
  route r;
  r.provider = &it->second;
  r.model = t.model.empty() ? it->second.model : t.model;
  r.tier = t.name;
  r.input_cost_per_mtok = t.input_cost_per_mtok;
  r.output_cost_per_mtok = t.output_cost_per_mtok;
  return r;
}

result<route> explicit_model(const config& cfg, std::string_view spec) {
  route r;
  auto slash = spec.find('/');
  if (slash != std::string_view::npos) {
    auto it = cfg.providers.find(std::string(spec.substr(0, slash)));
    if (it != cfg.providers.end()) {
      if (!it->second.enabled)
        return lv::make(lv::error_code::not_configured,
                        "Model '{}' names provider '{}', which has no API key: set it in [providers.{}] and restart weft.",
                        spec, it->first, it->first);
      r.provider = &it->second;
      r.model = std::string(spec.substr(slash + 1));
    }
  }
  if (!r.provider) {  // a bare model name (or one with '/' in it, as some local servers use)
    r.provider = default_provider(cfg);
    if (!r.provider) return not_configured(cfg);
    r.model = std::string(spec);
  }
  // Prices come from a tier serving exactly this provider and model, if any.
  for (auto& t : cfg.llm.tiers) {
    auto m = t.model.empty() ? (cfg.providers.count(t.provider) ? cfg.providers.at(t.provider).model : "") : t.model;
    if (t.provider == r.provider->name && m == r.model) {
      r.input_cost_per_mtok = t.input_cost_per_mtok;
      r.output_cost_per_mtok = t.output_cost_per_mtok;
      break;
    }
  }
  return r;
}

}  // namespace

result<route> choose_route(const config& cfg, const lv::complete& c, const lv::tier_override* ov) {
  if (!default_provider(cfg)) return not_configured(cfg);
  const service::agent_settings* agent = nullptr;
  if (auto it = cfg.agents.find(c.agent); it != cfg.agents.end()) agent = &it->second;
  auto find_tier = [&](std::string_view name) {
    return std::find_if(cfg.llm.tiers.begin(), cfg.llm.tiers.end(), [&](const llm_tier& t) { return t.name == name; });
  };
  auto disabled = [&](std::string_view name) {
    return ov && std::find(ov->disabled_tiers.begin(), ov->disabled_tiers.end(), name) != ov->disabled_tiers.end();
  };

  if (!c.model.empty()) return explicit_model(cfg, c.model);
  std::string tier_name = c.tier;
  bool requested = !tier_name.empty();  // the request's own tier is honoured even if disabled
  if (tier_name.empty() && ov && !ov->tier.empty() && find_tier(ov->tier) != cfg.llm.tiers.end()) tier_name = ov->tier;
  if (tier_name.empty() && agent) {
    if (!agent->model.empty()) return explicit_model(cfg, agent->model);
    tier_name = agent->tier;
  }
  if (tier_name.empty()) tier_name = cfg.llm.default_tier;
  if (tier_name.empty() && !cfg.llm.tiers.empty()) tier_name = cfg.llm.tiers.front().name;

  if (tier_name.empty()) {
    route r;
    r.provider = default_provider(cfg);
    r.model = r.provider->model;
    return r;
  }
  auto chosen = find_tier(tier_name);
  if (chosen == cfg.llm.tiers.end())
    return lv::make(lv::error_code::not_configured, "Tier '{}' is not configured: add it as [[llm.tiers]] to clawft.toml.",
                    tier_name);
  auto need = estimate_tokens(c);
  bool blocked = !requested && disabled(chosen->name);
  if (need > chosen->max_context_tokens || blocked) {
    const llm_tier* best = nullptr;
    const llm_tier* largest = nullptr;
    for (auto& t : cfg.llm.tiers) {
      if (disabled(t.name)) continue;
      auto p = cfg.providers.find(t.provider);
      if (p == cfg.providers.end() || !p->second.enabled) continue;
      if (!largest || t.max_context_tokens > largest->max_context_tokens) largest = &t;
      if (t.max_context_tokens < need) continue;
      if (!best || t.input_cost_per_mtok < best->input_cost_per_mtok ||
          (t.input_cost_per_mtok == best->input_cost_per_mtok && t.output_cost_per_mtok < best->output_cost_per_mtok))
        best = &t;
    }
    if (best) return route_to_tier(cfg, *best);
    if (largest) return route_to_tier(cfg, *largest);
    if (blocked)
      return lv::make(lv::error_code::not_configured,
                      "The runtime routing policy disables every usable tier for agent '{}': change it with 'weftctl "
                      "llm policy set --agent {} …' or clear it.",
                      c.agent, c.agent);
  }
  return route_to_tier(cfg, *chosen);
}

retry_decision decide_retry(const service::llm_settings& cfg, std::uint32_t attempts, const attempt_outcome& o,
                            double jitter01) {
  bool retryable = false;
  switch (o.kind) {
    case attempt_result::http_error:
      retryable = o.status == 429 || o.status == 529 || (o.status >= 500 && o.status <= 599);
      break;
    case attempt_result::connect_failed: retryable = true; break;
    case attempt_result::cut_stream: retryable = !o.streamed_to_requester; break;
    case attempt_result::stream_error: retryable = o.stream_error_retryable && !o.streamed_to_requester; break;
    default: retryable = false;
  }
  if (!retryable || attempts > cfg.retries) return {};
  using ms = std::chrono::milliseconds;
  std::uint64_t base = cfg.retry_min_wait_ms;
  for (std::uint32_t i = 1; i < attempts && base < 30000; ++i) base *= 2;
  base = std::min<std::uint64_t>(base, std::max<std::uint64_t>(30000, cfg.retry_min_wait_ms));
  if (o.retry_after) base = std::max<std::uint64_t>(base, static_cast<std::uint64_t>(std::max<std::int64_t>(0, o.retry_after->count())));
  jitter01 = std::clamp(jitter01, 0.0, 0.999);
  auto jitter = static_cast<std::uint64_t>(static_cast<double>(base) * 0.1 * jitter01);
  return {true, ms(base + jitter)};
}

error final_error(const attempt_outcome& o, std::uint32_t attempts, std::string_view provider, std::string_view detail) {
  auto tries = attempts == 1 ? std::string("1 attempt") : fmt::format("{} attempts", attempts);
  switch (o.kind) {
    case attempt_result::http_error:
      if (o.status == 429 || o.status == 529)
        return lv::make(lv::error_code::rate_limited, "Provider '{}' answered HTTP {} after {}: {}", provider, o.status,
                        tries, detail);
      return lv::make(lv::error_code::upstream, "Provider '{}' answered HTTP {} after {}: {}", provider, o.status, tries,
                      detail);
    case attempt_result::connect_failed:
      return lv::make(lv::error_code::unavailable, "Failed to reach provider '{}' after {}: {}", provider, tries, detail);
    case attempt_result::timeout:
      return lv::make(lv::error_code::timeout, "Provider '{}' did not answer in time: {}", provider, detail);
    case attempt_result::stream_error:
      return lv::make(o.stream_error_retryable ? lv::error_code::rate_limited : lv::error_code::upstream,
                      "Provider '{}' failed after {}: {}", provider, tries, detail);
    case attempt_result::malformed:
    case attempt_result::cut_stream:
    default:
      return lv::make(lv::error_code::malformed, "Provider '{}' sent an unreadable answer after {}: {}", provider, tries,
                      detail);
  }
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, utc_time now) {
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) value.remove_prefix(1);
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(value.front()))) {
    double secs = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), secs);
    if (ec != std::errc() || p != value.data() + value.size() || secs < 0) return std::nullopt;
    secs = std::min(secs, 3600.0);  // a silly value must not park a request for days
    return std::chrono::milliseconds(static_cast<std::int64_t>(secs * 1000));
  }
  std::string text(value);
  auto t = curl_getdate(text.c_str(), nullptr);
  if (t < 0) return std::nullopt;
  auto at = std::chrono::system_clock::from_time_t(t);
  auto diff = std::chrono::duration_cast<std::chrono::milliseconds>(at - now);
  return std::clamp(diff, std::chrono::milliseconds(0), std::chrono::milliseconds(3600 * 1000));
}

}  // namespace weft::llm
