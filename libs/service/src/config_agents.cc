// The sections of the agent turn: [providers], [llm], [agents], [channels],
// [[agent_routes]], [routing] and [delegation]; the built-in provider table, the default
// configuration and the services derived from it. The reference is docs/config.md.
#include <weft/ipc/address.hh>
#include <weft/service/config.hh>

#include <cstdlib>
#include <regex>
#include <set>

#include <weft/service/paths.hh>

#include "config_check.hh"

namespace weft::service {

namespace {

using namespace detail;

constexpr std::size_t max_agent_id_chars = 48;
constexpr std::size_t max_regex_chars = 1024;
constexpr std::uint32_t u32_max = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint32_t min_context_tokens = 1024;

constexpr std::array<std::string_view, 4> tool_families = {"fs", "shell", "web", "mcp"};
constexpr std::array<std::string_view, 2> channel_names = {"telegram", "web"};
constexpr std::array<std::string_view, 3> unsupported_channels = {"slack", "discord", "whatsapp"};
/// Which provider the built-in default talks to first, when its key is set.
constexpr std::array<std::string_view, 9> default_provider_order = {
    "anthropic", "openai", "openrouter", "gemini", "groq", "deepseek", "mistral", "xai", "together"};
/// Tool processes started once per agent (the others are shared).
constexpr std::array<std::string_view, 2> per_agent_families = {"fs", "shell"};

/// The GiB/MiB rlimits of a per-agent tool process.
constexpr std::uint64_t gib = 1ull << 30;
/// No RLIMIT_AS: runtimes such as V8 reserve far more address space than they use, so a
/// cap that stops a runaway process also breaks `node`; memory limits belong to cgroups.
constexpr std::uint64_t tool_max_address_space = 0;
constexpr std::uint64_t tool_max_open_files = 256;
/// RLIMIT_NPROC counts every process of the user, not only the tool's: high enough for a
/// desktop session running weft under the user's own account, low enough to stop a fork bomb.
constexpr std::uint64_t tool_max_processes = 4096;
constexpr std::uint64_t tool_max_file_size = 1 * gib;


/// Provider, tier and match-key names: a-z, 0-9, '-' and '_', starting with a letter or digit.
bool valid_name(std::string_view n) {
  return !n.empty() && n.size() <= max_name_chars && lower_alnum(n[0]) &&
         std::all_of(n.begin(), n.end(), [](char c) { return lower_alnum(c) || c == '-' || c == '_'; });
}

/// Agent ids become service names (tool-shell-<id>, at most 64 characters) and an address
/// segment (agent/<id>).
bool valid_agent_id(std::string_view n) {
  return !n.empty() && n.size() <= max_agent_id_chars && lower_alnum(n[0]) &&
         std::all_of(n.begin(), n.end(), [](char c) { return lower_alnum(c) || c == '-'; });
}


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

std::string workspace_of(const config& c, const agent_settings& a) {
  return a.workspace.empty() ? home_dir(c.home) + "/agents/" + a.id : a.workspace;
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

// ---------------------------------------------------------------------------------------
// [agents]

tool_policy read_tools(checker& ck, const toml::table& t, const std::string& label) {
  tool_policy p;
  p.where = ck.where(t.source());
  ck.check_keys(t, label, {"allow", "deny", "families"});
  for (auto [key, field] : {std::pair{"allow", &p.allow}, std::pair{"deny", &p.deny}}) {
    auto globs = ck.read_strings(t, label, key);
    if (!globs) continue;
    auto& nodes = *t.get(key)->as_array();
    for (std::size_t i = 0; i < globs->size(); ++i)
      if (!valid_tool_glob((*globs)[i]))
        ck.error(nodes[i].source(), fmt::format("{} {} '{}' can never match a tool name: use letters, digits, "
                                                "'_', '.', '-' and the wildcard '*'",
                                                label, key, clean((*globs)[i])));
    *field = std::move(*globs);
  }
  if (auto families = ck.read_strings(t, label, "families")) {
    auto& nodes = *t.get("families")->as_array();
    std::vector<std::string> seen;
    for (std::size_t i = 0; i < families->size(); ++i) {
      auto& f = (*families)[i];
      if (!contains(tool_families, f))
        ck.error(nodes[i].source(), fmt::format("{} families '{}' is not a tool family; use {}{}", label, clean(f),
                                                fmt::join(tool_families, ", "), suggestion(f, tool_families)));
      else if (contains(seen, f))
        ck.error(nodes[i].source(), fmt::format("{} families lists '{}' twice", label, f));
      else
        seen.push_back(f);
    }
    p.families = std::move(seen);
  }
  return p;
}

agent_settings read_agent(checker& ck, const std::string& id, const toml::table& t, const config& c) {
  auto label = fmt::format("[agents.{}]", clean(id));
  agent_settings a;
  a.id = id;
  a.where = ck.where(t.source());
  a.tools.where = a.where;
  ck.check_keys(t, label, {"name", "tier", "model", "workspace", "max_iterations", "tool_timeout_ms", "max_tokens",
                           "budget_usd", "tools"});
  a.name = ck.read_string(t, label, "name").value_or(a.name);
  a.model = ck.read_string(t, label, "model").value_or(a.model);
  if (auto tier = ck.read_string(t, label, "tier")) {
    a.tier = *tier;
    std::vector<std::string_view> names;
    for (auto& tr : c.llm.tiers) names.push_back(tr.name);
    check_reference(ck, t, label, "tier", *tier, names, "a tier in [[llm.tiers]]");
  }
  if (auto ws = ck.read_string(t, label, "workspace")) {
    a.workspace = *ws;
    while (a.workspace.size() > 1 && a.workspace.back() == '/') a.workspace.pop_back();
    if (!ws->empty() && ws->front() != '/')
      ck.error(t.get("workspace")->source(),
               fmt::format("{} workspace must be an absolute path, not '{}'", label, clean(*ws)));
  }
  a.max_iterations =
      ck.read_uint(t, label, "max_iterations", std::uint32_t{1}, std::uint32_t{1000}).value_or(a.max_iterations);
  a.tool_timeout_ms = ck.read_uint(t, label, "tool_timeout_ms", std::uint32_t{1}, u32_max).value_or(a.tool_timeout_ms);
  a.max_tokens = ck.read_uint(t, label, "max_tokens", std::uint32_t{0}, u32_max).value_or(a.max_tokens);
  a.budget_usd = ck.read_non_negative(t, label, "budget_usd").value_or(a.budget_usd);
  if (auto* n = t.get("tools"); n && !n->is_table())
    ck.error(n->source(), fmt::format("{} tools must be a table ([agents.{}.tools]), not {}", label, clean(id),
                                      a_type(*n)));
  else if (n)
    a.tools = read_tools(ck, *n->as_table(), fmt::format("[agents.{}.tools]", clean(id)));
  return a;
}

void read_agents(checker& ck, const toml::table& t, config& c) {
  std::map<std::string, std::string> workspace_owner;
  for (auto [k, v] : in_file_order(t)) {
    std::string id(k->str());
    if (!valid_agent_id(id))
      ck.error(k->source(), fmt::format("agent id '{}' is invalid: use 1 to {} of a-z, 0-9 and '-', starting with "
                                        "a letter or digit (it becomes the service agent-<id>)",
                                        clean(id), max_agent_id_chars));
    auto* at = v->as_table();
    if (!at) {
      ck.error(v->source(), fmt::format("[agents.{}] must be a table, not {}", clean(id), a_type(*v)));
      continue;
    }
    auto a = read_agent(ck, id, *at, c);
    if (auto [it, fresh] = workspace_owner.emplace(workspace_of(c, a), id); !fresh)
      ck.error((at->contains("workspace") ? at->get("workspace") : at)->source(),
               fmt::format("[agents.{}] workspace '{}' is already the workspace of [agents.{}]", clean(id),
                           clean(it->first), clean(it->second)));
    c.agents[id] = std::move(a);
  }
}

// ---------------------------------------------------------------------------------------
// [channels]

telegram_settings read_telegram(checker& ck, const toml::table& t) {
  const std::string label = "[channels.telegram]";
  telegram_settings s;
  s.where = ck.where(t.source());
  ck.check_keys(t, label, {"enabled", "token", "api_base", "mode", "poll_timeout_s", "webhook_listen", "webhook_url",
                           "webhook_secret"});
  s.enabled = ck.read_bool(t, label, "enabled").value_or(s.enabled);
  if (auto token = ck.read_required(t, label, "token")) {
    s.token = *token;
    // The token is a path segment of every API call (/bot<token>/getUpdates).
    if (std::any_of(token->begin(), token->end(), [](char c) {
          return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || any_of_chars(c, "/?#%");
        }))
      ck.error(t.get("token")->source(),
               fmt::format("{} token must not contain spaces, control characters, '/', '?', '#' or '%'", label));
  }
  if (auto base = ck.read_string(t, label, "api_base")) {
    while (base->size() > 1 && base->back() == '/') base->pop_back();
    if (!http_url(*base))
      ck.error(t.get("api_base")->source(),
               fmt::format("{} api_base '{}' is not an http:// or https:// URL", label, clean(*base)));
    s.api_base = *base;
  }
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 2> modes = {
      {{"polling", "polling"}, {"webhook", "webhook"}}};
  s.mode = std::string(ck.read_enum(t, label, "mode", modes).value_or(s.mode));
  s.poll_timeout_s = ck.read_uint(t, label, "poll_timeout_s", std::uint32_t{0}, std::uint32_t{600}).value_or(s.poll_timeout_s);
  if (auto listen = ck.read_string(t, label, "webhook_listen")) {
    s.webhook_listen = *listen;
    if (!valid_listen(*listen))
      ck.error(t.get("webhook_listen")->source(),
               fmt::format("{} webhook_listen '{}' is not host:port with a port from 0 to 65535", label,
                           clean(*listen)));
  }
  if (auto url = ck.read_string(t, label, "webhook_url")) {
    s.webhook_url = *url;
    if (!url->empty() && !http_url(*url))
      ck.error(t.get("webhook_url")->source(),
               fmt::format("{} webhook_url '{}' is not an http:// or https:// URL", label, clean(*url)));
  }
  if (auto secret = ck.read_string(t, label, "webhook_secret")) {
    s.webhook_secret = *secret;
    // Telegram's rule for secret_token: 1-256 characters A-Z, a-z, 0-9, '_' and '-'.
    if (secret->size() > 256 ||
        !std::all_of(secret->begin(), secret->end(), [](char c) { return alnum(c) || c == '_' || c == '-'; }))
      ck.error(t.get("webhook_secret")->source(),
               fmt::format("{} webhook_secret must be at most 256 of A-Z, a-z, 0-9, '_' and '-'", label));
  }
  auto* url = t.get("webhook_url");
  if (s.mode == "webhook" && s.webhook_url.empty() && (!url || url->is_string()))
    ck.error((url ? url : t.get("mode"))->source(),
             fmt::format("{} mode 'webhook' needs webhook_url, the public URL Telegram posts updates to", label));
  return s;
}

web_settings read_web(checker& ck, const toml::table& t) {
  const std::string label = "[channels.web]";
  web_settings s;
  s.where = ck.where(t.source());
  ck.check_keys(t, label, {"enabled", "listen", "auth_token"});
  s.enabled = ck.read_bool(t, label, "enabled").value_or(s.enabled);
  s.auth_token = ck.read_string(t, label, "auth_token").value_or(s.auth_token);
  bool listen_ok = true;
  if (auto listen = ck.read_string(t, label, "listen")) {
    s.listen = *listen;
    listen_ok = valid_listen(*listen);
    if (!listen_ok)
      ck.error(t.get("listen")->source(),
               fmt::format("{} listen '{}' is not host:port with a port from 0 to 65535", label, clean(*listen)));
  }
  auto* tok = t.get("auth_token");
  if (listen_ok && !loopback_host(s.listen) && s.auth_token.empty() && (!tok || tok->is_string()))
    ck.error((tok ? tok : t.get("listen"))->source(),
             fmt::format("{} needs a non-empty auth_token: listen '{}' is not a loopback address, so anyone who "
                         "reaches it could chat with your agents",
                         label, clean(s.listen)));
  return s;
}

void read_channels(checker& ck, const toml::table& t, config& c) {
  std::vector<std::string_view> known(channel_names.begin(), channel_names.end());
  known.insert(known.end(), unsupported_channels.begin(), unsupported_channels.end());
  for (auto& [k, v] : t) {
    auto name = k.str();
    if (contains(unsupported_channels, name)) {
      ck.warning(v.source(), fmt::format("channel '[channels.{}]' is not supported by this build yet, ignoring.", name));
      continue;
    }
    if (!contains(channel_names, name)) {
      ck.unknown_key(k, "in [channels]", known);
      continue;
    }
    auto* ct = v.as_table();
    if (!ct) {
      ck.error(v.source(), fmt::format("[channels.{}] must be a table, not {}", name, a_type(v)));
    } else if (name == "telegram") {
      ck.track_env(&c.secret_vars["chan-telegram"]);
      c.channels.telegram = read_telegram(ck, *ct);
      ck.track_env(nullptr);
    } else {
      ck.track_env(&c.secret_vars["chan-web"]);
      c.channels.web = read_web(ck, *ct);
      ck.track_env(nullptr);
    }
  }
}

// ---------------------------------------------------------------------------------------
// [[agent_routes]], [routing]

agent_route read_route(checker& ck, const toml::table& t, const std::string& label, const config& c) {
  agent_route r;
  r.where = ck.where(t.source());
  ck.check_keys(t, label, {"channel", "match", "agent"});
  if (auto channel = ck.read_required(t, label, "channel")) {
    r.channel = *channel;
    std::vector<std::string_view> known = {"*"};
    known.insert(known.end(), channel_names.begin(), channel_names.end());
    known.insert(known.end(), unsupported_channels.begin(), unsupported_channels.end());
    if (!contains(known, *channel))
      ck.error(t.get("channel")->source(), fmt::format("{} channel '{}' is not a channel; use one of: {}{}", label,
                                                       clean(*channel), fmt::join(known, ", "),
                                                       suggestion(*channel, known)));
  }
  if (auto* m = t.get("match"); m && !m->is_table()) {
    ck.error(m->source(), fmt::format("{} match must be a table of strings, e.g. {{ chat_id = \"123\" }}, not {}",
                                      label, a_type(*m)));
  } else if (m) {
    for (auto& [mk, mv] : *m->as_table()) {
      std::string key(mk.str());
      if (!valid_name(key)) {
        ck.error(mk.source(), fmt::format("{} match key '{}' is invalid: use a-z, 0-9, '-' and '_'", label,
                                          clean(key)));
      } else if (auto* i = mv.as_integer()) {
        // Telegram ids are often written as numbers.
        r.match[key] = std::to_string(i->get());
      } else if (!mv.is_string()) {
        ck.error(mv.source(), fmt::format("{} match.{} must be a string or an integer, not {}", label, key,
                                          a_type(mv)));
      } else if (auto value = ck.expand(mv, fmt::format("{} match.{}", label, key))) {
        r.match[key] = std::move(*value);
      }
    }
  }
  if (auto agent = ck.read_required(t, label, "agent")) {
    r.agent = *agent;
    check_reference(ck, t, label, "agent", *agent, keys_of(c.agents), "an agent in [agents]");
  }
  return r;
}

void read_routes(checker& ck, const toml::node& n, config& c) {
  auto* routes = n.as_array();
  if (!routes) {
    ck.error(n.source(), fmt::format("agent_routes must be an array of tables ([[agent_routes]]), not {}", a_type(n)));
    return;
  }
  for (std::size_t i = 0; i < routes->size(); ++i) {
    auto label = fmt::format("agent_routes[{}]", i);
    auto* rt = routes->get(i)->as_table();
    if (!rt) {
      ck.error(routes->get(i)->source(), fmt::format("{} must be a table, not {}", label, a_type(*routes->get(i))));
      continue;
    }
    auto r = read_route(ck, *rt, label, c);
    for (std::size_t j = 0; j < c.agent_routes.size(); ++j)
      if (c.agent_routes[j].channel == r.channel && c.agent_routes[j].match == r.match && !r.channel.empty()) {
        ck.warning(rt->source(), fmt::format("{} matches the same messages as agent_routes[{}], which comes first "
                                             "and wins; it is never used, ignoring.",
                                             label, j));
        break;
      }
    c.agent_routes.push_back(std::move(r));
  }
}

void read_routing(checker& ck, const toml::table& t, config& c) {
  const std::string label = "[routing]";
  ck.check_keys(t, label, {"default_agent"});
  if (auto a = ck.read_string(t, label, "default_agent")) {
    c.routing.default_agent = *a;
    check_reference(ck, t, label, "default_agent", *a, keys_of(c.agents), "an agent in [agents]");
  }
}

// ---------------------------------------------------------------------------------------
// [delegation]

void read_delegation(checker& ck, const toml::table& t, config& c) {
  const std::string label = "[delegation]";
  auto& d = c.delegation;
  ck.check_keys(t, label, {"claude_enabled", "claude_flow_enabled", "routing_rules"});
  d.claude_enabled = ck.read_bool(t, label, "claude_enabled").value_or(d.claude_enabled);
  d.claude_flow_enabled = ck.read_bool(t, label, "claude_flow_enabled").value_or(d.claude_flow_enabled);
  auto* n = t.get("routing_rules");
  if (!n) return;
  auto* rules = n->as_table();
  if (!rules) {
    ck.error(n->source(), fmt::format("[delegation] routing_rules must be a table of \"regex\" = \"target\" "
                                      "([delegation.routing_rules]), not {}",
                                      a_type(*n)));
    return;
  }
  const std::string rl = "[delegation.routing_rules]";
  for (auto [k, v] : in_file_order(*rules)) {
    delegation_rule r;
    r.pattern = std::string(k->str());
    r.where = ck.where(k->source());
    if (r.pattern.size() > max_regex_chars) {
      ck.error(k->source(), fmt::format("{} pattern is {} characters long; at most {} are allowed", rl,
                                        r.pattern.size(), max_regex_chars));
    } else {
      // std::regex reports a bad pattern only by throwing: this is that boundary.
      try {
        std::regex re(r.pattern, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        ck.error(k->source(), fmt::format("{} pattern '{}' is not a valid ECMAScript regular expression: {}", rl,
                                          clean(r.pattern), e.what()));
      }
    }
    if (!v->is_string()) {
      ck.error(v->source(), fmt::format("{} target of '{}' must be a string, not {}", rl, clean(r.pattern),
                                        a_type(*v)));
      continue;
    }
    auto target = ck.expand(*v, fmt::format("{} target of '{}'", rl, clean(r.pattern)));
    if (!target) continue;
    r.target = *target;
    if (r.target.substr(0, 6) == "agent:") {
      auto id = r.target.substr(6);
      if (!c.agents.count(id)) {
        auto ids = keys_of(c.agents);
        ck.error(v->source(), fmt::format("{} target '{}' names agent '{}', which is not in [agents]{}", rl,
                                          clean(r.target), clean(id), suggestion(id, ids)));
      }
    } else if (r.target != "flow" && r.target != "local") {
      ck.error(v->source(), fmt::format("{} target '{}' must be 'flow', 'local' or 'agent:<id>'", rl,
                                        clean(r.target)));
    }
    d.routing_rules.push_back(std::move(r));
  }
}

}  // namespace

namespace detail {

void read_agent_sections(checker& ck, const toml::table& root, config& c) {
  auto section = [&](std::string_view name) -> const toml::table* {
    auto* n = root.get(name);
    if (!n) return nullptr;
    if (!n->is_table()) {
      ck.error(n->source(), fmt::format("[{}] must be a table, not {}", name, a_type(*n)));
      return nullptr;
    }
    return n->as_table();
  };
  // Later sections refer to earlier ones: tiers to providers, agents to tiers, routes and
  // rules to agents.
  // Secrets reach only the service that owns their section (config::secret_vars).
  ck.track_env(&c.secret_vars["llm"]);
  if (auto* t = section("providers")) read_providers(ck, *t, c);
  else if (!root.contains("providers")) providers_from_environment(c);
  ck.track_env(nullptr);
  if (auto* t = section("llm")) read_llm(ck, *t, c);
  if (auto* t = section("agents")) read_agents(ck, *t, c);
  if (auto* t = section("channels")) read_channels(ck, *t, c);
  if (auto* n = root.get("agent_routes")) read_routes(ck, *n, c);
  if (auto* t = section("routing")) read_routing(ck, *t, c);
  if (auto* t = section("delegation")) read_delegation(ck, *t, c);
  if (auto* t = section("memory")) read_memory(ck, *t, c);
  for (auto& [id, a] : c.agents) c.bus.agent_tools[id] = a.tools;
  if (auto* t = section("mcp")) read_mcp(ck, *t, c);
  ck.track_env(&c.secret_vars["tool-mcp"]);
  if (auto* t = section("tools")) read_tools(ck, *t, c);
  ck.track_env(nullptr);
  finish_secret_vars(c);
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

config default_config() {
  config c;
  agent_settings main;
  main.id = "main";
  c.agents.emplace(main.id, main);
  c.bus.agent_tools.emplace(main.id, main.tools);
  c.channels.web = web_settings{};
  c.routing.default_agent = "main";
  providers_from_environment(c);
  // weft's MCP server on 127.0.0.1:8781 as agent main (HTTP behind a token).
  c.mcp = mcp_serve_settings{};
  c.mcp->agent = "main";
  tool_policy p;
  p.families.clear();
  c.bus.agent_tools["main/mcp"] = p;
  detail::finish_secret_vars(c);
  return c;
}

std::vector<service_spec> derived_services(const config& c,
                                           const std::function<std::string(std::string_view)>& locate) {
  std::vector<service_spec> out;
  if (c.agents.empty()) return out;
  auto add = [&](std::string name, std::string_view program, std::string address, std::vector<std::string> after) {
    service_spec s;
    s.name = std::move(name);
    s.exec = locate(program);
    s.address = std::move(address);
    s.after = std::move(after);
    s.where = "(derived)";
    out.push_back(std::move(s));
    return &out.back();
  };
  add("llm", "weft-llm", "llm", {"bus"});
  // Memory needs llm only for embeddings, which it asks for in the background: it starts
  // (and serves keyword search) without it.
  if (c.memory.enabled) add("memory", "weft-memory", "memory", {"bus"});

  bool any_web = false;
  for (auto& [id, a] : c.agents) {
    auto workspace = workspace_of(c, a);
    for (auto family : per_agent_families) {
      if (!contains(a.tools.families, family)) continue;
      auto* s = add(fmt::format("tool-{}-{}", family, id), fmt::format("weft-tool-{}", family),
                    ipc::addr::tool(family, id), {"bus"});
      s->env = {{"WEFT_AGENT", id}, {"WEFT_WORKSPACE", workspace}};
      auto& sb = s->sandbox;
      sb.enabled = true;
      sb.read_write = {workspace, "/dev/null"};  // `cmd > /dev/null` must work
      sb.read_only = {"/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc", "/dev/zero", "/dev/urandom", "/proc/self"};
      // The program itself (exec needs it under Landlock) and the config file it reads.
      if (auto slash = s->exec.rfind('/'); slash != std::string::npos && slash > 0)
        sb.read_only.push_back(s->exec.substr(0, slash));
      if (!c.source.empty() && c.source.front() == '/') sb.read_only.push_back(c.source);
      sb.max_address_space = tool_max_address_space;
      sb.max_open_files = tool_max_open_files;
      sb.max_processes = tool_max_processes;
      sb.max_file_size = tool_max_file_size;
    }
    any_web = any_web || contains(a.tools.families, "web");
  }
  if (any_web) add("tool-web", "weft-tool-web", "tool/web", {"bus"});
  // The MCP client host: one shared process for every [tools.mcp_servers] entry. It re-reads
  // them on SIGHUP, so a reload adds or removes servers without touching the others.
  if (!c.tools.mcp_servers.empty()) add("tool-mcp", "weft-tool-mcp", "tool/mcp", {"bus"})->reload_signal = true;

  std::vector<std::string> agents;
  for (auto& [id, a] : c.agents) {
    std::vector<std::string> after = {"llm"};
    if (c.memory.enabled) after.push_back("memory");
    for (auto family : per_agent_families)
      if (contains(a.tools.families, family)) after.push_back(fmt::format("tool-{}-{}", family, id));
    if (contains(a.tools.families, "web")) after.push_back("tool-web");
    auto* s = add("agent-" + id, "weft-agent", ipc::addr::agent(id), std::move(after));
    s->env = {{"WEFT_AGENT", id}, {"WEFT_WORKSPACE", workspace_of(c, a)}};
    agents.push_back(s->name);
  }
  add("router", "weft-router", "router", agents);
  if (c.channels.telegram)
    add("chan-telegram", "weft-chan-telegram", "chan/telegram", {"router"})->enabled = c.channels.telegram->enabled;
  if (c.channels.web)
    add("chan-web", "weft-chan-web", "chan/web", {"router"})->enabled = c.channels.web->enabled;
  // weft as an MCP server, calling tools as agent/<agent>/mcp.
  if (c.mcp && c.mcp->enabled && c.agents.count(c.mcp->agent))
    add("mcp", "weft-mcp", ipc::addr::agent_mcp(c.mcp->agent), {"bus"})->env = {{"WEFT_AGENT", c.mcp->agent}};

  // A service gets the environment variables of the sections it owns, those every service
  // gets, and no others.
  for (auto& s : out) add_secret_env(c, s);

  // A [services.<name>] of the same name replaces the derived one.
  std::erase_if(out, [&](const service_spec& d) {
    return std::any_of(c.services.begin(), c.services.end(), [&](const service_spec& s) { return s.name == d.name; });
  });
  return out;
}

std::vector<std::string> tool_process_addresses(const tool_policy& p, std::string_view id) {
  std::vector<std::string> out;
  for (auto& f : p.families)
    out.push_back(contains(per_agent_families, f) ? ipc::addr::tool(f, id) : ipc::addr::tool(f));
  return out;
}

void add_secret_env(const config& c, service_spec& s) {
  // Which providers are usable is no secret; the keys stay with llm.
  std::vector<std::string> ready;
  for (auto& [name, p] : c.providers)
    if (p.enabled) ready.push_back(name);
  if (!ready.empty()) s.env.emplace("WEFT_PROVIDERS_READY", fmt::format("{}", fmt::join(ready, ",")));
  for (auto key : {std::string("*"), s.name})
    if (auto it = c.secret_vars.find(key); it != c.secret_vars.end())
      for (auto& v : it->second)
        if (const char* value = std::getenv(v.c_str())) s.env.emplace(v, value);
}

std::optional<std::string> agent_of_address(std::string_view address) {
  std::vector<std::string_view> seg;
  for (std::size_t start = 0;;) {
    auto slash = address.find('/', start);
    seg.push_back(address.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  std::string_view id;
  if (seg[0] == "agent" && seg.size() >= 2) id = seg[1];
  else if (seg[0] == "tool" && (seg.size() == 3 || seg.size() == 4) && contains(per_agent_families, seg[1])) id = seg[2];
  if (id.empty()) return std::nullopt;
  return std::string(id);
}

}  // namespace weft::service
