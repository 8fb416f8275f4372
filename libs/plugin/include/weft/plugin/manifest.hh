#pragma once
/// A plugin's manifest, `plugin.toml` at the top of its folder: who it is, which `.wasm`
/// runs, what it offers (tools, a channel, hooks; `voice` reserved) and what it asks to be
/// allowed (files beneath the agent's workspace, hosts on the network, environment values,
/// limits, host functions). A plugin comes from outside, so reading its manifest never
/// crashes or trusts it: every problem is an error at file:line:column, all of them
/// reported at once; keys this build does not know are kept and warned about, so a newer
/// manifest still loads. The schema is documented in docs/guides/plugins.md.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/result.hh>
#include <weft/plugin/allowlist.hh>

namespace weft::plugin {

/// The manifest_version this build reads; a higher one is refused (a lower one cannot exist).
inline constexpr std::int64_t manifest_version = 1;
/// The longest plugin.toml read.
inline constexpr std::size_t max_manifest_bytes = 64 * 1024;

/// What a plugin offers. `voice` is reserved: a manifest may name it, and it is reported as
/// not supported by this build rather than refused.
enum class capability : std::uint8_t { tools = 0, channel = 1, hooks = 2, voice = 3 };
inline constexpr std::array<std::string_view, 4> capability_names = {"tools", "channel", "hooks", "voice"};
/// The capabilities this build parses but cannot run.
inline constexpr std::array<capability, 1> unsupported_capabilities = {capability::voice};
std::string_view name_of(capability c);

/// The host functions a plugin may import, each only when its manifest asks for it and the
/// agent's policy grants it. No other import is ever satisfied (no ambient WASI).
enum class host_function : std::uint8_t {
  log = 0,         ///< write a line to the plugin's log
  result = 1,      ///< return a tool result
  file_read = 2,   ///< read a file under permissions.files.read
  file_write = 3,  ///< write a file under permissions.files.write
  http_fetch = 4,  ///< an HTTP request through weft's egress path, to permissions.network only
  kv_get = 5,      ///< read the plugin's own small key-value store
  kv_put = 6,      ///< write it
  clock = 7,       ///< the current UTC time
};
inline constexpr std::array<std::string_view, 8> host_function_names = {
    "log", "result", "file_read", "file_write", "http_fetch", "kv_get", "kv_put", "clock"};
std::string_view name_of(host_function f);
std::optional<host_function> host_function_named(std::string_view name);

/// One tool a plugin exposes: on the bus like any tool family's, under the agent's policy.
struct tool {
  std::string name;          ///< 1–64 of a-z, 0-9 and '_', starting with a letter
  std::string description;   ///< for the model
  std::string input_schema;  ///< JSON Schema (an object with "type": "object"), compact JSON text
  std::string export_name;   ///< the WASM export that implements it (default: name)
};

/// Per-call limits, each with a default and a hard maximum (limit_bounds).
struct limits {
  std::uint32_t memory_mib = 64;             ///< linear memory cap
  std::uint32_t time_ms = 5000;              ///< wall time of one call
  std::uint64_t instructions = 1000000000;   ///< instruction budget of one call (fuel)
  std::uint32_t result_bytes = 256 * 1024;   ///< the largest result a call may return
  bool operator==(const limits&) const = default;
};
/// The least and most each limit may be set to.
struct limit_bounds {
  static constexpr std::uint32_t min_memory_mib = 1, max_memory_mib = 2048;
  static constexpr std::uint32_t min_time_ms = 1, max_time_ms = 120000;
  static constexpr std::uint64_t min_instructions = 1000, max_instructions = 100000000000ull;
  static constexpr std::uint32_t min_result_bytes = 1024, max_result_bytes = 512 * 1024;
};

/// What the plugin asks to be allowed. Nothing is granted by asking: the effective profile
/// (profile.hh) is what the agent's policy leaves of it.
struct permissions {
  /// Paths relative to the agent's workspace, normalized ("data/in", "." for all of it):
  /// never absolute, never with "..".
  std::vector<std::string> files_read, files_write;
  allowlist network;
  /// Names and values handed to the plugin as they are written (never from weft's own
  /// environment: `${HOME}` stays the six characters it is).
  std::map<std::string, std::string> env;
  struct limits limits;
  std::vector<host_function> host_functions;  ///< in the order asked, no repeats
};

/// A key this build does not know, kept for callers (a newer tool may read it).
struct unknown_field {
  std::string key;    ///< dotted path: "homepage", "tools.0.icon", "permissions.files.mode"
  std::string where;  ///< "plugin.toml:3:1"
  std::string value;  ///< the value as TOML text
};

struct manifest {
  std::int64_t version_of_manifest = manifest_version;  ///< manifest_version as written
  std::string name;         ///< 1–64 of a-z, 0-9 and '-', no leading, trailing or double '-'
  std::string version;      ///< semantic version 2.0.0 ("1.4.0", "2.0.0-rc.1+build.5")
  std::string publisher;
  std::string description;
  std::string entry;        ///< the .wasm, relative to the plugin folder, normalized
  std::vector<capability> capabilities;
  std::vector<tool> tools;
  struct permissions permissions;
  std::vector<unknown_field> unknown;
  /// "plugin.toml:3:1: warning: …, ignoring." lines: unknown keys, repeats, reserved
  /// capabilities. For the caller to log.
  std::vector<std::string> warnings;

  bool has(capability c) const;
  /// The capabilities named that this build cannot run ("voice").
  std::vector<capability> unsupported() const;
};

/// Reads a manifest from `text`; `source` names it in messages ("weather/plugin.toml").
/// With `plugin_dir`, the entry must also exist there as a regular file whose real path
/// (symlinks followed) stays inside the folder; without it only its form is checked.
/// Errors: errc::config, one "<source>:<line>:<column>: error: …" line per problem.
result<manifest> parse_manifest(std::string_view text, std::string_view source, const std::string& plugin_dir = {});

/// Reads `<plugin_dir>/plugin.toml` (at most max_manifest_bytes) and parses it with the
/// folder's checks. Errors: "Failed to read plugin manifest '<path>': <reason>" or the
/// parse errors.
result<manifest> load_manifest(const std::string& plugin_dir);

/// A semantic version 2.0.0 string: MAJOR.MINOR.PATCH, optional -pre.release and +build,
/// numbers without leading zeros.
bool valid_semver(std::string_view v);

/// A workspace-relative path from a manifest, normalized ("./a//b/" → "a/b", "" → error),
/// or the reason it is refused (absolute, "..", control characters, too long).
result<std::string> workspace_relative(std::string_view path);

}  // namespace weft::plugin
