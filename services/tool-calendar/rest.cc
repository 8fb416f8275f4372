#include "services/tool-calendar/rest.hh"

#include <fmt/format.h>

#include <weft/http/fetch.hh>

namespace weft::tools::calendar {

std::string str(const json& j, const char* k) {
  if (!j.is_object()) return "";
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

rest_api::rest_api(std::string service, std::string base, token_source tokens)
    : _service(std::move(service)), _base(std::move(base)), _tokens(std::move(tokens)) {
  while (!_base.empty() && _base.back() == '/') _base.pop_back();
}

result<json> rest_api::call(const std::string& method, const std::string& path, const json* body,
                            const std::vector<std::string>& headers) {
  std::string url;
  if (path.rfind("/", 0) == 0) {
    url = _base + path;
  } else if (path.rfind(_base + "/", 0) == 0 || path.rfind(_base + "?", 0) == 0) {
    url = path;
  } else {
    return fail(errc::malformed, "{} gave a link outside its API ('{}'), not followed", _service, path.substr(0, 200));
  }
  auto shown = url.substr(_base.size());
  shown = shown.substr(0, shown.find('?'));
  std::string refused;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto token = _tokens(refused);
    if (!token) return token.take_error();
    http::fetch_request r;
    r.method = method;
    r.url = url;
    r.headers = {"Authorization: Bearer " + *token, "Accept: application/json"};
    r.headers.insert(r.headers.end(), headers.begin(), headers.end());
    if (body) {
      r.headers.push_back("Content-Type: application/json");
      r.body = body->dump();
    }
    auto resp = http::fetch(r);
    if (!resp) return resp.take_error();
    if (resp->status == 401 && attempt == 0) {
      refused = *token;  // expired or revoked early: the broker refreshes
      continue;
    }
    if (resp->status / 100 == 2 && resp->body.empty()) return json::object();
    auto j = json::parse(resp->body, nullptr, false);
    if (resp->status / 100 != 2) {
      // Both APIs answer {"error": {"code": …, "message": "…"}}.
      std::string why = j.is_object() && j.contains("error") ? str(j["error"], "message") : "";
      return fail(resp->status == 404 ? errc::not_found : errc::unavailable, "{} answered {} {}: HTTP {}{}", _service, method,
                  shown, resp->status, why.empty() ? "" : " (" + why.substr(0, 300) + ")");
    }
    if (j.is_discarded()) return fail(errc::malformed, "{} answered {} {} with what is not JSON", _service, method, shown);
    return j;
  }
  return fail(errc::unavailable, "{} refused a freshly refreshed token too", _service);
}

error failed_to(std::string_view what, std::string_view name, error e) {
  e.message = fmt::format("Failed to {} '{}': {}", what, name, e.message);
  return e;
}

}  // namespace weft::tools::calendar
