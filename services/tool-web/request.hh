#pragma once
/// One HTTP request of the web family, for web_fetch and web_search alike: libcurl on the
/// calling (worker) thread, the address of every connection checked after DNS
/// (weft::net::forbidden_reason) unless private targets are allowed, the body cut at a cap,
/// a time limit, and the server's cancel line polled. How it ended is told apart, so each
/// tool words its own message.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <weft/toolserver/tool.hh>

namespace weft::tools {

struct web_request {
  std::string method = "GET";        ///< GET, or POST with body
  std::string url;                   ///< http:// or https://
  std::vector<std::string> headers;  ///< "Name: value"
  std::string body;                  ///< sent with POST
  std::chrono::milliseconds timeout{20000};
  std::size_t max_bytes = 1024 * 1024;  ///< the body is cut here (truncated set)
  long max_redirects = 0;               ///< 0: redirects are answers, not followed
  bool allow_private = false;           ///< loopback and private targets allowed
};

/// How a request ended.
enum class web_outcome : std::uint8_t {
  answered = 0,   ///< a response came (any status)
  blocked = 1,    ///< a connection's address was refused; reason says which
  timed_out = 2,  ///< the time limit passed
  cancelled = 3,  ///< the server's cancel line fired (tool-web is stopping)
  failed = 4,     ///< no response: DNS, connection, TLS…; reason is curl's message
};

struct web_response {
  web_outcome outcome = web_outcome::failed;
  std::string reason;  ///< blocked: "127.0.0.1 is loopback"; failed: curl's words
  long status = 0;
  std::string content_type;
  std::string url;  ///< the final URL after redirects
  std::string body;
  bool truncated = false;  ///< the body passed max_bytes and was cut
};

/// Makes `r`; never throws. The scheme must already have been checked by the caller (it is
/// limited to http and https here too).
web_response web_transfer(const web_request& r, const call_context& ctx);

}  // namespace weft::tools
