#include "web_channel.hh"

#include <fcntl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include <weft/ipc/builtin.hh>

namespace weft::chan::web {

extern const std::string_view page_html;

namespace chat = weft::proto::chat_v1;
namespace bus = weft::proto::bus_v1;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {
constexpr auto inbound_timeout = 30s;
constexpr auto keepalive_interval = 15s;
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

web_channel::web_channel(ipc::bus_client& bus, service::notifier& notify, web_options opts)
    : _bus(bus), _notify(notify), _o(std::move(opts)), _log(log::get("chan-web")) {}

void web_channel::respond_json(conn_id c, int status, const json& body) {
  _http->respond(c, status, "application/json", body.dump(-1, ' ', false, json::error_handler_t::replace));
}

bool web_channel::authorized(const http_request& r) const {
  auto& want = _o.settings.auth_token;
  if (want.empty()) return true;
  auto h = r.header("authorization");
  if (h.rfind("Bearer ", 0) == 0 && equal_secret(h.substr(7), want)) return true;
  if (auto it = r.query.find("token"); it != r.query.end() && equal_secret(it->second, want)) return true;
  return false;
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

void web_channel::on_request(conn_id c, const http_request& r) {
  if (r.path == "/" || r.path == "/index.html") {
    if (r.method != "GET" && r.method != "HEAD") {
      _http->respond(c, 405, "text/plain", "GET only\n", {{"Allow", "GET"}});
      return;
    }
    _http->respond(c, 200, "text/html; charset=utf-8", r.method == "HEAD" ? std::string_view() : page_html,
                   {{"Content-Security-Policy",
                     "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'"}});
    return;
  }
  if (r.path == "/api/health") {
    respond_json(c, 200, {{"status", "ok"}, {"streams", _stream_session.size()}, {"sessions", _sessions.size()}});
    return;
  }
  if (r.path.rfind("/api/", 0) == 0 && !authorized(r)) {
    _http->respond(c, 401, "application/json", R"({"error":"missing or wrong token"})",
                   {{"WWW-Authenticate", "Bearer"}});
    return;
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

void web_channel::post_message(conn_id c, const http_request& r) {
  if (_stopping) {
    respond_json(c, 503, {{"error", "weft is stopping"}});
    return;
  }
  auto j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("session") || !j["session"].is_string() || !j.contains("text") ||
      !j["text"].is_string()) {
    respond_json(c, 400, {{"error", "expected JSON {\"session\": string, \"text\": string, \"user\"?: string}"}});
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
  std::string user = "web";
  if (j.contains("user") && j["user"].is_string() && !j["user"].get<std::string>().empty())
    user = j["user"].get<std::string>().substr(0, 128);
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
  // The answer is shown as it is written: the agent sends Delta events here.
  auto id = _bus.send_request(_o.router, chat::inbound{m, /*stream=*/true});
  if (!id) {
    respond_json(c, 503, {{"error", fmt::format("Failed to reach the router: {}", id.err().message)}});
    return;
  }
  (void)session_for(sess);
  _inbound[*id] = {c, m.id, clock::now() + inbound_timeout};
  _log.debug("Inbound '{}' for session '{}'", m.id, sess);
}

void web_channel::on_reply(const ipc::message& m) {
  auto it = _inbound.find(m.env.id);
  if (it == _inbound.end()) return;
  auto p = it->second;
  _inbound.erase(it);
  if (m.is_error()) {
    auto e = m.to_error();
    _log.warning("Failed to hand '{}' to '{}': {}", p.id, _o.router, e.to_string());
    int status = e.is(bus::interface_name, bus::to_string(bus::error_code::no_such_address)) ? 503 : 502;
    respond_json(p.conn, status, {{"error", e.message}, {"code", e.code}});
    return;
  }
  auto a = m.as<chat::accepted>();
  if (!a) {
    respond_json(p.conn, 502, {{"error", a.err().message}});
    return;
  }
  respond_json(p.conn, 202, {{"id", p.id}, {"agent", a->agent}});
}

void web_channel::open_stream(conn_id c, const http_request& r) {
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
      out += sse_event("message", k.data, k.seq);
      k.pending = false;
    }
  }
  _http->write(c, out);
  _log.debug("Stream {} opened for session '{}'", c, id);
}

void web_channel::on_close(conn_id c) {
  for (auto it = _inbound.begin(); it != _inbound.end();)
    it = it->second.conn == c ? _inbound.erase(it) : std::next(it);  // the router still has the message
  auto it = _stream_session.find(c);
  if (it == _stream_session.end()) return;
  if (auto s = _sessions.find(it->second); s != _sessions.end()) s->second.streams.erase(c);
  _stream_session.erase(it);
}

void web_channel::on_deliver(const ipc::message& m) {
  auto d = m.as<chat::deliver>();
  if (!d) {
    (void)_bus.reply_error(m, d.err());
    return;
  }
  if (auto up = _delivered->delivered(d->outbox_id)) {
    (void)_bus.reply(m, chat::delivered{d->outbox_id, *up});
    return;
  }
  if (!valid_session(d->message.chat_id)) {
    (void)_bus.reply_error(m, chat::make(chat::error_code::unsupported, "Failed to deliver '{}': '{}' is not a web session",
                                         d->outbox_id, d->message.chat_id));
    return;
  }
  auto& s = session_for(d->message.chat_id);
  auto seq = ++_seq;
  auto data = message_event(d->message).dump(-1, ' ', false, json::error_handler_t::replace);
  bool written = false;
  auto streams = s.streams;  // write() may close a slow stream, which edits s.streams
  for (auto c : streams) written = _http->write(c, sse_event("message", data, seq)) || written;
  s.recent.push_back({seq, std::move(data), !written});
  while (s.recent.size() > _o.max_kept_per_session) s.recent.pop_front();
  auto upstream = fmt::format("{}", seq);
  if (auto st = _delivered->mark_delivered(d->outbox_id, upstream); !st) _log.error("{}", st.err().message);
  _log.debug("'{}' {} session '{}'", d->outbox_id, written ? "streamed to" : "kept for", d->message.chat_id);
  (void)_bus.reply(m, chat::delivered{d->outbox_id, upstream});
}

void web_channel::on_delta(const ipc::message& m) {
  auto d = m.as<chat::delta>();
  if (!d) return;
  auto it = _sessions.find(d->chat_id);
  if (it == _sessions.end() || it->second.streams.empty()) return;  // nobody watching: the final reply counts
  auto ev = sse_event("delta", json{{"turn_id", d->turn_id}, {"text", d->text}}.dump(-1, ' ', false,
                                                                                       json::error_handler_t::replace));
  auto streams = it->second.streams;
  for (auto c : streams) _http->write(c, ev);
}

void web_channel::dispatch(const ipc::message& m) {
  if (m.env.kind == bus::kind::reply || m.env.kind == bus::kind::error) {
    on_reply(m);
    return;
  }
  if (m.env.kind == bus::kind::event) {
    if (m.is(chat::delta::type_name)) on_delta(m);
    return;
  }
  if (m.env.kind != bus::kind::request) return;
  if (ipc::answer_builtin(_bus, m)) return;
  if (m.is(chat::deliver::type_name)) {
    on_deliver(m);
    return;
  }
  (void)_bus.reply_error(m, bus::make(bus::error_code::unknown_type, "'{}' does not handle '{}'", _bus.address(),
                                      m.env.type));
}

int web_channel::run(int signal_fd) {
  auto where = parse_listen(_o.settings.listen);
  if (!where) {
    _log.error("Failed to read [channels.web] listen: {}", where.err().message);
    return 2;
  }
  if (!is_loopback(where->host) && _o.settings.auth_token.empty()) {
    _log.error("Failed to start the web channel: listen = '{}' is not loopback and [channels.web] auth_token is empty; "
               "set auth_token or listen on 127.0.0.1",
               _o.settings.listen);
    return 2;
  }
  // Redelivered outbox ids are recent ones: a short memory keeps the process small.
  auto dl = delivered_log::open(_o.state_dir + "/delivered", 2000);
  if (!dl) {
    _log.error("{}", dl.err().message);
    return 1;
  }
  _delivered = std::move(*dl);
  server_options so;
  so.limits.max_body_bytes = 64 * 1024;
  auto srv = http_server::listen(*where, so, "chan-web");
  if (!srv) {
    _log.error("{}", srv.err().message);
    return 1;
  }
  _http = std::move(*srv);
  _http->on_request = [this](conn_id c, const http_request& r) { on_request(c, r); };
  _http->on_close = [this](conn_id c) { on_close(c); };
  auto host = where->host.find(':') != std::string::npos ? "[" + where->host + "]" : where->host;
  auto url = fmt::format("http://{}:{}/", host, _http->port());
  if (!_o.port_file.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(_o.port_file).parent_path(), ec);
    auto tmp = _o.port_file + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    auto text = std::to_string(_http->port()) + "\n";
    if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
        ::rename(tmp.c_str(), _o.port_file.c_str()) != 0)
      _log.warning("Failed to write the port file '{}': {}, ignoring", _o.port_file, std::strerror(errno));
    if (fd >= 0) ::close(fd);
  }
  fmt::print("weft web chat: {}\n", url);
  std::fflush(stdout);
  _log.info("Web chat on {}", url);
  (void)_notify.ready();
  auto next_keepalive = clock::now() + keepalive_interval;
  while (!_stopping) {
    auto wait = std::min(_notify.beat_if_due(), _http->expire());
    std::vector<zmq::pollitem_t> items = {{_bus.socket().handle(), 0, ZMQ_POLLIN, 0},
                                          {_bus.monitor_socket().handle(), 0, ZMQ_POLLIN, 0},
                                          {nullptr, signal_fd, ZMQ_POLLIN, 0}};
    auto hfds = _http->poll_fds();
    for (auto& p : hfds) items.push_back({nullptr, p.fd, zmq_events(p.events), 0});
    zmq::poll(items.data(), items.size(), wait);
    if (items[2].revents & ZMQ_POLLIN) {
      signalfd_siginfo si;
      while (::read(signal_fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) _stopping = true;
    }
    _bus.process_input();
    while (auto m = _bus.next(0ms)) dispatch(*m);
    for (std::size_t i = 0; i < hfds.size(); ++i) hfds[i].revents = posix_events(items[3 + i].revents);
    _http->handle(hfds);
    auto now = clock::now();
    for (auto it = _inbound.begin(); it != _inbound.end();) {
      if (now >= it->second.deadline) {
        respond_json(it->second.conn, 504, {{"error", "the router did not answer in time; try again"}});
        it = _inbound.erase(it);
      } else {
        ++it;
      }
    }
    if (now >= next_keepalive) {
      next_keepalive = now + keepalive_interval;
      auto streams = _stream_session;
      for (auto& [c, s] : streams) _http->write(c, sse_comment("keep-alive"));
    }
  }
  _log.info("Stopping");
  (void)_notify.stopping();
  _bus.close(500ms);
  return 0;
}

}  // namespace weft::chan::web
