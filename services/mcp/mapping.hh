#pragma once
/// How weft's tools look to an MCP client: a ToolSpec as a tools/list entry, a tool's
/// Result as a CallToolResult, and a failed Call as either a tool error result or a
/// protocol error (MCP 2025-11-25: tool execution errors are results with isError).

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <weft/base/result.hh>

#include "proto/tool_v1.hh"

namespace weft::mcpsrv {

using json = nlohmann::json;

/// {name, description, inputSchema, outputSchema?}. The schemas are passed through as the
/// tool process wrote them; one that is not a JSON object becomes {"type":"object"} (an
/// input schema) or is left out (an output schema), so a client always gets valid JSON.
json tool_entry(const proto::tool_v1::tool_spec& t);

/// CallToolResult: content = Result.blocks when it is a JSON array, else one text block
/// with Result.content; structuredContent from Result.structured (a JSON object); isError.
json call_result(const proto::tool_v1::result& r);

/// A Call answered with an error (or not at all): NoSuchTool → -32602 "Unknown tool: x"
/// (an error, for the dispatcher to send); everything else (BadArguments, Denied by the
/// tool or the bus, Timeout, Failed, a bus timeout or a missing process) → a result with
/// isError and the reason.
result<json> call_failure(std::string_view tool, const error& e);

/// The request metadata of a client's tools/call that goes on to the tool (Tool.v1.Call.meta,
/// which tool-mcp passes to an external MCP server as its _meta: a progress token, a trace
/// id): the params' `_meta` without the keys the protocol itself puts there
/// (`io.modelcontextprotocol/…`) or weft reads (`io.weft/…`). Absent when nothing is left.
std::optional<std::string> call_meta(const json& params);

}  // namespace weft::mcpsrv
