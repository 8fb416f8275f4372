// [mcp] (weft as an MCP server) and [tools] ([tools.mcp_servers.<name>], the MCP servers
// the client host connects to): issue 5.
#include "config_check.hh"

#include <unistd.h>

#include <cstdlib>

#include <weft/base/command.hh>

namespace weft::service::detail {

namespace {

constexpr std::size_t max_server_name_chars = 32;

/// MCP server names become the prefix of bus tool names (<name>__<tool>), so they keep to
/// what every LLM provider accepts in a tool name and cannot contain the "__" separator.
bool valid_server_name(std::string_view n) {
  return !n.empty() && n.size() <= max_server_name_chars && lower_alnum(n[0]) &&
         std::all_of(n.begin(), n.end(), [](char c) { return lower_alnum(c) || c == '-'; });
}

std::optional<std::vector<std::string>> read_globs(checker& ck, const toml::table& t, std::string_view label,
                                                   std::string_view key) {
  auto globs = ck.read_strings(t, label, key);
  if (!globs) return globs;
  auto& nodes = *t.get(key)->as_array();
  for (std::size_t i = 0; i < globs->size(); ++i)
    if (!valid_tool_glob((*globs)[i]))
      ck.error(nodes[i].source(), fmt::format("{} {} '{}' is not a tool-name glob: use letters, digits, '_', '.', "
                                              "'-' and '*'",
                                              label, key, clean((*globs)[i])));
  return globs;
}

/// A table of strings (env, headers), `${VAR}`-substituted, each key checked by `valid`.
void read_string_table(checker& ck, const toml::table& t, std::string_view label, std::string_view key,
                       bool (*valid)(std::string_view), std::string_view key_rule,
                       std::map<std::string, std::string>& out) {
  auto* n = t.get(key);
  if (!n) return;
  if (!n->is_table()) {
    ck.error(n->source(), fmt::format("{} {} must be a table of strings, not {}", label, key, a_type(*n)));
    return;
  }
  for (auto& [k, v] : *n->as_table()) {
    std::string name(k.str());
    if (!valid(name))
      ck.error(k.source(), fmt::format("{} {} key '{}' is invalid: {}", label, key, clean(name), key_rule));
    else if (!v.is_string())
      ck.error(v.source(), fmt::format("{} {}.{} must be a string, not {}", label, key, name, a_type(v)));
    else if (auto value = ck.expand(v, fmt::format("{} {}.{}", label, key, name)))
      out[name] = std::move(*value);
  }
}

mcp_server_entry read_server(checker& ck, const std::string& name, const toml::table& t) {
  auto label = fmt::format("[tools.mcp_servers.{}]", name);
  mcp_server_entry e;
  e.name = name;
  e.where = ck.where(t.source());
  ck.check_keys(t, label,
                {"command", "args", "env", "cwd", "url", "headers", "enabled", "call_timeout_ms", "connect_timeout_ms",
                 "era"});
  if (auto command = ck.read_string(t, label, "command")) {
    if (command->empty()) ck.error(t.get("command")->source(), fmt::format("{} command must not be empty", label));
    e.command = *command;
  }
  e.args = ck.read_strings(t, label, "args").value_or(e.args);
  read_string_table(ck, t, label, "env", valid_env_name, "use letters, digits and '_', not starting with a digit",
                    e.env);
  if (auto cwd = ck.read_string(t, label, "cwd")) {
    if (cwd->empty() || cwd->front() != '/')
      ck.error(t.get("cwd")->source(), fmt::format("{} cwd '{}' must be an absolute path", label, clean(*cwd)));
    e.cwd = *cwd;
  }
  if (auto url = ck.read_string(t, label, "url")) {
    if (!http_url(*url))
      ck.error(t.get("url")->source(),
               fmt::format("{} url '{}' is not an http:// or https:// URL, e.g. http://127.0.0.1:3001/mcp", label,
                           clean(*url)));
    e.url = *url;
  }
  read_string_table(ck, t, label, "headers", valid_header_name, "use letters, digits, '-' and '_'", e.headers);
  e.enabled = ck.read_bool(t, label, "enabled").value_or(e.enabled);
  e.call_timeout_ms = ck.read_uint<std::uint32_t>(t, label, "call_timeout_ms", 100, 3600000).value_or(e.call_timeout_ms);
  e.connect_timeout_ms =
      ck.read_uint<std::uint32_t>(t, label, "connect_timeout_ms", 100, 600000).value_or(e.connect_timeout_ms);
  if (auto era = ck.read_string(t, label, "era")) {
    if (mcp_server_entry::valid_era(*era))
      e.era = *era;
    else
      ck.error(t.get("era")->source(),
               fmt::format("{} era '{}' is not one of \"auto\" (ask the server with server/discover), \"legacy\" "
                           "(initialize, 2024-11-05 … 2025-11-25) and \"modern\" (2026-07-28)",
                           label, clean(*era)));
  }

  bool has_command = t.contains("command"), has_url = t.contains("url");
  if (has_command == has_url)
    ck.error(t.source(), fmt::format("{} needs exactly one of 'command' (a program speaking MCP on stdio) and 'url' "
                                     "(a Streamable HTTP endpoint){}",
                                     label, has_command ? ", not both" : ""));
  if (has_url)
    for (auto key : {"args", "env", "cwd"})
      if (auto* n = t.get(key))
        ck.error(n->source(), fmt::format("{} {} applies to a 'command' server, not to one at a 'url'", label, key));
  if (has_command)
    if (auto* n = t.get("headers"))
      ck.error(n->source(), fmt::format("{} headers applies to a 'url' server, not to a 'command'", label));
  return e;
}

}  // namespace

void read_mcp(checker& ck, const toml::table& t, config& c) {
  const std::string label = "[mcp]";
  mcp_serve_settings m;
  m.where = ck.where(t.source());
  ck.check_keys(t, label,
                {"enabled", "agent", "listen", "allowed_origins", "require_token", "allow", "deny", "max_sessions"});
  m.enabled = ck.read_bool(t, label, "enabled").value_or(m.enabled);
  if (auto agent = ck.read_string(t, label, "agent")) {
    m.agent = *agent;
    check_reference(ck, t, label, "agent", *agent, keys_of(c.agents), "an agent in [agents]");
  } else if (!c.routing.default_agent.empty() && c.agents.count(c.routing.default_agent)) {
    m.agent = c.routing.default_agent;
  } else if (c.agents.count("main")) {
    m.agent = "main";
  } else if (!c.agents.empty()) {
    m.agent = c.agents.begin()->first;
  }
  bool listen_ok = true;
  if (auto listen = ck.read_string(t, label, "listen")) {
    m.listen = *listen;
    listen_ok = listen->empty() || valid_listen(*listen);
    if (!listen_ok)
      ck.error(t.get("listen")->source(),
               fmt::format("{} listen '{}' is not host:port with a port from 0 to 65535 (or \"\" for stdio only)",
                           label, clean(*listen)));
  }
  m.require_token = ck.read_bool(t, label, "require_token").value_or(m.require_token);
  if (listen_ok && !m.listen.empty() && !loopback_host(m.listen) && !m.require_token)
    ck.error(t.get("require_token")->source(),
             fmt::format("{} require_token = false with listen '{}', which is not a loopback address: anyone who "
                         "reaches it could run the tools of agent '{}'",
                         label, clean(m.listen), m.agent));
  if (auto origins = ck.read_strings(t, label, "allowed_origins")) {
    auto& nodes = *t.get("allowed_origins")->as_array();
    for (std::size_t i = 0; i < origins->size(); ++i) {
      auto& o = (*origins)[i];
      if (!http_url(o) || o.find('/', o.find("//") + 2) != std::string::npos)
        ck.error(nodes[i].source(), fmt::format("{} allowed_origins '{}' is not an origin like https://example.com "
                                                "or http://127.0.0.1:5173 (scheme, host, optional port, no path)",
                                                label, clean(o)));
    }
    m.allowed_origins = std::move(*origins);
  }
  m.allow = read_globs(ck, t, label, "allow").value_or(m.allow);
  m.deny = read_globs(ck, t, label, "deny").value_or(m.deny);
  m.max_sessions = ck.read_uint<std::uint32_t>(t, label, "max_sessions", 1, 1024).value_or(m.max_sessions);
  if (m.enabled && m.agent.empty()) {
    ck.warning(t.source(), fmt::format("{} has no agent to act as (there is no [agents] table); weft's MCP server "
                                       "will not run.",
                                       label));
    m.enabled = false;
  }
  // The bus checks calls from agent/<id>/mcp against the agent's own policy and this one.
  if (!m.agent.empty()) {
    tool_policy p;
    p.allow = m.allow;
    p.deny = m.deny;
    p.families.clear();
    p.where = m.where;
    c.bus.agent_tools[m.agent + "/mcp"] = std::move(p);
  }
  c.mcp = std::move(m);
}

namespace {

/// [tools.calendar]: the zone, and the accounts with the agents that may use each.
void read_calendar(checker& ck, const toml::node& n, config& c) {
  auto* t = n.as_table();
  if (!t) {
    ck.error(n.source(), fmt::format("[tools] calendar must be a table ([tools.calendar]), not {}", a_type(n)));
    return;
  }
  const std::string label = "[tools.calendar]";
  auto& cal = c.tools.calendar;
  cal.where = ck.where(t->source());
  ck.check_keys(*t, label, {"timezone", "accounts"});
  if (auto tz = ck.read_string(*t, label, "timezone")) {
    // An IANA name: Area/Location, or UTC.
    bool plausible = *tz == "UTC" || (tz->find('/') != std::string::npos && tz->find("..") == std::string::npos &&
                                      std::all_of(tz->begin(), tz->end(), [](unsigned char ch) {
                                        return std::isalnum(ch) || ch == '/' || ch == '_' || ch == '-' || ch == '+';
                                      }));
    if (!plausible)
      ck.error(t->get("timezone")->source(), fmt::format("{} timezone must be an IANA name such as Europe/Berlin, not '{}'",
                                                         label, clean(*tz)));
    else
      cal.timezone = *tz;
  }
  auto* a = t->get("accounts");
  if (!a) return;
  auto* at = a->as_table();
  if (!at) {
    ck.error(a->source(), fmt::format("{} accounts must be a table ([tools.calendar.accounts.<name>]), not {}", label, a_type(*a)));
    return;
  }
  // Passwords reach tool-calendar alone.
  ck.track_env(&c.secret_vars["tool-calendar"]);
  for (auto [k, v] : in_file_order(*at)) {
    std::string name(k->str());
    auto alabel = fmt::format("[tools.calendar.accounts.{}]", clean(name));
    auto* e = v->as_table();
    if (!valid_server_name(name) || !e) {
      ck.error(k->source(), fmt::format("{} must be a table named with a-z, 0-9 and '-'", alabel));
      continue;
    }
    calendar_account_settings acc;
    acc.name = name;
    acc.where = ck.where(e->source());
    ck.check_keys(*e, alabel, {"kind", "url", "username", "password", "agents", "oauth2_account", "path"});
    constexpr std::array<std::pair<std::string_view, int>, 4> kinds = {std::pair{"caldav", 0}, std::pair{"google", 1},
                                                                       std::pair{"graph", 2}, std::pair{"ics", 3}};
    if (auto k = ck.read_enum(*e, alabel, "kind", kinds)) acc.kind = std::string(kinds[static_cast<std::size_t>(*k)].first);
    if (acc.kind == "ics") {
      // Local files: a path, and none of a server's keys.
      for (auto key : {"url", "username", "password", "oauth2_account"})
        if (auto* n = e->get(key)) ck.error(n->source(), fmt::format("{} (ics) takes path, not {}", alabel, key));
      if (auto p = ck.read_string(*e, alabel, "path")) {
        if (p->empty() || (*p)[0] != '/')
          ck.error(e->get("path")->source(), fmt::format("{} path must be an absolute path, not '{}'", alabel, clean(*p)));
        else
          acc.path = *p;
      } else if (!e->contains("path")) {
        ck.error(e->source(), fmt::format("{} (ics) needs path (a directory of .ics files, or one .ics file)", alabel));
      }
    } else {
      if (auto* n = e->get("path")) ck.error(n->source(), fmt::format("{} path is for kind = \"ics\" (local files)", alabel));
      if (auto u = ck.read_string(*e, alabel, "url")) {
        if (u->rfind("https://", 0) != 0 && u->rfind("http://", 0) != 0)
          ck.error(e->get("url")->source(), fmt::format("{} url must be an http(s) URL, not '{}'", alabel, clean(*u)));
        else if (!secure_url(*u))
          ck.error(e->get("url")->source(), fmt::format("{} url must be https:// (http:// only to this machine: it carries the "
                                                        "password or tokens), not '{}'", alabel, clean(*u)));
        acc.url = *u;
        if (acc.kind == "caldav" && !acc.url.empty() && acc.url.back() != '/') acc.url += '/';
      } else if (acc.kind == "google") {
        acc.url = "https://www.googleapis.com/calendar/v3";
      } else if (acc.kind == "graph") {
        acc.url = "https://graph.microsoft.com/v1.0";
      } else {
        ck.error(e->source(), fmt::format("{} needs url (the account's home collection, e.g. https://dav.example/alice/)", alabel));
      }
      if (auto oa = ck.read_string(*e, alabel, "oauth2_account")) acc.oauth2_account = *oa;
      else if (acc.kind == "google" || acc.kind == "graph")
        ck.error(e->source(), fmt::format("{} ({}) needs oauth2_account: the [oauth2] account whose tokens it uses", alabel,
                                          acc.kind));
      if (auto u = ck.read_string(*e, alabel, "username")) acc.username = *u;
      if (auto p = ck.read_string(*e, alabel, "password")) acc.password = *p;
    }
    if (auto ag = ck.read_strings(*e, alabel, "agents")) {
      for (auto& id : *ag)
        if (!c.agents.count(id))
          ck.error(e->get("agents")->source(), fmt::format("{} agents names '{}', which is no agent of [agents]", alabel, clean(id)));
      acc.agents = std::move(*ag);
    } else {
      ck.error(e->source(), fmt::format("{} needs agents (which agents' calendar tools may use it)", alabel));
    }
    cal.accounts[name] = std::move(acc);
  }
  ck.track_env(&c.secret_vars["tool-mcp"]);  // back to what read_tools tracks
}

/// [tools.web_search]: the search provider of tool-web, whose key reaches tool-web alone.
void read_web_search(checker& ck, const toml::node& n, config& c) {
  auto* t = n.as_table();
  if (!t) {
    ck.error(n.source(), fmt::format("[tools] web_search must be a table ([tools.web_search]), not {}", a_type(n)));
    return;
  }
  const std::string label = "[tools.web_search]";
  auto& w = c.tools.web_search;
  w.configured = true;
  w.where = ck.where(t->source());
  ck.track_env(&c.secret_vars["tool-web"]);
  ck.check_keys(*t, label, {"provider", "base_url", "api_key", "results_path", "max_results", "timeout_ms", "allow_private"});
  constexpr std::array<std::pair<std::string_view, int>, 4> providers = {
      std::pair{"searxng", 0}, std::pair{"brave", 1}, std::pair{"tavily", 2}, std::pair{"json", 3}};
  if (auto p = ck.read_enum(*t, label, "provider", providers)) w.provider = std::string(providers[static_cast<std::size_t>(*p)].first);
  if (auto k = ck.read_string(*t, label, "api_key")) w.api_key = *k;
  bool keyed = w.provider == "brave" || w.provider == "tavily";
  if (keyed && !t->contains("api_key"))
    ck.error(t->source(), fmt::format("{} ({}) needs api_key, e.g. \"${{{}_API_KEY}}\"", label, w.provider,
                                      w.provider == "brave" ? "BRAVE" : "TAVILY"));
  if (auto u = ck.read_string(*t, label, "base_url")) {
    auto* at = t->get("base_url");
    if (!http_url(*u)) {
      ck.error(at->source(), fmt::format("{} base_url must be an http(s) URL, not '{}'", label, clean(*u)));
    } else if (t->contains("api_key") && !secure_url(*u)) {
      ck.error(at->source(), fmt::format("{} base_url must be https:// (http:// only to this machine: it carries the "
                                         "api_key), not '{}'", label, clean(*u)));
    } else if (w.provider == "json" && u->find("{query}") == std::string::npos) {
      ck.error(at->source(), fmt::format("{} base_url of provider \"json\" must be a URL template with {{query}} "
                                         "(e.g. 'https://search.example/api?q={{query}}&n={{count}}'), not '{}'",
                                         label, clean(*u)));
    }
    w.base_url = *u;
    if (w.provider != "json")
      while (!w.base_url.empty() && w.base_url.back() == '/') w.base_url.pop_back();
  } else if (w.provider == "brave") {
    w.base_url = "https://api.search.brave.com";
  } else if (w.provider == "tavily") {
    w.base_url = "https://api.tavily.com";
  } else if (!t->contains("base_url")) {
    ck.error(t->source(), fmt::format("{} ({}) needs base_url ({})", label, w.provider,
                                      w.provider == "json" ? "a URL template with {query}"
                                                           : "your SearXNG instance, e.g. 'http://127.0.0.1:8888'"));
  }
  if (auto r = ck.read_string(*t, label, "results_path")) {
    if (w.provider != "json")
      ck.error(t->get("results_path")->source(), fmt::format("{} results_path is for provider = \"json\"", label));
    else if (!r->empty() && r->front() != '/')
      ck.error(t->get("results_path")->source(),
               fmt::format("{} results_path must be a JSON pointer such as '/results' or '/data/items', not '{}'",
                           label, clean(*r)));
    else
      w.results_path = *r;
  }
  w.max_results = ck.read_uint(*t, label, "max_results", 1u, 20u).value_or(w.max_results);
  w.timeout_ms = ck.read_uint(*t, label, "timeout_ms", std::uint32_t{1000}, std::uint32_t{120000}).value_or(w.timeout_ms);
  w.allow_private = ck.read_bool(*t, label, "allow_private").value_or(false);
  ck.track_env(&c.secret_vars["tool-mcp"]);  // back to what read_tools tracks
}

}  // namespace

void read_tools(checker& ck, const toml::table& t, config& c) {
  ck.check_keys(t, "[tools]", {"mcp_servers", "git", "cargo", "code", "calendar", "email", "forges", "web_search"});
  if (auto* n = t.get("web_search")) read_web_search(ck, *n, c);
  if (auto* n = t.get("calendar")) read_calendar(ck, *n, c);
  if (auto* n = t.get("email")) read_email(ck, *n, c);
  if (auto* n = t.get("forges")) {
    // Forge tokens reach tool-forge alone.
    ck.track_env(&c.secret_vars["tool-forge"]);
    if (auto* ft = n->as_table()) {
      for (auto [k, v] : in_file_order(*ft)) {
        std::string name(k->str());
        auto label = fmt::format("[tools.forges.{}]", clean(name));
        auto* e = v->as_table();
        if (!valid_server_name(name) || !e) {
          ck.error(k->source(), fmt::format("{} must be a table named with a-z, 0-9 and '-'", label));
          continue;
        }
        forge_settings f;
        f.name = name;
        f.where = ck.where(e->source());
        ck.check_keys(*e, label, {"kind", "api", "token", "git", "git_user"});
        constexpr std::array<std::pair<std::string_view, int>, 3> kinds = {
            std::pair{"github", 0}, std::pair{"gitea", 1}, std::pair{"gitlab", 2}};
        if (auto k2 = ck.read_enum(*e, label, "kind", kinds)) f.kind = std::string(kinds[static_cast<std::size_t>(*k2)].first);
        else if (!e->contains("kind")) ck.error(e->source(), fmt::format("{} needs kind (github, gitea or gitlab)", label));
        if (auto api = ck.read_string(*e, label, "api")) {
          if (api->rfind("https://", 0) != 0 && api->rfind("http://", 0) != 0)
            ck.error(e->get("api")->source(), fmt::format("{} api must be an http(s) URL, not '{}'", label, clean(*api)));
          f.api = *api;
          while (!f.api.empty() && f.api.back() == '/') f.api.pop_back();
        } else if (!e->contains("api")) {
          ck.error(e->source(), fmt::format("{} needs api (e.g. https://api.github.com)", label));
        }
        if (auto tok = ck.read_string(*e, label, "token")) f.token = *tok;
        if (auto g = ck.read_strings(*e, label, "git")) {
          for (auto& u : *g) {
            auto authority = u.substr(u.find("://") == std::string::npos ? 0 : u.find("://") + 3);
            authority = authority.substr(0, authority.find('/'));
            if ((u.rfind("https://", 0) != 0 && u.rfind("http://", 0) != 0) || authority.empty() ||
                authority.find('@') != std::string::npos)
              ck.error(e->get("git")->source(), fmt::format("{} git must list http(s) URL prefixes (scheme, host, "
                                                            "path; no user), not '{}'", label, clean(u)));
          }
          f.git = std::move(*g);
        }
        if (auto u = ck.read_string(*e, label, "git_user")) f.git_user = *u;
        c.tools.forges[name] = std::move(f);
      }
    } else {
      ck.error(n->source(), fmt::format("[tools] forges must be a table of forges ([tools.forges.<name>]), not {}",
                                        a_type(*n)));
    }
    ck.track_env(&c.secret_vars["tool-mcp"]);
  }
  if (auto* n = t.get("cargo")) {
    if (auto* ct = n->as_table()) {
      const std::string label = "[tools.cargo]";
      ck.check_keys(*ct, label, {"cargo", "timeout_ms"});
      c.tools.cargo.where = ck.where(ct->source());
      if (auto p = ck.read_string(*ct, label, "cargo")) {
        if (p->empty() || p->front() != '/')
          ck.error(ct->get("cargo")->source(), fmt::format("{} cargo must be an absolute path, not '{}'", label, clean(*p)));
        else
          c.tools.cargo.cargo = *p;
      }
      c.tools.cargo.timeout_ms = ck.read_uint(*ct, label, "timeout_ms", std::uint32_t{1000}, std::uint32_t{86400000})
                                     .value_or(c.tools.cargo.timeout_ms);
    } else {
      ck.error(n->source(), fmt::format("[tools] cargo must be a table ([tools.cargo]), not {}", a_type(*n)));
    }
  }
  if (auto* n = t.get("code")) {
    if (auto* ct = n->as_table()) {
      const std::string label = "[tools.code]";
      ck.check_keys(*ct, label, {"max_file_bytes", "lsp_idle_ms", "lsp"});
      c.tools.code.where = ck.where(ct->source());
      c.tools.code.max_file_bytes = ck.read_uint(*ct, label, "max_file_bytes", std::uint64_t{1024}, std::uint64_t{1} << 30)
                                        .value_or(c.tools.code.max_file_bytes);
      c.tools.code.lsp_idle_ms = ck.read_uint(*ct, label, "lsp_idle_ms", std::uint32_t{1000}, std::uint32_t{86400000})
                                     .value_or(c.tools.code.lsp_idle_ms);
      if (auto* l = ct->get("lsp")) {
        if (auto* lt = l->as_table()) {
          c.tools.code.lsp_given = true;
          constexpr std::array<std::string_view, 8> langs = {"c", "cpp", "python", "javascript", "typescript", "tsx", "rust", "go"};
          for (auto [k, v] : in_file_order(*lt)) {
            std::string lang(k->str());
            if (std::find(langs.begin(), langs.end(), lang) == langs.end()) {
              ck.error(k->source(), fmt::format("[tools.code.lsp] '{}' is not a language the code tools know (c, cpp, python, "
                                                "javascript, typescript, tsx, rust, go)", clean(lang)));
              continue;
            }
            auto cmd = ck.read_strings(*lt, "[tools.code.lsp]", lang);
            if (!cmd) continue;
            if (!cmd->empty()) {
              const char* path = std::getenv("PATH");
              auto& prog = cmd->front();
              bool found = prog.find('/') == std::string::npos
                               ? find_executable(prog, path && *path ? path : "/usr/local/bin:/usr/bin:/bin").has_value()
                               : ::access(prog.c_str(), X_OK) == 0;
              if (!found)
                ck.warning(v->source(), fmt::format("[tools.code.lsp] {}: '{}' is not an executable here (absolute, or on "
                                                    "PATH); {} files get no language server", lang, clean(prog), lang));
            }
            c.tools.code.lsp[lang] = std::move(*cmd);
          }
        } else {
          ck.error(l->source(), fmt::format("{} lsp must be a table of commands by language ([tools.code.lsp] cpp = "
                                            "[\"clangd\"]), not {}", label, a_type(*l)));
        }
      }
    } else {
      ck.error(n->source(), fmt::format("[tools] code must be a table ([tools.code]), not {}", a_type(*n)));
    }
  }
  if (auto* g = t.get("git")) {
    if (auto* gt = g->as_table()) {
      const std::string label = "[tools.git]";
      ck.check_keys(*gt, label, {"author"});
      c.tools.git.where = ck.where(gt->source());
      if (auto a = ck.read_string(*gt, label, "author")) {
        auto lt = a->find('<'), gt_at = a->find('>');
        if (lt == std::string::npos || lt == 0 || gt_at == std::string::npos || gt_at < lt + 2 || gt_at + 1 != a->size())
          ck.error(gt->get("author")->source(),
                   fmt::format("{} author must be 'Name <email>', not '{}'", label, clean(*a)));
        else
          c.tools.git.author = *a;
      }
    } else {
      ck.error(g->source(), fmt::format("[tools] git must be a table ([tools.git]), not {}", a_type(*g)));
    }
  }
  auto* n = t.get("mcp_servers");
  if (!n) return;
  auto* servers = n->as_table();
  if (!servers) {
    ck.error(n->source(), fmt::format("[tools] mcp_servers must be a table of servers ([tools.mcp_servers.<name>]), "
                                      "not {}",
                                      a_type(*n)));
    return;
  }
  for (auto [k, v] : in_file_order(*servers)) {
    std::string name(k->str());
    if (!valid_server_name(name)) {
      ck.error(k->source(), fmt::format("MCP server name '{}' is invalid: use 1 to {} of a-z, 0-9 and '-', starting "
                                        "with a letter or digit (its tools are named <name>__<tool>)",
                                        clean(name), max_server_name_chars));
      continue;
    }
    auto* st = v->as_table();
    if (!st) {
      ck.error(v->source(), fmt::format("[tools.mcp_servers.{}] must be a table, not {}", name, a_type(*v)));
      continue;
    }
    c.tools.mcp_servers[name] = read_server(ck, name, *st);
  }
}

void finish_secret_vars(config& c) {
  auto& llm = c.secret_vars["llm"];
  for (auto& [name, p] : c.providers)
    if (!p.api_key_env.empty() && std::find(llm.begin(), llm.end(), p.api_key_env) == llm.end())
      llm.push_back(p.api_key_env);
  std::erase_if(c.secret_vars, [](auto& kv) { return kv.second.empty(); });
}

}  // namespace weft::service::detail
