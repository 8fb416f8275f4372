#include <weft/http/client.hh>

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace weft::http {

namespace {

void global_init() {
  // Once per process, before any thread uses libcurl (a function-local static is
  // initialised exactly once even when two threads get here together).
  static const bool done = [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return true;
  }();
  (void)done;
}

CURLM* multi_of(void* m) { return static_cast<CURLM*>(m); }

long to_long_ms(std::chrono::milliseconds d) { return static_cast<long>(std::max<std::int64_t>(0, d.count())); }

}  // namespace

struct client::transfer {
  client* self = nullptr;
  id tid = 0;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string body;  // the request body: libcurl reads it for as long as the transfer runs
  bool stream = false;
  handlers h;
  client_response resp;
  std::size_t max_body = 0;
  long head_status = 0;  // of the response whose head is being read
  bool head_sent = false;
  bool added = false;
  bool cancelled = false;
  char errbuf[CURL_ERROR_SIZE] = {};
};

result<std::unique_ptr<client>> client::create(event_loop& loop, client_options o) {
  global_init();
  CURLM* m = curl_multi_init();
  if (!m) return fail(errc::io, "Failed to create an HTTP client: libcurl refused a multi handle");
  std::unique_ptr<client> c(new client(loop, std::move(o), m));
  curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, &client::on_socket);
  curl_multi_setopt(m, CURLMOPT_SOCKETDATA, c.get());
  curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, &client::on_timer);
  curl_multi_setopt(m, CURLMOPT_TIMERDATA, c.get());
  curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, c->_opts.max_connections);
  return c;
}

client::client(event_loop& loop, client_options o, void* multi) : _loop(loop), _opts(std::move(o)), _multi(multi) {
  // Proxies from the environment still apply to remote hosts, never to loopback servers.
  _no_proxy = "localhost,127.0.0.1,::1";
  for (auto* v : {"no_proxy", "NO_PROXY"})
    if (auto* e = std::getenv(v); e && *e) _no_proxy += std::string(",") + e;
}

client::~client() {
  *_alive = false;
  for (auto& [tid, t] : _transfers) remove(*t);
  _transfers.clear();
  curl_multi_cleanup(multi_of(_multi));  // closes the kept connections (REMOVE callbacks)
  for (auto& [fd, s] : _socks) _loop.unwatch(s.watch);
  _loop.cancel(_timer);
}

// ---- libcurl's callbacks -------------------------------------------------------------------

int client::on_socket(void*, int fd, int what, void* self, void*) {
  auto* c = static_cast<client*>(self);
  if (what == CURL_POLL_REMOVE) {
    if (auto it = c->_socks.find(fd); it != c->_socks.end()) {
      c->_loop.unwatch(it->second.watch);
      c->_socks.erase(it);
    }
    return 0;
  }
  std::uint32_t ev = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
  auto it = c->_socks.find(fd);
  if (it == c->_socks.end()) {
    auto w = c->_loop.watch(fd, ev, [c, fd](std::uint32_t got) {
      int flags = ((got & EPOLLIN) ? CURL_CSELECT_IN : 0) | ((got & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                  ((got & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
      c->act(fd, flags);
    });
    if (!w) return -1;  // libcurl fails the transfers on this socket
    c->_socks.emplace(fd, sock{*w, ev});
  } else if (it->second.events != ev) {
    if (!c->_loop.modify(it->second.watch, ev)) return -1;
    it->second.events = ev;
  }
  return 0;
}

int client::on_timer(void*, long timeout_ms, void* self) {
  auto* c = static_cast<client*>(self);
  c->_loop.cancel(c->_timer);
  c->_timer = 0;
  if (timeout_ms < 0) return 0;  // no timer wanted
  c->_timer = c->_loop.after(std::chrono::milliseconds(timeout_ms), [c] {
    c->_timer = 0;
    c->act(CURL_SOCKET_TIMEOUT, 0);
  });
  return 0;
}

std::size_t client::on_header(char* p, std::size_t size, std::size_t n, void* tp) {
  auto* t = static_cast<transfer*>(tp);
  std::string_view line(p, size * n);
  if (t->cancelled) return 0;
  if (line.substr(0, 5) == "HTTP/") {  // a new response head (after a 1xx): start over
    t->resp.headers.clear();
    auto sp = line.find(' ');
    t->head_status = sp == std::string_view::npos ? 0 : std::atol(std::string(line.substr(sp + 1, 3)).c_str());
    return line.size();
  }
  if (line == "\r\n" || line == "\n") {  // the end of a head
    if (t->head_status >= 200 && !t->head_sent) {
      t->head_sent = true;
      t->resp.status = t->head_status;
      if (t->h.on_head) t->h.on_head(t->resp);
      if (t->cancelled) return 0;
    }
    return line.size();
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos || t->resp.headers.size() > 200) return line.size();
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return std::tolower(ch); });
  auto value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
  t->resp.headers[name] = std::string(value.substr(0, 4096));
  return line.size();
}

std::size_t client::on_write(char* p, std::size_t size, std::size_t n, void* tp) {
  auto* t = static_cast<transfer*>(tp);
  auto len = size * n;
  if (t->cancelled) return 0;
  if (t->resp.status == 0) curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->resp.status);
  bool ok2xx = t->resp.status >= 200 && t->resp.status < 300;
  if (ok2xx) t->resp.body_started = true;
  if (t->stream && ok2xx) {
    if (t->h.on_body && !t->h.on_body(std::string_view(p, len))) {
      t->resp.aborted = true;
      return 0;
    }
    return t->cancelled ? 0 : len;
  }
  if (t->resp.body.size() + len > t->max_body) {
    t->resp.too_large = true;
    return 0;
  }
  t->resp.body.append(p, len);
  return len;
}

// ---- transfers -----------------------------------------------------------------------------

client::id client::start(client_request r, handlers h) {
  auto t = std::make_unique<transfer>();
  auto tid = _next++;
  t->self = this;
  t->tid = tid;
  t->h = std::move(h);
  t->stream = r.stream;
  t->max_body = r.max_body.value_or(_opts.max_body);
  t->body = std::move(r.body);
  t->easy = curl_easy_init();
  auto* raw = t.get();
  _transfers.emplace(tid, std::move(t));
  if (!raw->easy) {
    fail_later(tid, "libcurl refused an easy handle");
    return tid;
  }
  for (auto& hdr : r.headers) raw->headers = curl_slist_append(raw->headers, hdr.c_str());
  CURL* e = raw->easy;
  curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
  if (r.method == "GET") {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else if (r.method == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else {
    if (r.method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    if (r.method == "POST" || !raw->body.empty()) {
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, raw->body.data());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(raw->body.size()));
    }
  }
  // A body is sent at once, never after waiting for "100 Continue".
  raw->headers = curl_slist_append(raw->headers, "Expect:");
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, raw->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &client::on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, raw);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &client::on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, raw);
  curl_easy_setopt(e, CURLOPT_PRIVATE, raw);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, raw->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, to_long_ms(r.timeout.value_or(_opts.timeout)));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, to_long_ms(_opts.connect_timeout));
  if (auto idle = r.idle_timeout.value_or(_opts.idle_timeout); idle.count() > 0) {
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, static_cast<long>((idle.count() + 999) / 1000));
  }
  curl_easy_setopt(e, CURLOPT_NOPROXY, _no_proxy.c_str());
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // gzip when the server offers it
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_USERAGENT, _opts.user_agent.c_str());
  if (_in_curl) {
    // Inside one of libcurl's callbacks (a handler started it): add it once that returned.
    _loop.defer([this, alive = _alive, tid] {
      if (*alive) add(tid);
    });
  } else {
    add(tid);
  }
  return tid;
}

void client::add(id tid) {
  auto it = _transfers.find(tid);
  if (it == _transfers.end() || it->second->cancelled) return;
  ++_in_curl;
  auto rc = curl_multi_add_handle(multi_of(_multi), it->second->easy);
  --_in_curl;
  if (rc != CURLM_OK) return fail_later(tid, curl_multi_strerror(rc));
  it->second->added = true;
}

void client::fail_later(id tid, std::string why) {
  _loop.defer([this, alive = _alive, tid, why = std::move(why)]() mutable {
    if (!*alive) return;
    auto t = take(tid);
    if (!t) return;
    t->resp.curl_code = CURLE_FAILED_INIT;
    t->resp.error = std::move(why);
    if (t->h.done && !t->cancelled) t->h.done(std::move(t->resp));
  });
}

void client::cancel(id tid) {
  auto it = _transfers.find(tid);
  if (it == _transfers.end()) return;
  it->second->cancelled = true;  // no handler of it runs from now on
  if (!_in_curl) {
    (void)take(tid);
    return;
  }
  // Its own callback may be running: libcurl lets go of it once that returned.
  _loop.defer([this, alive = _alive, tid] {
    if (*alive) (void)take(tid);
  });
}

std::unique_ptr<client::transfer> client::take(id tid) {
  auto it = _transfers.find(tid);
  if (it == _transfers.end()) return nullptr;
  auto t = std::move(it->second);
  _transfers.erase(it);
  remove(*t);
  return t;
}

void client::remove(transfer& t) {
  if (t.easy) {
    if (t.added) {
      ++_in_curl;
      curl_multi_remove_handle(multi_of(_multi), t.easy);
      --_in_curl;
    }
    curl_easy_cleanup(t.easy);
    t.easy = nullptr;
  }
  curl_slist_free_all(t.headers);
  t.headers = nullptr;
}

void client::act(int fd, int flags) {
  int running = 0;
  ++_in_curl;
  curl_multi_socket_action(multi_of(_multi), fd, flags, &running);
  --_in_curl;
  finish_done();
}

void client::finish_done() {
  std::vector<std::pair<transfer*, CURLcode>> ended;
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_of(_multi), &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    void* p = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &p);
    if (p) ended.emplace_back(static_cast<transfer*>(p), msg->data.result);
  }
  auto alive = _alive;
  for (auto& [raw, code] : ended) {
    auto it = _transfers.find(raw->tid);
    if (it == _transfers.end() || it->second.get() != raw) continue;
    auto t = std::move(it->second);
    _transfers.erase(it);
    auto& r = t->resp;
    r.curl_code = code;
    if (r.status == 0) curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &r.status);
    long connects = 0;
    curl_easy_getinfo(t->easy, CURLINFO_NUM_CONNECTS, &connects);
    r.reused = connects == 0 && r.status != 0;
    r.timed_out = code == CURLE_OPERATION_TIMEDOUT;
    if (code != CURLE_OK) r.error = t->errbuf[0] ? std::string(t->errbuf) : std::string(curl_easy_strerror(code));
    remove(*t);
    // A handler may start or cancel transfers, or destroy this client: nothing of it is
    // used after the call but what `alive` says.
    if (t->h.done && !t->cancelled) t->h.done(std::move(r));
    if (!*alive) return;
  }
}

}  // namespace weft::http
