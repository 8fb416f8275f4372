#include "request.hh"

#include <curl/curl.h>

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include <weft/base/net_address.hh>

namespace weft::tools {

namespace {

struct transfer_state {
  const call_context* ctx;
  const web_request* req;
  std::string body;
  bool truncated = false;
  std::string blocked;  // "127.0.0.1 is loopback" when a connection was refused
};

curl_socket_t open_socket(void* clientp, curlsocktype, curl_sockaddr* a) {
  auto* st = static_cast<transfer_state*>(clientp);
  if (!st->req->allow_private) {
    auto why = net::forbidden_reason(&a->addr);
    if (!why.empty()) {
      st->blocked = fmt::format("{} is {}", net::address_text(&a->addr), why);
      return CURL_SOCKET_BAD;
    }
  }
  return ::socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* userp) {
  auto* st = static_cast<transfer_state*>(userp);
  std::size_t len = size * n;
  std::size_t cap = st->req->max_bytes;
  std::size_t room = cap - std::min(cap, st->body.size());
  if (len > room) {
    st->body.append(data, room);
    st->truncated = true;
    return 0;  // stops the transfer (CURLE_WRITE_ERROR), which is then not an error
  }
  st->body.append(data, len);
  return len;
}

int on_progress(void* clientp, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<transfer_state*>(clientp)->ctx->cancelled() ? 1 : 0;
}

}  // namespace

web_response web_transfer(const web_request& r, const call_context& ctx) {
  web_response out;
  transfer_state st{&ctx, &r, {}, false, {}};
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> h(curl_easy_init(), curl_easy_cleanup);
  if (!h) {
    out.reason = "curl_easy_init failed";
    return out;
  }
  CURL* c = h.get();
  char errbuf[CURL_ERROR_SIZE] = "";
  curl_slist* headers = nullptr;
  for (auto& line : r.headers) headers = curl_slist_append(headers, line.c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers, curl_slist_free_all);
  curl_easy_setopt(c, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, r.max_redirects > 0 ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, r.max_redirects);
  curl_easy_setopt(c, CURLOPT_PROXY, "");  // no proxy from the environment: we check the real target
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &st);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &st);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<long>(r.timeout.count(), 10000)));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // decoded bytes count against the cap
  curl_easy_setopt(c, CURLOPT_USERAGENT, "weft-tool-web/0.1");
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  if (r.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, r.body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(r.body.size()));
  }
  CURLcode rc = curl_easy_perform(c);

  if (!st.blocked.empty()) {
    out.outcome = web_outcome::blocked;
    out.reason = std::move(st.blocked);
    return out;
  }
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && st.truncated)) {
    out.outcome = rc == CURLE_OPERATION_TIMEDOUT    ? web_outcome::timed_out
                  : rc == CURLE_ABORTED_BY_CALLBACK ? web_outcome::cancelled
                                                    : web_outcome::failed;
    out.reason = *errbuf ? errbuf : curl_easy_strerror(rc);
    return out;
  }
  out.outcome = web_outcome::answered;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.status);
  char* ct = nullptr;
  curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
  out.content_type = ct ? ct : "";
  char* eff = nullptr;
  curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff);
  out.url = eff ? eff : r.url;
  out.body = std::move(st.body);
  out.truncated = st.truncated;
  return out;
}

}  // namespace weft::tools
