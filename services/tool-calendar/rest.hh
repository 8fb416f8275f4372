#pragma once
/// What the REST calendar backends (Google Calendar, Microsoft Graph) share: one JSON call
/// with a bearer token from the OAuth2 broker, where a 401 asks for a fresh token (the
/// refused one named) and retries once; the APIs' error bodies read into messages; a
/// backend's error said as "Failed to <do> '<calendar>': reason".
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <weft/base/result.hh>

#include "services/tool-calendar/backend.hh"

namespace weft::tools::calendar {

using json = nlohmann::json;

/// `j[k]` when it is a string, else "".
std::string str(const json& j, const char* k);

class rest_api {
 public:
  /// `service` names the API in messages ("Google Calendar"); `base` is its root URL.
  rest_api(std::string service, std::string base, token_source tokens);

  /// `path` below the base ("/me/calendars"), or a whole URL that starts with the base (a
  /// next page's link; any other is refused: the token goes to the API alone). A 2xx body
  /// that is empty is `{}`; any other status an error naming it and the API's message
  /// (404: errc::not_found).
  result<json> call(const std::string& method, const std::string& path, const json* body = nullptr,
                    const std::vector<std::string>& headers = {});

  const std::string& service() const { return _service; }
  const std::string& base() const { return _base; }

 private:
  std::string _service, _base;
  token_source _tokens;
};

/// `e` with its message as "Failed to <what> '<name>': <message>" (domain and code kept, so a
/// caller still tells a missing event from a failed call).
error failed_to(std::string_view what, std::string_view name, error e);

}  // namespace weft::tools::calendar
