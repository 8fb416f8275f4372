#include "services/mcp/mcp_service.hh"

#include <fcntl.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <weft/base/io.hh>
#include <weft/http/sse.hh>
#include <weft/ipc/builtin.hh>
#include <weft/service/policy.hh>

#include "proto/bus_v1.hh"
#include "proto/mcp_v1.hh"
#include "services/mcp/mapping.hh"

namespace weft::mcpsrv {

namespace tool = proto::tool_v1;
namespace bus = proto::bus_v1;
namespace mv = proto::mcp_v1;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {
constexpr auto list_timeout = 5s;
constexpr auto keepalive_interval = 15s;
constexpr auto stdio_idle = std::chrono::minutes(10);
constexpr auto stdio_ping_timeout = 10s;
constexpr std::size_t max_skill_bytes = 256 * 1024;
constexpr std::string_view skill_uri_prefix = "weft://skills/";

using http::random_hex;

result<std::string> read_small(const std::string& path, std::size_t max) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(errc::io, "Failed to open '{}': {}", path, std::strerror(errno));
  auto r = read_to_end(fd, max);
  ::close(fd);
  return r;
}

}  // namespace

mcp_service::mcp_service(ipc::bus_client& bus, service::notifier& notify, zmq::context_t& ctx, mcp_options o)
    : _bus(bus), _notify(notify), _ctx(ctx), _o(std::move(o)), _log(log::get("mcp")) {
  for (auto& a : _o.tool_processes) _procs.push_back(proc{a});
}

mcp_service::~mcp_service() = default;

mcp::server::options mcp_service::server_options() const {
  mcp::server::options so;
  so.name = "weft";
  so.version = _o.version;
  so.title = fmt::format("weft (agent {})", _o.agent);
  so.instructions = fmt::format(
      "Tools of weft agent '{}' (files in its workspace, shell, web, …) and its skills as prompts and resources "
      "(weft://skills/<name>). Tool calls are checked by weft's policy for this agent.",
      _o.agent);
  return so;
}

// --- tool discovery -------------------------------------------------------------------------

bool mcp_service::discovering() const {
  return std::any_of(_procs.begin(), _procs.end(), [](auto& p) { return p.listing; });
}

void mcp_service::after_discovery(std::function<void()> f) {
  if (discovering()) _waiting.push_back(std::move(f));
  else f();
}

void mcp_service::list(std::size_t i) {
  auto& p = _procs[i];
  if (p.listing) {
    p.again = true;  // an answer now in flight may predate the change
    return;
  }
  auto id = _bus.send_request(p.address, tool::list_tools{});
  if (!id) {
    _log.debug("Failed to ask '{}' for its tools: {}", p.address, id.err().to_string());
    p.next_try = clock::now() + p.backoff;
    return;
  }
  p.listing = true;
  p.again = false;
  _pending[*id] = pending{true, i, {}, {}, clock::now() + list_timeout};
}

void mcp_service::on_listed(std::size_t i, const ipc::message* m) {
  auto& p = _procs[i];
  p.listing = false;
  std::optional<error> err;
  if (!m) err = bus::make(bus::error_code::timeout, "no answer within {} ms", list_timeout.count() * 1000);
  else if (m->is_error()) err = m->to_error();
  if (!err) {
    auto t = m->as<tool::tools>();
    if (!t) {
      err = t.err();
    } else {
      p.tools = std::move(t->tools);
      p.known = true;
      p.backoff = 500ms;
      _log.info("'{}' serves {} tool(s)", p.address, p.tools.size());
    }
  }
  if (err) {
    // Absent (NoSuchAddress) or failing: nothing from it until it answers; PeerChanged or
    // the retry timer asks again.
    if (p.known) _log.info("'{}' no longer answers ListTools: {}", p.address, err->message);
    p.tools.clear();
    p.known = false;
    p.next_try = clock::now() + p.backoff;
    p.backoff = std::min<std::chrono::milliseconds>(p.backoff * 2, 30s);
    _log.debug("Failed to list the tools of '{}': {}", p.address, err->to_string());
  }
  bool force = !err && std::exchange(p.rejoined, false);
  if (p.again) list(i);
  rebuild(force);
  if (!discovering()) {
    auto waiting = std::exchange(_waiting, {});
    for (auto& f : waiting) f();
  }
}

void mcp_service::rebuild(bool force) {
  std::map<std::string, offered_tool> next;
  for (std::size_t i = 0; i < _procs.size(); ++i)
    for (auto& t : _procs[i].tools) {
      if (next.count(t.name)) continue;  // the first process (family order) wins a clash
      if (!service::tool_allowed(_o.agent_policy, t.name)) continue;
      service::tool_policy mine;
      mine.allow = _o.settings.allow;
      mine.deny = _o.settings.deny;
      if (!service::tool_allowed(mine, t.name)) continue;
      next.emplace(t.name, offered_tool{i, tool_entry(t)});
    }
  json all = json::array();
  for (auto& [name, t] : next) all.push_back(t.entry);
  auto fp = all.dump(-1, ' ', false, json::error_handler_t::replace);
  _offered = std::move(next);
  if (fp == _fingerprint && !force) return;
  bool first = _fingerprint.empty();
  _fingerprint = std::move(fp);
  if (first && !force) return;
  std::size_t n = 0;
  for (auto& [sid, s] : _stdio) n += s.srv->notify_tools_changed() ? 1 : 0;
  if (_transport) n += _transport->notify_tools_changed();
  _log.info("The offered tools changed ({} now); told {} session(s)", _offered.size(), n);
}

// --- MCP methods ----------------------------------------------------------------------------

void mcp_service::list_tools(mcp::reply_fn reply) {
  after_discovery([this, reply = std::move(reply)] {
    json tools = json::array();
    for (auto& [name, t] : _offered) tools.push_back(t.entry);
    reply(json{{"tools", std::move(tools)}});
  });
}

void mcp_service::call_tool(const json& params, mcp::reply_fn reply) {
  after_discovery([this, params, reply = std::move(reply)] {
    auto name = params["name"].get<std::string>();
    auto it = _offered.find(name);
    if (it == _offered.end()) return reply(make_error(mcp::domain, "InvalidParams", "Unknown tool: {}", name));
    auto timeout = _o.call_timeout;
    if (auto meta = params.find("_meta"); meta != params.end() && meta->is_object()) {
      auto t = meta->find("io.weft/timeoutMs");
      if (t != meta->end() && t->is_number_unsigned())
        timeout = std::chrono::milliseconds(std::clamp<std::uint64_t>(t->get<std::uint64_t>(), 1, 600000));
    }
    tool::call c;
    c.name = name;
    c.arguments = params["arguments"].dump(-1, ' ', false, json::error_handler_t::replace);
    c.call_id = fmt::format("mcp-{}", ++_calls);
    c.timeout_ms = static_cast<std::uint32_t>(timeout.count());
    auto address = _procs[it->second.proc].address + "/" + name;
    auto id = _bus.send_request(address, c);
    if (!id) return reply(call_failure(name, id.err()));
    _log.debug("tools/call {} → {} ({})", name, address, c.call_id);
    _pending[*id] = pending{false, 0, std::move(reply), name, clock::now() + timeout + 5s};
  });
}

mcp::handlers mcp_service::make_handlers(const std::string&) {
  mcp::handlers h;
  h.list_tools = [this](const json&, mcp::reply_fn r) { list_tools(std::move(r)); };
  h.call_tool = [this](const json& p, mcp::reply_fn r) { call_tool(p, std::move(r)); };
  auto skills = [this] {
    std::vector<std::string> warnings;
    auto s = agent::discover_skills(_o.skill_dirs, warnings);
    for (auto& w : warnings) _log.debug("{}", w);
    return s;
  };
  h.list_resources = [skills](const json&, mcp::reply_fn r) {
    json out = json::array();
    for (auto& s : skills())
      out.push_back({{"uri", std::string(skill_uri_prefix) + s.name},
                     {"name", s.name},
                     {"description", s.description},
                     {"mimeType", "text/markdown"}});
    r(json{{"resources", std::move(out)}});
  };
  h.read_resource = [skills](const json& p, mcp::reply_fn r) {
    auto uri = p["uri"].get<std::string>();
    for (auto& s : skills()) {
      if (uri != std::string(skill_uri_prefix) + s.name) continue;
      auto text = read_small(s.path, max_skill_bytes);
      if (!text) return r(make_error(mcp::domain, "InternalError", "Failed to read skill '{}': {}", s.name, text.err().message));
      return r(json{{"contents", json::array({json{{"uri", uri}, {"mimeType", "text/markdown"}, {"text", *text}}})}});
    }
    r(make_error(mcp::domain, mcp::code_name(mcp::code::resource_not_found), "Resource not found: {}", uri));
  };
  h.list_prompts = [skills](const json&, mcp::reply_fn r) {
    json out = json::array();
    for (auto& s : skills()) {
      if (!s.user_invocable) continue;
      out.push_back({{"name", s.name},
                     {"description", s.description},
                     {"arguments", json::array({json{{"name", "request"},
                                                     {"description", s.argument_hint.empty()
                                                                         ? "What you want done with this skill"
                                                                         : s.argument_hint},
                                                     {"required", false}}})}});
    }
    r(json{{"prompts", std::move(out)}});
  };
  h.get_prompt = [skills](const json& p, mcp::reply_fn r) {
    auto name = p["name"].get<std::string>();
    for (auto& s : skills()) {
      if (s.name != name || !s.user_invocable) continue;
      auto body = agent::load_skill_body(s);
      if (!body) return r(make_error(mcp::domain, "InternalError", "Failed to read skill '{}': {}", name, body.err().message));
      std::string text = *body;
      auto& args = p["arguments"];
      if (auto q = args.find("request"); q != args.end()) {
        if (!q->is_string()) return r(make_error(mcp::domain, "InvalidParams", "Invalid params: 'request' must be a string"));
        if (!q->get<std::string>().empty()) text += "\n\n" + q->get<std::string>();
      }
      return r(json{{"description", s.description},
                    {"messages", json::array({json{{"role", "user"}, {"content", {{"type", "text"}, {"text", text}}}}})}});
    }
    r(make_error(mcp::domain, "InvalidParams", "Unknown prompt: {}", name));
  };
  return h;
}

// --- the stdio relay over the bus -----------------------------------------------------------

void mcp_service::send_frame(const std::string& sid, std::string line) {
  auto it = _stdio.find(sid);
  if (it == _stdio.end()) return;
  if (line.size() > _o.max_frame_bytes) {
    auto j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    auto size = line.size();
    if (!j.is_object() || !j.contains("id")) {
      _log.warning("Dropped a {}-byte notification for stdio session '{}': over the bus limit", size, sid);
      return;
    }
    line = json{{"jsonrpc", "2.0"},
                {"id", j["id"]},
                {"error",
                 {{"code", mcp::code::internal_error},
                  {"message", fmt::format("Failed to send the answer: {} bytes is over the limit of {} bytes of "
                                          "weft's bus (use the HTTP transport, or raise [bus] max_message_bytes)",
                                          size, _o.max_frame_bytes)}}}}
               .dump();
  }
  if (auto s = _bus.notify(it->second.peer, mv::frame{sid, std::move(line)}); !s)
    _log.warning("Failed to send a frame to '{}': {}", it->second.peer, s.err().message);
}

void mcp_service::close_stdio(const std::string& sid, const std::string& reason, bool tell_peer) {
  auto it = _stdio.find(sid);
  if (it == _stdio.end()) return;
  if (tell_peer) (void)_bus.notify(it->second.peer, mv::close{sid, reason});
  _log.info("stdio session '{}' of '{}' closed: {}", sid, it->second.peer, reason);
  _stdio.erase(it);
}

void mcp_service::check_stdio_peers() {
  auto now = clock::now();
  for (auto& [sid, s] : _stdio) {
    if (s.pinging || now - s.used < _o.stdio_ping_after) continue;
    auto id = _bus.send_request(s.peer, bus::ping{});
    if (!id) {
      _log.debug("Failed to ping '{}': {}", s.peer, id.err().message);
      continue;
    }
    s.pinging = true;
    pending p;
    p.ping_session = sid;
    p.deadline = now + stdio_ping_timeout;
    _pending.emplace(*id, std::move(p));
  }
}

void mcp_service::on_open(const ipc::message& m) {
  auto o = m.as<mv::open>();
  if (!o) return (void)_bus.reply_error(m, o.err());
  if (m.env.from.rfind("ctl/", 0) != 0)
    return (void)_bus.reply_error(
        m, mv::make(mv::error_code::denied, "Only weftctl (ctl/*) may open MCP sessions, not '{}'", m.env.from));
  if (_stopping) return (void)_bus.reply_error(m, mv::make(mv::error_code::failed, "weft's MCP server is stopping"));
  auto held = [&] { return _stdio.size() + (_transport ? _transport->sessions() : 0); };
  if (held() >= _o.settings.max_sessions) {
    // The bus does not report a weftctl that died (ROUTER sockets see no disconnects), so a
    // stdio session idle for a while makes room for a new one.
    auto victim = _stdio.end();
    for (auto it = _stdio.begin(); it != _stdio.end(); ++it)
      if (clock::now() - it->second.used > stdio_idle && (victim == _stdio.end() || it->second.used < victim->second.used))
        victim = it;
    if (victim != _stdio.end()) close_stdio(victim->first, "idle, and a new session needed its place", true);
  }
  if (held() >= _o.settings.max_sessions)
    return (void)_bus.reply_error(m, mv::make(mv::error_code::too_many_sessions,
                                              "weft's MCP server holds its maximum of {} sessions ([mcp] max_sessions)",
                                              _o.settings.max_sessions));
  auto sid = fmt::format("s-{}-{}", ++_next_session, random_hex(4));
  stdio_session s;
  s.peer = m.env.from;
  s.used = clock::now();
  s.srv = std::make_unique<mcp::server>(server_options(), make_handlers(sid),
                                        [this, sid](std::string line) { send_frame(sid, std::move(line)); });
  _stdio.emplace(sid, std::move(s));
  _log.info("stdio session '{}' opened by '{}' ({})", sid, m.env.from, o->client);
  (void)_bus.reply(m, mv::opened{sid});
}

void mcp_service::on_frame(const ipc::message& m) {
  auto f = m.as<mv::frame>();
  if (!f) return;
  auto it = _stdio.find(f->session);
  if (it == _stdio.end() || it->second.peer != m.env.from) {
    (void)_bus.notify(m.env.from, mv::close{f->session, "no such session (it was closed, or the server restarted)"});
    return;
  }
  it->second.used = clock::now();
  if (auto s = it->second.srv->receive(f->line); !s) _log.debug("stdio session '{}': {}", f->session, s.err().message);
}

void mcp_service::on_close_event(const ipc::message& m) {
  auto c = m.as<mv::close>();
  if (!c) return;
  auto it = _stdio.find(c->session);
  if (it == _stdio.end() || it->second.peer != m.env.from) return;
  close_stdio(c->session, c->reason.empty() ? "closed by the client" : c->reason, false);
}

// --- bus and events -------------------------------------------------------------------------

void mcp_service::dispatch(const ipc::message& m) {
  if (m.env.kind == bus::kind::reply || m.env.kind == bus::kind::error) {
    auto it = _pending.find(m.env.id);
    if (it == _pending.end()) return;
    auto p = std::move(it->second);
    _pending.erase(it);
    if (!p.ping_session.empty()) {
      if (m.is_error()) return close_stdio(p.ping_session, "its weftctl is gone: " + m.to_error().message, false);
      if (auto st = _stdio.find(p.ping_session); st != _stdio.end()) {
        st->second.pinging = false;
        st->second.used = clock::now();
      }
      return;
    }
    if (p.list) return on_listed(p.proc, &m);
    if (m.is_error()) return p.reply(call_failure(p.tool, m.to_error()));
    auto r = m.as<tool::result>();
    if (!r) return p.reply(call_failure(p.tool, r.err()));
    return p.reply(call_result(*r));
  }
  if (m.env.kind == bus::kind::event) {
    if (m.is(mv::frame::type_name)) on_frame(m);
    else if (m.is(mv::close::type_name)) on_close_event(m);
    else on_event(m);
    return;
  }
  if (m.env.kind != bus::kind::request) return;
  if (ipc::answer_builtin(_bus, m)) return;
  if (m.is(mv::open::type_name)) return on_open(m);
  (void)_bus.reply_error(m, bus::make(bus::error_code::unknown_type, "'{}' does not handle '{}'", _bus.address(),
                                      m.env.type));
}

void mcp_service::on_event(const ipc::message& m) {
  if (m.is(bus::peer_changed::type_name)) {
    if (m.env.from != "bus") return;
    auto e = m.as<bus::peer_changed>();
    if (!e) return;
    for (std::size_t i = 0; i < _procs.size(); ++i) {
      if (_procs[i].address != e->address) continue;
      if (e->joined) {
        // A restart: the bus replaces the old connection without a 'left' event.
        _procs[i].backoff = 500ms;
        _procs[i].rejoined = true;
        list(i);
      } else {
        _procs[i].tools.clear();
        _procs[i].known = false;
        _procs[i].next_try = clock::time_point::max();  // until it joins again
        rebuild();
      }
    }
    if (!e->joined) {
      std::vector<std::string> gone;
      for (auto& [sid, s] : _stdio)
        if (s.peer == e->address) gone.push_back(sid);
      for (auto& sid : gone) close_stdio(sid, "its weftctl left the bus", false);
    }
    return;
  }
  if (m.is(tool::tools_changed::type_name)) {
    for (std::size_t i = 0; i < _procs.size(); ++i)
      if (_procs[i].address == m.env.from) list(i);
  }
}

// --- HTTP -----------------------------------------------------------------------------------

result<bool> mcp_service::start_http() {
  auto& s = _o.settings;
  if (s.listen.empty()) return false;
  auto where = http::parse_listen(s.listen);
  if (!where) return fail(errc::invalid_argument, "Failed to read [mcp] listen '{}': {}", s.listen, where.err().message);
  mcp::http::transport::options to;
  to.allowed_origins = s.allowed_origins;
  to.max_sessions = s.max_sessions;
  to.session = server_options();
  if (s.require_token) {
    auto t = ensure_token(_o.token_file);
    if (!t) return t.take_error();
    to.token = *t;
  }
  http::server_options so;
  so.lim.max_body_bytes = to.max_body_bytes + 64 * 1024;  // slightly over: the transport answers 413 in JSON-RPC
  so.lim.max_header_bytes = 32 * 1024;
  auto loop = event_loop::create();
  if (!loop) return loop.take_error();
  _http_loop = std::move(*loop);
  auto srv = http::server::listen(*_http_loop, *where, so, "mcp");
  if (!srv) return srv.take_error();
  _http = std::move(*srv);
  _transport = std::make_unique<mcp::http::transport>(std::move(to));
  _transport->make_handlers = [this](const std::string& sid) { return make_handlers(sid); };
  _transport->external_sessions = [this] { return _stdio.size(); };
  _transport->respond = [this](http::server::conn_id c, mcp::http::response r) {
    if (r.stream) {
      if (_http->start_stream(c, "text/event-stream")) _http->write(c, http::sse_comment("weft mcp stream"));
      return;
    }
    _http->respond(c, r.status, r.content_type.empty() ? "text/plain" : r.content_type, r.body, r.headers);
  };
  _transport->write = [this](http::server::conn_id c, std::string bytes) { _http->write(c, bytes); };
  _transport->close = [this](http::server::conn_id c) { _http->close(c); };
  _http->on_request = [this](http::server::conn_id c, const http::request& r) {
    mcp::http::request q{r.method, r.path, r.headers, r.body};
    _transport->handle(c, q);
  };
  _http->on_close = [this](http::server::conn_id c) { _transport->closed(c); };
  auto host = where->host.find(':') != std::string::npos ? "[" + where->host + "]" : where->host;
  _log.info("MCP over Streamable HTTP on http://{}:{}/mcp ({})", host, _http->port(),
            s.require_token ? "Bearer token in " + _o.token_file : std::string("no token"));
  if (!_o.port_file.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(_o.port_file).parent_path(), ec);
    if (auto w = write_file_atomic(_o.port_file, std::to_string(_http->port()) + "\n", 0644); !w)
      _log.warning("Failed to write the port file '{}': {}, ignoring", _o.port_file, w.err().message);
  }
  return true;
}

std::chrono::milliseconds mcp_service::tick() {
  auto now = clock::now();
  auto next = now + 1s;
  // Deadlines of bus requests.
  std::vector<std::uint64_t> expired;
  for (auto& [id, p] : _pending) {
    if (now >= p.deadline) expired.push_back(id);
    else next = std::min(next, p.deadline);
  }
  for (auto id : expired) {
    auto p = std::move(_pending[id]);
    _pending.erase(id);
    _bus.forget(id);
    if (!p.ping_session.empty()) close_stdio(p.ping_session, "its weftctl did not answer a ping", false);
    else if (p.list) on_listed(p.proc, nullptr);
    else p.reply(call_failure(p.tool, bus::make(bus::error_code::timeout, "no answer from the tool process")));
  }
  // Tool processes not known yet: ask again after their backoff.
  for (std::size_t i = 0; i < _procs.size(); ++i) {
    auto& p = _procs[i];
    if (p.known || p.listing || p.next_try == clock::time_point::max()) continue;
    if (now >= p.next_try) list(i);
    else next = std::min(next, p.next_try);
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(next - now) + 1ms;
}

int mcp_service::run(int signal_fd) {
  if (!_o.events_endpoint.empty()) {
    auto ev = ipc::event_subscriber::connect(
        _ctx, _o.events_endpoint,
        {std::string(bus::peer_changed::type_name), std::string(tool::tools_changed::type_name)});
    if (ev) _events = std::move(*ev);
    else _log.warning("Failed to subscribe to bus events: {}; tool changes are noticed only on retries",
                      ev.err().message);
  }
  if (auto h = start_http(); !h) {
    // A busy port must not take the stdio relay down with it.
    _log.error("{}; serving MCP over stdio only (weftctl mcp serve)", h.err().message);
  }
  for (std::size_t i = 0; i < _procs.size(); ++i) list(i);
  (void)_notify.ready();
  _log.info("weft's MCP server for agent '{}' is ready ({} tool process(es))", _o.agent, _procs.size());
  auto next_keepalive = clock::now() + keepalive_interval;
  while (!_stopping) {
    // tick() wakes the loop at least once a second: the HTTP server's deadlines are timers
    // of its loop, run by run_once below.
    auto wait = std::min(_notify.beat_if_due(), tick());
    std::vector<zmq::pollitem_t> items = {{_bus.socket().handle(), 0, ZMQ_POLLIN, 0},
                                          {_bus.monitor_socket().handle(), 0, ZMQ_POLLIN, 0},
                                          {nullptr, signal_fd, ZMQ_POLLIN, 0},
                                          {_events ? _events->socket().handle() : nullptr, _events ? 0 : -1,
                                           static_cast<short>(_events ? ZMQ_POLLIN : 0), 0},
                                          {nullptr, _http_loop ? _http_loop->fd() : -1,
                                           static_cast<short>(_http_loop ? ZMQ_POLLIN : 0), 0}};
    zmq::poll(items.data(), items.size(), std::max(wait, 0ms));
    if (items[2].revents & ZMQ_POLLIN) {
      signalfd_siginfo si;
      while (::read(signal_fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) _stopping = true;
    }
    _bus.process_input();
    while (auto m = _bus.next(0ms)) dispatch(*m);
    if (_events)
      for (int n = 0; n < 256; ++n) {
        auto e = _events->next(0ms);
        if (!e) break;
        on_event(e->second);
      }
    if (_http_loop) _http_loop->run_once(0ms);
    if (auto now = clock::now(); now >= next_keepalive) {
      next_keepalive = now + keepalive_interval;
      if (_transport) _transport->keep_alive();
    }
    check_stdio_peers();
  }
  _log.info("Stopping");
  (void)_notify.stopping();
  // 2026-07-28 subscriptions get their final result, so clients see an orderly end.
  if (_transport) _transport->end_listens();
  std::vector<std::string> all;
  for (auto& [sid, s] : _stdio) {
    s.srv->end_listens();
    all.push_back(sid);
  }
  for (auto& sid : all) close_stdio(sid, "weft's MCP server is stopping", true);
  _bus.close(500ms);
  return 0;
}

}  // namespace weft::mcpsrv
