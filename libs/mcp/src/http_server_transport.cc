#include <weft/mcp/http_server_transport.hh>

#include <algorithm>
#include <cctype>
#include <random>

#include <fmt/format.h>

#include <weft/http/sse.hh>

namespace weft::mcp::http {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// The media types of an Accept header, lower-case, without parameters.
std::vector<std::string> media_types(std::string_view accept) {
  std::vector<std::string> out;
  while (!accept.empty()) {
    auto comma = accept.find(',');
    auto item = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    item = trim(item.substr(0, item.find(';')));
    if (!item.empty()) out.push_back(lower(item));
  }
  return out;
}

bool accepts(const std::vector<std::string>& types, std::string_view want) {
  auto family = std::string(want.substr(0, want.find('/'))) + "/*";
  return std::any_of(types.begin(), types.end(), [&](auto& t) { return t == want || t == family || t == "*/*"; });
}

bool equal_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
  return diff == 0 && !b.empty();
}

bool supported_header_version(std::string_view v) { return is_legacy_version(v) || v == modern_version; }

std::string supported_list() {
  std::string out;
  for (auto v : legacy_versions()) out += (out.empty() ? "" : ", ") + std::string(v);
  return out + ", " + std::string(modern_version);
}

/// What the transport needs of a line its dispatcher serialised, from one parse.
struct outgoing {
  bool notification = false;
  std::optional<json> id;  ///< a response's id; nullopt for notifications and refusals (id null)
  /// The JSON-RPC error code of an error response (0 for anything else).
  int error_code = 0;
};

outgoing read_outgoing(const std::string& line) {
  outgoing o;
  auto j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return o;
  o.notification = j.contains("method") && !j.contains("id");
  if (auto id = j.find("id"); id != j.end() && !id->is_null()) o.id = *id;
  if (auto e = j.find("error"); e != j.end() && e->is_object())
    if (auto c = e->find("code"); c != e->end() && c->is_number_integer()) o.error_code = c->get<int>();
  return o;
}

/// The HTTP status of a stateless (2026-07-28) answer (protocols.md §1.8): unknown methods
/// are 404; version errors, header mismatches, missing client capabilities and requests
/// missing a required _meta field are 400; results and other errors travel in a 200.
int stateless_status(int error_code, bool bad_meta) {
  if (error_code == code::method_not_found) return 404;
  if (error_code == code::unsupported_version || error_code == code::header_mismatch ||
      error_code == code::missing_capability)
    return 400;
  if (error_code == code::invalid_params && bad_meta) return 400;
  return 200;
}

/// 2026-07-28 over HTTP: the headers must repeat what the body says (protocols.md §1.8).
/// A body without a `_meta` version is the dispatcher's to refuse (-32602).
std::optional<std::string> modern_mismatch(const request& r, const mcp::request& q) {
  auto body = meta_protocol_version(q.params);
  if (!body) return std::nullopt;
  auto differ = [](std::string_view what, std::string_view body_value, std::string_view header,
                   const std::string& value) {
    return fmt::format("Bad Request: the request headers and body disagree: the body names {} {} but the {} header {}",
                       what, body_value, header, value.empty() ? "is absent" : fmt::format("names {}", value));
  };
  if (auto v = r.header("mcp-protocol-version"); v != *body) return differ("protocol version", *body, "MCP-Protocol-Version", v);
  if (auto m = r.header("mcp-method"); m != q.method) return differ("method", q.method, "Mcp-Method", m);
  if (const char* key = mcp_name_param(q.method)) {
    auto it = q.params.find(key);
    auto want = it != q.params.end() && it->is_string() ? it->get<std::string>() : std::string();
    auto n = r.header("mcp-name");
    auto named = decode_header_value(n);
    if (!named)
      return fmt::format("Bad Request: the Mcp-Name header '{}' claims base64 (=?base64?…?=) but is not canonical base64", n);
    if (*named != want)
      return differ(fmt::format("params.{}", key), fmt::format("\"{}\"", want), "Mcp-Name", n);
  }
  return std::nullopt;
}

}  // namespace

std::string request::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

bool origin_allowed(std::string_view origin, const std::vector<std::string>& extra) {
  auto o = lower(origin);
  for (auto& e : extra)
    if (lower(e) == o) return true;
  std::string_view rest = o;
  if (rest.rfind("http://", 0) == 0) rest.remove_prefix(7);
  else if (rest.rfind("https://", 0) == 0) rest.remove_prefix(8);
  else return false;
  for (std::string_view host : {"127.0.0.1", "localhost", "[::1]"}) {
    if (rest.substr(0, host.size()) != host) continue;
    auto port = rest.substr(host.size());
    if (port.empty()) return true;
    if (port[0] != ':' || port.size() < 2 || port.size() > 6) return false;
    return std::all_of(port.begin() + 1, port.end(), [](char c) { return c >= '0' && c <= '9'; });
  }
  return false;
}

std::string sse_message(std::string_view json_line, std::uint64_t id) {
  // A serialised message never holds a raw newline (jsonrpc.hh): one data line.
  return ::weft::http::sse_frame("message", json_line, id);
}

struct transport::session {
  std::unique_ptr<server> srv;
  std::optional<conn_id> stream;
  std::uint64_t used = 0;    // order of last use (ties of used_at)
  clock::time_point used_at;  // time of last use
  bool ephemeral = false;    // a stateless (2026-07-28) request's own dispatcher
  bool idle(const std::map<conn_id, pending>& waiting, const std::string& id) const {
    return !ephemeral && !stream && srv->in_flight() == 0 &&
           std::none_of(waiting.begin(), waiting.end(), [&](auto& p) { return p.second.session == id; });
  }
};

transport::transport(options o) : _o(std::move(o)) {}
transport::~transport() = default;

std::size_t transport::sessions() const {
  return static_cast<std::size_t>(
      std::count_if(_sessions.begin(), _sessions.end(), [](auto& s) { return !s.second->ephemeral; }));
}

std::string transport::session_version(const std::string& id) const {
  auto it = _sessions.find(id);
  return it == _sessions.end() ? std::string() : it->second->srv->protocol_version();
}

std::string transport::new_session_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  for (;;) {
    auto id = fmt::format("{:016x}{:016x}", rng(), rng());
    if (!_sessions.count(id)) return id;
  }
}

void transport::answer_error(conn_id c, int status, int code, std::string message,
                             std::vector<std::pair<std::string, std::string>> headers) {
  response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = serialize(error_response{std::nullopt, {code, std::move(message), json()}});
  r.headers = std::move(headers);
  respond(c, std::move(r));
}

void transport::handle(conn_id c, const request& r) {
  // Stateless dispatchers are dropped once they have nothing in flight and no open stream.
  for (auto it = _sessions.begin(); it != _sessions.end();) {
    bool waiting = std::any_of(_pending.begin(), _pending.end(), [&](auto& p) { return p.second.session == it->first; });
    it = it->second->ephemeral && !waiting && !it->second->stream ? _sessions.erase(it) : std::next(it);
  }
  if (r.path != _o.path) {
    response out{404, "application/json", fmt::format(R"({{"error":"no such path; MCP is served at {}"}})", _o.path)};
    respond(c, std::move(out));
    return;
  }
  if (auto origin = r.header("origin"); !origin.empty() && !origin_allowed(origin, _o.allowed_origins))
    return answer_error(c, 403, code::server_error,
                        fmt::format("Forbidden: Origin '{}' is not allowed; add it to [mcp] allowed_origins", origin));
  if (!_o.token.empty()) {
    auto auth = r.header("authorization");
    bool ok = auth.size() > 7 && lower(auth.substr(0, 7)) == "bearer " && equal_secret(trim(auth.substr(7)), _o.token);
    if (!ok)
      return answer_error(c, 401, code::server_error,
                          "Unauthorized: send 'Authorization: Bearer <token>'; `weftctl mcp info` prints the token "
                          "(it is in $WEFT_HOME/mcp/http.token)",
                          {{"WWW-Authenticate", "Bearer"}});
  }
  if (r.method == "POST") return post(c, r);
  if (r.method == "GET") return get(c, r);
  if (r.method == "DELETE") return del(c, r);
  answer_error(c, 405, code::server_error, fmt::format("Method not allowed: {} (use POST, GET or DELETE)", r.method),
               {{"Allow", "POST, GET, DELETE"}});
}

transport::session* transport::find_session(conn_id c, const request& r) {
  auto v = r.header("mcp-protocol-version");
  if (!v.empty() && !supported_header_version(v)) {
    answer_error(c, 400, code::server_error,
                 fmt::format("Bad Request: Unsupported protocol version '{}' (supported versions: {})", v,
                             supported_list()));
    return nullptr;
  }
  auto sid = r.header("mcp-session-id");
  if (sid.empty()) {
    answer_error(c, 400, code::server_error, "Bad Request: Mcp-Session-Id header is required (send 'initialize' first)");
    return nullptr;
  }
  auto it = _sessions.find(sid);
  if (it == _sessions.end() || it->second->ephemeral) {
    answer_error(c, 404, -32001, "Session not found: it ended or never existed; send 'initialize' again");
    return nullptr;
  }
  it->second->used = ++_use_seq;
  it->second->used_at = clock::now();
  return it->second.get();
}

std::optional<transport::idle_session> transport::least_recently_used_idle() const {
  const std::pair<const std::string, std::unique_ptr<session>>* best = nullptr;
  for (auto& e : _sessions)
    if (e.second->idle(_pending, e.first) && (!best || e.second->used < best->second->used)) best = &e;
  if (!best) return std::nullopt;
  return idle_session{best->first, best->second->used_at};
}

bool transport::make_room() {
  if (admit) return admit();
  auto external = external_sessions ? external_sessions() : 0;
  while (external + sessions() >= _o.max_sessions) {
    auto victim = least_recently_used_idle();
    if (!victim) return false;
    end_session(victim->id, "the session limit was reached and it was the least recently used");
  }
  return true;
}

std::size_t transport::expire_idle(clock::time_point now) {
  std::vector<std::string> old;
  for (auto& [id, s] : _sessions)
    if (s->idle(_pending, id) && now - s->used_at >= _o.idle_expiry) old.push_back(id);
  for (auto& id : old) end_session(id, "idle too long");
  return old.size();
}

void transport::end_session(const std::string& sid, std::string_view why) {
  auto it = _sessions.find(sid);
  if (it == _sessions.end()) return;
  (void)why;
  for (auto p = _pending.begin(); p != _pending.end();) {
    if (p->second.session != sid) {
      ++p;
      continue;
    }
    auto c = p->first;
    p = _pending.erase(p);
    answer_error(c, 404, -32001, "Session not found: it was ended while this request was in flight");
  }
  if (auto s = it->second->stream) {
    _streams.erase(*s);
    if (close) close(*s);
  }
  _sessions.erase(it);
}

void transport::post(conn_id c, const request& r) {
  auto types = media_types(r.header("accept"));
  if (!accepts(types, "application/json") || !accepts(types, "text/event-stream"))
    return answer_error(c, 406, code::server_error,
                        "Not Acceptable: the client must accept both application/json and text/event-stream");
  if (lower(r.header("content-type")).rfind("application/json", 0) != 0)
    return answer_error(c, 415, code::server_error, "Unsupported Media Type: Content-Type must be application/json");
  if (r.body.size() > _o.max_body_bytes)
    return answer_error(c, 413, code::invalid_request,
                        fmt::format("Payload Too Large: {} bytes is over the limit of {} bytes", r.body.size(),
                                    _o.max_body_bytes));
  auto lim = _o.session.lim;
  lim.max_message_bytes = std::max(lim.max_message_bytes, _o.max_body_bytes);
  auto m = parse(r.body, lim);
  if (!m) {
    response out{400, "application/json", serialize(refusal(m.err()))};
    return respond(c, std::move(out));
  }
  auto* q = std::get_if<mcp::request>(&*m);
  session* s = nullptr;
  std::string sid;
  bool opening = false;
  bool bad_meta = false;
  // 2026-07-28 without a session: served by a dispatcher of its own, whatever the method.
  bool stateless = q && r.header("mcp-session-id").empty() &&
                   (opening_era(*q) == era::modern || r.header("mcp-protocol-version") == modern_version);
  if (stateless) {
    if (auto bad = modern_mismatch(r, *q)) {
      response out{400, "application/json", serialize(error_response{q->id, {code::header_mismatch, *bad, json()}})};
      return respond(c, std::move(out));
    }
    if (q->method == "subscriptions/listen" && listen_streams() >= _o.max_sessions)
      return answer_error(c, 503, code::internal_error,
                          fmt::format("Service Unavailable: {} subscriptions/listen streams are open, the most [mcp] "
                                      "max_sessions allows",
                                      _o.max_sessions));
    sid = fmt::format("~{}", ++_ephemeral_seq);  // stateless: a dispatcher for this request only
    opening = true;
    bad_meta = missing_meta(q->params).has_value();
  } else if (q && q->method == "initialize") {
    if (auto v = r.header("mcp-protocol-version"); !v.empty() && !supported_header_version(v))
      return answer_error(c, 400, code::server_error,
                          fmt::format("Bad Request: Unsupported protocol version '{}' (supported versions: {})", v,
                                      supported_list()));
    if (!make_room())
      return answer_error(c, 503, code::server_error,
                          fmt::format("Service Unavailable: weft's MCP server holds its maximum of {} sessions, none "
                                      "of them idle; try again later or raise [mcp] max_sessions",
                                      _o.max_sessions));
    opening = true;
    sid = new_session_id();
  } else if (auto* n = std::get_if<notification>(&*m); n && r.header("mcp-session-id").empty() && meta_protocol_version(n->params)) {
    // A stateless notification (e.g. notifications/cancelled: on HTTP the client also closes
    // the request's stream, which is what ends it here).
    return respond(c, response{202, "", "", {}});
  } else {
    s = find_session(c, r);
    if (!s) return;
    for (auto& [id, x] : _sessions)
      if (x.get() == s) sid = id;
  }
  if (opening) {
    auto ns = std::make_unique<session>();
    ns->ephemeral = sid[0] == '~';
    ns->used = ++_use_seq;
    ns->used_at = clock::now();
    auto so = _o.session;
    so.stateless = ns->ephemeral;
    ns->srv = std::make_unique<server>(std::move(so), make_handlers ? make_handlers(sid) : handlers{},
                                       [this, sid](std::string line) { on_line(sid, std::move(line)); });
    s = _sessions.emplace(sid, std::move(ns)).first->second.get();
  }
  if (!q) {
    (void)s->srv->receive(r.body);  // a notification or a response: nothing comes back on this POST
    respond(c, response{202, "", "", {}});
    return;
  }
  _pending[c] = pending{sid, q->id, opening && q->method == "initialize",
                        s->ephemeral && q->method == "subscriptions/listen", bad_meta};
  _current = c;
  (void)s->srv->receive(r.body);
  _current.reset();
  if (opening && !_pending.count(c) && !s->ephemeral && !s->srv->era()) {
    // initialize was refused (e.g. no protocolVersion): no session was established.
    _sessions.erase(sid);
  }
}

void transport::on_line(const std::string& sid, std::string line) {
  auto o = read_outgoing(line);
  auto& id = o.id;
  auto it = _sessions.find(sid);
  if (o.notification) {
    if (it == _sessions.end()) return;
    if (!it->second->stream && it->second->ephemeral) {
      // A subscriptions/listen is acknowledged: its POST becomes the event stream.
      auto p = std::find_if(_pending.begin(), _pending.end(), [&](auto& x) { return x.second.session == sid && x.second.listen; });
      if (p != _pending.end()) {
        auto c = p->first;
        _pending.erase(p);
        it->second->stream = c;
        _streams[c] = sid;
        response out;
        out.stream = true;
        out.content_type = "text/event-stream";
        out.headers = {{"Cache-Control", "no-cache, no-transform"}, {"X-Accel-Buffering", "no"}};
        respond(c, std::move(out));
      }
    }
    if (!it->second->stream) return;  // nobody listening: dropped (list_changed is a hint)
    write(*it->second->stream, sse_message(line, ++_event_seq));
    return;
  }
  if (it != _sessions.end() && it->second->ephemeral && it->second->stream) {
    // The final answer of a subscription: the last event of its stream. The dispatcher may
    // be up the stack (this is its send function): the next handle() drops it, not this.
    auto c = *it->second->stream;
    write(c, sse_message(line, ++_event_seq));
    _streams.erase(c);
    it->second->stream.reset();
    if (close) close(c);
    return;
  }
  // A response: to the POST that carried its request.
  std::optional<conn_id> target;
  for (auto& [c, p] : _pending) {
    if (p.session != sid || !p.id) continue;
    if (id ? to_json(*p.id) == *id : _current == c) {
      target = c;
      break;
    }
  }
  if (!target) return;  // its connection went away
  bool opening = _pending[*target].opening;
  bool bad_meta = _pending[*target].bad_meta;
  _pending.erase(*target);
  bool stateless = it != _sessions.end() && it->second->ephemeral;
  response out{stateless ? stateless_status(o.error_code, bad_meta) : 200, "application/json", std::move(line)};
  // A successful initialize answer names the new session.
  if (opening && it != _sessions.end() && it->second->srv->era() == era::legacy)
    out.headers.emplace_back("Mcp-Session-Id", sid);
  respond(*target, std::move(out));
}

void transport::get(conn_id c, const request& r) {
  if (!accepts(media_types(r.header("accept")), "text/event-stream"))
    return answer_error(c, 406, code::server_error, "Not Acceptable: the client must accept text/event-stream");
  auto* s = find_session(c, r);
  if (!s) return;
  if (s->stream)
    return answer_error(c, 409, code::server_error, "Conflict: only one SSE stream is allowed per session");
  for (auto& [id, x] : _sessions)
    if (x.get() == s) _streams[c] = id;
  s->stream = c;
  response out;
  out.stream = true;
  out.content_type = "text/event-stream";
  respond(c, std::move(out));
}

void transport::del(conn_id c, const request& r) {
  auto* s = find_session(c, r);
  if (!s) return;
  std::string sid;
  for (auto& [id, x] : _sessions)
    if (x.get() == s) sid = id;
  end_session(sid, "the client ended it");
  respond(c, response{200, "", "", {}});
}

void transport::closed(conn_id c) {
  _pending.erase(c);
  if (auto it = _streams.find(c); it != _streams.end()) {
    // A subscription's dispatcher (ephemeral) goes at the next handle(): this may run inside
    // a write of its own (a peer found gone), so it is not destroyed here.
    if (auto s = _sessions.find(it->second); s != _sessions.end()) s->second->stream.reset();
    _streams.erase(it);
  }
}

std::size_t transport::listen_streams() const {
  return static_cast<std::size_t>(
      std::count_if(_sessions.begin(), _sessions.end(), [](auto& s) { return s.second->ephemeral && s.second->stream; }));
}

void transport::end_listens() {
  std::vector<server*> open;
  for (auto& [id, s] : _sessions)
    if (s->ephemeral && s->stream) open.push_back(s->srv.get());
  for (auto* srv : open) srv->end_listens();  // each answer ends its stream (on_line)
}

std::size_t transport::notify(const std::function<bool(server&)>& fn) {
  // A write can find a peer gone, which changes the streams: walk a snapshot.
  std::vector<std::string> open;
  for (auto& [id, s] : _sessions)
    if (s->stream) open.push_back(id);
  std::size_t n = 0;
  for (auto& id : open) {
    auto it = _sessions.find(id);
    if (it != _sessions.end() && it->second->stream && fn(*it->second->srv)) ++n;
  }
  return n;
}

void transport::keep_alive() {
  // A write can find the peer gone and close it, which erases from _streams: walk a copy.
  std::vector<conn_id> open;
  open.reserve(_streams.size());
  for (auto& [c, sid] : _streams) open.push_back(c);
  for (auto c : open)
    if (_streams.contains(c)) write(c, ": keep-alive\n\n");
}

}  // namespace weft::mcp::http
