#pragma once
/// weftctl's verbs. Each returns the process exit code (0 ok, 1 failure, 2 usage).

#include <string>
#include <vector>

#include <memory>
#include <weft/ipc/bus_client.hh>

namespace weft::ctl {

struct options {
  std::string runtime_dir;  ///< resolved
  bool json = false;
  unsigned timeout_ms = 30000;
};

/// Prints `msg` to stderr; returns exit code 1.
int failure(const std::string& msg);
/// A bus connection as ctl/<pid>, with credentials weftd issues over the control socket.
result<std::unique_ptr<ipc::bus_client>> join_bus(zmq::context_t& ctx, const options& o);

int cmd_status(const options& o);
int cmd_control(const options& o, const std::string& action, const std::vector<std::string>& services);
int cmd_reload(const options& o);
int cmd_config_check(const options& o, const std::string& file);
int cmd_call(const options& o, const std::string& address, const std::string& type, const std::string& json);
int cmd_trace(const options& o, const std::string& target, long count);
int cmd_peers(const options& o);
int cmd_log_level(const options& o, const std::string& target, const std::string& spec);
/// route explain --channel C [--user-id X] [--<key> V]…: asks the router.
int cmd_route_explain(const options& o, const std::vector<std::string>& args);
/// chat [--agent ID] [-m TEXT]: Chat.v1.Turn straight to agent/<ID>, streamed (tools/weftctl/chat.cc).
int cmd_chat(const options& o, const std::vector<std::string>& args);
/// memory search|stats|export|import|forget|wipe … (tools/weftctl/memory.cc).
int cmd_memory(const options& o, const std::vector<std::string>& args);
/// audit verify [--dir DIR] [--key FILE] (tools/weftctl/audit.cc).
int cmd_audit(const options& o, const std::vector<std::string>& args);
/// llm policy [set --agent ID --tier T | clear --agent ID] (tools/weftctl/llm.cc).
int cmd_llm(const options& o, const std::vector<std::string>& args);
/// mcp add|list|remove (tools/weftctl/mcp.cc) and serve|info (tools/weftctl/mcp_serve.cc).
int cmd_mcp(const options& o, const std::vector<std::string>& args);
/// mcp serve: weft's MCP server on stdio, relayed over the bus (tools/weftctl/mcp_serve.cc).
int cmd_mcp_serve(const options& o, const std::vector<std::string>& args);
/// mcp info: how to connect an IDE or Claude Code to weft (tools/weftctl/mcp_serve.cc).
int cmd_mcp_info(const options& o, const std::vector<std::string>& args);

}  // namespace weft::ctl
