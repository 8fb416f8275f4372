#pragma once
/// The WASM plugins of one agent, as tools: finds each plugin folder in the agent's plugins
/// folder (`<home>/plugins/<agent>/`, outside the workspace: installed by the admin, never
/// written by the agent's own tools), reads its manifest (libs/plugin), derives its profile for the
/// agent, loads its module (libs/wasm), refuses a module whose imports or exports break the
/// ABI or ask for a host function the profile does not grant (abi::check_interface),
/// instantiates it with only the granted host functions, calls `_initialize` once, and turns
/// each manifest tool into a tools::tool_def named `<plugin>__<tool>`.
///
/// A call runs under the manifest's limits: the instruction budget (fuel), the memory cap,
/// the result size cap, and the call time (checked when the call returns: the interpreter
/// cannot be interrupted, the budget is what stops a loop). A trap answers a typed error
/// (the engine's Trap* code), the instance is discarded and made again for the next call;
/// `max_traps` traps in a row disable the plugin. One call per plugin at a time (a mutex
/// per plugin: the engine is single-threaded); different plugins run side by side.
///
/// The host functions are those of docs/guides/plugins.md "Host API". http_fetch goes through
/// the plugin's own socket at the egress proxy (through the relay `proxy_for` gives it),
/// where only the hosts of its manifest are reachable; the host checks the name against the
/// list first.
///
/// Each thread that runs plugins first puts a Landlock layer on itself (confine_threads):
/// only the union of the loaded plugins' granted paths, their stores, and TCP connects to
/// the relays' ports — so a host escaped from the engine is still held to what the plugins
/// were granted, not to the whole workspace the tool sandbox allows.
///
/// What it refuses, contains or disables is reported to `on_event` (the witness chain's
/// PluginEvent): a plugin refused at load, a trap, a plugin disabled, a host function that
/// denied a path or a host.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <weft/base/log.hh>
#include <weft/plugin/manifest.hh>
#include <weft/sandbox/sandbox.hh>
#include <weft/toolserver/tool.hh>
#include <weft/toolserver/workspace.hh>

namespace weft::plugin_host {

/// Something the host refused, contained or disabled, for the audit record.
struct plugin_event {
  std::string plugin, tool;
  std::string kind;  ///< refused, trap, disabled, denied
  std::string code;  ///< TrapOutOfBounds, Timeout, DENIED, …
  std::string detail;
};

struct host_options {
  /// The folder of the agent's plugin folders ($WEFT_PLUGINS_DIR); empty: no plugins.
  std::string plugins_dir;
  /// The host functions the admin grants this agent's plugins (the profile narrows them to
  /// what each manifest asks for).
  std::vector<plugin::host_function> host_functions = {
      plugin::host_function::log,    plugin::host_function::result,    plugin::host_function::clock,
      plugin::host_function::kv_get, plugin::host_function::kv_put,    plugin::host_function::file_read,
      plugin::host_function::file_write, plugin::host_function::http_fetch};
  /// Whether the agent may reach the network at all ($WEFT_NETWORK = "public").
  bool network = false;
  /// The HTTP proxy URL for a plugin's fetches (a relay to its socket at the egress), asked
  /// once at load for each plugin granted http_fetch; empty or unset: its fetches answer
  /// WEFT_E_IO.
  std::function<std::string(const std::string& plugin)> proxy_for;
  /// Called on the thread that saw it (a tool worker, or the loader's).
  std::function<void(const plugin_event&)> on_event;
  /// http_fetch requests one call may make; more answer WEFT_E_LIMIT.
  std::uint32_t fetches_per_call = 16;
  /// Traps in a row after which a plugin is disabled until the host restarts.
  std::uint32_t max_traps = 3;
  /// Log lines one call (or `_initialize`) may write; more answer WEFT_E_LIMIT.
  std::uint32_t log_lines_per_call = 100;
  /// Plugin folders read at start; more are ignored with a warning.
  std::size_t max_plugins = 64;
};

/// What became of one plugin folder (for the log, the status tool and tests).
struct plugin_status {
  std::string name;     ///< the folder's name
  std::string version;  ///< from the manifest, when it was read
  bool loaded = false;
  bool disabled = false;
  std::string error;    ///< why it was refused or disabled
  std::vector<std::string> tools;  ///< bus tool names
  std::vector<std::string> unsupported;  ///< capabilities named and not run ("voice")
};

class plugin_host {
 public:
  /// Reads every plugin folder of `o.plugins_dir`; a plugin that cannot be loaded is
  /// logged ("Failed to load plugin '<name>': …") and skipped, never fatal.
  static std::unique_ptr<plugin_host> load(const tools::workspace& ws, host_options o, log::logger& log);
  ~plugin_host();
  plugin_host(const plugin_host&) = delete;
  plugin_host& operator=(const plugin_host&) = delete;

  /// The tools of the loaded plugins, and the hidden `plugins_status` (every folder's
  /// status as JSON). They refer to this host, which must outlive them.
  std::vector<tools::tool_def> tools();
  std::vector<plugin_status> status() const;

  /// What the threads that run plugins still need, from the loaded plugins' profiles: their
  /// granted paths (read and write), their stores (<workspace>/.plugin-data/<name>), the TLS
  /// trust store for fetches. The caller adds the relays' ports.
  sandbox::thread_layer::spec thread_spec() const;
  /// The layer each thread puts on itself before it first runs a plugin (nullptr: none, where
  /// the kernel has no Landlock). Set once, before the first call.
  void confine_threads(std::shared_ptr<const sandbox::thread_layer> layer) { _layer = std::move(layer); }

  /// Runs `<plugin>__<tool>`-style calls without a bus (the tool_defs call this).
  result<tools::tool::result> call(const std::string& plugin, const std::string& tool, const nlohmann::json& args);

  struct plugin_rt;

 private:
  plugin_host(const tools::workspace& ws, host_options o, log::logger& log);
  void load_one(const std::string& name);

  const tools::workspace& _ws;
  host_options _opts;
  log::logger& _log;
  std::vector<std::unique_ptr<plugin_rt>> _plugins;
  std::vector<plugin_status> _refused;
  std::shared_ptr<const sandbox::thread_layer> _layer;
};

/// "c-wordcount__word_count"
std::string bus_tool_name(std::string_view plugin, std::string_view tool);

}  // namespace weft::plugin_host
