#pragma once
/// The main() every tool process shares, over service::run_main: --help and --version from
/// one text, signals, logging and the bus as every service has them; then the agent's
/// workspace from $WEFT_WORKSPACE (for per-agent families), the sandbox line, the relay to
/// the egress proxy when $WEFT_NETWORK is "public", the tools, the tool server, run.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/log.hh>
#include <weft/toolserver/tool_server.hh>
#include <weft/toolserver/workspace.hh>

namespace weft::tools {

struct tool_main_options {
  std::string_view program;   ///< weft-tool-fs
  std::string_view log_name;  ///< tool-fs
  std::string_view help;      ///< printed by --help
  bool per_agent = true;      ///< needs $WEFT_WORKSPACE (and $WEFT_AGENT or the address)
  std::string_view unsandboxed_note;  ///< logged when weftd applied no sandbox
  /// $WEFT_NETWORK=public starts the relay on 127.0.0.1:3128 to the agent's egress socket,
  /// for the commands a tool runs. False for a process that runs no commands and reaches
  /// the egress its own way (the plugin host: one socket per plugin).
  bool egress_relay = true;
  server_options server;
};

/// What a family's tools are built with.
struct tool_setup {
  const workspace* ws;   ///< nullptr when not per agent
  log::logger& log;
  service::runtime& rt;  ///< for tools that ask other services (rt.call_and_wait from a worker)
};
/// Builds a family's tools.
using make_tools_fn = std::function<std::vector<tool_def>(const tool_setup& s)>;

/// The URL of this process's egress relay ("http://127.0.0.1:3128") once tool_main started
/// one ($WEFT_NETWORK=public and the relay could listen), else empty. Set before
/// make_tools runs, so a family can hand it to the commands it starts.
const std::string& egress_proxy_url();

/// Runs a tool process; returns main()'s exit code.
int tool_main(int argc, char** argv, const tool_main_options& o, const make_tools_fn& make_tools);

}  // namespace weft::tools
