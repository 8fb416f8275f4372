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
//   WEFT_NETWORK    "public" when the agent may reach the network (http_fetch is still
//                   refused in this build)
//   WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD, WEFT_LOG, WEFT_SANDBOX
//
// Example config:
//   [agents.work.tools]
//   families = ["fs", "plugins"]    # derives [services.tool-plugins-work]
#include <cstdlib>
#include <memory>

#include <weft/toolserver/tool_main.hh>

#include "services/plugin-host/plugin_host.hh"

using namespace weft;

namespace {
constexpr const char* help = R"(usage: weft-plugin-host [--help] [--version]
One agent's WASM plugins as tools, served on the weft bus (io.weft.Tool.v1):
  <plugin>__<tool>{...}   each tool of each plugin in $WEFT_PLUGINS_DIR/<plugin>/
  plugins_status{}        (hidden) every plugin folder: loaded, refused or disabled, and why
Limits per call from each plugin.toml: instructions (fuel), memory_mib, time_ms (checked
when the call returns), result_bytes. A trap is a typed error and restarts the plugin;
3 traps in a row disable it until this process restarts. http_fetch answers DENIED in
this build.

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
                             // Calls of one plugin are serialised by the host; these let
                             // different plugins run side by side.
                             .server = {.family = "plugins", .workers = 2, .max_queued = 64}};
  return tools::tool_main(argc, argv, o, [&host](const tools::tool_setup& s) {
    plugin_host::host_options ho;
    const char* net = std::getenv("WEFT_NETWORK");
    ho.network = net && std::string_view(net) == "public";
    if (const char* d = std::getenv("WEFT_PLUGINS_DIR")) ho.plugins_dir = d;
    host = plugin_host::plugin_host::load(*s.ws, ho, s.log);
    return host->tools();
  });
}
