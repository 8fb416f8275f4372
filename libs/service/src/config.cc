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

#include <weft/base/io.hh>
#include <weft/base/log.hh>

#include "config_check.hh"

namespace weft::service {

bool service_spec::operator==(const service_spec& o) const {
  return name == o.name && exec == o.exec && args == o.args && address == o.address && after == o.after &&
         env == o.env && restart == o.restart && enabled == o.enabled && sandbox == o.sandbox &&
         reload_signal == o.reload_signal && reads == o.reads;
}

namespace {

using namespace detail;

/// A config file is written by a person; anything larger is a mistake (a log, a binary).
constexpr std::size_t max_config_bytes = 4u << 20;
/// sun_path holds 108 bytes with the NUL; the longest socket weft puts in the runtime
/// directory is "/control".
constexpr std::size_t max_runtime_dir_bytes = 107 - std::string_view("/control").size();
constexpr std::uint64_t max_message_bytes_lo = 1024, max_message_bytes_hi = 64u << 20;
constexpr std::uint32_t queue_depth_hi = 1000000;

constexpr std::array<std::string_view, 4> sections = {"weft", "bus", "supervisor", "services"};
// Sections of later features: accepted so one file serves several builds, but not read.
constexpr std::array<std::string_view, 2> reserved_sections = {"security", "hub"};

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
  const toml::node* table = nullptr;  ///< null for a derived service
};

parsed_service read_service(checker& ck, const std::string& name, const toml::table& st) {
  auto label = fmt::format("[services.{}]", clean(name));
  parsed_service parsed;
  parsed.table = &st;
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

/// Every `after` of a file's service names the bus or another service (from the file or
/// derived from [agents] and [channels]), and the start order of all of them has no cycle.
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
      bool derived = services[i].table == nullptr;
      auto* node = services[i].after ? services[i].after->get(j) : nullptr;
      if (dep == "bus" || (!derived && !node)) continue;
      if (auto it = index.find(dep); it != index.end()) {
        edges[i].emplace_back(it->second, node);
        continue;
      }
      if (node)
        ck.error(node->source(), fmt::format("[services.{}] after names '{}', which is neither 'bus' nor a "
                                             "configured service{}",
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
        const toml::node* at = node;
        std::string_view who = services[u].spec.name;
        for (auto it = std::find(path.begin(), path.end(), v); it != path.end(); ++it) {
          cycle.push_back(services[*it].spec.name);
          if (!at && services[*it].after) at = services[*it].after, who = services[*it].spec.name;
        }
        cycle.push_back(services[v].spec.name);
        // Derived services never wait for each other in a circle, so a cycle has a
        // service from the file in it, at whose `after` it is reported.
        if (at)
          ck.error(at->source(), fmt::format("[services.{}] after forms a cycle: {} (each waits for the next)", who,
                                             fmt::join(cycle, " -> ")));
      }
    }
    path.pop_back();
    state[u] = 2;
  };
  for (std::size_t i = 0; i < services.size(); ++i)
    if (state[i] == 0) visit(visit, i);
}

std::vector<parsed_service> read_services(checker& ck, const toml::table& t) {
  std::vector<parsed_service> parsed;
  std::map<std::string, std::string> address_owner;
  for (auto [k, v] : in_file_order(t)) {
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
  return parsed;
}

/// The file's services together with those derived from the config, which a file service
/// of the same name replaces: no address may be taken twice, and the order is checked on
/// the whole.
void check_services(checker& ck, std::vector<parsed_service> parsed, const config& c) {
  std::map<std::string, const parsed_service*> by_name;
  for (auto& p : parsed) by_name.emplace(p.spec.name, &p);
  std::vector<parsed_service> all = parsed;
  for (auto& d : derived_services(c, [](std::string_view program) { return std::string(program); })) {
    if (by_name.count(d.name)) continue;
    for (auto& p : parsed)
      if (p.spec.address == d.address)
        ck.error((p.table->as_table()->contains("address") ? p.table->as_table()->get("address") : p.table)->source(),
                 fmt::format("[services.{}] address '{}' is already used by the derived service '{}'; name the "
                             "service '{}' to replace it",
                             p.spec.name, clean(d.address), d.name, d.name));
    all.push_back({std::move(d), nullptr, nullptr});
  }
  check_order(ck, all);
}

}  // namespace

result<config> load_config_or_default(const std::string& path, bool lenient_env) {
  return path.empty() ? result<config>(default_config()) : load_config(path, lenient_env);
}

result<config> parse_config(std::string_view text, std::string_view source_name, bool lenient_env) {
  checker ck(source_name, lenient_env);
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
  // Variables outside the sections that own secrets go to every service (see secret_vars).
  ck.share_env(&cfg.secret_vars["*"]);
  std::vector<std::string_view> known(sections.begin(), sections.end());
  known.insert(known.end(), agent_sections.begin(), agent_sections.end());
  known.insert(known.end(), reserved_sections.begin(), reserved_sections.end());
  std::vector<parsed_service> services;
  for (auto& [k, v] : root) {
    auto key = k.str();
    if (key == "security") continue;  // read after [agents] (read_security), whose workspaces it names
    if (std::find(reserved_sections.begin(), reserved_sections.end(), key) != reserved_sections.end()) {
      ck.warning(v.source(), fmt::format("section '[{}]' is not supported by this build yet, ignoring.", key));
      continue;
    }
    if (std::find(agent_sections.begin(), agent_sections.end(), key) != agent_sections.end()) continue;
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
      // [services.<name>] values reach their service as its spec (exec, args, env) from
      // weftd; no other service needs their variables.
      std::vector<std::string> own;
      ck.track_env(&own);
      services = read_services(ck, *t);
      ck.track_env(nullptr);
    }
  }
  read_agent_sections(ck, root, cfg);
  if (auto* sec = root.get("security")) {
    if (auto* t = sec->as_table()) read_security(ck, *t, cfg);
    else ck.error(sec->source(), fmt::format("[security] must be a table, not {}", a_type(*sec)));
  }
  for (auto& p : services) cfg.services.push_back(p.spec);
  check_services(ck, std::move(services), cfg);
  if (ck.failed()) return ck.take_error();
  cfg.warnings = ck.take_warnings();
  return cfg;
}

result<config> load_config(const std::string& path, bool lenient_env) {
  auto failed = [&](std::string_view reason) {
    return fail(errc::io, "Failed to read config '{}': {}", path, reason);
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return failed(std::strerror(errno));
  auto text = read_to_end(fd, max_config_bytes);
  ::close(fd);
  if (!text) return failed(text.err().message);
  return parse_config(*text, path, lenient_env);
}

namespace {

/// The places find_config looks when no file is named, in order.
std::vector<std::string> config_candidates() {
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "");
  };
  std::vector<std::string> candidates;
  if (auto home = env("WEFT_HOME"); !home.empty()) candidates.push_back(home + "/clawft.toml");
  if (auto home = env("HOME"); !home.empty()) candidates.push_back(home + "/.clawft/clawft.toml");
  candidates.push_back("/etc/weft/clawft.toml");
  return candidates;
}

}  // namespace

std::optional<std::string> find_config(std::string_view explicit_path) {
  if (!explicit_path.empty()) return std::string(explicit_path);
  if (const char* v = std::getenv("WEFT_CONFIG"); v && *v) return std::string(v);
  for (auto& c : config_candidates()) {
    struct stat st;
    if (::stat(c.c_str(), &st) == 0) return c;
  }
  return std::nullopt;
}

std::string new_config_path() { return config_candidates().front(); }

}  // namespace weft::service
