#pragma once
/// The main() every tool process shares: --help, stop signals, logging, the agent's
/// workspace (for per-agent families), joining the bus and running the tool server.

#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "services/tool-fs/tool_server.hh"
#include "services/tool-fs/workspace.hh"

namespace weft::tools {

struct tool_main_options {
  std::string_view program;   ///< weft-tool-fs
  std::string_view log_name;  ///< tool-fs
  std::string_view help;      ///< printed by --help
  bool per_agent = true;      ///< needs $WEFT_WORKSPACE (and $WEFT_AGENT or the address)
  std::string_view unsandboxed_note;  ///< logged when weftd applied no sandbox
  server_options server;
};

/// Runs a tool process; `make_tools` gets the workspace (nullptr when not per agent).
int tool_main(int argc, char** argv, const tool_main_options& o,
              const std::function<std::vector<tool_def>(const workspace* ws, log::logger& lg)>& make_tools);

}  // namespace weft::tools
