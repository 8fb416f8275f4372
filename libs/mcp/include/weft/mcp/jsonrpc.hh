#pragma once
/// JSON-RPC 2.0 as MCP uses it: a typed message model, a parser that never throws and
/// refuses oversized input before parsing, and a serialiser whose output never contains a
/// raw newline (so it is always one stdio frame).
///
/// Batches (a top-level JSON array) are refused with -32600: MCP 2025-06-18 removed them,
/// and no peer weft talks to sends them. Fractional, boolean, null or structured ids are
/// refused too (MCP: "MUST be a string or integer", "MUST NOT be null").

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include <weft/base/result.hh>

namespace weft::mcp {

using json = nlohmann::json;

/// The error domain of JSON-RPC and MCP protocol errors in weft::error.
inline constexpr std::string_view domain = "io.modelcontextprotocol";

/// Numeric error codes (JSON-RPC 2.0 and MCP, protocols.md §1.10).
namespace code {
inline constexpr int parse_error = -32700;
inline constexpr int invalid_request = -32600;
inline constexpr int method_not_found = -32601;
inline constexpr int invalid_params = -32602;
inline constexpr int internal_error = -32603;
inline constexpr int server_error = -32000;         ///< TS SDK transport errors (HTTP 400/406 bodies)
inline constexpr int resource_not_found = -32002;   ///< legacy era only; modern uses -32602
inline constexpr int header_mismatch = -32020;      ///< 2026-07-28
inline constexpr int missing_capability = -32021;   ///< 2026-07-28
inline constexpr int unsupported_version = -32022;  ///< 2026-07-28
}  // namespace code

/// weft::error code names for the numbers above ("MethodNotFound"); unknown numbers are
/// named by their decimal text ("-32099").
std::string code_name(int number);
/// The inverse of code_name; errors outside `domain` or with unknown names → internal_error.
int code_number(const error& e);

/// A request id: an integer or a string.
using request_id = std::variant<std::int64_t, std::string>;
json to_json(const request_id& id);
std::string to_string(const request_id& id);

struct request {
  request_id id;
  std::string method;
  json params;  ///< null when absent
};
struct notification {
  std::string method;
  json params;  ///< null when absent
};
struct response {
  request_id id;
  json result;
};
struct error_object {
  int code = code::internal_error;
  std::string message;
  json data;  ///< null when absent
};
struct error_response {
  std::optional<request_id> id;  ///< absent (null on the wire) when the request's id was unknowable
  error_object error;
};
using message = std::variant<request, notification, response, error_response>;

/// Limits on what a peer can make us allocate.
struct limits {
  std::size_t max_message_bytes = 4 * 1024 * 1024;
  /// Nesting of arrays and objects. Copying or printing a json value recurses, so a deeper
  /// message (`[[[[…` within the size limit) could overflow the stack later.
  std::size_t max_depth = 128;
};

/// The deepest nesting of arrays and objects in JSON `text`, counted outside strings; the
/// count stops just past `limit`. For JSON parsed outside parse() (e.g. tool arguments).
std::size_t nesting(std::string_view text, std::size_t limit);

/// Parses one message. Errors are in `domain` with code "ParseError" (not JSON),
/// "InvalidRequest" (JSON but not a JSON-RPC 2.0 message, a batch, too large or too deeply
/// nested: both limits are checked before any parsing). Never throws.
result<message> parse(std::string_view text, const limits& lim = {});

/// One line of JSON without a trailing newline. Control characters in strings are escaped
/// and invalid UTF-8 is replaced, so the output never contains '\n' and never throws.
std::string serialize(const message& m);

/// The error response a peer should get for a message `parse` refused (id null).
error_response refusal(const error& parse_error);
/// The error object for a weft::error: MCP-domain errors keep their code, others become
/// internal errors with the error's text.
error_object to_error_object(const error& e);
/// The weft::error for an error object received from a peer: "Failed to <what>: <message> (code N)".
error from_error_object(const error_object& e, std::string_view what);

}  // namespace weft::mcp
