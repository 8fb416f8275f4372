#pragma once
/// One HTTP request made on the calling thread (libcurl's easy interface), for the tool
/// processes that work on worker threads: a CalDAV server, a forge's REST API. Bounded: a
/// whole-transfer timeout and a body cap; redirects are not followed.
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <weft/base/result.hh>

namespace weft::http {

struct fetch_request {
  std::string method = "GET";
  std::string url;                   ///< http:// or https:// only
  std::vector<std::string> headers;  ///< "Name: value"
  std::string body;
  std::string username, password;    ///< HTTP Basic when username is set
  std::chrono::milliseconds timeout{30000};
  std::size_t max_body = 16u << 20;
};

struct fetch_response {
  long status = 0;
  std::map<std::string, std::string> headers;  ///< lower-case names
  std::string body;
};

/// errc::unavailable naming the URL when no response came (connection, timeout, TLS);
/// errc::io when the body passed max_body. Any status is a response.
result<fetch_response> fetch(const fetch_request& r);


/// An OAuth2 access token for a call; `refused` names the one an API just refused (the
/// broker refreshes instead of handing it out again), empty at first.
using bearer_tokens = std::function<result<std::string>(const std::string& refused)>;

/// `r` sent with "Authorization: Bearer <token>" from `tokens`; a 401 asks for a fresh token
/// and sends it once more (the answer to that is returned, whatever it is). The token
/// source's error when it gives none.
result<fetch_response> fetch_with_bearer(fetch_request r, const bearer_tokens& tokens);

}  // namespace weft::http
