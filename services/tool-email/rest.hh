#pragma once
/// How the Gmail and Graph backends call their APIs: whole URLs (built with the API's base)
/// through libs/toolserver's rest_api — bearer tokens from the broker, a 401 refreshed once,
/// links only back into the API — with a body of any type; answers read as JSON.
#include <string>

#include <weft/toolserver/rest_api.hh>

namespace weft::tools::email {

struct rest_call {
  std::string method = "GET", url;
  std::string body, content_type = "application/json";
};

/// The answer as JSON ({} for an empty 2xx); errc::malformed when a 2xx is not JSON. POST and
/// PATCH always carry their (maybe empty) body.
result<json> call_json(rest_api& api, const rest_call& c);

}  // namespace weft::tools::email
