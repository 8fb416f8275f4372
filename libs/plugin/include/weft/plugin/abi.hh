#pragma once
/// The plugin ABI, version 1, from the host's side: what a plugin module must import and
/// export for weft to run it, so that the host refuses a module before instantiating it
/// rather than failing inside a call. The contract is written in docs/guides/plugins.md
/// ("Host API") and, for plugin authors, in sdk/c/weft_plugin.h; the two and this file must
/// agree (tests/plugins, meson test plugin_sdk, checks the SDKs' imports against these).
///
/// Engine-neutral: the caller lists a module's imports and exports with whatever engine or
/// reader it has (libs/wasm) and hands them to check_interface().

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <weft/plugin/manifest.hh>

namespace weft::plugin::abi {

/// The ABI version; a module's `weft_abi_version()` must return it.
inline constexpr std::int32_t version = 1;
/// The one import module a plugin may import from.
inline constexpr std::string_view import_module = "weft";
/// The exports every plugin has besides its tools.
inline constexpr std::string_view export_memory = "memory";
inline constexpr std::string_view export_abi_version = "weft_abi_version";
inline constexpr std::string_view export_alloc = "weft_alloc";
inline constexpr std::string_view export_free = "weft_free";
/// Called once after instantiation when present (what clang's reactor model emits).
inline constexpr std::string_view export_initialize = "_initialize";

/// Negative statuses of host functions and tools (WEFT_E_* in weft_plugin.h).
enum class error : std::int32_t {
  invalid = -1,    ///< a bad argument: a range outside memory, bad UTF-8, an unknown flag or level
  denied = -2,     ///< not permitted: a path or host not granted
  not_found = -3,  ///< no such file or key
  too_large = -4,  ///< over a size limit
  io = -5,         ///< the host failed to do it (disk, DNS, connection, timeout)
  state = -6,      ///< not now: a second result, a host function outside a tool call
  limit = -7,      ///< a quota used up (key-value store full, too many log lines or fetches)
};
inline constexpr std::int32_t ok = 0;
/// "WEFT_E_DENIED" for -2; nullopt for a code the ABI does not define.
std::optional<std::string_view> error_name(std::int32_t code);

/// Flags of file_write.
enum class write_flags : std::int32_t { replace = 0, append = 1 };
/// Levels of log.
enum class log_level : std::int32_t { error = 0, warning = 1, info = 2, debug = 3 };

/// ABI limits the host enforces (documented with the host functions).
struct host_limits {
  static constexpr std::uint32_t log_line_bytes = 4096;
  static constexpr std::uint32_t kv_key_bytes = 256;
  static constexpr std::uint32_t kv_value_bytes = 65536;
  static constexpr std::uint32_t kv_keys = 1024;
  static constexpr std::uint32_t kv_store_bytes = 1024 * 1024;
};

/// WebAssembly value types, by their binary encoding.
enum class valtype : std::uint8_t { i32 = 0x7f, i64 = 0x7e, f32 = 0x7d, f64 = 0x7c, v128 = 0x7b, funcref = 0x70,
                                    externref = 0x6f };
std::string_view name_of(valtype t);

/// A function type.
struct signature {
  std::vector<valtype> params;
  std::vector<valtype> results;
  bool operator==(const signature&) const = default;
};
/// "(i32, i32, i32) -> i32", "() -> ()": the form docs/guides/plugins.md uses.
std::string to_string(const signature& s);

/// The exact type of each host function.
signature signature_of(host_function f);
/// The types of the plugin's exports.
signature tool_signature();        ///< (i32 args, i32 args_len) -> i32
signature abi_version_signature(); ///< () -> i32
signature alloc_signature();       ///< (i32 size) -> i32
signature free_signature();        ///< (i32 ptr, i32 size) -> ()
signature initialize_signature();  ///< () -> ()

/// What kind of thing an import or export is (the binary encoding's external kinds).
enum class external_kind : std::uint8_t { function = 0, table = 1, memory = 2, global = 3, tag = 4 };

/// A module's imports and exports, as a reader or engine lists them.
struct module_interface {
  struct import {
    std::string module, name;
    external_kind kind = external_kind::function;
    signature type;  ///< for functions
  };
  struct export_ {
    std::string name;
    external_kind kind = external_kind::function;
    signature type;  ///< for functions
  };
  std::vector<import> imports;
  std::vector<export_> exports;
};

/// Everything wrong with a module for this manifest, one sentence each (empty: it may run):
/// an import from a module other than `weft`, of anything but a function, of a name outside
/// the fixed list, of a host function `allowed` does not hold, or with another type than
/// the ABI's; a missing or mistyped `memory`, `weft_abi_version`, `weft_alloc`, `weft_free`
/// or tool export; a mistyped `_initialize`. `allowed` is the manifest's host_functions, or
/// the narrower set the agent's policy grants (profile.hh).
std::vector<std::string> check_interface(const module_interface& module, const manifest& m,
                                         std::span<const host_function> allowed);
/// check_interface with the host functions the manifest asks for.
std::vector<std::string> check_interface(const module_interface& module, const manifest& m);

}  // namespace weft::plugin::abi
