#include <weft/toolserver/rest_api.hh>

#include <fmt/format.h>

namespace weft::tools {

std::string str(const json& j, const char* k) {
  if (!j.is_object()) return "";
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

rest_api::rest_api(std::string service, std::string base, http::bearer_tokens tokens)
    : _service(std::move(service)), _base(std::move(base)), _tokens(std::move(tokens)) {
  while (!_base.empty() && _base.back() == '/') _base.pop_back();
}

result<http::fetch_response> rest_api::send(const std::string& method, const std::string& path, const std::string* body,
                                            const std::string& content_type, const std::vector<std::string>& headers,
                                            std::string* shown) {
  std::string url;
  if (path.rfind("/", 0) == 0) {
    url = _base + path;
  } else if (path.rfind(_base + "/", 0) == 0 || path.rfind(_base + "?", 0) == 0) {
    url = path;
  } else {
    return fail(errc::malformed, "{} gave a link outside its API ('{}'), not followed", _service, path.substr(0, 200));
  }
  *shown = url.substr(_base.size());
  *shown = shown->substr(0, shown->find('?'));
  http::fetch_request r;
  r.method = method;
  r.url = url;
  r.headers = {"Accept: application/json"};
  r.headers.insert(r.headers.end(), headers.begin(), headers.end());
  if (body) {
    r.headers.push_back("Content-Type: " + (content_type.empty() ? std::string("application/json") : content_type));
    r.body = *body;
  }
  r.max_body = 48u << 20;
  auto resp = http::fetch_with_bearer(std::move(r), _tokens);
  if (!resp) return resp.take_error();
  if (resp->status / 100 == 2) return resp;
  // Google's and Microsoft's APIs answer {"error": {"code": …, "message": "…"}}; OAuth-style ones {"error": "…"}.
  auto j = json::parse(resp->body, nullptr, false);
  std::string why;
  if (j.is_object() && j.contains("error"))
    why = j["error"].is_string() ? j["error"].get<std::string>() : str(j["error"], "message");
  if (resp->status == 401) why = why.empty() ? "a freshly refreshed token was refused too" : why;
  return fail(resp->status == 404 ? errc::not_found : errc::unavailable, "{} answered {} {}: HTTP {}{}", _service, method, *shown,
              resp->status, why.empty() ? "" : " (" + why.substr(0, 300) + ")");
}

result<json> rest_api::call(const std::string& method, const std::string& path, const json* body,
                            const std::vector<std::string>& headers) {
  std::string text = body ? body->dump(-1, ' ', false, json::error_handler_t::replace) : std::string();
  std::string shown;
  auto resp = send(method, path, body ? &text : nullptr, "application/json", headers, &shown);
  if (!resp) return resp.take_error();
  if (resp->body.empty()) return json::object();
  auto j = json::parse(resp->body, nullptr, false);
  if (j.is_discarded()) return fail(errc::malformed, "{} answered {} {} with what is not JSON", _service, method, shown);
  return j;
}

result<std::string> rest_api::call_raw(const std::string& method, const std::string& path, const std::string& body,
                                       const std::string& content_type, const std::vector<std::string>& headers) {
  std::string shown;
  bool has_body = !body.empty() || !content_type.empty();
  auto resp = send(method, path, has_body ? &body : nullptr, content_type, headers, &shown);
  if (!resp) return resp.take_error();
  return std::move(resp->body);
}

error failed_to(std::string_view what, std::string_view name, error e) {
  e.message = fmt::format("Failed to {} '{}': {}", what, name, e.message);
  return e;
}

}  // namespace weft::tools
