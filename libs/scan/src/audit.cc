// The configuration and filesystem checks (CFG-*, FS-*): the config as libs/service loads
// it (lenient about unset ${VAR}s: the scan needs no secrets), the raw TOML for what the
// loader resolves away (literal secrets vs ${VAR}, the families as written), and lstat of
// $WEFT_HOME's files. Permission fixes are planned beside the findings.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include <weft/scan/audit.hh>
#include <weft/scan/runtime.hh>
#include <weft/service/config.hh>
#include <weft/service/paths.hh>
#include <weft/service/policy.hh>

namespace weft::scan {

namespace fs = std::filesystem;

namespace {

bool loopback(std::string_view listen) {
  auto host = listen.substr(0, listen.rfind(':'));
  return host == "localhost" || host == "[::1]" || host.substr(0, 4) == "127.";
}

std::string upper(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return o;
}

bool secret_name(std::string_view name) {
  auto u = upper(name);
  for (auto w : {"KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "AUTH", "CREDENTIAL", "COOKIE"})
    if (u.find(w) != std::string::npos) return true;
  return false;
}

/// Finds for one config: the parsed config, the raw tree, and where findings go.
class config_checks {
 public:
  config_checks(const service::config& c, const toml::table& raw, const std::string& source)
      : _c(c), _raw(raw), _source(source) {}

  std::vector<finding> run() {
    inline_secrets();
    exposure();
    tool_policies();
    mcp_servers();
    delegation();
    services();
    providers();
    return std::move(_out);
  }
  /// The literal secrets run() found, for --fix.
  std::vector<inline_secret> secrets() { return std::move(_secrets); }

 private:
  const service::config& _c;
  std::vector<inline_secret> _secrets;
  const toml::table& _raw;
  const std::string& _source;
  std::vector<finding> _out;

  /// line of a "file:line:col" string
  static std::uint32_t line_of(const std::string& where) {
    auto a = where.find(':');
    if (a == std::string::npos) return 0;
    try {
      return static_cast<std::uint32_t>(std::stoul(where.substr(a + 1)));
    } catch (...) {
      return 0;
    }
  }
  void add(std::string_view id, std::uint32_t line, std::string msg) {
    auto* r = find_rule(id);
    _out.push_back(finding{r, _source, line, std::string(r->title) + ": " + msg, 0});
  }

  const toml::table* table_at(std::initializer_list<std::string_view> path) const {
    const toml::table* t = &_raw;
    for (auto k : path) {
      auto* n = t->get(k);
      if (!n || !n->is_table()) return nullptr;
      t = n->as_table();
    }
    return t;
  }
  static bool literal(const toml::node* n) {
    if (!n || !n->is_string()) return false;
    auto& s = n->as_string()->get();
    return !s.empty() && s.find("${") == std::string::npos;
  }
  using keys = std::vector<std::string>;
  static keys plus(keys p, std::string k) {
    p.push_back(std::move(k));
    return p;
  }
  static std::string label_of(const keys& p) {
    std::string l;
    for (auto& k : p) l += (l.empty() ? "" : ".") + k;
    return "[" + l + "]";
  }
  /// A literal secret: the finding, and where it is for --fix.
  void secret(std::string_view id, const toml::node& v, keys path, std::string msg) {
    add(id, v.source().begin.line, std::move(msg));
    _secrets.push_back(inline_secret{std::string(id), std::move(path), v.source().begin.line});
  }
  void literal_key(const toml::table* t, std::string_view key, const keys& path) {
    if (!t) return;
    auto* n = t->get(key);
    if (literal(n)) secret("CFG-002", *n, plus(path, std::string(key)), fmt::format("{} {} is written in the file", label_of(path), key));
  }
  /// Each sub-table of `path` (e.g. providers.<name>).
  template <class F>
  void each(std::initializer_list<std::string_view> path, F f) const {
    if (auto* t = table_at(path))
      for (auto& [k, v] : *t)
        if (v.is_table()) {
          keys p(path.begin(), path.end());
          p.emplace_back(k.str());
          f(p, *v.as_table());
        }
  }

  void inline_secrets() {
    each({"providers"}, [&](const keys& p, const toml::table& t) {
      literal_key(&t, "api_key", p);
      headers(t, p);
    });
    literal_key(table_at({"channels", "telegram"}), "token", {"channels", "telegram"});
    literal_key(table_at({"channels", "telegram"}), "webhook_secret", {"channels", "telegram"});
    literal_key(table_at({"channels", "web"}), "auth_token", {"channels", "web"});
    each({"tools", "forges"}, [&](const keys& p, const toml::table& t) { literal_key(&t, "token", p); });
    each({"tools", "calendar", "accounts"}, [&](const keys& p, const toml::table& t) { literal_key(&t, "password", p); });
    each({"tools", "email", "accounts"}, [&](const keys& p, const toml::table& t) { literal_key(&t, "password", p); });
    literal_key(table_at({"tools", "web_search"}), "api_key", {"tools", "web_search"});
    each({"oauth2", "providers"}, [&](const keys& p, const toml::table& t) { literal_key(&t, "client_secret", p); });
    each({"tools", "mcp_servers"}, [&](const keys& p, const toml::table& t) {
      headers(t, p);
      if (auto* env = t.get("env"); env && env->is_table())
        for (auto& [k, v] : *env->as_table())
          if (secret_name(k.str()) && literal(&v))
            secret("CFG-003", v, plus(plus(p, "env"), std::string(k.str())),
                   fmt::format("{} env {} is written in the file", label_of(p), k.str()));
    });
  }
  void headers(const toml::table& t, const keys& p) {
    auto* h = t.get("headers");
    if (!h || !h->is_table()) return;
    for (auto& [k, v] : *h->as_table())
      if (secret_name(k.str()) && literal(&v))
        secret("CFG-003", v, plus(plus(p, "headers"), std::string(k.str())),
               fmt::format("{} header {} is written in the file", label_of(p), k.str()));
  }

  bool given(std::initializer_list<std::string_view> path, std::string_view key) const {
    auto* t = table_at(path);
    auto* n = t ? t->get(key) : nullptr;
    return n && n->is_string() && !n->as_string()->get().empty();
  }

  void exposure() {
    if (auto& w = _c.channels.web; w && w->enabled) {
      if (!loopback(w->listen)) add("CFG-004", line_of(w->where), fmt::format("listen '{}'", w->listen));
      if (!w->auth_token.empty() && w->auth_token.size() < 32)
        add("CFG-005", line_of(w->where), fmt::format("[channels.web] auth_token has {} characters", w->auth_token.size()));
    }
    if (auto& t = _c.channels.telegram; t && t->enabled) {
      if (!t->webhook_secret.empty() && t->webhook_secret.size() < 32)
        add("CFG-005", line_of(t->where),
            fmt::format("[channels.telegram] webhook_secret has {} characters", t->webhook_secret.size()));
      if (t->mode == "webhook" && !loopback(t->webhook_listen) && !given({"channels", "telegram"}, "webhook_secret"))
        add("CFG-008", line_of(t->where), fmt::format("webhook_listen '{}' and no webhook_secret", t->webhook_listen));
      if (auto agent = fallback_agent(); agent && can_exec(_c.agents.at(*agent)))
        add("CFG-011", line_of(t->where),
            fmt::format("any Telegram user reaches agent '{}', which may run exec", *agent));
    }
    if (auto& m = _c.mcp; m && m->enabled) {
      if (!m->listen.empty() && !loopback(m->listen)) add("CFG-006", line_of(m->where), fmt::format("listen '{}'", m->listen));
      if (!m->listen.empty() && !m->require_token) add("CFG-007", line_of(m->where), "require_token = false");
    }
  }

  /// The agent a message from an unknown sender reaches (the router's fallback).
  std::optional<std::string> fallback_agent() const {
    if (!_c.routing.default_agent.empty())
      return _c.agents.count(_c.routing.default_agent) ? std::optional(_c.routing.default_agent) : std::nullopt;
    if (_c.agents.size() == 1) return _c.agents.begin()->first;
    if (_c.agents.count("main")) return std::string("main");
    return std::nullopt;
  }
  static bool has(const std::vector<std::string>& v, std::string_view s) { return std::find(v.begin(), v.end(), s) != v.end(); }
  static bool can_exec(const service::agent_settings& a) {
    return has(a.tools.families, "shell") && service::tool_allowed(a.tools, "exec");
  }

  void tool_policies() {
    for (auto& [id, a] : _c.agents) {
      auto& p = a.tools;
      if (has(p.allow, "*") && p.deny.empty() && has(p.families, "shell") &&
          a.network == service::tool_network::public_internet)
        add("CFG-009", line_of(a.where), fmt::format("agent '{}'", id));
      bool fs_denied = !has(p.families, "fs");
      for (auto t : {"read_file", "write_file", "edit_file", "list_dir"})
        if (!service::tool_allowed(p, t)) fs_denied = true;
      if (fs_denied && can_exec(a))
        add("CFG-010", line_of(p.where.empty() ? a.where : p.where),
            fmt::format("agent '{}' may not use some file tools but may run exec", id));
    }
  }

  void mcp_servers() {
    std::set<std::string> weft_vars;
    for (auto& p : service::provider_table())
      if (!p.api_key_env.empty()) weft_vars.insert(p.api_key_env);
    for (auto& [n, p] : _c.providers)
      if (!p.api_key_env.empty()) weft_vars.insert(p.api_key_env);
    for (auto& [svc, vars] : _c.secret_vars)
      if (svc != "tool-mcp" && svc != "*")
        for (auto& v : vars) weft_vars.insert(v);
    each({"tools", "mcp_servers"}, [&](const keys& p, const toml::table& t) {
      auto& n = p.back();
      auto label = fmt::format("[tools.mcp_servers.{}]", n);
      if (auto* env = t.get("env"); env && env->is_table())
        for (auto& [k, v] : *env->as_table()) {
          if (!v.is_string()) continue;
          auto& s = v.as_string()->get();
          for (std::size_t p = 0; (p = s.find("${", p)) != std::string::npos; p += 2) {
            auto e = s.find_first_of(":}", p + 2);
            auto var = s.substr(p + 2, e == std::string::npos ? std::string::npos : e - p - 2);
            // WEFT_SECRET_* is what --fix names a moved secret: weft's own when another
            // section uses it too (then it is in weft_vars), the server's when only it does.
            if (weft_vars.count(var) || (var.rfind("WEFT_", 0) == 0 && var.rfind("WEFT_SECRET_", 0) != 0))
              add("CFG-013", v.source().begin.line, fmt::format("{} env {} = \"${{{}}}\"", label, k.str(), var));
          }
        }
    });
    for (auto& [n, s] : _c.tools.mcp_servers) {
      auto prog = fs::path(s.command).filename().string();
      std::vector<std::string> a = s.args;
      bool runner = prog == "npx" || prog == "bunx" || prog == "uvx" || prog == "pipx" ||
                    ((prog == "pnpm" || prog == "yarn") && !a.empty() && a[0] == "dlx");
      if (!runner) continue;
      bool python = prog == "uvx" || prog == "pipx";
      // The package is the first argument that is not an option (after dlx / run / --from's value).
      std::string pkg;
      for (std::size_t i = 0; i < a.size(); ++i) {
        auto& x = a[i];
        if (x == "dlx" || x == "run") continue;
        if (x == "--from" || x == "--package" || x == "-p") {
          if (i + 1 < a.size()) pkg = a[i + 1];
          break;
        }
        if (!x.empty() && x[0] == '-') continue;
        pkg = x;
        break;
      }
      bool pinned = python ? pkg.find("==") != std::string::npos
                           : pkg.find('@', pkg[0] == '@' ? 1 : 0) != std::string::npos &&
                                 pkg.substr(pkg.rfind('@') + 1) != "latest";
      if (!pinned) add("CFG-012", line_of(s.where), fmt::format("{} {}", prog, pkg.empty() ? "(no package)" : pkg));
    }
  }

  void delegation() {
    if (!_c.delegation.claude_enabled) return;
    // The families as written: the loader drops "delegate" where Claude Code is not installed.
    for (auto& [id, a] : _c.agents) {
      std::vector<std::string> families = service::tool_policy{}.families;
      if (auto* t = table_at({"agents", id, "tools"}); t)
        if (auto* f = t->get("families"); f && f->is_array()) {
          families.clear();
          for (auto& x : *f->as_array())
            if (x.is_string()) families.push_back(x.as_string()->get());
        }
      if (has(families, "delegate") && a.budget_usd <= 0)
        add("CFG-014", line_of(a.where), fmt::format("agent '{}' has budget_usd = 0 (unlimited)", id));
    }
  }

  void services() {
    for (auto& s : _c.services)
      for (auto& f : sandboxed_tool_families())
        for (auto& [id, a] : _c.agents)
          if (s.name == fmt::format("tool-{}-{}", f, id))
            add("CFG-015", line_of(s.where), fmt::format("[services.{}]", s.name));
  }

  void providers() {
    for (auto& [n, p] : _c.providers) {
      if (p.api_key.empty() && p.api_key_env.empty()) continue;
      if (p.base_url.rfind("http://", 0) != 0) continue;
      auto rest = std::string_view(p.base_url).substr(7);
      auto host = rest.substr(0, rest.find('/'));
      if (!loopback(std::string(host) + (host.find(':') == std::string_view::npos ? ":0" : "")))
        add("CFG-016", line_of(p.where), fmt::format("[providers.{}] base_url '{}'", n, p.base_url));
    }
  }
};

// ------------------------------------------------------------------------- filesystem

struct stat_result {
  bool ok = false;
  struct stat st {};
};
stat_result lstat_of(const std::string& p) {
  stat_result r;
  r.ok = ::lstat(p.c_str(), &r.st) == 0;
  return r;
}

std::string mode_str(mode_t m) { return fmt::format("{:04o}", static_cast<unsigned>(m & 07777)); }

class home_checks {
 public:
  home_checks(std::string home, std::string config, std::vector<fix>& fixes)
      : _home(std::move(home)), _config(std::move(config)), _fixes(fixes) {}

  std::vector<finding> run() {
    auto h = lstat_of(_home);
    if (!h.ok) return {};
    if (h.st.st_mode & 077)
      add("FS-001", _home, fmt::format("mode {}", mode_str(h.st.st_mode)), set_mode(0700, h.st.st_mode));
    owner(_home, h.st);
    for (auto rel : {"keys/witness.key", "oauth2/store.key"}) private_file("FS-002", _home + "/" + rel);
    for (auto rel : {"oauth2/tokens.sealed", "mcp/http.token"}) private_file("FS-003", _home + "/" + rel);
    if (!_config.empty()) {
      if (auto c = lstat_of(_config); c.ok) {
        owner(_config, c.st);
        if (c.st.st_mode & 022)
          add("FS-004", _config, fmt::format("mode {}", mode_str(c.st.st_mode)), set_mode(0600, c.st.st_mode));
        else if (c.st.st_mode & 044)
          add("FS-005", _config, fmt::format("mode {}", mode_str(c.st.st_mode)), set_mode(0600, c.st.st_mode));
        auto dir = fs::path(_config).parent_path().string();
        if (auto d = lstat_of(dir); d.ok && (d.st.st_mode & 022) && !(d.st.st_mode & S_ISVTX))
          add("FS-004", dir, fmt::format("directory of the config, mode {}", mode_str(d.st.st_mode)),
              clear_bits(022, false, d.st.st_mode));
      }
    }
    for (auto rel : {"agents", "memory"}) tree("FS-006", _home + "/" + rel, 007, 004);
    if (auto a = lstat_of(_home + "/audit"); a.ok && (a.st.st_mode & 022))
      add("FS-009", _home + "/audit", fmt::format("mode {}", mode_str(a.st.st_mode)), set_mode(0700, a.st.st_mode));
    return std::move(_out);
  }

  /// FS-007 over skill folders.
  std::vector<finding> skills(const std::vector<std::string>& dirs) {
    for (auto& d : dirs) tree("FS-007", d, 022, 022);
    return std::move(_out);
  }

 private:
  std::string _home, _config;
  std::vector<fix>& _fixes;
  std::vector<finding> _out;

  std::optional<fix> set_mode(mode_t m, mode_t was) {
    return fix{"", "", fmt::format("chmod {} (was {})", mode_str(m), mode_str(was)), static_cast<int>(m), 0, false};
  }
  std::optional<fix> clear_bits(unsigned bits, bool recursive, mode_t was) {
    auto who = std::string(bits & 070 ? "g" : "") + (bits & 07 ? "o" : "");
    auto what = std::string(bits & 044 ? "r" : "") + (bits & 022 ? "w" : "") + (bits & 011 ? "x" : "");
    return fix{"", "", fmt::format("chmod {}{}-{}{}", recursive ? "-R " : "", who, what,
                                   recursive ? "" : fmt::format(" (was {})", mode_str(was))),
               -1, bits, recursive};
  }
  void add(std::string_view id, const std::string& path, std::string msg, std::optional<fix> f) {
    auto* r = find_rule(id);
    _out.push_back(finding{r, path, 0, std::string(r->title) + ": " + msg, 0});
    if (f) {
      f->rule = std::string(id);
      f->path = path;
      _fixes.push_back(std::move(*f));
    }
  }
  /// $WEFT_HOME belongs to whoever scans (root excepted: it may scan anyone's); what is in it
  /// belongs to $WEFT_HOME's owner, the user weft runs as.
  void owner(const std::string& path, const struct stat& st) {
    if (path == _home) {
      _home_uid = st.st_uid;
      auto me = ::geteuid();
      if (me != 0 && st.st_uid != me)
        add("FS-008", path, fmt::format("owned by uid {}, scanning as uid {}", st.st_uid, me), std::nullopt);
      return;
    }
    if (_home_uid && st.st_uid != *_home_uid && st.st_uid != 0)
      add("FS-008", path, fmt::format("owned by uid {}, $WEFT_HOME by uid {}", st.st_uid, *_home_uid), std::nullopt);
  }
  std::optional<uid_t> _home_uid;
  void private_file(std::string_view id, const std::string& path) {
    auto s = lstat_of(path);
    if (!s.ok || !S_ISREG(s.st.st_mode)) return;
    owner(path, s.st);
    if (s.st.st_mode & 077) add(id, path, fmt::format("mode {}", mode_str(s.st.st_mode)), set_mode(0600, s.st.st_mode));
  }
  /// Files and folders under `root` (bounded) with any of `file_bits` (files) or
  /// `dir_bits`… reported once per root with a count, fixed by clearing the bits recursively.
  void tree(std::string_view id, const std::string& root, unsigned clear, unsigned bad) {
    auto s = lstat_of(root);
    if (!s.ok || !S_ISDIR(s.st.st_mode)) return;
    std::size_t n = 0, seen = 0;
    std::string first;
    auto check = [&](const std::string& p, mode_t m) {
      if (m & bad) {
        if (!n++) first = p;
      }
    };
    check(root, s.st.st_mode);
    std::error_code ec;
    for (fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
         !ec && it != end && seen < 100000; it.increment(ec), ++seen) {
      if (it.depth() > 32) {
        it.disable_recursion_pending();
        continue;
      }
      auto st = lstat_of(it->path().string());
      if (st.ok && !S_ISLNK(st.st.st_mode)) check(it->path().string(), st.st.st_mode);
    }
    if (n)
      add(id, root, fmt::format("{} entr{} (first '{}')", n, n == 1 ? "y" : "ies", first),
          clear_bits(clear, /*recursive=*/true, s.st.st_mode));
  }
};

}  // namespace

/// The text with each `${NAME}` whose variable is unset given a long placeholder fallback: the
/// scan runs without weftd's secrets, and an empty value would fail checks ("token must not
/// be empty") that weftd, with its environment, passes. Lines and columns stay put for
/// everything before the first substitution on a line.
static std::string with_placeholders(std::string_view text) {
  std::string out;
  std::size_t p = 0;
  while (true) {
    auto a = text.find("${", p);
    if (a == std::string_view::npos) break;
    auto e = text.find('}', a + 2);
    if (e == std::string_view::npos) break;
    auto name = text.substr(a + 2, e - a - 2);
    out.append(text.substr(p, e - p));
    bool plain = !name.empty() && name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
                                      std::string_view::npos;
    if (plain && !std::getenv(std::string(name).c_str())) out += ":-weft-scan-placeholder-0123456789abcdef";
    p = e;
  }
  out.append(text.substr(p));
  return out;
}

namespace {

std::vector<finding> audit_config(std::string_view text, const std::string& source, std::vector<inline_secret>* secrets) {
  std::vector<finding> out;
  auto cfg = service::parse_config(with_placeholders(text), source, /*lenient_env=*/true);
  if (!cfg) {
    auto* r = find_rule("CFG-001");
    auto msg = cfg.err().message;
    std::uint32_t line = 0;
    // "file:line:col: error: …" — the first error's line.
    if (auto a = msg.find(source + ":"); a == 0) {
      try {
        line = static_cast<std::uint32_t>(std::stoul(msg.substr(source.size() + 1)));
      } catch (...) {
      }
    }
    auto first = msg.substr(0, msg.find('\n'));
    out.push_back(finding{r, source, line, std::string(r->title) + ": " + first, 0});
    return out;
  }
  toml::table raw;
#if TOML_EXCEPTIONS
  try {
    raw = toml::parse(text, source);
  } catch (const toml::parse_error&) {
    return out;
  }
#else
  auto parsed = toml::parse(text, source);
  if (!parsed) return out;
  raw = std::move(parsed).table();
#endif
  config_checks checks(*cfg, raw, source);
  out = checks.run();
  if (secrets) *secrets = checks.secrets();
  return out;
}

}  // namespace

std::vector<finding> audit_config_text(std::string_view text, const std::string& source) {
  return audit_config(text, source, nullptr);
}

std::vector<inline_secret> find_inline_secrets(std::string_view text, const std::string& source) {
  std::vector<inline_secret> out;
  audit_config(text, source, &out);
  return out;
}

config_audit audit_config_file(const std::string& path) {
  config_audit a;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    a.errors.push_back(fmt::format("Failed to read config '{}': {}", path, std::strerror(errno)));
    return a;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  a.findings = audit_config_text(ss.str(), path);
  return a;
}

std::vector<finding> audit_home(const std::string& home, const std::string& config_path, std::vector<fix>& fixes) {
  auto out = home_checks(home, config_path, fixes).run();
  auto skills = home_checks(home, config_path, fixes).skills(installed_skill_dirs(home, config_path));
  out.insert(out.end(), skills.begin(), skills.end());
  return out;
}

void apply(fix& f) {
  auto one = [&](const std::string& p) -> bool {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || S_ISLNK(st.st_mode)) return true;
    mode_t m = f.mode >= 0 ? static_cast<mode_t>(f.mode) : (st.st_mode & 07777 & ~static_cast<mode_t>(f.clear));
    if (::chmod(p.c_str(), m) != 0) {
      f.error = fmt::format("Failed to change the mode of '{}': {}", p, std::strerror(errno));
      return false;
    }
    return true;
  };
  if (!one(f.path)) return;
  if (f.recursive) {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(f.path, fs::directory_options::skip_permission_denied, ec), end; !ec && it != end;
         it.increment(ec))
      if (!one(it->path().string())) return;
  }
  f.applied = true;
}

std::vector<std::string> installed_skill_dirs(const std::string& home, const std::string& config_path) {
  std::vector<std::string> dirs;
  auto add = [&](const std::string& d) {
    std::error_code ec;
    if (!d.empty() && fs::is_directory(d, ec) && std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
  };
  if (const char* b = std::getenv("WEFT_SKILLS_DIR")) add(b);
  add(home + "/skills");
  auto cfg = service::load_config_or_default(config_path, /*lenient_env=*/true);
  if (cfg)
    for (auto& [id, a] : cfg->agents) add((a.workspace.empty() ? home + "/agents/" + id : a.workspace) + "/skills");
  return dirs;
}

}  // namespace weft::scan
