#include "services/llm/http.hh"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace weft::llm {

namespace {
struct curl_global {
  curl_global() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~curl_global() { curl_global_cleanup(); }
};
}  // namespace

struct http_client::transfer {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string body;  // request body; must live as long as the transfer
  bool stream = false;
  body_fn on_body;
  done_fn done;
  http_response resp;
  std::size_t max_body = 0;
  char errbuf[CURL_ERROR_SIZE] = {};
};

http_client::http_client(http_options o) : _opts(o) {
  static curl_global global;
  _multi = curl_multi_init();
  curl_multi_setopt(_multi, CURLMOPT_MAXCONNECTS, _opts.max_connections);
  // Proxies from the environment still apply to providers, never to loopback servers.
  _no_proxy = "localhost,127.0.0.1,::1";
  for (auto* v : {"no_proxy", "NO_PROXY"})
    if (auto* e = std::getenv(v); e && *e) _no_proxy += std::string(",") + e;
}

http_client::~http_client() {
  for (auto& [easy, t] : _transfers) {
    curl_multi_remove_handle(_multi, easy);
    curl_easy_cleanup(easy);
    curl_slist_free_all(t->headers);
  }
  curl_multi_cleanup(_multi);
}

std::size_t http_client::on_write(char* p, std::size_t size, std::size_t n, void* self) {
  auto* t = static_cast<transfer*>(self);
  auto len = size * n;
  if (t->resp.status == 0) curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->resp.status);
  bool ok2xx = t->resp.status >= 200 && t->resp.status < 300;
  if (t->stream && ok2xx) {
    t->resp.body_started = true;
    if (!t->on_body(std::string_view(p, len))) {
      t->resp.aborted = true;
      return 0;
    }
    return len;
  }
  if (ok2xx) t->resp.body_started = true;
  if (t->resp.body.size() + len > t->max_body) {
    t->resp.too_large = true;
    return 0;
  }
  t->resp.body.append(p, len);
  return len;
}

std::size_t http_client::on_header(char* p, std::size_t size, std::size_t n, void* self) {
  auto* t = static_cast<transfer*>(self);
  std::string_view line(p, size * n);
  if (line.substr(0, 5) == "HTTP/") {  // a new response (after a redirect or 100): start over
    t->resp.headers.clear();
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos || t->resp.headers.size() > 200) return size * n;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  auto value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
  t->resp.headers[name] = std::string(value.substr(0, 4096));
  return size * n;
}

void http_client::start(const http_request& r, body_fn on_body, done_fn done) {
  auto t = std::make_unique<transfer>();
  t->easy = curl_easy_init();
  t->body = r.body;
  t->stream = r.stream;
  t->on_body = std::move(on_body);
  t->done = std::move(done);
  t->max_body = _opts.max_body;
  for (auto& h : r.headers) t->headers = curl_slist_append(t->headers, h.c_str());
  CURL* e = t->easy;
  curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body.data());
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->body.size()));
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &http_client::on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &http_client::on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
  curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, _opts.timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, _opts.connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_NOPROXY, _no_proxy.c_str());
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // gzip when the server offers it
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_USERAGENT, "weft-llm/0.1");
  curl_multi_add_handle(_multi, e);
  _transfers.emplace(e, std::move(t));
}

void http_client::wait(std::span<curl_waitfd> extra, int timeout_ms) {
  for (auto& w : extra) w.revents = 0;
  curl_multi_poll(_multi, extra.data(), static_cast<unsigned>(extra.size()), std::max(0, timeout_ms), nullptr);
}

void http_client::perform() {
  int running = 0;
  curl_multi_perform(_multi, &running);
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(_multi, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* e = msg->easy_handle;
    auto it = _transfers.find(e);
    if (it == _transfers.end()) continue;
    auto t = std::move(it->second);
    _transfers.erase(it);
    curl_multi_remove_handle(_multi, e);
    t->resp.code = msg->data.result;
    if (t->resp.status == 0) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &t->resp.status);
    if (t->resp.code != CURLE_OK)
      t->resp.error = t->errbuf[0] ? std::string(t->errbuf) : std::string(curl_easy_strerror(t->resp.code));
    curl_easy_cleanup(e);
    curl_slist_free_all(t->headers);
    t->done(std::move(t->resp));  // may start new transfers: the map is not being iterated
  }
}

}  // namespace weft::llm
