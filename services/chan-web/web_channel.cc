#include "web_channel.hh"

#include <filesystem>
#include <random>

#include <weft/base/io.hh>
#include <weft/http/request.hh>
#include <weft/http/sse.hh>
#include <weft/http/token.hh>

namespace weft::chan::web {

extern const std::string_view page_html;

namespace chat = weft::proto::chat_v1;
namespace bus = weft::proto::bus_v1;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {
constexpr auto inbound_timeout = 30s;
constexpr auto keepalive_interval = 15s;
constexpr auto cookie_max_age = std::chrono::hours(24 * 30);

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
}  // namespace

json message_event(const chat::message& m) {
  std::string text;
  json attachments = json::array();
  for (auto& p : m.parts) {
    if (p.kind == chat::part_kind::text && p.text) {
      if (!text.empty()) text += "\n";
      text += *p.text;
    } else if (p.kind == chat::part_kind::blob) {
      attachments.push_back({{"name", p.name.value_or("")},
                             {"media_type", p.media_type.value_or("application/octet-stream")},
                             {"size", p.data ? p.data->size() : 0}});
    }
  }
  // Invalid UTF-8 from upstream must not make dump() throw: replace it.
  return json{{"id", m.id}, {"reply_to", m.reply_to.value_or("")}, {"text", text}, {"attachments", attachments}};
}

bool valid_session(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' || c == '-')) return false;
  return true;
}

std::string new_uuid() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uint64_t a = rng(), b = rng();
  a = (a & 0xFFFFFFFFFFFF0FFFull) | 0x0000000000004000ull;
  b = (b & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xFFFF, a & 0xFFFF, b >> 48,
                     b & 0xFFFFFFFFFFFFull);
}

std::string cookie_name(std::uint16_t port) { return fmt::format("weft_web_{}", port); }

web_channel::web_channel(service::runtime& rt, web_options opts)
    : _rt(rt), _o(std::move(opts)), _log(log::get("chan-web")) {}

result<std::unique_ptr<web_channel>> web_channel::start(service::runtime& rt, web_options opts) {
  std::unique_ptr<web_channel> ch(new web_channel(rt, std::move(opts)));
  if (auto s = ch->open(); !s) return s.take_error();
  return ch;
}

status web_channel::open() {
  auto where = http::parse_listen(_o.settings.listen);
  if (!where) return fail(errc::invalid_argument, "Failed to read [channels.web] listen: {}", where.err().message);
  if (!http::is_loopback(where->host) && _o.settings.auth_token.empty())
    return fail(errc::config,
                "Failed to start the web channel: listen = '{}' is not loopback and [channels.web] auth_token is empty; "
                "set auth_token or listen on 127.0.0.1",
                _o.settings.listen);
  // Redelivered outbox ids are recent ones: a short memory keeps the process small.
  auto dl = delivered_log::open(_o.state_dir + "/delivered", 2000);
  if (!dl) return dl.take_error();
  _delivered = std::move(*dl);
  if (!_o.settings.auth_token.empty()) {
    _token = _o.settings.auth_token;
  } else {
    auto t = http::ensure_token(_o.token_file);
    if (!t) return t.take_error();
    _token = std::move(*t);
  }
  http::server_options so;
  so.lim.max_body_bytes = 64 * 1024;
  auto srv = http::server::listen(_rt.loop(), *where, so, "chan-web");
  if (!srv) {
    auto e = srv.take_error();
    if (e.code == errc::address_in_use)
      e.message += " (another weft or program holds it; set [channels.web] listen to another port)";
    return e;
  }
  _http = std::move(*srv);
  _http->on_request = [this](conn_id c, const http::request& r) { on_request(c, r); };
  _http->on_close = [this](conn_id c) { on_close(c); };

  _rt.on<chat::deliver>([this](const chat::deliver& d, const ipc::message&) { return on_deliver(d); });
  _rt.on_event<chat::delta>([this](const chat::delta& d, const ipc::message&) { on_delta(d); });
  _rt.on_stop([this] {
    _log.info("Stopping");
    _stopping = true;
  });
  _rt.drain_until([this] { return _inbound_calls == 0; });
  _rt.loop().every(keepalive_interval, [this] {
    auto streams = _stream_session;  // a write may close a slow stream
    for (auto& [c, s] : streams) _http->write(c, http::sse_comment("keep-alive"));
  });

  auto url = fmt::format("http://{}/", http::listen_address{where->host, _http->port()}.to_string());
  if (!_o.port_file.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(_o.port_file).parent_path(), ec);
    if (auto w = write_file_volatile(_o.port_file, std::to_string(_http->port()) + "\n", 0644); !w)
      _log.warning("Failed to write the port file '{}': {}, ignoring", _o.port_file, w.err().message);
  }
  // Like Jupyter: the URL that logs the browser in. A token from the config is not printed.
  if (_o.settings.auth_token.empty()) {
    fmt::print("weft web chat: {}?token={}\n", url, _token);
    _log.info("Web chat on {} (open it with ?token= from '{}')", url, _o.token_file);
  } else {
    fmt::print("weft web chat: {}?token=<[channels.web] auth_token>\n", url);
    _log.info("Web chat on {} (open it with ?token=<[channels.web] auth_token>)", url);
  }
  std::fflush(stdout);
  return {};
}

void web_channel::respond_json(conn_id c, int status, const json& body) {
  _http->respond(c, status, "application/json", dump(body));
}

web_channel::auth web_channel::authenticate(const http::request& r) const {
  auto h = r.header("authorization");
  if (h.rfind("Bearer ", 0) == 0 && http::equal_secret(h.substr(7), _token)) return auth::bearer;
  if (auto c = http::cookie_value(r.header("cookie"), cookie_name(_http->port())); c && http::equal_secret(*c, _token))
    return auth::cookie;
  return auth::none;
}

web_channel::session& web_channel::session_for(const std::string& id) {
  auto it = _sessions.find(id);
  if (it == _sessions.end()) {
    if (_sessions.size() >= _o.max_sessions) {
      // Evict the least recently used session without a browser attached.
      auto victim = _sessions.end();
      for (auto s = _sessions.begin(); s != _sessions.end(); ++s)
        if (s->second.streams.empty() && (victim == _sessions.end() || s->second.used < victim->second.used)) victim = s;
      if (victim != _sessions.end()) {
        _log.debug("Forgetting web session '{}' (the limit is {} sessions)", victim->first, _o.max_sessions);
        _sessions.erase(victim);
      }
    }
    it = _sessions.emplace(id, session{}).first;
  }
  it->second.used = clock::now();
  return it->second;
}

void web_channel::on_request(conn_id c, const http::request& r) {
  if (r.path == "/" || r.path == "/index.html") {
    if (r.method != "GET" && r.method != "HEAD") {
      _http->respond(c, 405, "text/plain", "GET only\n", {{"Allow", "GET"}});
      return;
    }
    open_page(c, r);
    return;
  }
  if (r.path == "/api/health") {
    respond_json(c, 200, {{"status", "ok"}, {"streams", _stream_session.size()}, {"sessions", _sessions.size()}});
    return;
  }
  if (r.path.rfind("/api/", 0) == 0) {
    auto a = authenticate(r);
    if (a == auth::none) {
      _http->respond(c, 401, "application/json",
                     R"({"error":"missing or wrong token: open the URL weft printed (with ?token=), or send Authorization: Bearer <token>"})",
                     {{"WWW-Authenticate", "Bearer"}});
      return;
    }
    // The cookie comes with every request of the browser, also those another page on this
    // host (a same-site origin on another port) makes it send: those name their origin.
    if (auto origin = r.header("origin"); a == auth::cookie && !origin.empty() && origin != "http://" + r.header("host")) {
      respond_json(c, 403, {{"error", fmt::format("requests from '{}' are not allowed", origin)}});
      return;
    }
  }
  if (r.path == "/api/messages") {
    if (r.method != "POST") {
      _http->respond(c, 405, "text/plain", "POST only\n", {{"Allow", "POST"}});
      return;
    }
    post_message(c, r);
    return;
  }
  if (r.path == "/api/stream") {
    if (r.method != "GET") {
      _http->respond(c, 405, "text/plain", "GET only\n", {{"Allow", "GET"}});
      return;
    }
    open_stream(c, r);
    return;
  }
  respond_json(c, 404, {{"error", "no such path"}});
}

void web_channel::open_page(conn_id c, const http::request& r) {
  auto t = r.query.find("token");
  if (t == r.query.end()) {
    // The page holds nothing secret; its API calls need the cookie.
    _http->respond(c, 200, "text/html; charset=utf-8", r.method == "HEAD" ? std::string_view() : page_html,
                   {{"Content-Security-Policy",
                     "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'"}});
    return;
  }
  if (!http::equal_secret(t->second, _token)) {
    _http->respond(c, 401, "text/plain; charset=utf-8", "wrong token: open the URL weft printed\n");
    return;
  }
  // Logged in: the token becomes a cookie scripts cannot read and other sites cannot send,
  // and the URL without it (so it is not kept in the history or shown) is loaded again.
  std::string location = "/";
  for (auto& [k, v] : r.query) {
    if (k == "token") continue;
    location += (location.size() == 1 ? "?" : "&") + http::url_encode(k) + "=" + http::url_encode(v);
  }
  auto cookie = fmt::format("{}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}", cookie_name(_http->port()), _token,
                            std::chrono::duration_cast<std::chrono::seconds>(cookie_max_age).count());
  _http->respond(c, 303, "text/plain", "", {{"Location", location}, {"Set-Cookie", cookie}});
}

void web_channel::post_message(conn_id c, const http::request& r) {
  if (_stopping) {
    respond_json(c, 503, {{"error", "weft is stopping"}});
    return;
  }
  auto j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("session") || !j["session"].is_string() || !j.contains("text") ||
      !j["text"].is_string()) {
    respond_json(c, 400, {{"error", "expected JSON {\"session\": string, \"text\": string}"}});
    return;
  }
  auto sess = j["session"].get<std::string>();
  auto text = j["text"].get<std::string>();
  if (!valid_session(sess)) {
    respond_json(c, 400, {{"error", "session must be 1-128 of A-Z a-z 0-9 . _ : -"}});
    return;
  }
  if (text.empty() || text.size() > _o.max_text_bytes) {
    respond_json(c, text.empty() ? 400 : 413,
                 {{"error", fmt::format("text must be 1 to {} bytes", _o.max_text_bytes)}});
    return;
  }
  // Who sent it is what the token says; a body that claims someone else is refused, so no
  // client believes it chose the user (and with it an [[agent_routes]] route).
  if (auto u = j.find("user"); u != j.end() && !(u->is_string() && u->get<std::string>() == web_identity)) {
    respond_json(c, 400, {{"error", fmt::format("'user' is not accepted: a web message is from '{}', the identity of "
                                                "the token; leave 'user' out",
                                                web_identity)}});
    return;
  }
  std::string user(web_identity);
  chat::message m;
  m.id = "web:" + new_uuid();
  m.channel = "web";
  m.chat_id = sess;
  m.sender = user;
  m.ts = utc_now();
  chat::part p;
  p.kind = chat::part_kind::text;
  p.text = std::move(text);
  m.parts.push_back(std::move(p));
  m.meta["user_id"] = user;
  m.meta["chat_id"] = sess;
  (void)session_for(sess);
  _log.debug("Inbound '{}' for session '{}'", m.id, sess);
  ++_inbound_calls;
  // The answer is shown as it is written: the agent sends Delta events here.
  _rt.call(_o.router, chat::inbound{m, /*stream=*/true}, {.timeout = inbound_timeout},
           [this, c, id = m.id](result<ipc::message> a) {
             --_inbound_calls;
             if (!a) {
               auto& e = a.err();
               _log.warning("Failed to hand '{}' to '{}': {}", id, _o.router, e.to_string());
               int status = bus::is(e, bus::error_code::timeout)           ? 504
                            : bus::is(e, bus::error_code::no_such_address) ? 503
                                                                           : 502;
               auto why = status == 504 ? std::string("the router did not answer in time; try again") : e.message;
               respond_json(c, status, {{"error", why}, {"code", e.code}});
               return;
             }
             auto acc = a->as<chat::accepted>();
             if (!acc) return respond_json(c, 502, {{"error", acc.err().message}});
             respond_json(c, 202, {{"id", id}, {"agent", acc->agent}});
           });
}

void web_channel::open_stream(conn_id c, const http::request& r) {
  auto it = r.query.find("session");
  if (it == r.query.end() || !valid_session(it->second)) {
    respond_json(c, 400, {{"error", "session must be 1-128 of A-Z a-z 0-9 . _ : -"}});
    return;
  }
  auto id = it->second;
  std::uint64_t last = 0;
  bool resume = false;
  if (auto h = r.header("last-event-id"); !h.empty() && h.find_first_not_of("0123456789") == std::string::npos &&
                                          h.size() < 20) {
    last = std::stoull(h);
    resume = true;
  }
  if (!_http->start_stream(c, "text/event-stream; charset=utf-8")) return;
  auto& s = session_for(id);
  s.streams.insert(c);
  _stream_session[c] = id;
  std::string out = "retry: 2000\n\n";
  // A reconnecting EventSource says what it saw; a fresh one gets what nobody has seen.
  for (auto& k : s.recent) {
    if (resume ? k.seq > last : k.pending) {
      out += http::sse_frame("message", k.data, k.seq);
      k.pending = false;
    }
  }
  _http->write(c, out);
  _log.debug("Stream {} opened for session '{}'", c, id);
}

void web_channel::on_close(conn_id c) {
  // A POST whose browser left: the router still has the message; its answer finds no one.
  auto it = _stream_session.find(c);
  if (it == _stream_session.end()) return;
  if (auto s = _sessions.find(it->second); s != _sessions.end()) s->second.streams.erase(c);
  _stream_session.erase(it);
}

result<chat::delivered> web_channel::on_deliver(const chat::deliver& d) {
  if (auto up = _delivered->delivered(d.outbox_id)) return chat::delivered{d.outbox_id, *up};
  if (!valid_session(d.message.chat_id))
    return chat::make(chat::error_code::unsupported, "Failed to deliver '{}': '{}' is not a web session", d.outbox_id,
                      d.message.chat_id);
  auto& s = session_for(d.message.chat_id);
  auto seq = ++_seq;
  auto data = dump(message_event(d.message));
  bool written = false;
  auto streams = s.streams;  // write() may close a slow stream, which edits s.streams
  for (auto c : streams) written = _http->write(c, http::sse_frame("message", data, seq)) || written;
  s.recent.push_back({seq, std::move(data), !written});
  while (s.recent.size() > _o.max_kept_per_session) s.recent.pop_front();
  auto upstream = fmt::format("{}", seq);
  if (auto st = _delivered->mark_delivered(d.outbox_id, upstream); !st) _log.error("{}", st.err().message);
  _log.debug("'{}' {} session '{}'", d.outbox_id, written ? "streamed to" : "kept for", d.message.chat_id);
  return chat::delivered{d.outbox_id, upstream};
}

void web_channel::on_delta(const chat::delta& d) {
  auto it = _sessions.find(d.chat_id);
  if (it == _sessions.end() || it->second.streams.empty()) return;  // nobody watching: the final reply counts
  auto ev = http::sse_frame("delta", dump(json{{"turn_id", d.turn_id}, {"text", d.text}}));
  auto streams = it->second.streams;
  for (auto c : streams) _http->write(c, ev);
}

}  // namespace weft::chan::web
