#pragma once
/// The request head a client sends an HTTP proxy, read by the egress proxy before it
/// decides anything: `CONNECT host:port` (a tunnel, for https and anything else) or
/// `METHOD http://host[:port]/path` (plain HTTP, forwarded in origin form). Plain
/// functions on text from the sandbox, unit-tested and fuzzed.

#include <cstdint>
#include <string>
#include <string_view>

#include <weft/base/result.hh>

namespace weft::egress {

struct proxy_request {
  std::string method;  ///< CONNECT, GET, POST, …
  std::string host;    ///< a name or an address, IPv6 without brackets
  std::uint16_t port = 0;
  bool tunnel = false;  ///< CONNECT: after 200 the bytes are relayed as they are
  /// Plain HTTP: the head to send the target — origin-form request line, Host kept (added
  /// when missing), Proxy-* and hop-by-hop headers dropped, `Connection: close` (one
  /// request per connection, so the proxy never has to find where a response ends).
  std::string head;
  /// "host:port" for messages, IPv6 in brackets.
  std::string target() const;
};

/// The longest request head the proxy reads (request line and headers).
inline constexpr std::size_t max_head_bytes = 16 * 1024;

/// Where the head in `buf` ends (just past the blank line), or npos while incomplete.
std::size_t head_end(std::string_view buf);

/// Parses a complete head (through its blank line). errc::malformed with a reason a person
/// can act on ("Failed to read the proxy request: …"); an https:// URL outside CONNECT is
/// refused the same way (a client must tunnel TLS).
result<proxy_request> parse_request(std::string_view head);

}  // namespace weft::egress
