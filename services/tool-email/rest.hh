#pragma once
/// What the Gmail and Graph backends share: one JSON API call with a bearer token from the
/// broker (a 401 refreshed once), errors that name the API, the call and its answer; and
/// base64url, in which Gmail carries whole messages.
#include <string>

#include <nlohmann/json.hpp>

#include <weft/base/result.hh>
#include <weft/http/fetch.hh>

namespace weft::tools::email {

using json = nlohmann::json;

struct rest_call {
  std::string method = "GET", url;
  std::string body, content_type = "application/json";
};

/// The answer as JSON ({} for an empty 2xx); errc::not_found for 404, errc::denied for 403,
/// errc::unavailable for other failures, errc::malformed when a 2xx is not JSON.
result<json> call_api(const char* api, const http::bearer_tokens& tokens, const rest_call& c);
/// The answer's bytes as they are (a 2xx), for bodies that are not JSON (Graph's $value).
result<std::string> call_api_raw(const char* api, const http::bearer_tokens& tokens, const rest_call& c);

std::string base64url(std::string_view bytes);
/// errc::malformed when it is not base64url (padding and the standard alphabet accepted too).
result<std::string> from_base64url(std::string_view text);
/// A JSON string member or "".
std::string str(const json& j, const char* key);

}  // namespace weft::tools::email
