// weftctl mcp serve|info — placeholder until weft's MCP server lands (issue 5, helper mcp-server
// replaces this file).
#include "commands.hh"

namespace weft::ctl {

int cmd_mcp_serve(const options&, const std::vector<std::string>&) {
  return failure("weftctl mcp serve: weft's MCP server is not built yet");
}

int cmd_mcp_info(const options&, const std::vector<std::string>&) {
  return failure("weftctl mcp info: weft's MCP server is not built yet");
}

}  // namespace weft::ctl
