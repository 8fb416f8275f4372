#include "services/mcp/mapping.hh"

#include <weft/mcp/jsonrpc.hh>

#include "proto/bus_v1.hh"

namespace weft::mcpsrv {

namespace tool = proto::tool_v1;
namespace bus = proto::bus_v1;

namespace {
json parse_object(const std::string& text) {
  if (text.empty()) return json();
  auto j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : json();
}

json text_result(std::string text, bool is_error) {
  return json{{"content", json::array({json{{"type", "text"}, {"text", std::move(text)}}})}, {"isError", is_error}};
}
}  // namespace

json tool_entry(const tool::tool_spec& t) {
  json e = {{"name", t.name}, {"description", t.description}};
  auto in = parse_object(t.input_schema);
  if (in.is_null()) in = json{{"type", "object"}};
  else if (!in.contains("type")) in["type"] = "object";
  e["inputSchema"] = std::move(in);
  if (auto out = parse_object(t.output_schema); !out.is_null()) e["outputSchema"] = std::move(out);
  return e;
}

json call_result(const tool::result& r) {
  json out;
  json blocks;
  if (!r.blocks.empty()) blocks = json::parse(r.blocks, nullptr, /*allow_exceptions=*/false);
  if (blocks.is_array() && !blocks.empty()) out["content"] = std::move(blocks);
  else out["content"] = json::array({json{{"type", "text"}, {"text", r.content}}});
  if (auto s = parse_object(r.structured); !s.is_null()) out["structuredContent"] = std::move(s);
  out["isError"] = r.is_error;
  return out;
}

result<json> call_failure(std::string_view name, const error& e) {
  if (tool::is(e, tool::error_code::no_such_tool))
    return make_error(mcp::domain, "InvalidParams", "Unknown tool: {}", name);
  std::string why;
  if (tool::is(e, tool::error_code::bad_arguments)) why = fmt::format("Invalid arguments for tool {}: {}", name, e.message);
  else if (tool::is(e, tool::error_code::denied)) why = fmt::format("Tool {} refused: {}", name, e.message);
  else if (tool::is(e, tool::error_code::timeout)) why = fmt::format("Tool {} timed out: {}", name, e.message);
  else if (tool::is(e, tool::error_code::failed)) why = fmt::format("Tool {} failed: {}", name, e.message);
  else if (e.is(bus::interface_name, bus::to_string(bus::error_code::denied)))
    why = fmt::format("Tool {} is not allowed for weft's MCP server: {}", name, e.message);
  else if (e.is(bus::interface_name, bus::to_string(bus::error_code::timeout)))
    why = fmt::format("Tool {} did not answer in time: {}", name, e.message);
  else if (e.is(bus::interface_name, bus::to_string(bus::error_code::no_such_address)))
    why = fmt::format("Tool {} is not available now (its process is not running): {}", name, e.message);
  else why = fmt::format("Failed to call tool {}: {}", name, e.to_string());
  return text_result(std::move(why), true);
}

std::optional<std::string> call_meta(const json& params) {
  auto meta = params.find("_meta");
  if (meta == params.end() || !meta->is_object()) return std::nullopt;
  json out = json::object();
  for (auto& [k, v] : meta->items())
    if (k.rfind("io.modelcontextprotocol/", 0) != 0 && k.rfind("io.weft/", 0) != 0) out[k] = v;
  if (out.empty()) return std::nullopt;
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace weft::mcpsrv
