#pragma once
/// One REST API of a person's account, for the tool families that speak to one (Google
/// Calendar, Microsoft Graph, Gmail): each call with a bearer token from the OAuth2 broker,
/// where a 401 asks for a fresh token (the refused one named) and retries once; links the
/// API gives (next pages) followed only back into the API, so the token goes nowhere else;
/// the APIs' {"error": …} bodies read into messages that name the API, the call and the status.
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/result.hh>
#include <weft/http/fetch.hh>
#include <weft/toolserver/tool.hh>

namespace weft::tools {

/// `j[k]` when `j` is an object and that is a string, else "" (outside input: never throws).
std::string str(const json& j, const char* k);

class rest_api {
 public:
  /// `service` names the API in messages ("Google Calendar"); `base` is its root URL.
  rest_api(std::string service, std::string base, http::bearer_tokens tokens);

  /// `path` below the base ("/me/calendars"), or a whole URL that starts with the base (a
  /// next page's link; any other is refused). A 2xx body that is empty is `{}`; any other
  /// status is an error naming it and the API's message (404: errc::not_found).
  result<json> call(const std::string& method, const std::string& path, const json* body = nullptr,
                    const std::vector<std::string>& headers = {});
  /// The same for bodies that are not JSON: `body` sent as `content_type` when either is
  /// given, the 2xx answer's bytes as they are.
  result<std::string> call_raw(const std::string& method, const std::string& path, const std::string& body = {},
                               const std::string& content_type = {}, const std::vector<std::string>& headers = {});

  const std::string& service() const { return _service; }
  const std::string& base() const { return _base; }

 private:
  result<http::fetch_response> send(const std::string& method, const std::string& path, const std::string* body,
                                    const std::string& content_type, const std::vector<std::string>& headers,
                                    std::string* shown);
  std::string _service, _base;
  http::bearer_tokens _tokens;
};

/// `e` with its message as "Failed to <what> '<name>': <message>" (domain and code kept, so a
/// caller still tells a missing item from a failed call).
error failed_to(std::string_view what, std::string_view name, error e);

}  // namespace weft::tools
