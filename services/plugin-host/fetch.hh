#pragma once
/// A plugin's http_fetch, made by the plugin host through the egress proxy: libcurl speaks
/// HTTP proxy (CONNECT for https, absolute form for http) to the plugin's relay, a port on
/// 127.0.0.1 inside the host's own network namespace joined to the plugin's own socket at
/// the egress ($WEFT_RUNTIME_DIR/egress/<agent>/plugin-<name>.sock; libcurl 7.88 cannot be
/// handed a connected UNIX socket: curl issue #10626). The egress decides what may be
/// reached, by the plugin's list; a refusal comes back as `denied` with the egress's reason.
/// Blocking: it runs on the tool worker thread the plugin's call runs on.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <weft/base/result.hh>

namespace weft::plugin_host {

struct fetch_request {
  std::string method;  ///< GET, POST, PUT, PATCH, DELETE, HEAD
  std::string url;     ///< http:// or https://
  std::vector<std::string> headers;  ///< "Name: value"
  std::string body;
  std::chrono::milliseconds timeout{30000};
  std::size_t keep = 0;           ///< body bytes kept (the plugin's buffer)
  std::size_t max_body = 16u << 20;  ///< a longer body ends the transfer (too_large)
};

struct fetch_answer {
  long status = 0;
  std::string body;           ///< the first `keep` bytes
  std::uint64_t length = 0;   ///< the whole body's length
  bool denied = false;        ///< the egress refused it (reason in error)
  bool too_large = false;
  std::string error;          ///< why there is no answer (status 0), or the refusal
};

/// The request's header lines as the plugin wrote them ("Name: value" joined by "\n"),
/// checked: each a token name and a value without control characters; Host,
/// Content-Length, Connection and Transfer-Encoding are the host's and dropped. errc::
/// invalid_argument for a line that is not a header.
result<std::vector<std::string>> parse_headers(std::string_view text);

/// Makes the request through the HTTP proxy at `proxy_url` ("http://127.0.0.1:3130").
/// Never throws; transport failures are in answer.error with status 0.
fetch_answer fetch_via(const std::string& proxy_url, const fetch_request& r);

}  // namespace weft::plugin_host
