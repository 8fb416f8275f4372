#pragma once
/// Pure pieces of the MCP client host, tested without processes: bus tool names for MCP
/// tools, MCP tool results as Tool.v1 results, reconnect backoff, and the Server-Sent
/// Events parser of the Streamable HTTP transport.

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/result.hh>
#include <weft/http/sse.hh>
#include <weft/mcp/client.hh>

#include "proto/tool_v1.hh"

namespace weft::mcp_host {

namespace tool = weft::proto::tool_v1;
using json = nlohmann::json;

/// Longest bus tool name (what LLM providers accept for a function name).
inline constexpr std::size_t max_tool_name = 64;
/// Result.content (and blocks/structured together) is kept under this, like the other tool
/// processes: the bus refuses messages over 1 MiB.
inline constexpr std::size_t max_result_bytes = 768 * 1024;

/// 8 hex digits of FNV-1a (32 bit) of `s`: stable across runs and builds.
std::string short_hash(std::string_view s);

/// The bus name of MCP tool `tool` of server `server`: `<server>__<tool>` with every
/// character of the tool part outside [A-Za-z0-9_-] replaced by '_'. When the result is
/// longer than 64 characters, or was already `taken` (two tools sanitised alike), it is cut
/// and ends in '_' plus short_hash(<tool>), so it stays unique and within 64.
std::string bus_tool_name(std::string_view server, std::string_view tool, const std::set<std::string>& taken = {});

/// The human-readable stand-in for a non-text content block:
/// "[image image/png, 1234 bytes]", "[audio audio/wav, 10 bytes]",
/// "[resource file:///a.txt]\n<its text>", "[resource link file:///b]", "[<type> block]".
std::string placeholder(const mcp::content_block& b);

/// A tools/call result as the bus result: text blocks joined by '\n' with placeholders for
/// the others, is_error, `blocks` (the content array JSON) when any block is not text,
/// `structured` (structuredContent JSON). Content empty but structured present → the
/// structured JSON is the content. Everything is kept under `limit` bytes: blocks go
/// first, then structured, then content is cut (on a UTF-8 boundary) — `truncated` says so.
tool::result to_tool_result(const mcp::call_result& r, std::size_t limit = max_result_bytes);

/// The model's text for a JSON-RPC error answered to tools/call: "MCP error <code>: <message>".
std::string rpc_error_text(const error& e);

/// `url` for logs and errors: without user:password@, query and fragment (tokens).
std::string redact_url(std::string_view url);

/// Exponential backoff with full jitter: attempt n (0-based) waits uniformly in
/// [0, min(cap, base·2^n)].
struct backoff {
  std::chrono::milliseconds base{500};
  std::chrono::milliseconds cap{30000};
  std::uint32_t attempt = 0;

  /// The ceiling for the current attempt.
  std::chrono::milliseconds ceiling() const;
  /// The next delay (advances the attempt).
  std::chrono::milliseconds next(std::mt19937_64& rng);
  void reset() { attempt = 0; }
};

/// Server-Sent Events: libs/http's one parser.
using http::sse_event;
using http::sse_parser;

}  // namespace weft::mcp_host
