#pragma once
/// Reading a TOML file a person wrote so that every problem is reported at once, each with
/// its file:line:column, and typed values come out only when valid: the checker behind
/// weft's config (libs/service) and plugin manifests (libs/plugin). Header-only, on toml++
/// and libs/base, so a library below libs/service (and the fuzz build) can use it too.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include <weft/base/result.hh>

namespace weft::toml_check {

/// Words longer than this get no "did you mean" (distance() is quadratic).
constexpr std::size_t max_word_chars = 64;

/// How `${NAME}` in strings is treated: substituted from the environment (a missing
/// variable is an error), substituted where set (`lenient`: a service re-reading a file
/// weftd already checked), or not at all (`literal`).
enum class env_mode : std::uint8_t { substitute = 0, lenient = 1, literal = 2 };

inline std::string_view a_type(const toml::node& n) {
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
inline std::string clean(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (auto u = static_cast<unsigned char>(c); u < 0x20 || u == 0x7f) out += fmt::format("\\x{:02x}", u);
    else out += c;
  }
  return out;
}

/// Edit distance counting a swap of neighbours as one edit ("form" is 1 from "from").
inline std::size_t distance(std::string_view a, std::string_view b) {
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
  if (word.size() > max_word_chars) return {};  // distance() is quadratic; no typo is that long
  std::string_view best;
  std::size_t best_d = 4;
  for (std::string_view w : words)
    if (auto d = distance(word, w); d < best_d && d * 2 <= word.size()) best = w, best_d = d;
  return best.empty() ? std::string() : fmt::format("; did you mean '{}'?", best);
}

inline bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
inline bool alnum(char c) { return lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
inline bool any_of_chars(char c, std::string_view set) { return set.find(c) != std::string_view::npos; }

inline bool valid_env_name(std::string_view n) {
  return !n.empty() && !(n[0] >= '0' && n[0] <= '9') &&
         std::all_of(n.begin(), n.end(), [](char c) { return alnum(c) || c == '_'; });
}

/// Collects every problem with its position, so one run reports all of them, and reads
/// typed values: each read_* returns the value of a key that is present and valid, and
/// nullopt otherwise (having reported the problem if the key is present).
class checker {
 public:
  explicit checker(std::string_view source, bool lenient_env = false) : _source(source), _lenient(lenient_env) {}
  /// `literal`: strings are taken as written, never with `${NAME}` substituted — for files
  /// whose author must not read this process's environment (a plugin's manifest).
  checker(std::string_view source, env_mode mode) : _source(source), _lenient(mode == env_mode::lenient),
                                                    _literal(mode == env_mode::literal) {}

  /// A service re-reading the file weftd already checked: variables of sections it does not
  /// own are unset here and substitute as empty.
  bool lenient() const { return _lenient; }

  /// Records the names of the environment variables substituted from now on into `to`, so
  /// a section's secrets can be handed to the service that owns it; nullptr: back into the
  /// list set by share_env (variables every service gets).
  void track_env(std::vector<std::string>* to) { _track = to ? to : _shared; }
  void share_env(std::vector<std::string>* to) { _track = _shared = to; }

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
  /// With `unset`, a variable that is not set is added to it instead of being an error
  /// (for secrets whose absence only disables a feature).
  std::optional<std::string> expand(const toml::node& n, std::string_view used_in,
                                    std::vector<std::string>* unset = nullptr) {
    std::string_view s = n.as_string()->get();
    if (_literal) return std::string(s);
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
      if (_track && valid_env_name(name) && std::find(_track->begin(), _track->end(), name) == _track->end())
        _track->push_back(name);
      if (!valid_env_name(name)) {
        error(n.source(), fmt::format("'${{{}}}' in {} is not a valid environment variable name", clean(expr), used_in));
        ok = false;
      } else if (sep != std::string_view::npos && (!value || !*value)) {
        out += expr.substr(sep + 2);
      } else if (!value && unset) {
        unset->push_back(name);
      } else if (!value && _lenient) {
        // A service re-reading the file weftd already checked: the variable belongs to
        // another service's section and was not given to this one.
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

  /// A finite number >= 0 written as an integer or a floating-point number.
  std::optional<double> read_non_negative(const toml::table& t, std::string_view section, std::string_view key) {
    auto* n = t.get(key);
    if (!n) return std::nullopt;
    double v;
    if (auto* i = n->as_integer()) v = static_cast<double>(i->get());
    else if (auto* f = n->as_floating_point()) v = f->get();
    else return wrong_type(*n, section, key, "a number");
    if (!std::isfinite(v) || v < 0) {
      error(n->source(), fmt::format("{} {} must be a finite number of at least 0, not {}", section, key, v));
      return std::nullopt;
    }
    return v;
  }

  /// A required string: reports a missing key at the table and an empty value at the value.
  std::optional<std::string> read_required(const toml::table& t, std::string_view section, std::string_view key) {
    if (!t.contains(key)) {
      error(t.source(), fmt::format("{} is missing required key '{}'", section, key));
      return std::nullopt;
    }
    auto s = read_string(t, section, key);
    if (s && s->empty()) {
      error(t.get(key)->source(), fmt::format("{} {} must not be empty", section, key));
      return std::nullopt;
    }
    return s;
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
  bool _lenient = false;
  bool _literal = false;
  std::vector<std::string>* _track = nullptr;
  std::vector<std::string>* _shared = nullptr;
  std::vector<diagnostic> _errors;
  std::vector<diagnostic> _warnings;
};

/// The (key, value) pairs of `t` in file order: toml++ keeps a table's keys sorted.
inline std::vector<std::pair<const toml::key*, const toml::node*>> in_file_order(const toml::table& t) {
  std::vector<std::pair<const toml::key*, const toml::node*>> items;
  for (auto& [k, v] : t) items.emplace_back(&k, &v);
  std::stable_sort(items.begin(), items.end(), [](auto& a, auto& b) {
    auto &x = a.second->source().begin, &y = b.second->source().begin;
    return std::tie(x.line, x.column) < std::tie(y.line, y.column);
  });
  return items;
}

template <class Names>
bool contains(const Names& names, std::string_view n) {
  return std::find(names.begin(), names.end(), n) != names.end();
}

template <class Map>
std::vector<std::string_view> keys_of(const Map& m) {
  std::vector<std::string_view> out;
  for (auto& [k, v] : m) out.push_back(k);
  return out;
}

}  // namespace weft::toml_check
