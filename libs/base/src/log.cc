#include <weft/base/log.hh>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unistd.h>

#include <weft/base/time.hh>

namespace weft::log {

namespace {

struct registry {
  std::mutex mu;
  std::map<std::string, std::unique_ptr<logger>, std::less<>> loggers;
  level default_level = level::info;
  std::map<std::string, level, std::less<>> overrides;
  bool journal = std::getenv("JOURNAL_STREAM") != nullptr;

  level level_for(std::string_view name) const {
    // Longest configured prefix wins: "bus" applies to "bus.acl" too.
    level l = default_level;
    size_t best = 0;
    for (auto& [k, v] : overrides)
      if (name.substr(0, k.size()) == k && (name.size() == k.size() || name[k.size()] == '.') &&
          k.size() >= best) {
        l = v;
        best = k.size();
      }
    return l;
  }
};

registry& reg() {
  static registry* r = new registry;  // never destroyed: loggers outlive static teardown
  return *r;
}

constexpr std::string_view names[] = {"trace", "debug", "info", "warning", "error", "off"};
// syslog priorities for journald: debug=7 info=6 warning=4 err=3
constexpr int priorities[] = {7, 7, 6, 4, 3, 3};

}  // namespace

bool parse_level(std::string_view text, level& out) {
  for (size_t i = 0; i < std::size(names); ++i)
    if (text == names[i]) {
      out = static_cast<level>(i);
      return true;
    }
  if (text == "warn") { out = level::warning; return true; }
  return false;
}

std::string_view level_name(level l) { return names[static_cast<size_t>(l)]; }

logger::logger(std::string name) : _name(std::move(name)), _level(level::info) {}

void logger::write(level l, std::string_view text) const {
  std::string line;
  if (reg().journal)
    line = fmt::format("<{}>{}: {}\n", priorities[static_cast<size_t>(l)], _name, text);
  else
    line = fmt::format("{} {:<7} {}: {}\n", to_rfc3339(utc_now()), level_name(l), _name, text);
  // One write(2) per line so lines from several processes on one stderr do not interleave.
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, line.data(), line.size());
}

logger& get(std::string_view name) {
  auto& r = reg();
  std::lock_guard lock(r.mu);
  auto it = r.loggers.find(name);
  if (it != r.loggers.end()) return *it->second;
  auto l = std::make_unique<logger>(std::string(name));
  l->set_threshold(r.level_for(name));
  return *r.loggers.emplace(std::string(name), std::move(l)).first->second;
}

namespace {

struct parsed_spec {
  level def = level::info;
  std::map<std::string, level, std::less<>> overrides;
};

std::optional<parsed_spec> parse_spec(std::string_view spec) {
  parsed_spec out;
  while (!spec.empty()) {
    auto comma = spec.find(',');
    auto item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    if (item.empty()) continue;
    auto eq = item.find('=');
    level l;
    if (eq == std::string_view::npos) {
      if (!parse_level(item, l)) return std::nullopt;
      out.def = l;
    } else {
      if (!parse_level(item.substr(eq + 1), l) || eq == 0) return std::nullopt;
      out.overrides[std::string(item.substr(0, eq))] = l;
    }
  }
  return out;
}

}  // namespace

bool valid_spec(std::string_view spec) { return parse_spec(spec).has_value(); }

bool configure(std::string_view spec) {
  auto p = parse_spec(spec);
  if (!p) return false;
  auto& r = reg();
  std::lock_guard lock(r.mu);
  r.default_level = p->def;
  r.overrides = std::move(p->overrides);
  for (auto& [name, lg] : r.loggers) lg->set_threshold(r.level_for(name));
  return true;
}

void configure_from_env() {
  if (const char* s = std::getenv("WEFT_LOG"); s && *s)
    if (!configure(s)) get("log").warning("Failed to parse WEFT_LOG '{}', ignoring.", s);
}

}  // namespace weft::log
