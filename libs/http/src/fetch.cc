#include <weft/http/fetch.hh>

#include <curl/curl.h>

#include <algorithm>
#include <memory>

namespace weft::http {

namespace {

struct sink {
  std::string* body;
  std::size_t max;
  bool too_large = false;
};

std::size_t on_body(char* p, std::size_t size, std::size_t n, void* u) {
  auto& s = *static_cast<sink*>(u);
  if (s.body->size() + size * n > s.max) {
    s.too_large = true;
    return 0;
  }
  s.body->append(p, size * n);
  return size * n;
}

std::size_t on_header(char* p, std::size_t size, std::size_t n, void* u) {
  std::string_view line(p, size * n);
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    auto v = line.substr(colon + 1);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
    (*static_cast<std::map<std::string, std::string>*>(u))[name] = std::string(v);
  }
  return size * n;
}

}  // namespace

result<fetch_response> fetch(const fetch_request& r) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> h(curl_easy_init(), curl_easy_cleanup);
  if (!h) return fail(errc::unavailable, "Failed to reach '{}': curl_easy_init failed", r.url);
  auto* c = h.get();
  fetch_response out;
  sink s{&out.body, r.max_body};
  curl_slist* list = nullptr;
  for (auto& x : r.headers) list = curl_slist_append(list, x.c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> hl(list, curl_slist_free_all);
  curl_easy_setopt(c, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  if (list) curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  if (!r.body.empty() || r.method == "POST" || r.method == "PUT") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, r.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
  }
  if (r.method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (!r.username.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, r.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, r.password.c_str());
  }
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &out.headers);
  auto rc = curl_easy_perform(c);
  if (s.too_large) return fail(errc::io, "Failed to read '{}': the answer is over {} bytes", r.url, r.max_body);
  if (rc != CURLE_OK) return fail(errc::unavailable, "Failed to reach '{}': {}", r.url, curl_easy_strerror(rc));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.status);
  return out;
}


result<fetch_response> fetch_with_bearer(fetch_request r, const bearer_tokens& tokens) {
  std::string refused;
  r.headers.emplace_back();  // the Authorization line, set per attempt
  for (int attempt = 0;; ++attempt) {
    auto token = tokens(refused);
    if (!token) return token.take_error();
    r.headers.back() = "Authorization: Bearer " + *token;
    auto resp = fetch(r);
    if (!resp || resp->status != 401 || attempt == 1) return resp;
    refused = std::move(*token);  // expired or revoked early: the broker refreshes
  }
}

}  // namespace weft::http
