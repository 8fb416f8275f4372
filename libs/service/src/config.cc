#include <weft/service/config.hh>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <sys/stat.h>

#include <fmt/ranges.h>
#include <toml++/toml.h>

namespace weft::service {

bool service_spec::operator==(const service_spec& o) const {
  return name == o.name && exec == o.exec && args == o.args && address == o.address && after == o.after &&
         env == o.env && restart == o.restart && enabled == o.enabled;
}

namespace {

constexpr std::string_view reserved_sections[] = {"agents",   "agent_routes", "channels", "providers", "delegation",
                                                  "tools",    "memory",       "security", "hub",       "llm"};

std::string_view type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

/// Collects every problem with its position; the caller reports them all at once.
class checker {
 public:
  explicit checker(std::string source) : _source(std::move(source)) {}

  std::string where(const toml::source_region& r) const {
    return fmt::format("{}:{}:{}", _source, r.begin.line, r.begin.column);
  }
  template <class... Args>
  void error(const toml::source_region& r, fmt::format_string<Args...> f, Args&&... a) {
    _errors.push_back({r.begin.line, r.begin.column,
                       fmt::format("{}: error: {}", where(r), fmt::format(f, std::forward<Args>(a)...))});
  }
  void warning(const toml::source_region& r, std::string text) {
    _warnings.push_back(fmt::format("{}: warning: {}", where(r), text));
  }
  bool ok() const { return _errors.empty(); }
  weft::error result_error() {
    std::sort(_errors.begin(), _errors.end(),
              [](auto& a, auto& b) { return std::tie(a.line, a.col) < std::tie(b.line, b.col); });
    std::string msg;
    for (auto& e : _errors) msg += (msg.empty() ? "" : "\n") + e.text;
    return fail(errc::config, "{}", msg);
  }
  std::vector<std::string> take_warnings() { return std::move(_warnings); }

  /// Reports keys of `t` not in `allowed`, with a suggestion when one is close.
  void keys(const toml::table& t, std::string_view section, std::initializer_list<std::string_view> allowed) {
    for (auto& [k, v] : t) {
      if (std::find(allowed.begin(), allowed.end(), k.str()) != allowed.end()) continue;
      std::string hint;
      size_t best = 4;
      for (auto a : allowed)
        if (auto d = edit_distance(k.str(), a); d < best) {
          best = d;
          hint = fmt::format("; did you mean '{}'?", a);
        }
      if (hint.empty()) hint = fmt::format("; expected one of: {}", fmt::join(allowed, ", "));
      error(k.source(), "unknown key '{}' in {}{}", k.str(), section, hint);
    }
  }

  /// `${NAME}`, `${NAME:-fallback}`, `$${` → `${`. Unset without fallback is an error.
  std::optional<std::string> expand(const toml::node& n, std::string_view s, std::string_view what) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s.compare(i, 3, "$${") == 0) {
        out += "${";
        i += 2;
        continue;
      }
      if (s.compare(i, 2, "${") != 0) {
        out += s[i];
        continue;
      }
      auto end = s.find('}', i);
      if (end == std::string_view::npos) {
        error(n.source(), "unterminated '${{' in {}", what);
        return std::nullopt;
      }
      auto expr = s.substr(i + 2, end - i - 2);
      auto sep = expr.find(":-");
      auto name = std::string(expr.substr(0, sep));
      const char* v = std::getenv(name.c_str());
      if (v && *v) {
        out += v;
      } else if (sep != std::string_view::npos) {
        out += expr.substr(sep + 2);
      } else {
        error(n.source(), "environment variable '{}' is not set (used in {})", name, what);
        return std::nullopt;
      }
      i = end;
    }
    return out;
  }

  bool string(const toml::table& t, std::string_view key, std::string_view section, std::string& out) {
    auto n = t.get(key);
    if (!n) return false;
    if (!n->is_string()) {
      error(n->source(), "{} {} must be a string, not {}", section, key, type_name(*n));
      return false;
    }
    auto v = expand(*n, n->value<std::string>().value_or(""), fmt::format("{} {}", section, key));
    if (!v) return false;
    out = std::move(*v);
    return true;
  }

  template <class T>
  bool integer(const toml::table& t, std::string_view key, std::string_view section, T lo, T hi, T& out) {
    auto n = t.get(key);
    if (!n) return false;
    if (!n->is_integer()) {
      error(n->source(), "{} {} must be an integer, not {}", section, key, type_name(*n));
      return false;
    }
    auto v = n->value<std::int64_t>().value_or(0);
    if (v < 0 || static_cast<std::uint64_t>(v) < lo || static_cast<std::uint64_t>(v) > hi) {
      error(n->source(), "{} {} must be between {} and {}, not {}", section, key, lo, hi, v);
      return false;
    }
    out = static_cast<T>(v);
    return true;
  }

  bool boolean(const toml::table& t, std::string_view key, std::string_view section, bool& out) {
    auto n = t.get(key);
    if (!n) return false;
    if (!n->is_boolean()) {
      error(n->source(), "{} {} must be true or false, not {}", section, key, type_name(*n));
      return false;
    }
    out = n->value<bool>().value_or(false);
    return true;
  }

  bool strings(const toml::table& t, std::string_view key, std::string_view section, std::vector<std::string>& out) {
    auto n = t.get(key);
    if (!n) return false;
    auto* a = n->as_array();
    if (!a) {
      error(n->source(), "{} {} must be an array of strings, not {}", section, key, type_name(*n));
      return false;
    }
    std::vector<std::string> v;
    bool good = true;
    for (auto& e : *a) {
      if (!e.is_string()) {
        error(e.source(), "{} {} must contain only strings, not {}", section, key, type_name(e));
        good = false;
        continue;
      }
      auto s = expand(e, e.value<std::string>().value_or(""), fmt::format("{} {}", section, key));
      if (!s) good = false;
      else v.push_back(std::move(*s));
    }
    if (good) out = std::move(v);
    return good;
  }

  template <class E>
  bool choice(const toml::table& t, std::string_view key, std::string_view section,
              std::initializer_list<std::pair<std::string_view, E>> values, E& out) {
    std::string s;
    if (!string(t, key, section, s)) return false;
    for (auto& [name, v] : values)
      if (name == s) {
        out = v;
        return true;
      }
    std::vector<std::string> names;
    for (auto& [name, v] : values) names.push_back(fmt::format("'{}'", name));
    error(t.get(key)->source(), "{} {} must be one of {}, not '{}'", section, key, fmt::join(names, ", "), s);
    return false;
  }

 private:
  struct entry {
    std::uint32_t line, col;
    std::string text;
  };
  std::string _source;
  std::vector<entry> _errors;
  std::vector<std::string> _warnings;
};

bool valid_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  if (!std::isalnum(static_cast<unsigned char>(n[0])) || std::isupper(static_cast<unsigned char>(n[0]))) return false;
  return std::all_of(n.begin(), n.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

bool valid_address(std::string_view a) {
  if (a.empty() || a.size() > 128) return false;
  size_t start = 0;
  while (start <= a.size()) {
    auto slash = a.find('/', start);
    auto seg = a.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg.empty() || !((seg[0] >= 'a' && seg[0] <= 'z') || (seg[0] >= '0' && seg[0] <= '9'))) return false;
    for (char c : seg)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) return false;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return true;
}

void read_bus(checker& ck, const toml::table& t, bus_settings& b) {
  ck.keys(t, "[bus]", {"max_message_bytes", "queue_depth", "default_policy", "acl"});
  ck.integer<std::uint64_t>(t, "max_message_bytes", "[bus]", 1024, 64ull << 20, b.max_message_bytes);
  ck.integer<std::uint32_t>(t, "queue_depth", "[bus]", 1, 1000000, b.queue_depth);
  ck.choice<acl_action>(t, "default_policy", "[bus]", {{"allow", acl_action::allow}, {"deny", acl_action::deny}},
                        b.default_policy);
  auto n = t.get("acl");
  if (!n) return;
  auto* arr = n->as_array();
  if (!arr || !arr->is_array_of_tables()) {
    ck.error(n->source(), "[bus] acl must be an array of tables ([[bus.acl]]), not {}", type_name(*n));
    return;
  }
  for (auto& e : *arr) {
    auto& rt = *e.as_table();
    acl_rule r;
    r.where = ck.where(rt.source());
    ck.keys(rt, "[[bus.acl]]", {"from", "to", "types", "action"});
    ck.string(rt, "from", "[[bus.acl]]", r.from);
    ck.string(rt, "to", "[[bus.acl]]", r.to);
    ck.strings(rt, "types", "[[bus.acl]]", r.types);
    if (!rt.get("action"))
      ck.error(rt.source(), "[[bus.acl]] is missing required key 'action' (\"allow\" or \"deny\")");
    else
      ck.choice<acl_action>(rt, "action", "[[bus.acl]]", {{"allow", acl_action::allow}, {"deny", acl_action::deny}},
                            r.action);
    b.acl.push_back(std::move(r));
  }
}

void read_supervisor(checker& ck, const toml::table& t, supervisor_settings& s) {
  ck.keys(t, "[supervisor]",
          {"ready_timeout_ms", "heartbeat_interval_ms", "heartbeat_timeout_ms", "stop_timeout_ms",
           "restart_backoff_initial_ms", "restart_backoff_max_ms", "restart_intensity", "restart_window_s"});
  constexpr std::uint32_t day_ms = 86'400'000;
  ck.integer<std::uint32_t>(t, "ready_timeout_ms", "[supervisor]", 1, day_ms, s.ready_timeout_ms);
  ck.integer<std::uint32_t>(t, "heartbeat_interval_ms", "[supervisor]", 10, day_ms, s.heartbeat_interval_ms);
  ck.integer<std::uint32_t>(t, "heartbeat_timeout_ms", "[supervisor]", 20, day_ms, s.heartbeat_timeout_ms);
  ck.integer<std::uint32_t>(t, "stop_timeout_ms", "[supervisor]", 1, day_ms, s.stop_timeout_ms);
  ck.integer<std::uint32_t>(t, "restart_backoff_initial_ms", "[supervisor]", 1, day_ms, s.restart_backoff_initial_ms);
  ck.integer<std::uint32_t>(t, "restart_backoff_max_ms", "[supervisor]", 1, day_ms, s.restart_backoff_max_ms);
  ck.integer<std::uint32_t>(t, "restart_intensity", "[supervisor]", 1, 1000, s.restart_intensity);
  ck.integer<std::uint32_t>(t, "restart_window_s", "[supervisor]", 1, 86400, s.restart_window_s);
  if (s.restart_backoff_max_ms < s.restart_backoff_initial_ms)
    ck.error(t.get("restart_backoff_max_ms") ? t.get("restart_backoff_max_ms")->source() : t.source(),
             "[supervisor] restart_backoff_max_ms ({}) must not be less than restart_backoff_initial_ms ({})",
             s.restart_backoff_max_ms, s.restart_backoff_initial_ms);
  if (s.heartbeat_timeout_ms <= s.heartbeat_interval_ms)
    ck.error(t.get("heartbeat_timeout_ms") ? t.get("heartbeat_timeout_ms")->source() : t.source(),
             "[supervisor] heartbeat_timeout_ms ({}) must be greater than heartbeat_interval_ms ({})",
             s.heartbeat_timeout_ms, s.heartbeat_interval_ms);
}

void read_services(checker& ck, const toml::table& t, std::vector<service_spec>& out) {
  // toml++ tables are ordered by key; keep file order by sorting on position.
  std::vector<std::pair<const toml::key*, const toml::node*>> entries;
  for (auto& [k, v] : t) entries.push_back({&k, &v});
  std::sort(entries.begin(), entries.end(), [](auto& a, auto& b) {
    auto &x = a.second->source().begin, &y = b.second->source().begin;
    return std::tie(x.line, x.column) < std::tie(y.line, y.column);
  });
  std::map<std::string, const toml::node*> addresses;
  for (auto& [k, v] : entries) {
    auto name = std::string(k->str());
    auto section = fmt::format("[services.{}]", name);
    auto* st = v->as_table();
    if (!st) {
      ck.error(v->source(), "{} must be a table, not {}", section, type_name(*v));
      continue;
    }
    if (!valid_name(name) || name == "bus" || name == "weftd")
      ck.error(k->source(), "service name '{}' must be 1-64 of a-z, 0-9 and '-', starting with a letter or digit, "
                            "and not 'bus' or 'weftd'", name);
    service_spec s;
    s.name = name;
    s.address = name;
    s.where = ck.where(st->source());
    ck.keys(*st, section, {"exec", "args", "address", "after", "env", "restart", "enabled"});
    if (!st->get("exec")) ck.error(st->source(), "{} is missing required key 'exec'", section);
    else if (ck.string(*st, "exec", section, s.exec) && s.exec.empty())
      ck.error(st->get("exec")->source(), "{} exec must not be empty", section);
    ck.strings(*st, "args", section, s.args);
    if (ck.string(*st, "address", section, s.address)) {
      auto* an = st->get("address");
      if (!valid_address(s.address))
        ck.error(an->source(), "{} address '{}' must be segments of a-z, 0-9, '_', '.', '-' separated by '/'",
                 section, s.address);
      else if (s.address == "bus" || s.address == "weftd" || s.address.rfind("ctl/", 0) == 0)
        ck.error(an->source(), "{} address '{}' is reserved for weft itself", section, s.address);
    }
    if (auto [it, fresh] = addresses.emplace(s.address, v); !fresh)
      ck.error(v->source(), "{} uses address '{}', which another service already has", section, s.address);
    ck.strings(*st, "after", section, s.after);
    if (auto en = st->get("env")) {
      if (auto* et = en->as_table()) {
        for (auto& [ek, evn] : *et) {
          if (!evn.is_string()) {
            ck.error(evn.source(), "{} env.{} must be a string, not {}", section, ek.str(), type_name(evn));
            continue;
          }
          if (auto val = ck.expand(evn, evn.value<std::string>().value_or(""), fmt::format("{} env.{}", section, ek.str())))
            s.env[std::string(ek.str())] = *val;
        }
      } else {
        ck.error(en->source(), "{} env must be a table of strings, not {}", section, type_name(*en));
      }
    }
    ck.choice<restart_policy>(*st, "restart", section,
                              {{"always", restart_policy::always},
                               {"on-failure", restart_policy::on_failure},
                               {"never", restart_policy::never}},
                              s.restart);
    ck.boolean(*st, "enabled", section, s.enabled);
    out.push_back(std::move(s));
  }
  // Every 'after' names the bus or another service, and the order has no cycle.
  std::map<std::string, const service_spec*> by_name;
  for (auto& s : out) by_name[s.name] = &s;
  for (auto& s : out) {
    auto* st = t.get(s.name)->as_table();
    auto* an = st ? st->get("after") : nullptr;
    for (size_t i = 0; i < s.after.size(); ++i)
      if (s.after[i] != "bus" && !by_name.count(s.after[i])) {
        auto& where = an && an->as_array() && i < an->as_array()->size() ? (*an->as_array())[i].source() : st->source();
        ck.error(where, "[services.{}] after names '{}', which is neither 'bus' nor a configured service", s.name,
                 s.after[i]);
      }
  }
  std::map<std::string, int> mark;  // 0 new, 1 on the path, 2 done
  std::vector<std::string> path;
  std::set<std::string> reported;
  std::function<void(const service_spec&)> visit = [&](const service_spec& s) {
    mark[s.name] = 1;
    path.push_back(s.name);
    for (auto& d : s.after) {
      auto it = by_name.find(d);
      if (it == by_name.end()) continue;
      if (mark[d] == 1) {
        auto from = std::find(path.begin(), path.end(), d);
        std::vector<std::string> cycle(from, path.end());
        cycle.push_back(d);
        if (reported.insert(d).second)
          ck.error(t.get(d)->source(), "[services] 'after' forms a cycle: {}", fmt::join(cycle, " -> "));
      } else if (mark[d] == 0) {
        visit(*it->second);
      }
    }
    path.pop_back();
    mark[s.name] = 2;
  };
  for (auto& s : out)
    if (mark[s.name] == 0) visit(s);
}

}  // namespace

config default_config() { return config{}; }

result<config> parse_config(std::string_view text, std::string_view source_name) {
  checker ck{std::string(source_name)};
  toml::table root;
#if TOML_EXCEPTIONS
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    ck.error(e.source(), "{}", e.description());
    return ck.result_error();
  }
#else
  auto parsed = toml::parse(text, source_name);
  if (!parsed) {
    ck.error(parsed.error().source(), "{}", parsed.error().description());
    return ck.result_error();
  }
  root = std::move(parsed).table();
#endif
  config cfg;
  cfg.source = std::string(source_name);
  for (auto& [k, v] : root) {
    auto key = k.str();
    if (std::find(std::begin(reserved_sections), std::end(reserved_sections), key) != std::end(reserved_sections)) {
      ck.warning(k.source(), fmt::format("section '[{}]' is not supported by this build yet, ignoring.", key));
      continue;
    }
    if (key != "weft" && key != "bus" && key != "supervisor" && key != "services") {
      ck.keys(toml::table{{key, 0}}, "the top level", {"weft", "bus", "supervisor", "services"});
      continue;
    }
    if (!v.is_table()) {
      ck.error(v.source(), "[{}] must be a table, not {}", key, type_name(v));
      continue;
    }
    auto& t = *v.as_table();
    if (key == "weft") {
      ck.keys(t, "[weft]", {"home", "runtime_dir", "log"});
      ck.string(t, "home", "[weft]", cfg.home);
      ck.string(t, "runtime_dir", "[weft]", cfg.runtime_dir);
      ck.string(t, "log", "[weft]", cfg.log);
    } else if (key == "bus") {
      read_bus(ck, t, cfg.bus);
    } else if (key == "supervisor") {
      read_supervisor(ck, t, cfg.supervisor);
    } else {
      read_services(ck, t, cfg.services);
    }
  }
  if (!ck.ok()) return ck.result_error();
  cfg.warnings = ck.take_warnings();
  return cfg;
}

result<config> load_config(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return fail(errc::config, "Failed to read config '{}': {}", path, std::strerror(errno));
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return fail(errc::config, "Failed to read config '{}': {}", path, std::strerror(errno));
  auto text = ss.str();
  if (text.size() > (4u << 20)) return fail(errc::config, "Failed to read config '{}': larger than 4 MiB", path);
  return parse_config(text, path);
}

std::optional<std::string> find_config(std::string_view explicit_path) {
  if (!explicit_path.empty()) return std::string(explicit_path);
  if (const char* v = std::getenv("WEFT_CONFIG"); v && *v) return std::string(v);
  auto exists = [](const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0;
  };
  if (const char* h = std::getenv("WEFT_HOME"); h && *h)
    if (auto p = std::string(h) + "/clawft.toml"; exists(p)) return p;
  if (const char* h = std::getenv("HOME"); h && *h)
    if (auto p = std::string(h) + "/.clawft/clawft.toml"; exists(p)) return p;
  if (exists("/etc/weft/clawft.toml")) return std::string("/etc/weft/clawft.toml");
  return std::nullopt;
}

}  // namespace weft::service
