#include "services/plugin-host/fetch.hh"

#include <algorithm>
#include <cstring>

#include <curl/curl.h>
#include <fmt/core.h>

namespace weft::plugin_host {

namespace {

bool token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);  // strchr finds the terminator too
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct transfer {
  const fetch_request* req;
  fetch_answer* out;
  bool refused_header = false;
  std::string reason;
};

std::size_t on_header(char* p, std::size_t size, std::size_t n, void* tp) {
  auto* t = static_cast<transfer*>(tp);
  std::string_view line(p, size * n);
  // The egress marks its own refusals, on a CONNECT's answer as on a plain request's.
  auto l = lower(line);
  if (l.starts_with("x-weft-egress:") && l.find("refused") != std::string::npos) t->refused_header = true;
  if (l.starts_with("x-weft-egress-reason:")) {
    auto v = line.substr(21);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r' || v.back() == ' ')) v.remove_suffix(1);
    t->reason = std::string(v);
  }
  return size * n;
}

std::size_t on_body(char* p, std::size_t size, std::size_t n, void* tp) {
  auto* t = static_cast<transfer*>(tp);
  auto bytes = size * n;
  t->out->length += bytes;
  if (t->out->length > t->req->max_body) {
    t->out->too_large = true;
    return 0;  // ends the transfer
  }
  if (t->out->body.size() < t->req->keep)
    t->out->body.append(p, std::min(bytes, t->req->keep - t->out->body.size()));
  return bytes;
}

}  // namespace

result<std::vector<std::string>> parse_headers(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 ||
        !std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(colon), token_char))
      return fail(errc::invalid_argument, "'{}' is not a header line (Name: value)", line.substr(0, 64));
    auto value = line.substr(colon + 1);
    for (char c : value)
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
        return fail(errc::invalid_argument, "the value of header '{}' has a control character", line.substr(0, colon));
    auto name = lower(line.substr(0, colon));
    if (name == "host" || name == "content-length" || name == "connection" || name == "transfer-encoding") continue;
    out.emplace_back(line);
  }
  return out;
}

fetch_answer fetch_via(const std::string& proxy_url, const fetch_request& r) {
  fetch_answer out;
  CURL* h = curl_easy_init();
  if (!h) {
    out.error = "Failed to make an HTTP request: libcurl could not start a transfer";
    return out;
  }
  transfer t{&r, &out};
  curl_slist* headers = nullptr;
  for (auto& line : r.headers) headers = curl_slist_append(headers, line.c_str());
  // No Expect: 100-continue round trip, and no Accept default the plugin did not ask for.
  headers = curl_slist_append(headers, "Expect:");
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(h, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_PROXY, proxy_url.c_str());
  curl_easy_setopt(h, CURLOPT_NOPROXY, "");
  curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<std::int64_t>(1, r.timeout.count())));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "weft-plugin/1");
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  if (r.method == "HEAD") curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  else if (r.method != "GET") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  if (!r.body.empty() || r.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, r.body.data());
    if (r.method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  }
  auto rc = curl_easy_perform(h);
  long status = 0, connect_code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(h, CURLINFO_HTTP_CONNECTCODE, &connect_code);
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  if (t.refused_header) {
    // The egress's answer, with its reason in X-Weft-Egress-Reason.
    out.denied = true;
    out.status = 0;
    auto& reason = t.reason;
    out.error = reason.empty() ? fmt::format("refused by the egress proxy ({})", connect_code ? connect_code : status) : reason;
    out.body.clear();
    out.length = 0;
    return out;
  }
  if (out.too_large) {
    out.error = fmt::format("the response body is longer than {} bytes", r.max_body);
    out.status = 0;
    return out;
  }
  if (rc != CURLE_OK) {
    if (out.error.empty()) out.error = fmt::format("Failed to fetch '{}': {}", r.url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    out.status = 0;
    return out;
  }
  out.status = status;
  return out;
}

}  // namespace weft::plugin_host
