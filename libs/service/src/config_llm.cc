// [providers] and [llm]: the built-in provider table, providers from the environment (the
// built-in default, and a service told by weftd which are usable), tiers. The reference is
// docs/config.md.
#include <weft/service/config.hh>

#include <cstdlib>

#include "config_check.hh"

namespace weft::service {

namespace {

using namespace detail;

constexpr std::uint32_t min_context_tokens = 1024;
/// Which provider the built-in default talks to first, when its key is set.
constexpr std::array<std::string_view, 9> default_provider_order = {
    "anthropic", "openai", "openrouter", "gemini", "groq", "deepseek", "mistral", "xai", "together"};

const char* getenv_nonempty(const std::string& name) {
  const char* v = name.empty() ? nullptr : std::getenv(name.c_str());
  return v && *v ? v : nullptr;
}

provider_settings builtin(std::string name, api_style style, std::string base_url, std::string key_env,
                          std::string model, std::string embedding_model = {}, std::string api_version = {}) {
  provider_settings p;
  p.name = std::move(name);
  p.style = style;
  p.base_url = std::move(base_url);
  p.api_key_env = std::move(key_env);
  p.model = std::move(model);
  p.embedding_model = std::move(embedding_model);
  p.api_version = std::move(api_version);
  return p;
}

std::vector<std::string_view> builtin_names() {
  std::vector<std::string_view> out;
  for (auto& p : provider_table()) out.push_back(p.name);
  return out;
}

const provider_settings* find_builtin(std::string_view name) {
  for (auto& p : provider_table())
    if (p.name == name) return &p;
  return nullptr;
}

/// In a service weftd started: whether weftd found provider `name` usable
/// ($WEFT_PROVIDERS_READY, a comma-separated list), its key being held by llm alone.
bool ready_in_weftd(std::string_view name) {
  const char* list = std::getenv("WEFT_PROVIDERS_READY");
  for (std::string_view rest = list ? list : ""; !rest.empty();) {
    auto comma = rest.find(',');
    if (rest.substr(0, comma) == name) return true;
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// [providers]

provider_settings read_provider(checker& ck, const std::string& name, const toml::table& t) {
  auto label = fmt::format("[providers.{}]", clean(name));
  ck.check_keys(t, label, {"style", "base_url", "api_key", "api_key_env", "model", "embedding_model",
                           "api_version", "headers", "enabled"});
  auto* known = find_builtin(name);
  provider_settings p = known ? *known : provider_settings{};
  p.name = name;
  p.where = ck.where(t.source());

  static constexpr std::array<std::pair<std::string_view, api_style>, 2> styles = {
      {{"openai", api_style::openai}, {"anthropic", api_style::anthropic}}};
  p.style = ck.read_enum(t, label, "style", styles).value_or(p.style);

  if (auto url = ck.read_string(t, label, "base_url")) {
    while (url->size() > 1 && url->back() == '/') url->pop_back();  // paths are appended with '/'
    if (!http_url(*url))
      ck.error(t.get("base_url")->source(),
               fmt::format("{} base_url '{}' is not an http:// or https:// URL", label, clean(*url)));
    p.base_url = *url;
  } else if (!t.contains("base_url") && p.base_url.empty()) {
    if (name == "azure")
      ck.error(t.source(), fmt::format("{} is missing required key 'base_url': "
                                       "https://<resource>.openai.azure.com/openai/deployments/<deployment>",
                                       label));
    else
      ck.error(t.source(), fmt::format("{} is missing required key 'base_url' (it is not a built-in provider: {})",
                                       label, fmt::join(builtin_names(), ", ")));
  }

  if (auto env = ck.read_string(t, label, "api_key_env")) {
    if (!env->empty() && !valid_env_name(*env))
      ck.error(t.get("api_key_env")->source(),
               fmt::format("{} api_key_env '{}' is not a valid environment variable name", label, clean(*env)));
    p.api_key_env = *env;
  }
  for (auto [key, field] : {std::pair{"model", &p.model}, std::pair{"embedding_model", &p.embedding_model},
                            std::pair{"api_version", &p.api_version}})
    if (auto v = ck.read_string(t, label, key)) *field = *v;

  if (auto* h = t.get("headers"); h && !h->is_table()) {
    ck.error(h->source(), fmt::format("{} headers must be a table of strings, not {}", label, a_type(*h)));
  } else if (h) {
    for (auto& [hk, hv] : *h->as_table()) {
      std::string key(hk.str());
      if (!valid_header_name(key)) {
        ck.error(hk.source(), fmt::format("{} headers key '{}' is not an HTTP header name: use letters, digits, "
                                          "'-' and '_'",
                                          label, clean(key)));
      } else if (!hv.is_string()) {
        ck.error(hv.source(), fmt::format("{} headers.{} must be a string, not {}", label, key, a_type(hv)));
      } else if (auto value = ck.expand(hv, fmt::format("{} headers.{}", label, key))) {
        if (std::any_of(value->begin(), value->end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; }))
          ck.error(hv.source(), fmt::format("{} headers.{} must not contain line breaks", label, key));
        else
          p.headers[key] = std::move(*value);
      }
    }
  }

  bool enabled = ck.read_bool(t, label, "enabled").value_or(true);
  // The key: api_key (usually "${VAR}"), else $api_key_env. A missing key disables the
  // provider with a warning instead of refusing the file, so weft still starts.
  std::string missing;
  const toml::node* at = &t;
  if (auto* k = t.get("api_key")) {
    at = k;
    if (!k->is_string()) {
      ck.error(k->source(), fmt::format("{} api_key must be a string, not {}", label, a_type(*k)));
    } else {
      std::vector<std::string> unset;
      if (auto key = ck.expand(*k, fmt::format("{} api_key", label), &unset)) {
        if (!unset.empty()) missing = fmt::format("environment variable '{}' is not set", fmt::join(unset, "', '"));
        else if (key->empty()) missing = "api_key is empty";
        else p.api_key = *key;
      }
    }
  } else if (!p.api_key_env.empty()) {
    if (auto* key = getenv_nonempty(p.api_key_env)) p.api_key = key;
    else missing = fmt::format("environment variable '{}' is not set", p.api_key_env);
    if (auto* e = t.get("api_key_env")) at = e;
  }
  // A service other than llm has no keys; weftd tells it which providers are usable.
  if (!missing.empty() && ready_in_weftd(name)) missing.clear();
  if (!missing.empty() && enabled)
    ck.warning(at->source(), fmt::format("{} has no API key ({}); set it to use this provider, disabling it.",
                                         label, missing));
  p.enabled = enabled && missing.empty();
  return p;
}

}  // namespace

namespace detail {

void read_providers(checker& ck, const toml::table& t, config& c) {
  for (auto [k, v] : in_file_order(t)) {
    std::string name(k->str());
    if (!valid_name(name))
      ck.error(k->source(), fmt::format("provider name '{}' is invalid: use 1 to {} of a-z, 0-9, '-' and '_', "
                                        "starting with a letter or digit",
                                        clean(name), max_name_chars));
    auto* pt = v->as_table();
    if (!pt) {
      ck.error(v->source(), fmt::format("[providers.{}] must be a table, not {}", clean(name), a_type(*v)));
      continue;
    }
    c.providers[name] = read_provider(ck, name, *pt);
  }
}

}  // namespace detail

namespace {

// ---------------------------------------------------------------------------------------
// [llm]


llm_tier read_tier(checker& ck, const toml::table& t, const std::string& label, const config& c) {
  llm_tier tier;
  tier.where = ck.where(t.source());
  ck.check_keys(t, label, {"name", "provider", "model", "max_context_tokens", "input_cost_per_mtok",
                           "output_cost_per_mtok"});
  if (auto name = ck.read_required(t, label, "name")) {
    tier.name = *name;
    if (!valid_name(*name))
      ck.error(t.get("name")->source(), fmt::format("{} name '{}' is invalid: use 1 to {} of a-z, 0-9, '-' and "
                                                    "'_', starting with a letter or digit",
                                                    label, clean(*name), max_name_chars));
  }
  if (auto provider = ck.read_required(t, label, "provider")) {
    tier.provider = *provider;
    check_reference(ck, t, label, "provider", *provider, keys_of(c.providers), "a configured provider");
  }
  tier.model = ck.read_string(t, label, "model").value_or(tier.model);
  tier.max_context_tokens =
      ck.read_uint(t, label, "max_context_tokens", min_context_tokens, u32_max).value_or(tier.max_context_tokens);
  tier.input_cost_per_mtok = ck.read_non_negative(t, label, "input_cost_per_mtok").value_or(0);
  tier.output_cost_per_mtok = ck.read_non_negative(t, label, "output_cost_per_mtok").value_or(0);
  return tier;
}

}  // namespace

namespace detail {

void read_llm(checker& ck, const toml::table& t, config& c) {
  const std::string label = "[llm]";
  ck.check_keys(t, label, {"default_provider", "default_tier", "tiers", "timeout_ms", "connect_timeout_ms",
                           "retries", "retry_min_wait_ms", "max_concurrent", "embedding_provider",
                           "embedding_model"});
  auto& l = c.llm;
  l.timeout_ms = ck.read_uint(t, label, "timeout_ms", std::uint32_t{1}, u32_max).value_or(l.timeout_ms);
  l.connect_timeout_ms =
      ck.read_uint(t, label, "connect_timeout_ms", std::uint32_t{1}, u32_max).value_or(l.connect_timeout_ms);
  l.retries = ck.read_uint(t, label, "retries", std::uint32_t{0}, std::uint32_t{100}).value_or(l.retries);
  l.retry_min_wait_ms =
      ck.read_uint(t, label, "retry_min_wait_ms", std::uint32_t{0}, u32_max).value_or(l.retry_min_wait_ms);
  l.max_concurrent =
      ck.read_uint(t, label, "max_concurrent", std::uint32_t{1}, std::uint32_t{100000}).value_or(l.max_concurrent);
  l.embedding_model = ck.read_string(t, label, "embedding_model").value_or(l.embedding_model);
  auto providers = keys_of(c.providers);
  for (auto key : {"default_provider", "embedding_provider"})
    if (auto v = ck.read_string(t, label, key)) {
      (std::string_view(key) == "default_provider" ? l.default_provider : l.embedding_provider) = *v;
      check_reference(ck, t, label, key, *v, providers, "a configured provider");
    }

  if (auto* n = t.get("tiers"); n && !n->is_array()) {
    ck.error(n->source(), fmt::format("[llm] tiers must be an array of tables ([[llm.tiers]]), not {}", a_type(*n)));
  } else if (n) {
    auto& tiers = *n->as_array();
    for (std::size_t i = 0; i < tiers.size(); ++i) {
      auto tl = fmt::format("llm.tiers[{}]", i);
      auto* tt = tiers.get(i)->as_table();
      if (!tt) {
        ck.error(tiers.get(i)->source(), fmt::format("{} must be a table, not {}", tl, a_type(*tiers.get(i))));
        continue;
      }
      auto tier = read_tier(ck, *tt, tl, c);
      for (std::size_t j = 0; j < l.tiers.size(); ++j)
        if (!tier.name.empty() && l.tiers[j].name == tier.name)
          ck.error(tt->get("name")->source(),
                   fmt::format("{} name '{}' is already used by llm.tiers[{}]", tl, clean(tier.name), j));
      l.tiers.push_back(std::move(tier));
    }
  }
  if (auto v = ck.read_string(t, label, "default_tier")) {
    l.default_tier = *v;
    std::vector<std::string_view> names;
    for (auto& tier : l.tiers) names.push_back(tier.name);
    check_reference(ck, t, label, "default_tier", *v, names, "a tier in [[llm.tiers]]");
  }
}

/// Every built-in provider whose key variable is set (or, in a service, that weftd found
/// usable), with the key resolved when it is here, and the first of default_provider_order.
void providers_from_environment(config& c) {
  for (auto& p : provider_table()) {
    auto* key = getenv_nonempty(p.api_key_env);
    if ((key || ready_in_weftd(p.name)) && !p.base_url.empty()) {  // azure needs its URL
      auto q = p;
      q.api_key = key ? key : "";
      c.providers.emplace(q.name, std::move(q));
    }
  }
  if (c.llm.default_provider.empty())
    for (auto name : default_provider_order)
      if (c.providers.count(std::string(name))) {
        c.llm.default_provider = name;
        break;
      }
}

}  // namespace detail

const std::vector<provider_settings>& provider_table() {
  using enum api_style;
  static const std::vector<provider_settings> table = {
      builtin("openai", openai, "https://api.openai.com/v1", "OPENAI_API_KEY", "gpt-4o-mini",
              "text-embedding-3-small"),
      builtin("anthropic", anthropic, "https://api.anthropic.com/v1", "ANTHROPIC_API_KEY", "claude-sonnet-4-5"),
      builtin("openrouter", openai, "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY",
              "anthropic/claude-sonnet-4.5"),
      builtin("gemini", openai, "https://generativelanguage.googleapis.com/v1beta/openai", "GEMINI_API_KEY",
              "gemini-2.5-flash", "gemini-embedding-001"),
      builtin("groq", openai, "https://api.groq.com/openai/v1", "GROQ_API_KEY", "llama-3.3-70b-versatile"),
      builtin("deepseek", openai, "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY", "deepseek-chat"),
      builtin("mistral", openai, "https://api.mistral.ai/v1", "MISTRAL_API_KEY", "mistral-large-latest",
              "mistral-embed"),
      builtin("xai", openai, "https://api.x.ai/v1", "XAI_API_KEY", "grok-4"),
      builtin("together", openai, "https://api.together.xyz/v1", "TOGETHER_API_KEY",
              "meta-llama/Llama-3.3-70B-Instruct-Turbo"),
      // The deployment is part of the URL, so there is no default base_url.
      builtin("azure", openai, "", "AZURE_OPENAI_API_KEY", "gpt-4o-mini", "", "2024-10-21"),
      builtin("ollama", openai, "http://127.0.0.1:11434/v1", "", "llama3.2", "nomic-embed-text"),
      builtin("vllm", openai, "http://127.0.0.1:8000/v1", "", ""),
      builtin("llamacpp", openai, "http://127.0.0.1:8080/v1", "", "default"),
      builtin("lmstudio", openai, "http://127.0.0.1:1234/v1", "", ""),
  };
  return table;
}

}  // namespace weft::service
