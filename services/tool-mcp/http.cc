// The Streamable HTTP transport (protocols.md §1.7): every message is a POST to the
// endpoint; the answer is JSON, a text/event-stream carrying messages, or 202 (for
// notifications and responses). After initialize, every POST carries Mcp-Session-Id and
// MCP-Protocol-Version. 404 (or the SDK's 400 "No valid session") means the session is gone:
// the transport closes and the host reconnects with a new initialize. Once the session
// exists, a standalone GET stream carries what the server sends outside any request
// (list_changed, logging); 405 means it has none.
//
// 2026-07-28 requests (their params carry the `_meta` protocol version) have no session:
// they name MCP-Protocol-Version, Mcp-Method and, for tools/call, prompts/get and
// resources/read, Mcp-Name (protocols.md §1.8). An HTTP error to a request without a
// session is that request's answer (the era probe relies on it), never the end of one.
// subscriptions/listen is an ordinary POST whose event stream stays open.
//
// One worker thread per server runs a libcurl multi handle, so POSTs run concurrently (a
// long tools/call never holds up a ping) and the host's poll loop never waits on the
// network: received messages come back through a queue and an eventfd.
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <curl/curl.h>

#include <weft/base/log.hh>
#include <weft/mcp/jsonrpc.hh>

#include "mapping.hh"
#include "transport.hh"

namespace weft::mcp_host {

namespace {

constexpr std::size_t max_body = 4 * 1024 * 1024;

bool iequals_prefix(std::string_view line, std::string_view name) {
  if (line.size() < name.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != std::tolower(static_cast<unsigned char>(name[i])))
      return false;
  return true;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  return std::string(s);
}

class http_transport final : public transport {
 public:
  http_transport(service::mcp_server_entry e, transport_events ev)
      : _e(std::move(e)), _ev(std::move(ev)), _log(log::get("tool-mcp")) {}

  ~http_transport() override {
    {
      std::lock_guard lock(_mu);
      _stop = true;
    }
    if (_multi) curl_multi_wakeup(_multi);
    if (_thread.joinable()) _thread.join();
    if (_multi) curl_multi_cleanup(_multi);
    if (_efd >= 0) ::close(_efd);
  }

  status start() {
    _efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    _multi = curl_multi_init();
    if (_efd < 0 || !_multi) return fail(errc::io, "Failed to connect to '{}': cannot create the HTTP client", redact_url(_e.url));
    _thread = std::thread([this] { worker(); });
    return {};
  }

  void send(std::string line) override {
    {
      std::lock_guard lock(_mu);
      if (_stop) return;
      _out.push_back(std::move(line));
    }
    curl_multi_wakeup(_multi);
  }

  void fds(std::vector<pollfd>& out) override {
    if (_efd >= 0) out.push_back({_efd, POLLIN, 0});
  }

  void on_io(clock::time_point) override {
    std::uint64_t n;
    while (::read(_efd, &n, sizeof n) > 0) {
    }
    std::deque<std::pair<bool, std::string>> in;
    {
      std::lock_guard lock(_mu);
      in.swap(_in);
    }
    for (auto& [closed, text] : in) {
      if (_shut) continue;
      if (!closed) {
        if (_ev.line) _ev.line(std::move(text));
      } else if (!_reported) {
        _reported = true;
        if (_ev.closed) _ev.closed(std::move(text));
      }
    }
  }

  void shutdown(clock::time_point, bool) override {
    _shut = true;
    _ev = {};
    {
      std::lock_guard lock(_mu);
      _stop = true;
    }
    curl_multi_wakeup(_multi);
  }

  bool finished() const override { return _done.load(); }

 private:
  struct xfer {
    http_transport* self = nullptr;
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    std::string request;
    std::optional<mcp::request_id> id;  // the JSON-RPC request's id, when it is one
    bool is_initialize = false;
    bool with_session = false;  // carried Mcp-Session-Id: a 404 to it ends the session
    bool is_get = false;  // the standalone stream for server-initiated messages
    std::string content_type, body;
    bool sse_mode = false, decided = false, too_big = false;
    bool answered = false;  // the stream carried the answer to `id`
    sse_parser sse;
  };

  // ---- worker thread ----

  void push(bool closed, std::string text) {
    {
      std::lock_guard lock(_mu);
      _in.emplace_back(closed, std::move(text));
    }
    std::uint64_t one = 1;
    [[maybe_unused]] auto w = ::write(_efd, &one, sizeof one);
  }

  void received(std::string line) {
    if (_version.empty()) {
      // The initialize answer fixes MCP-Protocol-Version for every later POST.
      auto j = json::parse(line, nullptr, false);
      if (j.is_object() && j.contains("result") && j["result"].is_object() && j["result"].contains("protocolVersion") &&
          j["result"]["protocolVersion"].is_string())
        _version = j["result"]["protocolVersion"].get<std::string>();
    }
    push(false, std::move(line));
  }

  static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* p) {
    auto* x = static_cast<xfer*>(p);
    std::string_view line(data, size * n);
    if (iequals_prefix(line, "mcp-session-id:")) {
      auto v = trim(line.substr(15));
      if (!v.empty() && x->is_initialize) x->self->_session = v;
    }
    return size * n;
  }

  static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* p) {
    auto* x = static_cast<xfer*>(p);
    std::string_view chunk(data, size * n);
    if (!x->decided) {
      x->decided = true;
      char* ct = nullptr;
      curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ct);
      x->content_type = ct ? ct : "";
      x->sse_mode = iequals_prefix(x->content_type, "text/event-stream");
    }
    if (x->sse_mode) {
      x->sse.feed(chunk);
      while (auto ev = x->sse.next())
        if (ev->event == "message" && !ev->data.empty()) {  // not the SDK's priming event (empty data)
          if (x->id && !x->answered) x->answered = answers(ev->data, *x->id);
          x->self->received(std::move(ev->data));
        }
      return x->sse.failed() ? 0 : chunk.size();
    }
    if (x->body.size() + chunk.size() > max_body) {
      x->too_big = true;
      return 0;
    }
    x->body.append(chunk);
    return chunk.size();
  }

  /// Whether message `text` is the response (or error) to request `id`.
  static bool answers(const std::string& text, const mcp::request_id& id) {
    auto m = mcp::parse(text);
    if (!m) return false;
    if (auto* r = std::get_if<mcp::response>(&*m)) return r->id == id;
    if (auto* e = std::get_if<mcp::error_response>(&*m)) return e->id && *e->id == id;
    return false;
  }

  /// The host stopped waiting for request `id` (notifications/cancelled): its POST is
  /// dropped, so a server that never answers does not keep a connection open.
  void abort_post(const mcp::request_id& id) {
    auto it = std::find_if(_xfers.begin(), _xfers.end(), [&](auto& x) { return !x->is_get && x->id && *x->id == id; });
    if (it != _xfers.end()) remove((*it)->easy);
  }

  /// No low-speed limit: a long tools/call (a POST) and the GET stream may both be silent
  /// for long and legitimately (the host's call deadline aborts a POST through
  /// notifications/cancelled). TCP keepalive finds a peer that vanished without a FIN.
  static void keepalive(CURL* e) {
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
  }

  void start_post(std::string line) {
    auto x = std::make_unique<xfer>();
    x->self = this;
    x->request = std::move(line);
    std::vector<std::string> modern_headers;  // 2026-07-28 requests name their version and method
    if (auto m = mcp::parse(x->request); m) {
      if (auto* q = std::get_if<mcp::request>(&*m)) {
        x->id = q->id;
        x->is_initialize = q->method == "initialize";
        if (auto v = mcp::meta_protocol_version(q->params)) {
          // A 2026-07-28 request other than the probe: the client settled on that era, and
          // a session an initialize sent beside the probe opened is not used.
          if (q->method != "server/discover") _settled_modern = true;
          modern_headers.push_back("MCP-Protocol-Version: " + *v);
          modern_headers.push_back("Mcp-Method: " + q->method);
          if (const char* key = mcp::mcp_name_param(q->method))
            if (auto n = q->params.find(key); n != q->params.end() && n->is_string())
              modern_headers.push_back("Mcp-Name: " + mcp::encode_header_value(n->get<std::string>()));
        }
      } else if (auto* n = std::get_if<mcp::notification>(&*m)) {
        if (auto v = mcp::meta_protocol_version(n->params)) modern_headers.push_back("MCP-Protocol-Version: " + *v);
      }
      if (auto* n = std::get_if<mcp::notification>(&*m); n && n->method == "notifications/cancelled") {
        auto rid = n->params.is_object() ? n->params.find("requestId") : n->params.end();
        if (rid != n->params.end() && rid->is_number_integer()) abort_post(rid->get<std::int64_t>());
        else if (rid != n->params.end() && rid->is_string()) abort_post(rid->get<std::string>());
      }
    }
    CURL* e = curl_easy_init();
    x->easy = e;
    x->headers = curl_slist_append(x->headers, "Content-Type: application/json");
    x->headers = curl_slist_append(x->headers, "Accept: application/json, text/event-stream");
    if (!modern_headers.empty()) {
      for (auto& h : modern_headers) x->headers = curl_slist_append(x->headers, h.c_str());
    } else {
      if (!_session.empty()) x->headers = curl_slist_append(x->headers, ("Mcp-Session-Id: " + _session).c_str());
      x->with_session = !_session.empty();
      if (!_version.empty()) x->headers = curl_slist_append(x->headers, ("MCP-Protocol-Version: " + _version).c_str());
    }
    for (auto& [k, v] : _e.headers) x->headers = curl_slist_append(x->headers, (k + ": " + v).c_str());
    curl_easy_setopt(e, CURLOPT_URL, _e.url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->request.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(x->request.size()));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    keepalive(e);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x.get());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x.get());
    curl_easy_setopt(e, CURLOPT_PRIVATE, x.get());
    curl_easy_setopt(e, CURLOPT_USERAGENT, "weft-tool-mcp");
    curl_multi_add_handle(_multi, e);
    _xfers.push_back(std::move(x));
  }

  /// The standalone GET stream (server notifications and requests outside any POST),
  /// opened once the session exists; 405 means the server has none.
  void start_get() {
    _get_active = true;
    auto x = std::make_unique<xfer>();
    x->self = this;
    x->is_get = true;
    CURL* e = curl_easy_init();
    x->easy = e;
    x->headers = curl_slist_append(x->headers, "Accept: text/event-stream");
    x->headers = curl_slist_append(x->headers, ("Mcp-Session-Id: " + _session).c_str());
    x->headers = curl_slist_append(x->headers, ("MCP-Protocol-Version: " + _version).c_str());
    if (!_last_event_id.empty())
      x->headers = curl_slist_append(x->headers, ("Last-Event-ID: " + _last_event_id).c_str());
    for (auto& [k, v] : _e.headers) x->headers = curl_slist_append(x->headers, (k + ": " + v).c_str());
    curl_easy_setopt(e, CURLOPT_URL, _e.url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    keepalive(e);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x.get());
    curl_easy_setopt(e, CURLOPT_PRIVATE, x.get());
    curl_easy_setopt(e, CURLOPT_USERAGENT, "weft-tool-mcp");
    curl_multi_add_handle(_multi, e);
    _xfers.push_back(std::move(x));
  }

  void finish_get(xfer& x, CURLcode rc) {
    _get_active = false;
    long status = 0;
    curl_easy_getinfo(x.easy, CURLINFO_RESPONSE_CODE, &status);
    if (!x.sse.last_event_id().empty()) _last_event_id = x.sse.last_event_id();
    if (status == 404) {
      push(true, "the server ended the session (HTTP 404 on its event stream)");
      return;
    }
    if (status == 405 || (status >= 400 && status != 409 && status < 500) ||
        (rc == CURLE_OK && status >= 200 && status < 300 && !x.sse_mode)) {
      _get_supported = false;  // no standalone stream: notifications come on POST answers only
      _log.debug("MCP server '{}' has no event stream (HTTP {})", _e.name, status);
      return;
    }
    // Ended or broke: open it again after the server's retry hint (default 1 s).
    auto wait = std::chrono::milliseconds(1000);
    if (auto r = x.sse.retry_ms()) wait = std::chrono::milliseconds(std::min<std::uint32_t>(*r, 30000));
    if (rc != CURLE_OK && status == 0) wait = std::chrono::milliseconds(5000);
    _get_retry_at = clock::now() + wait;
  }

  /// An answer to a request that cannot come from the server (HTTP error): a JSON-RPC error
  /// for the waiting request, so its caller hears why.
  void answer_error(const xfer& x, int code, std::string message) {
    if (!x.id) return;
    received(mcp::serialize(mcp::error_response{x.id, {code, std::move(message), json()}}));
  }

  void finish(xfer& x, CURLcode rc) {
    long status = 0;
    curl_easy_getinfo(x.easy, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && (x.too_big || x.sse.failed()))) {
      if (status == 0) {
        push(true, fmt::format("Failed to reach '{}': {}", redact_url(_e.url), curl_easy_strerror(rc)));
        return;
      }
      // The stream broke after the headers: the request has no answer.
      if (!x.answered)
        answer_error(x, mcp::code::internal_error, fmt::format("the HTTP response broke off: {}", curl_easy_strerror(rc)));
      return;
    }
    if (x.too_big || x.sse.failed()) {
      answer_error(x, mcp::code::internal_error,
                   fmt::format("the HTTP response (or one of its events) is larger than {} bytes", max_body));
      return;
    }
    // Only a session can end: without one (before initialize, e.g. the era probe, or in the
    // sessionless 2026-07-28 era) a 404 or 400 is an answer to this request alone.
    if (x.with_session &&
        (status == 404 || (status == 400 && x.body.find("No valid session") != std::string::npos))) {
      push(true, fmt::format("the server ended the session (HTTP {})", status));
      return;
    }
    if (status >= 200 && status < 300) {
      if (!x.sse_mode && !trim(x.body).empty()) {
        received(trim(x.body));
      } else if (x.sse_mode && !x.answered) {
        answer_error(x, mcp::code::internal_error, "the server's event stream ended without an answer");
      } else if (!x.sse_mode) {
        answer_error(x, mcp::code::internal_error, fmt::format("the server answered HTTP {} without a body", status));
      }
      return;
    }
    // An error status: its JSON-RPC body if there is one (its code kept: the era probe tells
    // -32022 from -32601 by it), else the text.
    std::string msg = trim(x.body.substr(0, 300));
    int code = mcp::code::internal_error;
    auto j = json::parse(x.body, nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].is_object()) {
      auto& err = j["error"];
      if (err.contains("message") && err["message"].is_string()) msg = err["message"].get<std::string>();
      if (err.contains("code") && err["code"].is_number_integer()) code = err["code"].get<int>();
    }
    // (initialize too: refused beside the era probe, the probe's answer may still win.)
    answer_error(x, code, fmt::format("HTTP {}: {}", status, msg));
  }

  void remove(CURL* e) {
    curl_multi_remove_handle(_multi, e);
    auto it = std::find_if(_xfers.begin(), _xfers.end(), [e](auto& x) { return x->easy == e; });
    if (it == _xfers.end()) return;
    curl_slist_free_all((*it)->headers);
    curl_easy_cleanup(e);
    _xfers.erase(it);
  }

  /// The era probe won after all: the legacy session that the initialize sent beside it
  /// opened (now or when its answer comes late) is ended, and its event stream closed.
  void forget_legacy_session() {
    std::vector<CURL*> gets;
    for (auto& x : _xfers)
      if (x->is_get) gets.push_back(x->easy);
    for (auto* e : gets) remove(e);
    _get_active = false;
    if (!_session.empty()) _log.debug("MCP server '{}' speaks 2026-07-28: ending the session initialize opened", _e.name);
    end_session();
    _session.clear();
    _version.clear();
  }

  void end_session() {
    if (_session.empty()) return;
    CURL* e = curl_easy_init();
    curl_slist* h = curl_slist_append(nullptr, ("Mcp-Session-Id: " + _session).c_str());
    if (!_version.empty()) h = curl_slist_append(h, ("MCP-Protocol-Version: " + _version).c_str());
    for (auto& [k, v] : _e.headers) h = curl_slist_append(h, (k + ": " + v).c_str());
    curl_easy_setopt(e, CURLOPT_URL, _e.url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, +[](char*, std::size_t s, std::size_t n, void*) { return s * n; });
    (void)curl_easy_perform(e);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
  }

  void worker() {
    for (;;) {
      std::deque<std::string> out;
      bool stop;
      {
        std::lock_guard lock(_mu);
        out.swap(_out);
        stop = _stop;
      }
      if (stop) break;
      for (auto& line : out) start_post(std::move(line));
      if (_settled_modern && (!_session.empty() || !_version.empty())) forget_legacy_session();
      if (_get_supported && !_get_active && !_session.empty() && !_version.empty() && clock::now() >= _get_retry_at)
        start_get();
      int running = 0;
      curl_multi_perform(_multi, &running);
      int left = 0;
      while (CURLMsg* m = curl_multi_info_read(_multi, &left)) {
        if (m->msg != CURLMSG_DONE) continue;
        xfer* x = nullptr;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &x);
        if (x && x->is_get) finish_get(*x, m->data.result);
        else if (x) finish(*x, m->data.result);
        remove(m->easy_handle);
      }
      curl_multi_poll(_multi, nullptr, 0, 1000, nullptr);
    }
    while (!_xfers.empty()) remove(_xfers.front()->easy);
    end_session();
    _done = true;
  }

  service::mcp_server_entry _e;
  transport_events _ev;
  log::logger& _log;
  int _efd = -1;
  CURLM* _multi = nullptr;
  std::thread _thread;
  std::mutex _mu;
  std::deque<std::string> _out;                    // to POST (main → worker)
  std::deque<std::pair<bool, std::string>> _in;    // (closed?, line or reason) (worker → main)
  bool _stop = false;
  std::atomic<bool> _done{false};
  bool _shut = false, _reported = false;           // main thread only
  std::vector<std::unique_ptr<xfer>> _xfers;       // worker only
  std::string _session, _version;                  // worker only
  bool _get_supported = true, _get_active = false;  // worker only
  bool _settled_modern = false;                     // worker only
  clock::time_point _get_retry_at{};
  std::string _last_event_id;
};

}  // namespace

result<std::unique_ptr<transport>> start_http(const service::mcp_server_entry& e, transport_events ev) {
  static const bool curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  if (!curl_ready) return fail(errc::io, "Failed to connect to '{}': libcurl did not initialise", e.url);
  auto t = std::make_unique<http_transport>(e, std::move(ev));
  if (auto s = t->start(); !s) return s.take_error();
  return std::unique_ptr<transport>(std::move(t));
}

}  // namespace weft::mcp_host
