#pragma once
/// MCP protocol revisions and eras: which revisions weft speaks, version negotiation for
/// both sides of the legacy `initialize` handshake, and era detection from a connection's
/// opening message (protocols.md §1.1, §1.3, §1.8, §1.9).

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include <weft/base/result.hh>
#include <weft/mcp/jsonrpc.hh>

namespace weft::mcp {

/// The two incompatible families of MCP revisions.
enum class era : std::uint8_t {
  legacy = 1,  ///< `initialize` handshake, sessions (2024-11-05 … 2025-11-25)
  modern = 2,  ///< stateless, per-request `_meta`, `server/discover` (2026-07-28)
};
std::string_view to_string(era e);

inline constexpr std::string_view latest_legacy_version = "2025-11-25";
inline constexpr std::string_view modern_version = "2026-07-28";

/// The legacy revisions weft accepts, newest first. Includes 2024-10-07, which the TS SDK v1
/// still accepts from old clients.
std::span<const std::string_view> legacy_versions();
bool is_legacy_version(std::string_view v);

/// Server side of `initialize`: the requested version if weft speaks it, else the latest
/// legacy version (the spec's rule; the client then decides whether to disconnect).
std::string_view negotiate(std::string_view requested);

/// Client side: accepts the server's answer if weft speaks it; else an error
/// (code UnsupportedProtocolVersion) saying which version was offered.
status check_server_version(std::string_view offered);

/// `_meta` keys of the 2026-07-28 revision.
namespace meta {
inline constexpr std::string_view protocol_version = "io.modelcontextprotocol/protocolVersion";
inline constexpr std::string_view client_capabilities = "io.modelcontextprotocol/clientCapabilities";
inline constexpr std::string_view client_info = "io.modelcontextprotocol/clientInfo";
inline constexpr std::string_view server_info = "io.modelcontextprotocol/serverInfo";
inline constexpr std::string_view subscription_id = "io.modelcontextprotocol/subscriptionId";
}  // namespace meta

/// The `_meta` protocol version a request carries, if any.
std::optional<std::string> meta_protocol_version(const json& params);

/// 2026-07-28 over HTTP: the params member the `Mcp-Name` header repeats for `method`
/// ("name" for tools/call and prompts/get, "uri" for resources/read); nullptr for others.
const char* mcp_name_param(std::string_view method);

/// 2026-07-28 over HTTP: a value for a header such as `Mcp-Name`. Printable ASCII without
/// edge whitespace goes as it is; anything else (empty, non-ASCII, control characters, edge
/// whitespace, or a value that itself looks encoded) as `=?base64?<base64 of the UTF-8>?=`.
std::string encode_header_value(std::string_view v);
/// The value such a header names: the encoded form decoded; nullopt when it claims to be
/// encoded but is not canonical base64 (the spec has servers refuse that).
std::optional<std::string> decode_header_value(std::string_view v);

/// The era a connection's opening request pins: `initialize` → legacy; `server/discover` or
/// a `_meta` protocol version → modern; anything else (e.g. `ping`) pins nothing.
std::optional<era> detect_era(const request& opening);

}  // namespace weft::mcp
