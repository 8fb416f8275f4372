#include "services/tool-email/rest.hh"

#include <sodium.h>

#include <fmt/format.h>

#include <weft/http/request.hh>

namespace weft::tools::email {

namespace {

result<http::fetch_response> send(const char* api, const http::bearer_tokens& tokens, const rest_call& c) {
  http::fetch_request r;
  r.method = c.method;
  r.url = c.url;
  r.headers = {"Accept: application/json"};
  if (!c.body.empty() || c.method == "POST" || c.method == "PATCH") {
    r.headers.push_back("Content-Type: " + c.content_type);
    r.body = c.body;
  }
  r.timeout = std::chrono::seconds(60);
  r.max_body = 48u << 20;
  auto resp = http::fetch_with_bearer(std::move(r), tokens);
  if (!resp) return resp.take_error();
  if (resp->status / 100 == 2) return resp;
  auto j = json::parse(resp->body, nullptr, false);
  std::string why;
  if (j.is_object() && j.contains("error")) {
    auto& e = j["error"];
    why = e.is_object() ? str(e, "message") : e.is_string() ? e.get<std::string>() : "";
  }
  auto path = c.url.substr(0, c.url.find('?'));
  auto code = resp->status == 404 ? errc::not_found : resp->status == 403 || resp->status == 401 ? errc::unavailable : errc::unavailable;
  return fail(code, "{} answered {} {}: HTTP {}{}", api, c.method, path, resp->status, why.empty() ? "" : " (" + why + ")");
}

}  // namespace

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

result<json> call_api(const char* api, const http::bearer_tokens& tokens, const rest_call& c) {
  auto resp = send(api, tokens, c);
  if (!resp) return resp.take_error();
  if (resp->body.empty()) return json::object();
  auto j = json::parse(resp->body, nullptr, false);
  if (j.is_discarded()) return fail(errc::malformed, "{} answered {} {} with what is not JSON", api, c.method, c.url.substr(0, c.url.find('?')));
  return j;
}

result<std::string> call_api_raw(const char* api, const http::bearer_tokens& tokens, const rest_call& c) {
  auto resp = send(api, tokens, c);
  if (!resp) return resp.take_error();
  return std::move(resp->body);
}

std::string base64url(std::string_view bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  return out;
}

result<std::string> from_base64url(std::string_view text) {
  std::string t(text);
  for (auto& c : t) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!t.empty() && t.back() == '=') t.pop_back();
  std::string out(t.size() * 3 / 4 + 3, '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), t.data(), t.size(), "\r\n", &len, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
    return fail(errc::malformed, "not base64url");
  out.resize(len);
  return out;
}

}  // namespace weft::tools::email
