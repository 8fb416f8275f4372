// weft-plugin-host — one agent's WASM plugins as tools (docs/guides/plugins.md).
//
// Serves io.weft.Tool.v1 at $WEFT_ADDRESS (tool/plugins/<agent>): ListTools there, Call at
// tool/plugins/<agent>/<plugin>__<tool>. At start it reads every folder of
// $WEFT_PLUGINS_DIR (<home>/plugins/<agent>/: plugin.toml beside its entry .wasm; outside the
// workspace, so the agent's own tools cannot add or change a plugin), refuses a plugin whose manifest,
// module or imports are not acceptable (logged: "Failed to load plugin '<name>': …"), and
// runs the others in wabt's interpreter (libs/wasm) with only the host functions their
// manifest asks for and the agent grants, under the manifest's limits. A trap answers a
// typed error and restarts the plugin; three in a row disable it. The hidden tool
// plugins_status lists every folder's outcome. weftd runs it in the tool sandbox (Landlock on
// the workspace, a network namespace of its own) when [agents.<id>.tools] families lists
// "plugins".
//
// Environment (set by weftd):
//   WEFT_WORKSPACE  the agent's workspace (what file_read/file_write reach); required
//   WEFT_PLUGINS_DIR  the agent's plugins folder (weftd: <home>/plugins/<agent>)
//   WEFT_AGENT      the agent id; default: the last segment of WEFT_ADDRESS
//   WEFT_NETWORK    "public" when the agent may reach the network: a plugin's http_fetch
//                   then goes to $WEFT_RUNTIME_DIR/egress/<agent>/plugin-<name>.sock, where
//                   weft-egress lets through only the hosts of its manifest
//   WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD, WEFT_LOG, WEFT_SANDBOX
//
// Example config:
//   [agents.work.tools]
//   families = ["fs", "plugins"]    # derives [services.tool-plugins-work]
#include <cstdlib>
#include <memory>

#include "proto/memory_v1.hh"
#include <weft/service/paths.hh>
#include <weft/sandbox/sandbox.hh>
#include <weft/toolserver/egress_relay.hh>
#include <weft/toolserver/tool_main.hh>

#include "services/plugin-host/plugin_host.hh"

using namespace weft;

namespace {
// The plugins' relays to their egress sockets (this process's own network namespace has
// nothing else listening; 3128 and 3129 are the other tools' relays).
constexpr std::uint16_t first_relay_port = 3130;
constexpr std::size_t max_relays = 64;
std::vector<std::unique_ptr<tools::egress_relay>> relays;
std::vector<std::uint16_t> relay_ports;

constexpr const char* help = R"(usage: weft-plugin-host [--help] [--version]
One agent's WASM plugins as tools, served on the weft bus (io.weft.Tool.v1):
  <plugin>__<tool>{...}   each tool of each plugin in $WEFT_PLUGINS_DIR/<plugin>/
  plugins_status{}        (hidden) every plugin folder: loaded, refused or disabled, and why
Limits per call from each plugin.toml: instructions (fuel), memory_mib, time_ms (checked
when the call returns), result_bytes. A trap is a typed error and restarts the plugin;
3 traps in a row disable it until this process restarts. http_fetch goes through the
plugin's own socket at weft-egress (only the hosts its manifest lists; WEFT_NETWORK=public).
Refusals, traps, disabled plugins and denied host calls are published as
io.weft.Memory.v1.PluginEvent for the witness chain.

Environment:
  WEFT_WORKSPACE   the agent's workspace directory (required)
  WEFT_PLUGINS_DIR the agent's plugins folder (weftd sets <home>/plugins/<agent>)
  WEFT_AGENT       agent id (default: last segment of WEFT_ADDRESS)
  WEFT_NETWORK     "public" when the agent's tools may reach the network
  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD   set by weftd
  WEFT_LOG         log levels, e.g. "debug"
)";
}  // namespace

int main(int argc, char** argv) {
  std::unique_ptr<plugin_host::plugin_host> host;  // outlives the tool server's run
  tools::tool_main_options o{.program = "weft-plugin-host",
                             .log_name = "plugin-host",
                             .help = help,
                             .per_agent = true,
                             .unsandboxed_note = "only the engine's limits and the host functions' own checks apply",
                             // http_fetch reaches each plugin's own egress socket directly.
                             .egress_relay = false,
                             // Calls of one plugin are serialised by the host; these let
                             // different plugins run side by side.
                             .server = {.family = "plugins", .workers = 2, .max_queued = 64}};
  return tools::tool_main(argc, argv, o, [&host](const tools::tool_setup& s) {
    plugin_host::host_options ho;
    const char* net = std::getenv("WEFT_NETWORK");
    ho.network = net && std::string_view(net) == "public";
    if (const char* d = std::getenv("WEFT_PLUGINS_DIR")) ho.plugins_dir = d;
    // A plugin's http_fetch goes to its own socket at the egress proxy (there only when the
    // agent's network is public and its manifest lists hosts), through a relay of its own on
    // 127.0.0.1 in this process's network namespace: 3130, 3131, … in load order.
    if (ho.network) {
      auto dir = service::runtime_dir() + "/egress/" + s.ws->agent();
      ho.proxy_for = [&rt = s.rt, &lg = s.log, dir](const std::string& plugin) -> std::string {
        auto port = static_cast<std::uint16_t>(first_relay_port + relays.size());
        if (relays.size() >= max_relays) {
          lg.warning("plugin '{}': more than {} plugins fetch; its http_fetch answers WEFT_E_IO", plugin, max_relays);
          return {};
        }
        auto r = tools::egress_relay::start(rt.loop(), dir + "/plugin-" + plugin + ".sock",
                                            {.port = port, .what = "the egress proxy (this plugin's network list)"});
        if (!r) {
          lg.warning("plugin '{}': {}; its http_fetch answers WEFT_E_IO", plugin, r.err().message);
          return {};
        }
        relay_ports.push_back(port);
        relays.push_back(std::move(*r));
        return relays.back()->url();
      };
    }
    // What the host refuses, contains or disables goes to the witness chain. From a tool
    // worker: the bus client belongs to the loop thread.
    auto& rt = s.rt;
    auto& lg = s.log;
    ho.on_event = [&rt, &lg](const plugin_host::plugin_event& ev) {
      proto::memory_v1::plugin_event e{ev.plugin, ev.tool, ev.kind, ev.code, ev.detail.substr(0, 1024)};
      rt.loop().post([&rt, &lg, e = std::move(e)] {
        if (auto p = rt.bus().publish(e); !p) lg.warning("Failed to publish PluginEvent for plugin '{}': {}", e.plugin, p.err().message);
      });
    };
    host = plugin_host::plugin_host::load(*s.ws, ho, s.log);
    // The threads that run plugins keep only what the plugins were granted.
    auto spec = host->thread_spec();
    spec.connect_ports = relay_ports;
    auto layer = sandbox::thread_layer::prepare(spec);
    if (layer) {
      for (auto& w : layer->warnings()) s.log.debug("{}", w);
      s.log.info("plugin threads: {} writable and {} readable paths{}", spec.read_write.size(), spec.read_only.size(),
                 layer->confines_network() ? fmt::format(", TCP to {} relay port(s) only", relay_ports.size())
                                           : std::string(" (no Landlock network rules here: TCP not confined)"));
      host->confine_threads(std::make_shared<const sandbox::thread_layer>(std::move(*layer)));
    } else {
      s.log.warning("{}; the threads that run plugins are confined by the tool sandbox only, ignoring.", layer.err().message);
    }
    return host->tools();
  });
}
