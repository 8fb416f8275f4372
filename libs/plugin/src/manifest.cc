#include <weft/plugin/manifest.hh>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include <weft/base/io.hh>
#include <weft/service/toml_check.hh>

namespace weft::plugin {

namespace fs = std::filesystem;
using toml_check::a_type;
using toml_check::checker;
using toml_check::clean;
using toml_check::in_file_order;

namespace {

constexpr std::size_t max_name_chars = 64, max_publisher_chars = 128, max_description_chars = 1024,
                      max_tool_description_chars = 4096, max_path_chars = 1024, max_export_chars = 128,
                      max_schema_bytes = 16 * 1024, max_schema_depth = 32, max_env_value_chars = 4096;
constexpr std::size_t max_tools = 64, max_paths = 32, max_hosts = 64, max_blocks = 16, max_env = 64,
                      max_unknown_value_chars = 1024;

constexpr std::array<std::string_view, 9> top_keys = {"manifest_version", "name", "version", "publisher", "description",
                                                      "entry", "capabilities", "tools", "permissions"};
constexpr std::array<std::string_view, 4> tool_keys = {"name", "description", "input_schema", "export"};
constexpr std::array<std::string_view, 5> permission_kinds = {"files", "network", "env", "limits", "host_functions"};
constexpr std::array<std::string_view, 2> files_keys = {"read", "write"};
constexpr std::array<std::string_view, 2> network_keys = {"hosts", "allow_private"};
constexpr std::array<std::string_view, 4> limits_keys = {"memory_mib", "time_ms", "instructions", "result_bytes"};

std::string toml_text(const toml::node& n) {
  std::ostringstream os;
  n.visit([&](auto& v) { os << v; });
  auto s = os.str();
  if (s.size() > max_unknown_value_chars) s = s.substr(0, max_unknown_value_chars) + "…";
  return s;
}

/// Skill names and plugin names follow one rule.
bool valid_plugin_name(std::string_view n) {
  if (n.empty() || n.size() > max_name_chars || n.front() == '-' || n.back() == '-') return false;
  if (n.find("--") != std::string_view::npos) return false;
  return std::all_of(n.begin(), n.end(), [](char c) { return toml_check::lower_alnum(c) || c == '-'; });
}

bool valid_tool_name(std::string_view n) {
  return !n.empty() && n.size() <= max_name_chars && n[0] >= 'a' && n[0] <= 'z' &&
         std::all_of(n.begin(), n.end(), [](char c) { return toml_check::lower_alnum(c) || c == '_'; });
}

bool valid_export(std::string_view n) {
  return !n.empty() && n.size() <= max_export_chars && !(n[0] >= '0' && n[0] <= '9') &&
         std::all_of(n.begin(), n.end(), [](char c) { return toml_check::alnum(c) || c == '_'; });
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { auto u = static_cast<unsigned char>(c); return u < 0x20 || u == 0x7f; });
}

/// The deepest nesting of arrays and objects in JSON text (strings skipped), so text nested
/// deeper than any schema needs is refused before a recursive walk could meet it.
std::size_t json_depth(std::string_view s) {
  std::size_t depth = 0, most = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      most = std::max(most, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return most;
}

/// A TOML value as JSON; nullopt (with `why` set) for what JSON has no form of (dates).
std::optional<nlohmann::json> to_json(const toml::node& n, std::string& why, std::size_t depth = 0) {
  if (depth > max_schema_depth) {
    why = fmt::format("nested deeper than {} levels", max_schema_depth);
    return std::nullopt;
  }
  if (auto* t = n.as_table()) {
    auto out = nlohmann::json::object();
    for (auto& [k, v] : *t) {
      auto j = to_json(v, why, depth + 1);
      if (!j) return std::nullopt;
      out[std::string(k.str())] = std::move(*j);
    }
    return out;
  }
  if (auto* a = n.as_array()) {
    auto out = nlohmann::json::array();
    for (auto& v : *a) {
      auto j = to_json(v, why, depth + 1);
      if (!j) return std::nullopt;
      out.push_back(std::move(*j));
    }
    return out;
  }
  if (auto* s = n.as_string()) return nlohmann::json(s->get());
  if (auto* i = n.as_integer()) return nlohmann::json(i->get());
  if (auto* f = n.as_floating_point()) return nlohmann::json(f->get());
  if (auto* b = n.as_boolean()) return nlohmann::json(b->get());
  why = fmt::format("JSON Schema has no {}", a_type(n).substr(a_type(n).find(' ') + 1));
  return std::nullopt;
}

class reader {
 public:
  reader(std::string_view source, std::string plugin_dir)
      : _ck(source, toml_check::env_mode::literal), _dir(std::move(plugin_dir)), _src(source) {}

  result<manifest> read(std::string_view text) {
    if (text.size() > max_manifest_bytes)
      return fail(errc::config, "{}:1:1: error: the manifest is larger than {} bytes", _source(), max_manifest_bytes);
    toml::table root;
#if TOML_EXCEPTIONS
    // toml++ reports syntax errors by throwing (Debian builds it that way): the boundary
    // where that becomes a result.
    try {
      root = toml::parse(text, _source());
    } catch (const toml::parse_error& e) {
      _ck.error(e.source(), e.description());
      return _ck.take_error();
    }
#else
    auto parsed = toml::parse(text, _source());
    if (!parsed) {
      _ck.error(parsed.error().source(), parsed.error().description());
      return _ck.take_error();
    }
    root = std::move(parsed).table();
#endif
    // The version first: a manifest of a newer schema is refused as a whole rather than
    // reported key by key against a schema it was not written for.
    auto* v = root.get("manifest_version");
    if (!v) {
      _ck.error(root.source(), fmt::format("the manifest is missing required key 'manifest_version' (this build reads {})",
                                           manifest_version));
      return _ck.take_error();
    }
    if (!v->is_integer()) {
      _ck.error(v->source(), fmt::format("manifest_version must be an integer, not {}", a_type(*v)));
      return _ck.take_error();
    }
    auto mv = v->as_integer()->get();
    if (mv != manifest_version) {
      _ck.error(v->source(), mv > manifest_version
                                 ? fmt::format("manifest_version {} is newer than this build reads ({})", mv, manifest_version)
                                 : fmt::format("manifest_version must be {}, not {}", manifest_version, mv));
      return _ck.take_error();
    }
    _m.version_of_manifest = mv;
    unknown_keys(root, "", "the manifest's top level", top_keys);
    read_identity(root);
    read_entry(root);
    read_capabilities(root);
    read_tools(root);
    read_permissions(root);
    cross_checks(root);
    if (_ck.failed()) return _ck.take_error();
    _m.warnings = _ck.take_warnings();
    return std::move(_m);
  }

 private:
  const std::string& _source() const { return _src; }

  template <class Keys>
  void unknown_keys(const toml::table& t, std::string_view prefix, std::string_view where, const Keys& known) {
    for (auto [k, v] : in_file_order(t)) {
      if (toml_check::contains(known, k->str())) continue;
      auto key = std::string(prefix) + std::string(k->str());
      _m.unknown.push_back({key, _ck.where(k->source()), toml_text(*v)});
      auto hint = toml_check::suggestion(k->str(), known);
      if (!hint.empty()) hint = " (" + hint.substr(2) + ")";
      _ck.warning(k->source(), fmt::format("unknown key '{}' in {}{}, ignoring.", clean(k->str()), where, hint));
    }
  }

  void read_identity(const toml::table& root) {
    if (auto n = _ck.read_required(root, "the manifest", "name")) {
      if (valid_plugin_name(*n)) _m.name = *n;
      else
        _ck.error(root.get("name")->source(),
                  fmt::format("name '{}' must be 1 to {} of a-z, 0-9 and '-', without a leading, trailing or double '-'",
                              clean(*n), max_name_chars));
    }
    if (auto s = _ck.read_required(root, "the manifest", "version")) {
      if (valid_semver(*s)) _m.version = *s;
      else
        _ck.error(root.get("version")->source(),
                  fmt::format("version '{}' is not a semantic version (MAJOR.MINOR.PATCH, as in '1.4.0' or '2.0.0-rc.1')",
                              clean(*s)));
    }
    auto text = [&](std::string_view key, std::size_t most, std::string& out) {
      auto s = _ck.read_required(root, "the manifest", key);
      if (!s) return;
      if (s->size() > most) _ck.error(root.get(key)->source(), fmt::format("{} must be at most {} bytes, not {}", key, most, s->size()));
      else if (has_control(*s)) _ck.error(root.get(key)->source(), fmt::format("{} must not contain control characters", key));
      else out = *s;
    };
    text("publisher", max_publisher_chars, _m.publisher);
    text("description", max_description_chars, _m.description);
  }

  void read_entry(const toml::table& root) {
    auto e = _ck.read_required(root, "the manifest", "entry");
    if (!e) return;
    auto& at = root.get("entry")->source();
    auto rel = workspace_relative(*e);
    if (!rel) {
      _ck.error(at, fmt::format("entry '{}' {}", clean(*e), rel.err().message));
      return;
    }
    if (*rel == "." || !rel->ends_with(".wasm") || rel->size() <= 5 || rel->ends_with("/.wasm")) {
      _ck.error(at, fmt::format("entry '{}' must name a .wasm file in the plugin folder", clean(*e)));
      return;
    }
    if (!_dir.empty()) {
      std::error_code ec;
      auto dir = fs::canonical(_dir, ec);
      if (ec) {
        _ck.error(at, fmt::format("entry '{}' cannot be checked: the plugin folder '{}': {}", clean(*e), clean(_dir), ec.message()));
        return;
      }
      auto target = fs::canonical(dir / *rel, ec);
      if (ec) {
        _ck.error(at, fmt::format("entry '{}' does not exist in the plugin folder ({})", clean(*e), ec.message()));
        return;
      }
      // Real paths, component by component: a symlink may point within the folder, never out.
      auto [d, t] = std::mismatch(dir.begin(), dir.end(), target.begin(), target.end());
      if (d != dir.end()) {
        _ck.error(at, fmt::format("entry '{}' leads out of the plugin folder (to '{}')", clean(*e), clean(target.string())));
        return;
      }
      if (!fs::is_regular_file(target, ec)) {
        _ck.error(at, fmt::format("entry '{}' is not a regular file", clean(*e)));
        return;
      }
    }
    _m.entry = *rel;
  }

  void read_capabilities(const toml::table& root) {
    auto* n = root.get("capabilities");
    if (!n) {
      _ck.error(root.source(), fmt::format("the manifest is missing required key 'capabilities' (any of: {})",
                                           fmt::join(capability_names, ", ")));
      return;
    }
    auto list = _ck.read_strings(root, "the manifest", "capabilities");
    if (!list) return;
    _capabilities_read = !list->empty();  // and every name known (below)
    auto* a = n->as_array();
    if (list->empty()) _ck.error(n->source(), "capabilities must name at least one of: " + fmt::format("{}", fmt::join(capability_names, ", ")));
    for (std::size_t i = 0; i < list->size(); ++i) {
      auto& name = (*list)[i];
      auto& at = (*a)[i].source();
      auto it = std::find(capability_names.begin(), capability_names.end(), name);
      if (it == capability_names.end()) {
        _ck.error(at, fmt::format("unknown capability '{}'; expected one of: {}{}", clean(name), fmt::join(capability_names, ", "),
                                  toml_check::suggestion(name, capability_names)));
        _capabilities_read = false;
        continue;
      }
      auto c = static_cast<capability>(it - capability_names.begin());
      if (_m.has(c)) {
        _ck.warning(at, fmt::format("capability '{}' is named twice, ignoring.", name));
        continue;
      }
      _m.capabilities.push_back(c);
      if (std::find(unsupported_capabilities.begin(), unsupported_capabilities.end(), c) != unsupported_capabilities.end())
        _ck.warning(at, fmt::format("capability '{}' is reserved and not supported by this build, ignoring.", name));
    }
  }

  void read_tools(const toml::table& root) {
    auto* n = root.get("tools");
    if (!n) return;
    auto* a = n->as_array();
    if (!a) {
      _ck.error(n->source(), fmt::format("tools must be an array of tables ([[tools]]), not {}", a_type(*n)));
      return;
    }
    if (a->size() > max_tools) {
      _ck.error(n->source(), fmt::format("a plugin may declare at most {} tools, not {}", max_tools, a->size()));
      return;
    }
    for (std::size_t i = 0; i < a->size(); ++i) {
      auto* t = (*a)[i].as_table();
      if (!t) {
        _ck.error((*a)[i].source(), fmt::format("tools must contain only tables ([[tools]]), not {}", a_type((*a)[i])));
        continue;
      }
      auto label = fmt::format("tools[{}]", i);
      unknown_keys(*t, fmt::format("tools.{}.", i), fmt::format("[[tools]] (tool {})", i + 1), tool_keys);
      tool tl;
      bool ok = true;
      if (auto s = _ck.read_required(*t, label, "name")) {
        if (!valid_tool_name(*s)) {
          _ck.error(t->get("name")->source(),
                    fmt::format("{} name '{}' must be 1 to {} of a-z, 0-9 and '_', starting with a letter", label, clean(*s), max_name_chars));
          ok = false;
        } else if (std::any_of(_m.tools.begin(), _m.tools.end(), [&](const tool& o) { return o.name == *s; })) {
          _ck.error(t->get("name")->source(), fmt::format("{} name '{}' is declared twice", label, *s));
          ok = false;
        } else {
          tl.name = *s;
        }
      } else {
        ok = false;
      }
      if (auto s = _ck.read_required(*t, label, "description")) {
        if (s->size() > max_tool_description_chars) {
          _ck.error(t->get("description")->source(),
                    fmt::format("{} description must be at most {} bytes, not {}", label, max_tool_description_chars, s->size()));
          ok = false;
        } else {
          tl.description = *s;
        }
      } else {
        ok = false;
      }
      tl.export_name = tl.name;
      if (auto* e = t->get("export")) {
        if (auto s = _ck.read_string(*t, label, "export"); s && valid_export(*s)) tl.export_name = *s;
        else {
          if (s)
            _ck.error(e->source(), fmt::format("{} export '{}' must be 1 to {} of letters, digits and '_', not starting with a digit",
                                               label, clean(*s), max_export_chars));
          ok = false;
        }
      }
      if (auto schema = read_schema(*t, label)) tl.input_schema = *schema;
      else ok = false;
      if (ok) _m.tools.push_back(std::move(tl));
    }
  }

  /// input_schema: a TOML table, or JSON text in a string; an object whose "type" is "object".
  std::optional<std::string> read_schema(const toml::table& t, std::string_view label) {
    auto* n = t.get("input_schema");
    if (!n) return std::string(R"({"type":"object"})");
    std::optional<nlohmann::json> j;
    std::string why;
    if (auto* s = n->as_string()) {
      auto& text = s->get();
      if (text.size() > max_schema_bytes) why = fmt::format("larger than {} bytes", max_schema_bytes);
      else if (json_depth(text) > max_schema_depth) why = fmt::format("nested deeper than {} levels", max_schema_depth);
      else {
        auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
        if (parsed.is_discarded()) why = "not valid JSON";
        else j = std::move(parsed);
      }
    } else if (n->is_table()) {
      j = to_json(*n, why);
    } else {
      _ck.error(n->source(), fmt::format("{} input_schema must be a table or a string of JSON, not {}", label, a_type(*n)));
      return std::nullopt;
    }
    if (j && !j->is_object()) why = "not a JSON object";
    else if (j && (!j->contains("type") || (*j)["type"] != "object"))
      why = "a tool's input is an object: the schema must have \"type\": \"object\"";
    std::string out;
    if (j && why.empty()) {
      out = j->dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
      if (out.size() > max_schema_bytes) why = fmt::format("larger than {} bytes", max_schema_bytes);
    }
    if (!why.empty()) {
      _ck.error(n->source(), fmt::format("{} input_schema is {}", label, why));
      return std::nullopt;
    }
    return out;
  }

  void read_permissions(const toml::table& root) {
    auto* n = root.get("permissions");
    if (!n) return;
    auto* p = n->as_table();
    if (!p) {
      _ck.error(n->source(), fmt::format("permissions must be a table, not {}", a_type(*n)));
      return;
    }
    // Unknown kinds are errors, unlike other unknown keys: a permission this build does not
    // know is one it cannot enforce, so the plugin cannot have been written for it.
    for (auto [k, v] : in_file_order(*p))
      if (!toml_check::contains(permission_kinds, k->str()))
        _ck.error(k->source(), fmt::format("unknown permission kind '{}'; expected one of: {}{}", clean(k->str()),
                                           fmt::join(permission_kinds, ", "), toml_check::suggestion(k->str(), permission_kinds)));
    auto& perm = _m.permissions;
    if (auto* f = table_at(*p, "files", "permissions.files")) {
      unknown_keys(*f, "permissions.files.", "[permissions.files]", files_keys);
      perm.files_read = read_paths(*f, "read");
      perm.files_write = read_paths(*f, "write");
    }
    if (auto* net = table_at(*p, "network", "permissions.network")) {
      unknown_keys(*net, "permissions.network.", "[permissions.network]", network_keys);
      read_network(*net);
    }
    if (auto* e = table_at(*p, "env", "permissions.env")) read_env(*e);
    if (auto* l = table_at(*p, "limits", "permissions.limits")) {
      unknown_keys(*l, "permissions.limits.", "[permissions.limits]", limits_keys);
      using b = limit_bounds;
      auto& lim = perm.limits;
      auto sec = "permissions.limits";
      if (auto v = _ck.read_uint<std::uint32_t>(*l, sec, "memory_mib", b::min_memory_mib, b::max_memory_mib)) lim.memory_mib = *v;
      if (auto v = _ck.read_uint<std::uint32_t>(*l, sec, "time_ms", b::min_time_ms, b::max_time_ms)) lim.time_ms = *v;
      if (auto v = _ck.read_uint<std::uint64_t>(*l, sec, "instructions", b::min_instructions, b::max_instructions)) lim.instructions = *v;
      if (auto v = _ck.read_uint<std::uint32_t>(*l, sec, "result_bytes", b::min_result_bytes, b::max_result_bytes)) lim.result_bytes = *v;
    }
    if (auto* hf = p->get("host_functions")) {
      auto names = _ck.read_strings(*p, "permissions", "host_functions");
      if (!names) return;
      auto* a = hf->as_array();
      for (std::size_t i = 0; i < names->size(); ++i) {
        auto& name = (*names)[i];
        auto f = host_function_named(name);
        if (!f) {
          _ck.error((*a)[i].source(), fmt::format("unknown host function '{}'; expected one of: {}{}", clean(name),
                                                  fmt::join(host_function_names, ", "), toml_check::suggestion(name, host_function_names)));
        } else if (std::find(perm.host_functions.begin(), perm.host_functions.end(), *f) != perm.host_functions.end()) {
          _ck.warning((*a)[i].source(), fmt::format("host function '{}' is named twice, ignoring.", name));
        } else {
          perm.host_functions.push_back(*f);
        }
      }
    }
  }

  const toml::table* table_at(const toml::table& p, std::string_view key, std::string_view label) {
    auto* n = p.get(key);
    if (!n) return nullptr;
    if (!n->is_table()) {
      _ck.error(n->source(), fmt::format("{} must be a table, not {}", label, a_type(*n)));
      return nullptr;
    }
    return n->as_table();
  }

  std::vector<std::string> read_paths(const toml::table& f, std::string_view key) {
    std::vector<std::string> out;
    auto label = fmt::format("permissions.files {}", key);
    auto list = _ck.read_strings(f, "permissions.files", key);
    if (!list) return out;
    auto* a = f.get(key)->as_array();
    if (list->size() > max_paths) {
      _ck.error(a->source(), fmt::format("{} may list at most {} paths, not {}", label, max_paths, list->size()));
      return out;
    }
    for (std::size_t i = 0; i < list->size(); ++i) {
      auto rel = workspace_relative((*list)[i]);
      if (!rel) _ck.error((*a)[i].source(), fmt::format("{} path '{}' {}", label, clean((*list)[i]), rel.err().message));
      else if (std::find(out.begin(), out.end(), *rel) != out.end())
        _ck.warning((*a)[i].source(), fmt::format("{} path '{}' is listed twice, ignoring.", label, clean((*list)[i])));
      else out.push_back(std::move(*rel));
    }
    return out;
  }

  void read_network(const toml::table& net) {
    auto& list = _m.permissions.network;
    if (auto hosts = _ck.read_strings(net, "permissions.network", "hosts")) {
      auto* a = net.get("hosts")->as_array();
      if (hosts->size() > max_hosts) {
        _ck.error(a->source(), fmt::format("permissions.network hosts may list at most {} entries, not {}", max_hosts, hosts->size()));
      } else {
        for (std::size_t i = 0; i < hosts->size(); ++i) {
          auto r = parse_host_rule((*hosts)[i]);
          if (!r) _ck.error((*a)[i].source(), fmt::format("permissions.network hosts: {}", r.err().message));
          else if (std::find(list.hosts.begin(), list.hosts.end(), *r) != list.hosts.end())
            _ck.warning((*a)[i].source(), fmt::format("permissions.network hosts: '{}' is listed twice, ignoring.", clean((*hosts)[i])));
          else list.hosts.push_back(std::move(*r));
        }
      }
    }
    if (auto blocks = _ck.read_strings(net, "permissions.network", "allow_private")) {
      auto* a = net.get("allow_private")->as_array();
      if (blocks->size() > max_blocks) {
        _ck.error(a->source(), fmt::format("permissions.network allow_private may list at most {} blocks, not {}", max_blocks, blocks->size()));
        return;
      }
      for (std::size_t i = 0; i < blocks->size(); ++i) {
        auto p = net::parse_prefix((*blocks)[i]);
        if (!p) {
          _ck.error((*a)[i].source(), fmt::format("permissions.network allow_private: {}", p.err().message));
        } else if (p->bits < (p->family == AF_INET ? 8u : 16u)) {
          // A block that wide is not a declaration of a service the plugin needs.
          _ck.error((*a)[i].source(), fmt::format("permissions.network allow_private block '{}' is wider than /{}; name the network the plugin needs",
                                                  clean((*blocks)[i]), p->family == AF_INET ? 8 : 16));
        } else {
          list.allow_private.push_back(*p);
        }
      }
    }
  }

  void read_env(const toml::table& e) {
    if (e.size() > max_env) {
      _ck.error(e.source(), fmt::format("permissions.env may give at most {} values, not {}", max_env, e.size()));
      return;
    }
    for (auto [k, v] : in_file_order(e)) {
      auto name = std::string(k->str());
      if (!toml_check::valid_env_name(name)) {
        _ck.error(k->source(), fmt::format("permissions.env name '{}' must be letters, digits and '_', not starting with a digit", clean(name)));
        continue;
      }
      auto* s = v->as_string();
      if (!s) {
        _ck.error(v->source(), fmt::format("permissions.env {} must be a string, not {}", name, a_type(*v)));
        continue;
      }
      if (s->get().size() > max_env_value_chars || s->get().find('\0') != std::string::npos) {
        _ck.error(v->source(), fmt::format("permissions.env {} must be at most {} bytes without NUL", name, max_env_value_chars));
        continue;
      }
      if (s->get().find("${") != std::string::npos)
        _ck.warning(v->source(), fmt::format("permissions.env {} is given to the plugin as written: a plugin never sees "
                                             "weft's environment, so '${{…}}' is not substituted, ignoring.", name));
      _m.permissions.env[name] = s->get();
    }
  }

  /// What is declared but cannot take effect as written.
  void cross_checks(const toml::table& root) {
    // Only against capabilities that could be read: a broken list is reported once, as itself.
    if (!_capabilities_read) return;
    bool has_tools_cap = _m.has(capability::tools);
    if (auto* t = root.get("tools"); t && !has_tools_cap && t->is_array() && !t->as_array()->empty())
      _ck.error(t->source(), "[[tools]] are declared but capabilities does not name 'tools'");
    if (has_tools_cap && !root.get("tools") && root.get("capabilities"))
      _ck.error(root.get("capabilities")->source(), "capability 'tools' needs at least one [[tools]] entry");
    auto& p = _m.permissions;
    auto asks = [&](host_function f) { return std::find(p.host_functions.begin(), p.host_functions.end(), f) != p.host_functions.end(); };
    auto* perm = root.get("permissions") ? root.get("permissions")->as_table() : nullptr;
    if (!perm) return;
    auto warn = [&](const char* path, const char* key, std::string_view fn) {
      auto* n = perm->at_path(path).node();
      if (n) _ck.warning(n->source(), fmt::format("permissions.{} is declared but host_functions does not ask for '{}', so it grants nothing, ignoring.", key, fn));
    };
    if (!p.files_read.empty() && !asks(host_function::file_read)) warn("files.read", "files.read", "file_read");
    if (!p.files_write.empty() && !asks(host_function::file_write)) warn("files.write", "files.write", "file_write");
    if (!p.network.empty() && !asks(host_function::http_fetch)) warn("network.hosts", "network.hosts", "http_fetch");
  }

  checker _ck;
  std::string _dir;
  std::string _src;
  manifest _m;
  bool _capabilities_read = false;
};

// The semantic version grammar (semver.org 2.0.0): numeric identifiers without leading
// zeros, pre-release identifiers of [0-9A-Za-z-], build identifiers likewise (leading
// zeros allowed there).
bool numeric_id(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
         (s.size() == 1 || s[0] != '0');
}
bool dot_ids(std::string_view s, bool pre) {
  if (s.empty()) return false;
  for (std::size_t start = 0;;) {
    auto dot = s.find('.', start);
    auto id = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (id.empty() || !std::all_of(id.begin(), id.end(), [](char c) { return toml_check::alnum(c) || c == '-'; })) return false;
    bool digits = std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (pre && digits && !numeric_id(id)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

}  // namespace

std::string_view name_of(capability c) { return capability_names[static_cast<std::size_t>(c)]; }
std::string_view name_of(host_function f) { return host_function_names[static_cast<std::size_t>(f)]; }

std::optional<host_function> host_function_named(std::string_view name) {
  auto it = std::find(host_function_names.begin(), host_function_names.end(), name);
  if (it == host_function_names.end()) return std::nullopt;
  return static_cast<host_function>(it - host_function_names.begin());
}

bool manifest::has(capability c) const { return std::find(capabilities.begin(), capabilities.end(), c) != capabilities.end(); }

std::vector<capability> manifest::unsupported() const {
  std::vector<capability> out;
  for (auto c : capabilities)
    if (std::find(unsupported_capabilities.begin(), unsupported_capabilities.end(), c) != unsupported_capabilities.end())
      out.push_back(c);
  return out;
}

bool valid_semver(std::string_view v) {
  if (v.size() > 256) return false;
  auto plus = v.find('+');
  if (plus != std::string_view::npos && !dot_ids(v.substr(plus + 1), /*pre=*/false)) return false;
  auto core = v.substr(0, plus);
  auto dash = core.find('-');
  if (dash != std::string_view::npos && !dot_ids(core.substr(dash + 1), /*pre=*/true)) return false;
  core = core.substr(0, dash);
  int parts = 0;
  for (std::size_t start = 0;; ++parts) {
    auto dot = core.find('.', start);
    if (!numeric_id(core.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start))) return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts == 2;
}

result<std::string> workspace_relative(std::string_view path) {
  auto bad = [](std::string_view why) { return fail(errc::invalid_argument, "{}", why); };
  if (path.empty()) return bad("is empty; write '.' for the whole folder");
  if (path.size() > max_path_chars) return bad(fmt::format("is longer than {} bytes", max_path_chars));
  if (has_control(path)) return bad("contains control characters");
  if (path.front() == '/') return bad("is absolute; write it relative to the folder");
  std::string out;
  for (std::size_t start = 0;;) {
    auto slash = path.find('/', start);
    auto part = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part == "..") return bad("contains '..'; a path may not lead out of its folder");
    if (!part.empty() && part != ".") {
      if (!out.empty()) out += '/';
      out += part;
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out.empty() ? std::string(".") : out;
}

result<manifest> parse_manifest(std::string_view text, std::string_view source, const std::string& plugin_dir) {
  reader r(source, plugin_dir);
  return r.read(text);
}

result<manifest> load_manifest(const std::string& plugin_dir) {
  auto path = (fs::path(plugin_dir) / "plugin.toml").string();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return fail(errc::not_found, "Failed to read plugin manifest '{}': {}", path, std::strerror(errno));
  auto text = read_to_end(fd, max_manifest_bytes);
  ::close(fd);
  if (!text) return fail(text.err().code, "Failed to read plugin manifest '{}': {}", path, text.err().message);
  return parse_manifest(*text, path, plugin_dir);
}

}  // namespace weft::plugin
