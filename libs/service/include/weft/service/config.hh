#pragma once
/// weft's configuration (clawft.toml), so that every process reads the same settings and a
/// mistake is reported before anything starts: parsed with toml++, validated completely,
/// every problem reported at once with file:line:column, `${ENV}` substituted in strings.
/// The reference of every key is docs/config.md.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/result.hh>

namespace weft::service {

/// What weftd does when a service exits: restart it always, only after a failure
/// (non-zero exit or a signal), or never.
enum class restart_policy : std::uint8_t { always = 0, on_failure = 1, never = 2 };

/// The verdict of an ACL rule, and the bus's verdict when no rule matches.
enum class acl_action : std::uint8_t { allow = 0, deny = 1 };

/// One [[bus.acl]] rule, so the bus can refuse requests between addresses. Patterns are
/// globs where '*' matches any run of characters, '/' included.
struct acl_rule {
  std::string from = "*";
  std::string to = "*";
  std::vector<std::string> types = {"*"};
  acl_action action = acl_action::deny;  ///< required in the file; no default there
  std::string where;  ///< "file:line:col" of the rule, for audit messages
  bool operator==(const acl_rule&) const = default;
};

/// [bus]: the broker's limits and access control.
struct bus_settings {
  std::uint64_t max_message_bytes = 1048576;
  std::uint32_t queue_depth = 1000;
  acl_action default_policy = acl_action::allow;
  std::vector<acl_rule> acl;  ///< in file order
  bool operator==(const bus_settings&) const = default;
};

/// [supervisor]: how long weftd waits for its children and how it restarts them.
struct supervisor_settings {
  std::uint32_t ready_timeout_ms = 10000;
  std::uint32_t heartbeat_interval_ms = 1000;
  std::uint32_t heartbeat_timeout_ms = 10000;
  std::uint32_t stop_timeout_ms = 10000;
  std::uint32_t restart_backoff_initial_ms = 100;
  std::uint32_t restart_backoff_max_ms = 30000;
  std::uint32_t restart_intensity = 5;
  std::uint32_t restart_window_s = 60;
  bool operator==(const supervisor_settings&) const = default;
};

/// One [services.<name>] table: a process weftd starts, watches and restarts.
struct service_spec {
  std::string name;
  std::string exec;
  std::vector<std::string> args;
  std::string address;  ///< bus address; defaults to the name
  std::vector<std::string> after = {"bus"};
  std::map<std::string, std::string> env;
  restart_policy restart = restart_policy::always;
  bool enabled = true;
  std::string where;  ///< "file:line:col" of the table
  /// Compares everything but `where`, so a table that only moved in the file is not a
  /// changed service on reload.
  bool operator==(const service_spec& o) const;
};

/// The whole validated configuration.
struct config {
  std::string source = "(built-in default)";  ///< file path, or "(built-in default)"
  std::string home;          ///< [weft] home; empty: resolved by service::home_dir
  std::string runtime_dir;   ///< [weft] runtime_dir; empty: resolved by service::runtime_dir
  std::string log = "info";  ///< [weft] log, e.g. "debug,bus=trace"
  bus_settings bus;
  supervisor_settings supervisor;
  std::vector<service_spec> services;  ///< in file order; the bus is not one of them
  std::vector<std::string> warnings;   ///< "file:line:col: warning: …", in file order
  bool operator==(const config&) const = default;
};

/// Parses and validates config text so a bad file is refused as a whole; `source_name`
/// names it in messages. On failure the error (domain "weft", code "Config") lists every
/// problem, one "file:line:col: error: …" per line, sorted by position.
result<config> parse_config(std::string_view text, std::string_view source_name);

/// Reads and parses a file. An unreadable file is the error (domain "weft", code "Io")
/// "Failed to read config '<path>': <reason>".
result<config> load_config(const std::string& path);

/// The configuration used when there is no file: the bus alone, default settings.
config default_config();

/// load_config(path), or default_config() when `path` is empty (no file was found).
result<config> load_config_or_default(const std::string& path);

/// Which config file to use, the same way in every tool: `explicit_path` if given, else
/// $WEFT_CONFIG (both returned even when missing, so the caller reports it), else the first
/// existing of $WEFT_HOME/clawft.toml, $HOME/.clawft/clawft.toml, /etc/weft/clawft.toml;
/// nullopt if none exists.
std::optional<std::string> find_config(std::string_view explicit_path);

}  // namespace weft::service
