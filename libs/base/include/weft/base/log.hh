#pragma once
/// Named loggers whose levels can change at run time. Output goes to stderr:
/// with `<N>` priority prefixes under systemd (JOURNAL_STREAM set) so journald keeps
/// the level, otherwise with a UTC timestamp, the level and the logger name.

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/core.h>

namespace weft::log {

enum class level : std::uint8_t { trace = 0, debug = 1, info = 2, warning = 3, error = 4, off = 5 };

/// Parses "trace" … "error", "off"; returns false when unknown.
bool parse_level(std::string_view text, level& out);
std::string_view level_name(level l);

class logger {
 public:
  explicit logger(std::string name);
  const std::string& name() const { return _name; }
  level threshold() const { return _level.load(std::memory_order_relaxed); }
  void set_threshold(level l) { _level.store(l, std::memory_order_relaxed); }
  bool enabled(level l) const { return l >= threshold(); }

  template <class... Args>
  void trace(fmt::format_string<Args...> f, Args&&... a) { emit(level::trace, f, std::forward<Args>(a)...); }
  template <class... Args>
  void debug(fmt::format_string<Args...> f, Args&&... a) { emit(level::debug, f, std::forward<Args>(a)...); }
  template <class... Args>
  void info(fmt::format_string<Args...> f, Args&&... a) { emit(level::info, f, std::forward<Args>(a)...); }
  template <class... Args>
  void warning(fmt::format_string<Args...> f, Args&&... a) { emit(level::warning, f, std::forward<Args>(a)...); }
  template <class... Args>
  void error(fmt::format_string<Args...> f, Args&&... a) { emit(level::error, f, std::forward<Args>(a)...); }

  void write(level l, std::string_view text) const;

 private:
  template <class... Args>
  void emit(level l, fmt::format_string<Args...> f, Args&&... a) {
    if (enabled(l)) write(l, fmt::format(f, std::forward<Args>(a)...));
  }
  std::string _name;
  std::atomic<level> _level;
};

/// The logger called `name`, created on first use with the level configured for it.
logger& get(std::string_view name);

/// Applies a spec such as "info" or "debug,bus=trace,weftd=warning" to every logger,
/// present and future. Returns false (and changes nothing) when the spec is malformed.
bool configure(std::string_view spec);

/// Checks a spec without applying it (config validation).
bool valid_spec(std::string_view spec);

/// Reads $WEFT_LOG (same syntax as configure) once at start-up.
void configure_from_env();

}  // namespace weft::log
