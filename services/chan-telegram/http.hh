#pragma once
/// HTTP/1.1 for the channels' small servers (web chat, Telegram webhook): parsing a request
/// from untrusted bytes within limits, and framing responses and Server-Sent Events. Pure
/// functions, no sockets, so malformed input is unit-tested directly.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weft::chan {

/// What a peer may make us hold for one request.
struct http_limits {
  std::size_t max_header_bytes = 16 * 1024;  ///< request line + headers
  std::size_t max_headers = 64;
  std::size_t max_body_bytes = 1024 * 1024;
};

struct http_request {
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
  http_request request;      ///< when complete
  std::size_t consumed = 0;  ///< bytes of the buffer the request used (when complete)
  int http_status = 400;     ///< when bad: 400, 413, 431, 501, 505
  std::string reason;        ///< when bad: for the log and the error body
};

/// Parses the first request in `buf`. Incomplete while more bytes are needed (but never
/// beyond the limits: a header section longer than max_header_bytes is bad at once).
parse_outcome parse_request(std::string_view buf, const http_limits& lim = {});

/// Percent-decoding ('+' as space when `form`); nullopt for a malformed escape.
std::optional<std::string> url_decode(std::string_view s, bool form);
std::string url_encode(std::string_view s);

/// "HTTP/1.1 <status> <reason>\r\n" + headers + Content-Length + body.
std::string format_response(int status, std::string_view content_type, std::string_view body, bool keep_alive,
                            const std::vector<std::pair<std::string, std::string>>& extra = {});
std::string_view status_reason(int status);

/// One Server-Sent Event: optional id and event name, the data split into "data:" lines
/// at every CR, LF or CRLF (so no text can end the event early), then a blank line.
std::string sse_event(std::string_view event, std::string_view data, std::optional<std::uint64_t> id = std::nullopt);
/// A comment line that keeps idle proxies and the browser's connection alive.
std::string sse_comment(std::string_view text);

/// Constant-time comparison of secrets (tokens).
bool equal_secret(std::string_view a, std::string_view b);

}  // namespace weft::chan
