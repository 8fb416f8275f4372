#include <weft/service/config.hh>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <sys/stat.h>
#include <type_traits>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include <weft/base/log.hh>

namespace weft::service {

bool service_spec::operator==(const service_spec& o) const {
  return name == o.name && exec == o.exec && args == o.args && address == o.address && after == o.after &&
         env == o.env && restart == o.restart && enabled == o.enabled && sandbox == o.sandbox;
}

namespace {

/// A config file is written by a person; anything larger is a mistake (a log, a binary).
constexpr std::size_t max_config_bytes = 4u << 20;
/// sun_path holds 108 bytes with the NUL; the longest socket weft puts in the runtime
/// directory is "/control".
constexpr std::size_t max_runtime_dir_bytes = 107 - std::string_view("/control").size();
constexpr std::uint64_t max_message_bytes_lo = 1024, max_message_bytes_hi = 64u << 20;
constexpr std::uint32_t queue_depth_hi = 1000000;
constexpr std::size_t max_name_chars = 64, max_address_chars = 128;

constexpr std::array<std::string_view, 4> sections = {"weft", "bus", "supervisor", "services"};
// Sections of later features: accepted so one file serves several builds, but not read.
constexpr std::array<std::string_view, 10> reserved_sections = {
    "agents", "agent_routes", "channels", "providers", "delegation", "tools", "memory", "security", "hub", "llm"};

constexpr std::array<std::pair<std::string_view, acl_action>, 2> acl_actions = {
    {{"allow", acl_action::allow}, {"deny", acl_action::deny}}};
constexpr std::array<std::pair<std::string_view, restart_policy>, 3> restart_policies = {
    {{"always", restart_policy::always}, {"on-failure", restart_policy::on_failure}, {"never", restart_policy::never}}};

struct u32_field {
  std::string_view key;
  std::uint32_t supervisor_settings::*field;
};
constexpr std::array<u32_field, 8> supervisor_fields = {{
    {"ready_timeout_ms", &supervisor_settings::ready_timeout_ms},
    {"heartbeat_interval_ms", &supervisor_settings::heartbeat_interval_ms},
    {"heartbeat_timeout_ms", &supervisor_settings::heartbeat_timeout_ms},
    {"stop_timeout_ms", &supervisor_settings::stop_timeout_ms},
    {"restart_backoff_initial_ms", &supervisor_settings::restart_backoff_initial_ms},
    {"restart_backoff_max_ms", &supervisor_settings::restart_backoff_max_ms},
    {"restart_intensity", &supervisor_settings::restart_intensity},
    {"restart_window_s", &supervisor_settings::restart_window_s},
}};

std::string_view a_type(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

/// User text for a message: control characters escaped so every problem stays one line.
std::string clean(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (auto u = static_cast<unsigned char>(c); u < 0x20 || u == 0x7f) out += fmt::format("\\x{:02x}", u);
    else out += c;
  }
  return out;
}

/// Edit distance counting a swap of neighbours as one edit ("form" is 1 from "from").
std::size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

/// "; did you mean 'x'?" when one of `words` is a likely typo of `word`: at most 3 edits
/// and at most one per two characters, so "bar" does not suggest "bus".
template <class Words>
std::string suggestion(std::string_view word, const Words& words) {
  if (word.size() > max_name_chars) return {};  // distance() is quadratic; no typo is that long
  std::string_view best;
  std::size_t best_d = 4;
  for (std::string_view w : words)
    if (auto d = distance(word, w); d < best_d && d * 2 <= word.size()) best = w, best_d = d;
  return best.empty() ? std::string() : fmt::format("; did you mean '{}'?", best);
}

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool alnum(char c) { return lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool any_of_chars(char c, std::string_view set) { return set.find(c) != std::string_view::npos; }

bool valid_service_name(std::string_view n) {
  return !n.empty() && n.size() <= max_name_chars && lower_alnum(n[0]) &&
         std::all_of(n.begin(), n.end(), [](char c) { return lower_alnum(c) || c == '-'; });
}

bool valid_address(std::string_view a) {
  if (a.empty() || a.size() > max_address_chars) return false;
  std::size_t start = 0;
  for (;;) {
    auto slash = a.find('/', start);
    auto seg = a.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg.empty() || !lower_alnum(seg[0]) ||
        !std::all_of(seg.begin(), seg.end(), [](char c) { return lower_alnum(c) || any_of_chars(c, "_.-"); }))
      return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

/// weftd and admin tools (ctl/*) bypass the bus ACL, so no service may take their addresses.
bool reserved_address(std::string_view a) { return a == "bus" || a == "weftd" || a.substr(0, 4) == "ctl/"; }

// A pattern with a character no address (or type) has can never match: a deny rule with
// a typo would silently allow everything it was meant to stop.
bool valid_address_glob(std::string_view p) {
  return !p.empty() && std::all_of(p.begin(), p.end(), [](char c) { return lower_alnum(c) || any_of_chars(c, "_.-/*"); });
}
bool valid_type_glob(std::string_view p) {
  return !p.empty() && std::all_of(p.begin(), p.end(), [](char c) { return alnum(c) || any_of_chars(c, "_.-*"); });
}

bool valid_env_name(std::string_view n) {
  return !n.empty() && !(n[0] >= '0' && n[0] <= '9') &&
         std::all_of(n.begin(), n.end(), [](char c) { return alnum(c) || c == '_'; });
}


/// Collects every problem with its position, so one run reports all of them, and reads
/// typed values: each read_* returns the value of a key that is present and valid, and
/// nullopt otherwise (having reported the problem if the key is present).
class checker {
 public:
  explicit checker(std::string_view source) : _source(source) {}

  std::string where(const toml::source_region& r) const {
    return fmt::format("{}:{}:{}", _source, r.begin.line, r.begin.column);
  }
  void error(const toml::source_region& r, std::string_view text) { add(_errors, r, "error", text); }
  void warning(const toml::source_region& r, std::string_view text) { add(_warnings, r, "warning", text); }
  bool failed() const { return !_errors.empty(); }
  weft::error take_error() { return fail(errc::config, "{}", fmt::join(take(_errors), "\n")); }
  std::vector<std::string> take_warnings() { return take(_warnings); }

  void unknown_key(const toml::key& k, std::string_view in, const std::vector<std::string_view>& allowed) {
    error(k.source(), fmt::format("unknown key '{}' {}; expected one of: {}{}", clean(k.str()), in,
                                  fmt::join(allowed, ", "), suggestion(k.str(), allowed)));
  }
  void check_keys(const toml::table& t, std::string_view section, const std::vector<std::string_view>& allowed) {
    for (auto& [k, v] : t)
      if (std::find(allowed.begin(), allowed.end(), k.str()) == allowed.end())
        unknown_key(k, fmt::format("in {}", section), allowed);
  }

  /// The string node `n` with `${NAME}`, `${NAME:-fallback}` (used when NAME is unset or
  /// empty) and `$${` (a literal "${") replaced. Substituted text is not scanned again.
  std::optional<std::string> expand(const toml::node& n, std::string_view used_in) {
    std::string_view s = n.as_string()->get();
    std::string out;
    bool ok = true;
    for (std::size_t i = 0; i < s.size();) {
      if (s.substr(i, 3) == "$${") {
        out += "${";
        i += 3;
        continue;
      }
      if (s.substr(i, 2) != "${") {
        out += s[i++];
        continue;
      }
      auto close = s.find('}', i + 2);
      if (close == std::string_view::npos) {
        error(n.source(), fmt::format("unterminated '${{' in {}; write '$${{' for a literal '${{'", used_in));
        return std::nullopt;
      }
      auto expr = s.substr(i + 2, close - i - 2);
      auto sep = expr.find(":-");
      auto name = std::string(expr.substr(0, sep));
      const char* value = valid_env_name(name) ? std::getenv(name.c_str()) : nullptr;
      if (!valid_env_name(name)) {
        error(n.source(), fmt::format("'${{{}}}' in {} is not a valid environment variable name", clean(expr), used_in));
        ok = false;
      } else if (sep != std::string_view::npos && (!value || !*value)) {
        out += expr.substr(sep + 2);
      } else if (!value) {
        error(n.source(), fmt::format("environment variable '{}' is not set (used in {})", name, used_in));
        ok = false;
      } else {
        out += value;
      }
      i = close + 1;
    }
    return ok ? std::optional<std::string>(std::move(out)) : std::nullopt;
  }

  std::optional<std::string> read_string(const toml::table& t, std::string_view section, std::string_view key) {
    auto* n = t.get(key);
    if (!n) return std::nullopt;
    if (!n->is_string()) return wrong_type(*n, section, key, "a string");
    return expand(*n, fmt::format("{} {}", section, key));
  }

  std::optional<bool> read_bool(const toml::table& t, std::string_view section, std::string_view key) {
    auto* n = t.get(key);
    if (!n) return std::nullopt;
    if (!n->is_boolean()) return wrong_type(*n, section, key, "true or false");
    return n->as_boolean()->get();
  }

  std::optional<std::vector<std::string>> read_strings(const toml::table& t, std::string_view section,
                                                       std::string_view key) {
    auto* n = t.get(key);
    if (!n) return std::nullopt;
    auto* a = n->as_array();
    if (!a) return wrong_type(*n, section, key, "an array of strings");
    std::vector<std::string> v;
    bool ok = true;
    for (auto& e : *a) {
      if (!e.is_string()) {
        error(e.source(), fmt::format("{} {} must contain only strings, not {}", section, key, a_type(e)));
        ok = false;
      } else if (auto s = expand(e, fmt::format("{} {}", section, key))) {
        v.push_back(std::move(*s));
      } else {
        ok = false;
      }
    }
    return ok ? std::optional(std::move(v)) : std::nullopt;
  }

  /// An integer in [lo, hi]; the range lies within T, so nothing is ever truncated.
  template <class T>
  std::optional<T> read_uint(const toml::table& t, std::string_view section, std::string_view key, T lo, T hi) {
    static_assert(std::is_unsigned_v<T>);
    auto* n = t.get(key);
    if (!n) return std::nullopt;
    if (!n->is_integer()) return wrong_type(*n, section, key, "an integer");
    std::int64_t v = n->as_integer()->get();
    if (v < 0 || static_cast<std::uint64_t>(v) < lo || static_cast<std::uint64_t>(v) > hi) {
      error(n->source(), fmt::format("{} {} must be between {} and {}, not {}", section, key, lo, hi, v));
      return std::nullopt;
    }
    return static_cast<T>(v);
  }

  template <class E, std::size_t N>
  std::optional<E> read_enum(const toml::table& t, std::string_view section, std::string_view key,
                             const std::array<std::pair<std::string_view, E>, N>& names) {
    auto s = read_string(t, section, key);
    if (!s) return std::nullopt;
    std::vector<std::string> quoted;
    for (auto& [name, value] : names) {
      if (*s == name) return value;
      quoted.push_back(fmt::format("'{}'", name));
    }
    error(t.get(key)->source(),
          fmt::format("{} {} must be one of {}, not '{}'", section, key, fmt::join(quoted, ", "), clean(*s)));
    return std::nullopt;
  }

 private:
  struct diagnostic {
    toml::source_position pos;
    std::string text;
  };

  void add(std::vector<diagnostic>& to, const toml::source_region& r, std::string_view kind, std::string_view text) {
    to.push_back({r.begin, fmt::format("{}: {}: {}", where(r), kind, text)});
  }
  std::nullopt_t wrong_type(const toml::node& n, std::string_view section, std::string_view key,
                            std::string_view expected) {
    error(n.source(), fmt::format("{} {} must be {}, not {}", section, key, expected, a_type(n)));
    return std::nullopt;
  }
  static std::vector<std::string> take(std::vector<diagnostic>& ds) {
    std::stable_sort(ds.begin(), ds.end(), [](const diagnostic& a, const diagnostic& b) {
      return std::tie(a.pos.line, a.pos.column) < std::tie(b.pos.line, b.pos.column);
    });
    std::vector<std::string> out;
    for (auto& d : ds) out.push_back(std::move(d.text));
    ds.clear();
    return out;
  }

  std::string _source;
  std::vector<diagnostic> _errors;
  std::vector<diagnostic> _warnings;
};

void read_weft(checker& ck, const toml::table& t, config& c) {
  ck.check_keys(t, "[weft]", {"home", "runtime_dir", "log"});
  if (auto home = ck.read_string(t, "[weft]", "home")) {
    c.home = *home;
    if (!home->empty() && home->front() != '/')
      ck.error(t.get("home")->source(), fmt::format("[weft] home must be an absolute path, not '{}'", clean(*home)));
  }
  if (auto dir = ck.read_string(t, "[weft]", "runtime_dir")) {
    c.runtime_dir = *dir;
    if (!dir->empty() && dir->front() != '/')
      ck.error(t.get("runtime_dir")->source(),
               fmt::format("[weft] runtime_dir must be an absolute path, not '{}'", clean(*dir)));
    else if (dir->size() > max_runtime_dir_bytes)
      ck.error(t.get("runtime_dir")->source(),
               fmt::format("[weft] runtime_dir is {} bytes long; socket paths allow at most {}", dir->size(),
                           max_runtime_dir_bytes));
  }
  if (auto spec = ck.read_string(t, "[weft]", "log")) {
    c.log = *spec;
    if (!log::valid_spec(*spec))
      ck.error(t.get("log")->source(),
               fmt::format("[weft] log '{}' is not a level spec: use a level (trace, debug, info, warning, error, "
                           "off), optionally with per-logger levels, e.g. 'debug,bus=trace'",
                           clean(*spec)));
  }
}

acl_rule read_acl_rule(checker& ck, const toml::table& rt, const std::string& label) {
  acl_rule r;
  r.where = ck.where(rt.source());
  ck.check_keys(rt, label, {"from", "to", "types", "action"});
  for (auto [key, field] : {std::pair{"from", &r.from}, std::pair{"to", &r.to}}) {
    auto pattern = ck.read_string(rt, label, key);
    if (!pattern) continue;
    *field = *pattern;
    if (!valid_address_glob(*pattern))
      ck.error(rt.get(key)->source(),
               fmt::format("{} {} '{}' can never match an address: use a-z, 0-9, '_', '.', '-', '/' and the "
                           "wildcard '*'",
                           label, key, clean(*pattern)));
  }
  if (auto types = ck.read_strings(rt, label, "types")) {
    r.types = *types;
    auto& nodes = *rt.get("types")->as_array();
    if (types->empty())
      ck.error(nodes.source(), fmt::format("{} types must not be empty; use [\"*\"] for every type", label));
    for (std::size_t j = 0; j < types->size(); ++j)
      if (!valid_type_glob((*types)[j]))
        ck.error(nodes[j].source(),
                 fmt::format("{} types '{}' can never match a message type: use letters, digits, '_', '.', '-' "
                             "and the wildcard '*'",
                             label, clean((*types)[j])));
  }
  if (!rt.contains("action"))
    ck.error(rt.source(), fmt::format("{} is missing required key 'action'", label));
  else
    r.action = ck.read_enum(rt, label, "action", acl_actions).value_or(r.action);
  return r;
}

bus_settings read_bus(checker& ck, const toml::table& t) {
  bus_settings b;
  ck.check_keys(t, "[bus]", {"max_message_bytes", "queue_depth", "default_policy", "acl"});
  b.max_message_bytes = ck.read_uint(t, "[bus]", "max_message_bytes", max_message_bytes_lo, max_message_bytes_hi)
                            .value_or(b.max_message_bytes);
  b.queue_depth = ck.read_uint(t, "[bus]", "queue_depth", std::uint32_t{1}, queue_depth_hi).value_or(b.queue_depth);
  b.default_policy = ck.read_enum(t, "[bus]", "default_policy", acl_actions).value_or(b.default_policy);
  auto* n = t.get("acl");
  if (!n) return b;
  auto* rules = n->as_array();
  if (!rules) {
    ck.error(n->source(), fmt::format("[bus] acl must be an array of tables ([[bus.acl]]), not {}", a_type(*n)));
    return b;
  }
  for (std::size_t i = 0; i < rules->size(); ++i) {
    auto label = fmt::format("bus.acl[{}]", i);
    if (auto* rt = rules->get(i)->as_table())
      b.acl.push_back(read_acl_rule(ck, *rt, label));
    else
      ck.error(rules->get(i)->source(), fmt::format("{} must be a table, not {}", label, a_type(*rules->get(i))));
  }
  return b;
}

supervisor_settings read_supervisor(checker& ck, const toml::table& t) {
  supervisor_settings s;
  std::vector<std::string_view> keys;
  for (auto& f : supervisor_fields) keys.push_back(f.key);
  ck.check_keys(t, "[supervisor]", keys);
  bool all_valid = true;
  for (auto& f : supervisor_fields) {
    if (auto v = ck.read_uint(t, "[supervisor]", f.key, std::uint32_t{1}, std::numeric_limits<std::uint32_t>::max()))
      s.*f.field = *v;
    else
      all_valid = all_valid && !t.contains(f.key);
  }
  if (!all_valid) return s;
  // Report a broken pair at whichever of the two keys the file has, the later one first.
  auto at = [&](std::string_view second, std::string_view first) {
    auto* n = t.get(second);
    return (n ? n : t.get(first) ? t.get(first) : &static_cast<const toml::node&>(t))->source();
  };
  if (s.restart_backoff_max_ms < s.restart_backoff_initial_ms)
    ck.error(at("restart_backoff_max_ms", "restart_backoff_initial_ms"),
             fmt::format("[supervisor] restart_backoff_max_ms ({}) must not be less than "
                         "restart_backoff_initial_ms ({})",
                         s.restart_backoff_max_ms, s.restart_backoff_initial_ms));
  // A timeout no longer than the interval would kill every healthy service as hung.
  if (s.heartbeat_timeout_ms <= s.heartbeat_interval_ms)
    ck.error(at("heartbeat_timeout_ms", "heartbeat_interval_ms"),
             fmt::format("[supervisor] heartbeat_timeout_ms ({}) must be greater than heartbeat_interval_ms ({})",
                         s.heartbeat_timeout_ms, s.heartbeat_interval_ms));
  return s;
}

/// A service and, when the file gives one, its `after` array (for error positions).
struct parsed_service {
  service_spec spec;
  const toml::array* after = nullptr;
};

parsed_service read_service(checker& ck, const std::string& name, const toml::table& st) {
  auto label = fmt::format("[services.{}]", clean(name));
  parsed_service parsed;
  auto& s = parsed.spec;
  s.name = name;
  s.address = name;
  s.where = ck.where(st.source());
  ck.check_keys(st, label, {"exec", "args", "address", "after", "env", "restart", "enabled"});
  if (!st.contains("exec"))
    ck.error(st.source(), fmt::format("{} is missing required key 'exec'", label));
  else if (auto exec = ck.read_string(st, label, "exec"); exec && exec->empty())
    ck.error(st.get("exec")->source(), fmt::format("{} exec must not be empty", label));
  else if (exec)
    s.exec = *exec;
  s.args = ck.read_strings(st, label, "args").value_or(s.args);
  if (auto address = ck.read_string(st, label, "address")) {
    s.address = *address;
    if (!valid_address(*address))
      ck.error(st.get("address")->source(),
               fmt::format("{} address '{}' is invalid: use segments of a-z, 0-9, '_', '.', '-' starting with a "
                           "letter or digit, separated by '/', at most {} characters",
                           label, clean(*address), max_address_chars));
    else if (reserved_address(*address))
      ck.error(st.get("address")->source(), fmt::format("{} address '{}' is reserved for weft itself", label, *address));
  }
  if (auto deps = ck.read_strings(st, label, "after")) {
    s.after = *deps;
    parsed.after = st.get("after")->as_array();
  }
  if (auto* en = st.get("env"); en && !en->is_table()) {
    ck.error(en->source(), fmt::format("{} env must be a table of strings, not {}", label, a_type(*en)));
  } else if (en) {
    for (auto& [ek, ev] : *en->as_table()) {
      std::string key(ek.str());
      if (!valid_env_name(key))
        ck.error(ek.source(), fmt::format("{} env key '{}' is not a valid environment variable name: use letters, "
                                          "digits and '_', not starting with a digit",
                                          label, clean(key)));
      else if (!ev.is_string())
        ck.error(ev.source(), fmt::format("{} env.{} must be a string, not {}", label, key, a_type(ev)));
      else if (auto value = ck.expand(ev, fmt::format("{} env.{}", label, key)))
        s.env[key] = std::move(*value);
    }
  }
  s.restart = ck.read_enum(st, label, "restart", restart_policies).value_or(s.restart);
  s.enabled = ck.read_bool(st, label, "enabled").value_or(s.enabled);
  return parsed;
}

/// Every `after` names the bus or another service, and the start order has no cycle.
void check_order(checker& ck, const std::vector<parsed_service>& services) {
  std::map<std::string_view, std::size_t> index;
  std::vector<std::string_view> names = {"bus"};
  for (std::size_t i = 0; i < services.size(); ++i) {
    index.emplace(services[i].spec.name, i);
    names.push_back(services[i].spec.name);
  }
  std::vector<std::vector<std::pair<std::size_t, const toml::node*>>> edges(services.size());
  for (std::size_t i = 0; i < services.size(); ++i)
    for (std::size_t j = 0; j < services[i].spec.after.size(); ++j) {
      auto& dep = services[i].spec.after[j];
      auto* node = services[i].after ? services[i].after->get(j) : nullptr;
      if (dep == "bus" || !node) continue;
      if (auto it = index.find(dep); it != index.end()) {
        edges[i].emplace_back(it->second, node);
        continue;
      }
      ck.error(node->source(), fmt::format("[services.{}] after names '{}', which is neither 'bus' nor a configured "
                                           "service{}",
                                           services[i].spec.name, clean(dep), suggestion(dep, names)));
    }
  // Depth-first search; an edge back to a service on the current path closes a cycle.
  std::vector<int> state(services.size(), 0);  // 0 unseen, 1 on the path, 2 done
  std::vector<std::size_t> path;
  auto visit = [&](auto& self, std::size_t u) -> void {
    state[u] = 1;
    path.push_back(u);
    for (auto [v, node] : edges[u]) {
      if (state[v] == 0) {
        self(self, v);
      } else if (state[v] == 1) {
        std::vector<std::string_view> cycle;
        for (auto it = std::find(path.begin(), path.end(), v); it != path.end(); ++it)
          cycle.push_back(services[*it].spec.name);
        cycle.push_back(services[v].spec.name);
        ck.error(node->source(), fmt::format("[services.{}] after forms a cycle: {} (each waits for the next)",
                                             services[u].spec.name, fmt::join(cycle, " -> ")));
      }
    }
    path.pop_back();
    state[u] = 2;
  };
  for (std::size_t i = 0; i < services.size(); ++i)
    if (state[i] == 0) visit(visit, i);
}

std::vector<service_spec> read_services(checker& ck, const toml::table& t) {
  // toml++ keeps a table's keys sorted; weftd starts services in file order.
  std::vector<std::pair<const toml::key*, const toml::node*>> items;
  for (auto& [k, v] : t) items.emplace_back(&k, &v);
  std::stable_sort(items.begin(), items.end(), [](auto& a, auto& b) {
    auto &x = a.second->source().begin, &y = b.second->source().begin;
    return std::tie(x.line, x.column) < std::tie(y.line, y.column);
  });
  std::vector<parsed_service> parsed;
  std::map<std::string, std::string> address_owner;
  for (auto [k, v] : items) {
    std::string name(k->str());
    if (!valid_service_name(name))
      ck.error(k->source(), fmt::format("service name '{}' is invalid: use 1 to {} of a-z, 0-9 and '-', starting "
                                        "with a letter or digit",
                                        clean(name), max_name_chars));
    else if (name == "bus" || name == "weftd")
      ck.error(k->source(), fmt::format("service name '{}' is reserved for weft itself", name));
    auto* st = v->as_table();
    if (!st) {
      ck.error(v->source(), fmt::format("[services.{}] must be a table, not {}", clean(name), a_type(*v)));
      continue;
    }
    parsed.push_back(read_service(ck, name, *st));
    auto& s = parsed.back().spec;
    if (auto [it, fresh] = address_owner.emplace(s.address, name); !fresh)
      ck.error((st->contains("address") ? st->get("address") : st)->source(),
               fmt::format("[services.{}] address '{}' is already used by [services.{}]", clean(name),
                           clean(s.address), clean(it->second)));
  }
  check_order(ck, parsed);
  std::vector<service_spec> out;
  for (auto& p : parsed) out.push_back(std::move(p.spec));
  return out;
}

}  // namespace

config default_config() { return config{}; }

result<config> load_config_or_default(const std::string& path) {
  return path.empty() ? result<config>(default_config()) : load_config(path);
}

result<config> parse_config(std::string_view text, std::string_view source_name) {
  checker ck(source_name);
  toml::table root;
#if TOML_EXCEPTIONS
  // toml++ reports syntax errors by throwing (Debian builds it that way); this is the
  // boundary where that becomes a result.
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    ck.error(e.source(), e.description());
    return ck.take_error();
  }
#else
  auto parsed = toml::parse(text, source_name);
  if (!parsed) {
    ck.error(parsed.error().source(), parsed.error().description());
    return ck.take_error();
  }
  root = std::move(parsed).table();
#endif
  config cfg;
  cfg.source = std::string(source_name);
  std::vector<std::string_view> known(sections.begin(), sections.end());
  known.insert(known.end(), reserved_sections.begin(), reserved_sections.end());
  for (auto& [k, v] : root) {
    auto key = k.str();
    if (std::find(reserved_sections.begin(), reserved_sections.end(), key) != reserved_sections.end()) {
      ck.warning(v.source(), fmt::format("section '[{}]' is not supported by this build yet, ignoring.", key));
      continue;
    }
    if (std::find(sections.begin(), sections.end(), key) == sections.end()) {
      ck.unknown_key(k, "at the top level", known);
      continue;
    }
    auto* t = v.as_table();
    if (!t) {
      ck.error(v.source(), fmt::format("[{}] must be a table, not {}", key, a_type(v)));
    } else if (key == "weft") {
      read_weft(ck, *t, cfg);
    } else if (key == "bus") {
      cfg.bus = read_bus(ck, *t);
    } else if (key == "supervisor") {
      cfg.supervisor = read_supervisor(ck, *t);
    } else {
      cfg.services = read_services(ck, *t);
    }
  }
  if (ck.failed()) return ck.take_error();
  cfg.warnings = ck.take_warnings();
  return cfg;
}

result<config> load_config(const std::string& path) {
  auto failed = [&](std::string_view reason) {
    return fail(errc::io, "Failed to read config '{}': {}", path, reason);
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return failed(std::strerror(errno));
  std::string text;
  char buf[64 * 1024];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      if (n < 0) return failed(std::strerror(e));
      break;
    }
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > max_config_bytes) {
      ::close(fd);
      return failed(fmt::format("larger than {} bytes", max_config_bytes));
    }
  }
  return parse_config(text, path);
}

std::optional<std::string> find_config(std::string_view explicit_path) {
  if (!explicit_path.empty()) return std::string(explicit_path);
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "");
  };
  if (auto v = env("WEFT_CONFIG"); !v.empty()) return v;
  std::vector<std::string> candidates;
  if (auto home = env("WEFT_HOME"); !home.empty()) candidates.push_back(home + "/clawft.toml");
  if (auto home = env("HOME"); !home.empty()) candidates.push_back(home + "/.clawft/clawft.toml");
  candidates.push_back("/etc/weft/clawft.toml");
  for (auto& c : candidates) {
    struct stat st;
    if (::stat(c.c_str(), &st) == 0) return c;
  }
  return std::nullopt;
}

}  // namespace weft::service
