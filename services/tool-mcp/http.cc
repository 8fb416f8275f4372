// The Streamable HTTP transport (protocols.md §1.7): every message is a POST to the
// endpoint; the answer is JSON, a text/event-stream carrying messages, or 202 (for
// notifications and responses). After initialize, every POST carries Mcp-Session-Id and
// MCP-Protocol-Version. 404 (or the SDK's 400 "No valid session") means the session is gone:
// the transport closes and the host reconnects with a new initialize. Once the session
// exists, a standalone GET stream carries what the server sends outside any request
// (list_changed, logging); 405 means it has none. A POST's event stream that ends before its
// answer, after the server gave an event id, is resumed: a GET with Last-Event-ID after the
// server's `retry` delay, whose events carry the rest (the server may close a stream at any
// time once it sent an id).
//
// 2026-07-28 requests (their params carry the `_meta` protocol version) have no session:
// they name MCP-Protocol-Version, Mcp-Method and, for tools/call, prompts/get and
// resources/read, Mcp-Name (protocols.md §1.8). An HTTP error to a request without a
// session is that request's answer (the era probe relies on it), never the end of one.
// subscriptions/listen is an ordinary POST whose event stream stays open. That era has no
// resumption: a stream that ends without the answer fails its request.
//
// The [tools.mcp_servers.<name>] headers go with every request: POSTs, GETs and the DELETE.
//
// Every request runs on the host's libs/http client, on the host's event loop: POSTs run
// concurrently (a long tools/call never holds up a ping) and nothing waits on the network.
#include <algorithm>
#include <cctype>
#include <map>

#include <weft/base/log.hh>
#include <weft/mcp/jsonrpc.hh>

#include "mapping.hh"
#include "transport.hh"

namespace weft::mcp_host {

namespace {

using namespace std::chrono_literals;

constexpr std::size_t max_body = 4 * 1024 * 1024;
constexpr auto default_retry = std::chrono::milliseconds(1000);  // an event stream without `retry:`
constexpr auto max_retry = std::chrono::milliseconds(30000);
constexpr auto unreachable_retry = std::chrono::milliseconds(5000);  // the GET stream found nobody
constexpr auto delete_timeout = std::chrono::milliseconds(2000);
/// Resumptions of one request in a row that brought no new event: then it fails.
constexpr int max_idle_resumes = 3;

bool starts_with_icase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return std::string(s);
}

std::string header(const http::client_response& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? std::string() : it->second;
}

/// Whether message `text` is the response (or error) to request `id`.
bool answers(const std::string& text, const mcp::request_id& id) {
  auto m = mcp::parse(text);
  if (!m) return false;
  if (auto* r = std::get_if<mcp::response>(&*m)) return r->id == id;
  if (auto* e = std::get_if<mcp::error_response>(&*m)) return e->id && *e->id == id;
  return false;
}

class http_transport final : public transport {
 public:
  http_transport(event_loop& loop, http::client& client, service::mcp_server_entry e, transport_events ev)
      : _loop(loop), _client(client), _e(std::move(e)), _ev(std::move(ev)), _log(log::get("tool-mcp")) {
    for (auto& [k, v] : _e.headers) _custom.push_back(k + ": " + v);
  }

  ~http_transport() override {
    *_alive = false;
    for (auto& [key, x] : _posts) {
      _client.cancel(x.transfer);
      _loop.cancel(x.resume_timer);
    }
    _client.cancel(_get);
    _client.cancel(_delete);
    _loop.cancel(_get_timer);
  }

  void send(std::string line) override {
    if (_shut) return;
    start_post(std::move(line));
  }

  void shutdown(bool, std::function<void()> finished) override {
    _shut = true;
    _on_finished = std::move(finished);
    for (auto& [key, x] : _posts) {
      _client.cancel(x.transfer);
      _loop.cancel(x.resume_timer);
    }
    _posts.clear();
    stop_get();
    if (!_session.empty()) end_session();  // finishes when the DELETE is answered (or times out)
    if (!_delete) finish();
  }

  bool finished() const override { return _shut && !_delete; }

 private:
  /// One request POSTed (or, after its stream ended early, resumed with GETs).
  struct post {
    std::uint64_t key = 0;
    http::client::id transfer = 0;
    std::optional<mcp::request_id> id;  // the JSON-RPC request's id, when it is one
    bool is_initialize = false;
    bool modern = false;        // a 2026-07-28 request: no session, no resumption
    bool with_session = false;  // carried Mcp-Session-Id: a 404 to it ends the session
    bool sse = false, decided = false, too_big = false;
    bool answered = false;  // its stream carried the answer to `id`
    std::string body;       // a JSON answer
    std::unique_ptr<sse_parser> parser;
    std::string last_event_id;
    std::chrono::milliseconds retry = default_retry;
    int idle_resumes = 0;
    bool resumed = false;  // the transfer in flight is a GET with Last-Event-ID
    event_loop::id resume_timer = 0;
  };

  // ---- events to the host ----

  void received(std::string line) {
    if (_version.empty()) {
      // The initialize answer fixes MCP-Protocol-Version for every later POST.
      auto j = json::parse(line, nullptr, false);
      if (j.is_object() && j.contains("result") && j["result"].is_object() && j["result"].contains("protocolVersion") &&
          j["result"]["protocolVersion"].is_string())
        _version = j["result"]["protocolVersion"].get<std::string>();
    }
    if (!_shut && _ev.line) _ev.line(std::move(line));
  }

  void report_closed(std::string reason) {
    if (_reported || _shut) return;
    _reported = true;
    if (_ev.closed) _ev.closed(std::move(reason));
  }

  void finish() {
    if (!_on_finished) return;
    _loop.defer([alive = _alive, fn = std::exchange(_on_finished, {})] {
      if (*alive) fn();
    });
  }

  /// An answer to a request that cannot come from the server: a JSON-RPC error for the
  /// waiting request, so its caller hears why. `data` is kept (-32022 lists versions in it).
  void answer_error(const post& x, int code, std::string message, json data = json()) {
    if (!x.id) return;
    received(mcp::serialize(mcp::error_response{x.id, {code, std::move(message), std::move(data)}}));
  }

  // ---- requests ----

  std::vector<std::string> session_headers() const {
    std::vector<std::string> h;
    if (!_session.empty()) h.push_back("Mcp-Session-Id: " + _session);
    if (!_version.empty()) h.push_back("MCP-Protocol-Version: " + _version);
    return h;
  }

  http::client_request request(std::string method, std::vector<std::string> headers) const {
    http::client_request r;
    r.method = std::move(method);
    r.url = _e.url;
    r.headers = std::move(headers);
    for (auto& h : _custom) r.headers.push_back(h);
    r.timeout = 0ms;  // the host keeps the deadlines (a call's own, the connect's, the ping's)
    r.max_body = max_body;
    return r;
  }

  void start_post(std::string line) {
    auto key = _next_key++;
    auto& x = _posts[key];
    x.key = key;
    std::vector<std::string> headers = {"Content-Type: application/json", "Accept: application/json, text/event-stream"};
    std::vector<std::string> modern_headers;  // 2026-07-28 requests name their version and method
    if (auto m = mcp::parse(line); m) {
      if (auto* q = std::get_if<mcp::request>(&*m)) {
        x.id = q->id;
        x.is_initialize = q->method == "initialize";
        if (auto v = mcp::meta_protocol_version(q->params)) {
          // A 2026-07-28 request other than the probe: the client settled on that era, and
          // a session an initialize sent beside the probe opened is not used.
          if (q->method != "server/discover") _settled_modern = true;
          modern_headers.push_back("MCP-Protocol-Version: " + *v);
          modern_headers.push_back("Mcp-Method: " + q->method);
          if (const char* name = mcp::mcp_name_param(q->method))
            if (auto n = q->params.find(name); n != q->params.end() && n->is_string())
              modern_headers.push_back("Mcp-Name: " + mcp::encode_header_value(n->get<std::string>()));
        }
      } else if (auto* n = std::get_if<mcp::notification>(&*m)) {
        if (auto v = mcp::meta_protocol_version(n->params)) modern_headers.push_back("MCP-Protocol-Version: " + *v);
        if (n->method == "notifications/cancelled") {
          auto rid = n->params.is_object() ? n->params.find("requestId") : n->params.end();
          if (rid != n->params.end() && rid->is_number_integer()) abort_post(rid->get<std::int64_t>());
          else if (rid != n->params.end() && rid->is_string()) abort_post(rid->get<std::string>());
        }
      }
    }
    x.modern = !modern_headers.empty();
    if (x.modern) {
      headers.insert(headers.end(), modern_headers.begin(), modern_headers.end());
    } else {
      x.with_session = !_session.empty();
      for (auto& h : session_headers()) headers.push_back(h);
    }
    auto r = request("POST", std::move(headers));
    r.body = std::move(line);
    r.stream = true;
    x.transfer = _client.start(std::move(r), handlers(key));
    after_answer();
  }

  /// After a request was sent or answered: a legacy session the client does not use any
  /// more is ended; the one it uses gets its GET stream once its version is known.
  void after_answer() {
    if (_shut) return;
    if (_settled_modern && (!_session.empty() || !_version.empty())) forget_legacy_session();
    maybe_start_get();
  }

  http::client::handlers handlers(std::uint64_t key) {
    http::client::handlers h;
    h.on_head = [this, key](const http::client_response& r) {
      auto it = _posts.find(key);
      if (it == _posts.end()) return;
      auto& x = it->second;
      if (x.is_initialize && r.status >= 200 && r.status < 300)
        if (auto s = trim(header(r, "mcp-session-id")); !s.empty()) _session = s;
      x.decided = true;
      x.sse = starts_with_icase(header(r, "content-type"), "text/event-stream");
      if (x.sse && !x.parser) x.parser = std::make_unique<sse_parser>(max_body);
    };
    h.on_body = [this, key](std::string_view chunk) { return body(key, chunk); };
    h.done = [this, key](http::client_response r) {
      done(key, std::move(r));
      after_answer();
    };
    return h;
  }

  /// 2xx body bytes of a POST or of a GET resuming it.
  bool body(std::uint64_t key, std::string_view chunk) {
    auto it = _posts.find(key);
    if (it == _posts.end()) return false;
    auto& x = it->second;
    if (!x.sse) {
      if (x.body.size() + chunk.size() > max_body) {
        x.too_big = true;
        return false;
      }
      x.body.append(chunk);
      return true;
    }
    x.parser->feed(chunk);
    // Where a resumption would start, and when (the stream's own fields, dispatched or not).
    if (auto& id = x.parser->last_event_id(); !id.empty() && id != x.last_event_id) {
      x.last_event_id = id;
      x.idle_resumes = 0;  // progress
    }
    if (auto ms = x.parser->retry_ms()) x.retry = std::min<std::chrono::milliseconds>(std::chrono::milliseconds(*ms), max_retry);
    while (auto ev = x.parser->next()) {
      if (ev->event != "message" || ev->data.empty()) continue;  // not the SDK's priming event (empty data)
      bool answer = x.id && !x.answered && answers(ev->data, *x.id);
      if (answer) x.answered = true;
      received(std::move(ev->data));
      if (!_posts.count(key)) return false;  // the host aborted it meanwhile
    }
    if (x.parser->failed()) {
      x.too_big = true;
      return false;
    }
    return true;
  }

  void done(std::uint64_t key, http::client_response r) {
    auto it = _posts.find(key);
    if (it == _posts.end()) return;
    auto& x = it->second;
    x.transfer = 0;
    bool resuming = x.resumed;
    auto drop = [&] { _posts.erase(key); };
    if (x.too_big || r.too_large) {
      answer_error(x, mcp::code::internal_error,
                   fmt::format("the HTTP response (or one of its events) is larger than {} bytes", max_body));
      return drop();
    }
    if (!r.ok() && r.status == 0 && !resuming) {
      drop();
      return report_closed(fmt::format("Failed to reach '{}': {}", redact_url(_e.url), r.error));
    }
    // Only a session can end: without one (before initialize, e.g. the era probe, or in the
    // sessionless 2026-07-28 era) a 404 or 400 is an answer to this request alone.
    if ((x.with_session || resuming) && !_session.empty() &&
        (r.status == 404 || (r.status == 400 && r.body.find("No valid session") != std::string::npos))) {
      drop();
      return report_closed(fmt::format("the server ended the session (HTTP {})", r.status));
    }
    if (r.status >= 200 && r.status < 300) {
      if (x.answered) return drop();
      if (x.sse) {
        // Ended (or broke) before the answer. A legacy stream whose events had ids is resumed;
        // otherwise the request has no answer to wait for.
        if (x.id && !x.modern && !x.last_event_id.empty() && x.idle_resumes < max_idle_resumes)
          return schedule_resume(x);
        answer_error(x, mcp::code::internal_error,
                     r.ok() ? std::string("the server's event stream ended without an answer")
                            : fmt::format("the HTTP response broke off: {}", r.error));
        return drop();
      }
      if (!r.ok()) {
        answer_error(x, mcp::code::internal_error, fmt::format("the HTTP response broke off: {}", r.error));
      } else if (auto text = trim(x.body); !text.empty()) {
        received(std::move(text));
      } else if (x.id) {
        answer_error(x, mcp::code::internal_error, fmt::format("the server answered HTTP {} without a body", r.status));
      }
      return drop();
    }
    if (r.status == 0) {  // a resumption found nobody: it fails, the next request finds out why
      answer_error(x, mcp::code::internal_error,
                   fmt::format("the server's event stream ended without an answer, and resuming it failed: {}", r.error));
      return drop();
    }
    // An error status: its JSON-RPC body if there is one (its code and data kept: the era
    // probe tells -32022 from -32601 by them), else the text.
    std::string msg = trim(std::string_view(r.body).substr(0, 300));
    int code = mcp::code::internal_error;
    json data;
    auto j = json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].is_object()) {
      auto& err = j["error"];
      if (err.contains("message") && err["message"].is_string()) msg = err["message"].get<std::string>();
      if (err.contains("code") && err["code"].is_number_integer()) code = err["code"].get<int>();
      if (err.contains("data")) data = err["data"];
    }
    // (initialize too: refused beside the era probe, the probe's answer may still win.)
    answer_error(x, code,
                 resuming ? fmt::format("the server's event stream ended without an answer, and resuming it failed: "
                                        "HTTP {}: {}",
                                        r.status, msg)
                          : fmt::format("HTTP {}: {}", r.status, msg),
                 std::move(data));
    drop();
  }

  /// A GET with Last-Event-ID after the stream's retry delay; its events continue the POST's.
  void schedule_resume(post& x) {
    ++x.idle_resumes;  // reset by the first new event id
    _log.debug("MCP server '{}': an event stream ended before its answer; resuming after event '{}' in {} ms",
               _e.name, x.last_event_id, x.retry.count());
    auto key = x.key;
    x.resume_timer = _loop.after(x.retry, [this, key] {
      auto it = _posts.find(key);
      if (it == _posts.end()) return;
      auto& p = it->second;
      p.resume_timer = 0;
      auto headers = std::vector<std::string>{"Accept: text/event-stream", "Last-Event-ID: " + p.last_event_id};
      for (auto& h : session_headers()) headers.push_back(h);
      p.decided = false;
      p.sse = false;
      p.parser = std::make_unique<sse_parser>(max_body);  // a new stream: no half event carried over
      p.body.clear();
      p.resumed = true;
      auto r = request("GET", std::move(headers));
      r.stream = true;
      p.transfer = _client.start(std::move(r), handlers(key));
    });
  }

  /// The host stopped waiting for request `id` (notifications/cancelled): its POST (or its
  /// resumption) is dropped, so a server that never answers does not keep a connection open.
  void abort_post(const mcp::request_id& id) {
    for (auto it = _posts.begin(); it != _posts.end(); ++it)
      if (it->second.id && *it->second.id == id) {
        _client.cancel(it->second.transfer);
        _loop.cancel(it->second.resume_timer);
        _posts.erase(it);
        return;
      }
  }

  // ---- the standalone GET stream ----

  /// Opened once the session exists (and its version is known); 405 means the server has none.
  void maybe_start_get() {
    if (_shut || !_get_supported || _get || _get_timer || _session.empty() || _version.empty() || _settled_modern)
      return;
    auto headers = std::vector<std::string>{"Accept: text/event-stream"};
    for (auto& h : session_headers()) headers.push_back(h);
    if (!_get_last_id.empty()) headers.push_back("Last-Event-ID: " + _get_last_id);
    auto r = request("GET", std::move(headers));
    r.stream = true;
    _get_parser = sse_parser(max_body);
    _get_sse = false;
    http::client::handlers h;
    h.on_head = [this](const http::client_response& r) {
      _get_sse = starts_with_icase(header(r, "content-type"), "text/event-stream");
    };
    h.on_body = [this](std::string_view chunk) {
      if (!_get_sse) return true;  // not a stream: read and ignored
      _get_parser.feed(chunk);
      while (auto ev = _get_parser.next())
        if (ev->event == "message" && !ev->data.empty()) received(std::move(ev->data));
      return !_get_parser.failed();
    };
    h.done = [this](http::client_response r) { get_done(std::move(r)); };
    _get = _client.start(std::move(r), std::move(h));
  }

  void get_done(http::client_response r) {
    _get = 0;
    if (!_get_parser.last_event_id().empty()) _get_last_id = _get_parser.last_event_id();
    if (r.status == 404) return report_closed("the server ended the session (HTTP 404 on its event stream)");
    if (r.status == 405 || (r.status >= 400 && r.status != 409 && r.status < 500) ||
        (r.ok() && r.status >= 200 && r.status < 300 && !_get_sse)) {
      _get_supported = false;  // no standalone stream: notifications come on POST answers only
      _log.debug("MCP server '{}' has no event stream (HTTP {})", _e.name, r.status);
      return;
    }
    // Ended or broke: open it again after the server's retry hint (default 1 s).
    auto wait = default_retry;
    if (auto ms = _get_parser.retry_ms()) wait = std::min<std::chrono::milliseconds>(std::chrono::milliseconds(*ms), max_retry);
    if (!r.ok() && r.status == 0) wait = unreachable_retry;
    _get_timer = _loop.after(wait, [this] {
      _get_timer = 0;
      maybe_start_get();
    });
  }

  void stop_get() {
    _client.cancel(std::exchange(_get, 0));
    _loop.cancel(std::exchange(_get_timer, 0));
  }

  // ---- the session's end ----

  /// The era probe won after all: the legacy session that the initialize sent beside it
  /// opened (now or when its answer comes late) is ended, and its event stream closed.
  void forget_legacy_session() {
    stop_get();
    if (!_session.empty()) _log.debug("MCP server '{}' speaks 2026-07-28: ending the session initialize opened", _e.name);
    end_session();
    _session.clear();
    _version.clear();
  }

  void end_session() {
    if (_session.empty() || _delete) return;
    auto r = request("DELETE", session_headers());
    r.timeout = delete_timeout;
    http::client::handlers h;
    h.done = [this](http::client_response) {
      _delete = 0;
      if (_shut) finish();
    };
    _delete = _client.start(std::move(r), std::move(h));
  }

  event_loop& _loop;
  http::client& _client;
  service::mcp_server_entry _e;
  std::vector<std::string> _custom;  // the entry's headers, "Name: value"
  transport_events _ev;
  log::logger& _log;
  std::map<std::uint64_t, post> _posts;
  std::uint64_t _next_key = 1;
  std::string _session, _version;
  bool _settled_modern = false;
  bool _get_supported = true, _get_sse = false;
  http::client::id _get = 0, _delete = 0;
  event_loop::id _get_timer = 0;
  sse_parser _get_parser{max_body};
  std::string _get_last_id;
  bool _shut = false, _reported = false;
  std::function<void()> _on_finished;
  std::shared_ptr<bool> _alive = std::make_shared<bool>(true);
};

}  // namespace

result<std::unique_ptr<transport>> start_http(event_loop& loop, http::client& client,
                                              const service::mcp_server_entry& e, transport_events ev) {
  return std::unique_ptr<transport>(std::make_unique<http_transport>(loop, client, e, std::move(ev)));
}

}  // namespace weft::mcp_host
