#pragma once
/// Bus addresses, built in one place: agent/<id>, agent/<id>/mcp, tool/<family>[/<agent>],
/// chan/<name>, ctl/<pid>. A service never concatenates them itself, so a change of scheme
/// (or a typo) cannot split the address space between two spellings.

#include <cstdint>
#include <string>
#include <string_view>

namespace weft::ipc::addr {

std::string agent(std::string_view id);
/// weft's MCP server, acting for agent `id` (checked by the bus against that agent's tools).
std::string agent_mcp(std::string_view id);
/// A shared tool family (tool/web, tool/mcp).
std::string tool(std::string_view family);
/// A per-agent tool family (tool/fs/<agent>, tool/shell/<agent>).
std::string tool(std::string_view family, std::string_view agent);
/// One tool of a tool process, where its Tool.v1.Call goes: <process>/<tool>
/// (tool/fs/main/read_file).
std::string tool_method(std::string_view process, std::string_view tool);
std::string channel(std::string_view name);
/// An admin tool's address, one per weftctl process.
std::string ctl(std::uint64_t pid);

/// The last segment: "main" for agent/main and tool/fs/main.
std::string_view last_segment(std::string_view address);
/// True when `address` is `prefix` or lies beneath it (tool/fs/a/read_file under tool/fs/a).
bool beneath(std::string_view address, std::string_view prefix);

}  // namespace weft::ipc::addr
