#pragma once
/// HTTP/1.1 requests from untrusted bytes: parsing one request within limits, and the small
/// helpers a server needs around it (percent-decoding, comparing secrets). Pure functions,
/// no sockets, so malformed input is unit-tested and fuzzed directly.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace weft::http {

/// What a peer may make us hold for one request.
struct limits {
  std::size_t max_header_bytes = 16 * 1024;  ///< request line + headers
  std::size_t max_headers = 64;
  std::size_t max_body_bytes = 1024 * 1024;
};

/// One parsed request.
struct request {
  std::string method;
  std::string target;  ///< as sent: /api/stream?session=s
  std::string path;    ///< decoded path without the query
  std::map<std::string, std::string> query;    ///< decoded; last one wins
  std::map<std::string, std::string> headers;  ///< names lower-cased; repeats joined with ", "
  std::string body;
  bool keep_alive = true;

  /// A header's value, or empty.
  std::string header(const std::string& lower_name) const;
};

enum class parse_status : std::uint8_t { incomplete = 0, complete = 1, bad = 2 };

struct parse_outcome {
  parse_status status = parse_status::incomplete;
  request req;               ///< when complete
  std::size_t consumed = 0;  ///< bytes of the buffer the request used (when complete)
  int http_status = 400;     ///< when bad: 400, 413, 431, 501, 505
  std::string reason;        ///< when bad: for the log and the error body
};

/// Parses the first request in `buf`. Incomplete while more bytes are needed (but never
/// beyond the limits: a header section longer than max_header_bytes is bad at once).
/// Transfer-Encoding is refused (501): bodies need Content-Length.
parse_outcome parse_request(std::string_view buf, const limits& lim = {});

/// Percent-decoding ('+' as space when `form`); nullopt for a malformed escape.
std::optional<std::string> url_decode(std::string_view s, bool form);
/// Percent-encodes everything but RFC 3986's unreserved characters.
std::string url_encode(std::string_view s);

/// The value of cookie `name` in a Cookie header ("a=1; b=2"), or nullopt.
std::optional<std::string> cookie_value(std::string_view cookie_header, std::string_view name);

/// Constant-time comparison of secrets (tokens): the time taken does not depend on where
/// the first difference is.
bool equal_secret(std::string_view a, std::string_view b);

}  // namespace weft::http
