#pragma once
/// A plugin folder judged the way weft-plugin-host loads it, so that `weftctl plugin
/// install` and `build` refuse what the host would refuse, with the host's own words: the
/// manifest read with load_manifest (errors at file:line:column), the folder's name against
/// the manifest's `name`, the profile derived for the agent, the entry read and loaded by
/// libs/wasm (validated), its imports and exports checked with abi::check_interface against
/// the manifest and the granted host functions. Also the admin's DISABLED marker.
///
/// Unlike the rest of libs/plugin this part needs an engine: it is its own library
/// (plugin_folder_dep: libs/plugin and libs/wasm).

#include <memory>
#include <optional>
#include <string>

#include <weft/plugin/manifest.hh>
#include <weft/plugin/profile.hh>
#include <weft/wasm/engine.hh>

namespace weft::plugin {

/// The most of an entry module read (libs/wasm's own limit on a module).
std::size_t max_entry_bytes();

/// What became of one plugin folder: as much as was read before the first refusal.
struct folder_check {
  std::optional<struct manifest> manifest;  ///< when plugin.toml was read and is valid
  std::optional<struct profile> profile;    ///< when the profile was derived
  std::unique_ptr<wasm::engine> engine;     ///< the engine the module was loaded by
  std::shared_ptr<const wasm::module> module;
  /// Why the host would not load it, as its log and plugins_status say it; empty: it loads.
  std::string error;
  bool ok() const { return error.empty(); }
};

/// Checks `dir` as the plugin folder `name` of the agent of `policy` (the folder's name in
/// the plugins folder: it must be the manifest's `name`). `dir` itself must be a folder,
/// not a symlink to one.
folder_check check_folder(const std::string& dir, const std::string& name, const agent_policy& policy);

/// The steps of check_folder after the manifest was read: the profile of `m` for the agent
/// of `policy`, the module at `entry_path` (not a symlink) loaded and its interface checked.
/// For a module built elsewhere than its folder (weftctl plugin build -o).
folder_check check_module(struct manifest m, const std::string& entry_path, const agent_policy& policy);

/// The host functions the module at `entry_path` imports (from `weft`, by a name of the
/// ABI's list), in the order of its import section, each once: what its code can call, to
/// hold against what its manifest asks for (`weftctl security scan`'s SKL-079). An error
/// when the module cannot be read or loaded.
result<std::vector<host_function>> imported_host_functions(const std::string& entry_path);

/// The admin's marker: a file of this name in a plugin's folder keeps the host from loading
/// it (weftctl plugin disable; enable deletes it).
inline constexpr std::string_view disabled_marker = "DISABLED";

/// What a DISABLED marker holds: `reason: <text>` and `since: <RFC 3339 time>` lines.
struct disabled_note {
  std::string reason;  ///< "" when none was given
  std::string since;
};
/// The marker of the folder `dir`, when it has one (read without following a symlink, at
/// most 4 KiB; an unreadable marker still disables, with its error as the reason).
std::optional<disabled_note> read_disabled(const std::string& dir);
/// The marker's text for `note`.
std::string disabled_text(const disabled_note& note);
/// "disabled by the admin: <reason>" — the words of the host's plugins_status.
std::string disabled_message(const disabled_note& note);

}  // namespace weft::plugin
