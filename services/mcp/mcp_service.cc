#include "services/mcp/mcp_service.hh"

#include <algorithm>
#include <filesystem>

#include <fmt/ranges.h>

#include <weft/base/io.hh>
#include <weft/http/sse.hh>
#include <weft/http/token.hh>
#include <weft/ipc/address.hh>
#include <weft/service/policy.hh>

#include "proto/bus_v1.hh"
#include "services/mcp/mapping.hh"

namespace weft::mcpsrv {

namespace tool = proto::tool_v1;
namespace bus = proto::bus_v1;
namespace mv = proto::mcp_v1;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {
constexpr auto keepalive_interval = 15s;
constexpr auto stdio_ping_timeout = 10s;
constexpr auto max_backoff = 30s;
}  // namespace

mcp_service::mcp_service(service::runtime& rt, mcp_options o)
    : _rt(rt), _o(std::move(o)), _log(log::get("mcp")), _skills(_o.skill_dirs) {
  for (auto& a : _o.tool_processes) _procs.push_back(proc{a});
  _rt.on<mv::open>([this](const mv::open& o, const ipc::message& m) { return on_open(o, m.env.from); });
  _rt.on_event<mv::frame>([this](const mv::frame& f, const ipc::message& m) { on_frame(f, m.env.from); });
  _rt.on_event<mv::close>([this](const mv::close& c, const ipc::message& m) {
    auto it = _stdio.find(c.session);
    if (it == _stdio.end() || it->second.peer != m.env.from) return;
    close_stdio(c.session, c.reason.empty() ? "closed by the client" : c.reason, false);
  });
  _rt.on_event<bus::peer_changed>([this](const bus::peer_changed& e, const ipc::message& m) {
    if (m.env.from == "bus") on_peer_changed(e.address, e.joined);
  });
  // The sender of ToolsChanged is stamped by the bus: it names the tool process.
  _rt.on_event<tool::tools_changed>([this](const tool::tools_changed&, const ipc::message& m) {
    for (std::size_t i = 0; i < _procs.size(); ++i)
      if (_procs[i].address == m.env.from) list(i);
  });
  _rt.on_stop([this] {
    _stopping = true;
    _log.info("Stopping: {} session(s), {} tool call(s) in flight", held(), _tool_calls);
    // 2026-07-28 subscriptions get their final result, so clients see an orderly end.
    if (_transport) _transport->end_listens();
    for (auto& [sid, s] : _stdio) s.srv->end_listens();
  });
  // The answers of tool calls in flight still reach their clients; then the stdio sessions
  // are closed while the bus can still carry the Close.
  _rt.drain_until([this] {
    if (_tool_calls > 0) return false;
    std::vector<std::string> all;
    for (auto& [sid, s] : _stdio) all.push_back(sid);
    for (auto& sid : all) close_stdio(sid, "weft's MCP server is stopping", true);
    return true;
  });
}

mcp_service::~mcp_service() {
  for (auto& p : _procs)
    if (p.retry) _rt.loop().cancel(p.retry);
}

void mcp_service::start() {
  if (auto s = _rt.subscribe(tool::tools_changed::type_name); !s)
    _log.warning("Failed to subscribe to tool changes: {}; new tools show after a tool process restarts",
                 s.err().message);
  if (auto h = start_http(); !h) {
    // A busy port must not take the stdio relay down with it.
    _log.error("{}; serving MCP over stdio only (weftctl mcp serve)", h.err().message);
  }
  std::vector<std::string> warnings;
  (void)_skills.refresh(warnings);
  for (auto& w : warnings) _log.warning("{}", w);
  for (std::size_t i = 0; i < _procs.size(); ++i) list(i);
  auto& loop = _rt.loop();
  loop.every(std::clamp<std::chrono::milliseconds>(_o.stdio_ping_after / 3, 50ms, 5s), [this] { check_stdio_peers(); });
  loop.every(_o.skill_scan, [this] {
    if (held() > 0 || (_transport && _transport->listen_streams() > 0)) refresh_skills();
  });
  if (_transport) {
    loop.every(keepalive_interval, [this] { _transport->keep_alive(); });
    loop.every(std::clamp<std::chrono::milliseconds>(_o.http_idle / 4, 10ms, 60s), [this] {
      if (auto n = _transport->expire_idle(clock::now()))
        _log.info("Ended {} HTTP session(s) idle for {} s", n, _o.http_idle.count() / 1000);
    });
  }
  _log.info("weft's MCP server for agent '{}' is ready ({} tool process(es), at most {} sessions)", _o.agent,
            _procs.size(), _o.settings.max_sessions);
}

mcp::server::options mcp_service::server_options() const {
  mcp::server::options so;
  so.name = "weft";
  so.version = _o.version;
  so.title = fmt::format("weft (agent {})", _o.agent);
  so.instructions = fmt::format(
      "Tools of weft agent '{}' (files in its workspace, shell, web, …) and its skills as prompts and resources "
      "(weft://skills/<name>). Tool calls are checked by weft's policy for this agent.",
      _o.agent);
  so.list_changes = true;
  so.resource_updates = true;
  so.logging = true;
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
  if (p.retry) _rt.loop().cancel(std::exchange(p.retry, 0));
  p.listing = true;
  p.again = false;
  // No retries of an absent process here: a tools/list waits for this answer, and
  // PeerChanged (or the backoff) asks again when the process is there.
  _rt.call(p.address, tool::list_tools{}, {.timeout = _o.list_timeout, .retry = false},
           [this, i](result<ipc::message> r) { on_listed(i, std::move(r)); });
}

void mcp_service::on_listed(std::size_t i, result<ipc::message> answer) {
  auto& p = _procs[i];
  p.listing = false;
  std::optional<error> err;
  if (!answer) {
    err = answer.err();
  } else if (auto t = answer->as<tool::tools>(); !t) {
    err = t.err();
  } else {
    bool was_known = p.known;
    p.tools = std::move(t->tools);
    p.known = true;
    p.backoff = 500ms;
    if (!was_known) tell(log::level::info, fmt::format("'{}' serves {} tool(s)", p.address, p.tools.size()));
  }
  if (err) {
    // Absent (NoSuchAddress) or failing: nothing from it until it answers; PeerChanged or
    // the backoff asks again.
    if (p.known) tell(log::level::warning, fmt::format("'{}' no longer answers ListTools: {}", p.address, err->message));
    _log.debug("Failed to list the tools of '{}': {}", p.address, err->to_string());
    p.tools.clear();
    p.known = false;
    if (!p.gone && !p.again) {
      p.retry = _rt.loop().after(p.backoff, [this, i] {
        _procs[i].retry = 0;
        list(i);
      });
      p.backoff = std::min<std::chrono::milliseconds>(p.backoff * 2, max_backoff);
    }
  }
  bool force = !err && std::exchange(p.rejoined, false);
  if (p.again) list(i);
  rebuild(force);
  if (!discovering()) {
    auto waiting = std::exchange(_waiting, {});
    for (auto& f : waiting) f();
  }
}

void mcp_service::on_peer_changed(const std::string& address, bool joined) {
  for (std::size_t i = 0; i < _procs.size(); ++i) {
    auto& p = _procs[i];
    if (p.address != address) continue;
    p.gone = !joined;
    if (joined) {
      // A restart: the bus replaces the old connection without a 'left' event.
      p.backoff = 500ms;
      p.rejoined = true;
      list(i);
    } else {
      if (p.retry) _rt.loop().cancel(std::exchange(p.retry, 0));
      if (p.known) tell(log::level::info, fmt::format("'{}' left the bus", p.address));
      p.tools.clear();
      p.known = false;
      rebuild();
    }
  }
  if (!joined) {
    std::vector<std::string> gone;
    for (auto& [sid, s] : _stdio)
      if (s.peer == address) gone.push_back(sid);
    for (auto& sid : gone) close_stdio(sid, "its weftctl left the bus", false);
  }
}

void mcp_service::rebuild(bool force) {
  std::map<std::string, offered_tool> next;
  service::tool_policy mine;
  mine.allow = _o.settings.allow;
  mine.deny = _o.settings.deny;
  for (std::size_t i = 0; i < _procs.size(); ++i)
    for (auto& t : _procs[i].tools) {
      if (next.count(t.name)) continue;  // the first process (family order) wins a clash
      if (!service::tool_allowed(_o.agent_policy, t.name) || !service::tool_allowed(mine, t.name)) continue;
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
  auto n = each_session([](mcp::server& s) { return s.notify_tools_changed(); });
  tell(log::level::info, fmt::format("The offered tools changed ({} now); told {} session(s)", _offered.size(), n));
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
    c.meta = call_meta(params);  // a progress token or trace id goes on to an MCP tool
    auto address = ipc::addr::tool_method(_procs[it->second.proc].address, name);
    _log.debug("tools/call {} → {} ({})", name, address, c.call_id);
    ++_tool_calls;
    // A tool process that restarts meanwhile gets the call again (the runtime resends it).
    _rt.call(address, c, {.timeout = timeout + 5s, .retry = true},
             [this, name, reply](result<ipc::message> r) {
               --_tool_calls;
               if (!r) return reply(call_failure(name, r.err()));
               auto res = r->as<tool::result>();
               if (!res) return reply(call_failure(name, res.err()));
               reply(call_result(*res));
             });
  });
}

mcp::handlers mcp_service::make_handlers() {
  mcp::handlers h;
  h.list_tools = [this](const json&, mcp::reply_fn r) { list_tools(std::move(r)); };
  h.call_tool = [this](const json& p, mcp::reply_fn r) { call_tool(p, std::move(r)); };
  // Each answer looks at the folders first, so what it says and what sessions hear agree.
  h.list_resources = [this](const json&, mcp::reply_fn r) {
    refresh_skills();
    r(_skills.list_resources());
  };
  h.list_resource_templates = [this](const json&, mcp::reply_fn r) { r(_skills.resource_templates()); };
  h.read_resource = [this](const json& p, mcp::reply_fn r) {
    refresh_skills();
    r(_skills.read_resource(p["uri"].get<std::string>()));
  };
  h.list_prompts = [this](const json&, mcp::reply_fn r) {
    refresh_skills();
    r(_skills.list_prompts());
  };
  h.get_prompt = [this](const json& p, mcp::reply_fn r) {
    refresh_skills();
    r(_skills.get_prompt(p["name"].get<std::string>(), p["arguments"]));
  };
  h.complete = [this](const json& p, mcp::reply_fn r) {
    refresh_skills();
    r(_skills.complete(p));
  };
  return h;
}

// --- skills ---------------------------------------------------------------------------------

void mcp_service::refresh_skills() {
  std::vector<std::string> warnings;
  auto c = _skills.refresh(warnings);
  for (auto& w : warnings) _log.warning("{}", w);
  if (!c.any()) return;
  std::size_t told = 0;
  if (c.lists) {
    told += each_session([](mcp::server& s) {
      bool a = s.notify_list_changed(mcp::list_kind::resources);
      bool b = s.notify_list_changed(mcp::list_kind::prompts);
      return a || b;
    });
  }
  for (auto& uri : c.updated) told += each_session([&](mcp::server& s) { return s.notify_resource_updated(uri); });
  tell(log::level::info, fmt::format("The skills changed on disk ({} now{}{}); told {} session(s)", _skills.skills().size(),
                                     c.updated.empty() ? "" : ", updated: ",
                                     fmt::join(c.updated, ", "), told));
}

// --- sessions of both transports ------------------------------------------------------------

std::size_t mcp_service::held() const { return _stdio.size() + (_transport ? _transport->sessions() : 0); }

bool mcp_service::make_room() {
  if (_stopping) return false;
  while (held() >= _o.settings.max_sessions) {
    auto now = clock::now();
    std::optional<mcp::http::transport::idle_session> h;
    if (_transport) h = _transport->least_recently_used_idle();
    auto s = _stdio.end();
    for (auto it = _stdio.begin(); it != _stdio.end(); ++it) {
      auto& x = it->second;
      bool idle = x.srv->in_flight() == 0 && x.srv->listens() == 0 && now - x.used >= _o.stdio_idle;
      if (idle && (s == _stdio.end() || x.used < s->second.used)) s = it;
    }
    if (!h && s == _stdio.end()) return false;
    if (h && (s == _stdio.end() || h->used <= s->second.used)) {
      _log.info("HTTP session '{}' ended: idle, and a new session needed its place ([mcp] max_sessions = {})",
                h->id.substr(0, 8), _o.settings.max_sessions);
      _transport->end_session(h->id, "idle, and a new session needed its place");
    } else {
      close_stdio(s->first, "idle, and a new session needed its place", true);
    }
  }
  return true;
}

std::size_t mcp_service::each_session(const std::function<bool(mcp::server&)>& fn) {
  std::size_t n = 0;
  for (auto& [sid, s] : _stdio) n += fn(*s.srv) ? 1 : 0;
  if (_transport) n += _transport->notify(fn);
  return n;
}

void mcp_service::tell(log::level l, const std::string& text) {
  if (_log.enabled(l)) _log.write(l, text);
  each_session([&](mcp::server& s) { return s.log(l, "mcp", text); });
}

// --- the stdio relay over the bus -----------------------------------------------------------

result<mv::opened> mcp_service::on_open(const mv::open& o, const std::string& from) {
  if (!ipc::addr::beneath(from, "ctl"))
    return mv::make(mv::error_code::denied, "Only weftctl (ctl/*) may open MCP sessions, not '{}'", from);
  if (_stopping) return mv::make(mv::error_code::failed, "weft's MCP server is stopping");
  if (!make_room())
    return mv::make(mv::error_code::too_many_sessions,
                    "weft's MCP server holds its maximum of {} sessions ([mcp] max_sessions), none of them idle: each "
                    "has a request in flight or an open stream, or is a stdio session used in the last {} minutes",
                    _o.settings.max_sessions, _o.stdio_idle.count() / 60000);
  auto sid = fmt::format("s-{}-{}", ++_next_session, http::random_hex(4));
  stdio_session s;
  s.peer = from;
  s.used = s.heard = clock::now();
  s.srv = std::make_unique<mcp::server>(server_options(), make_handlers(),
                                        [this, sid](std::string line) { send_frame(sid, std::move(line)); });
  _stdio.emplace(sid, std::move(s));
  _log.info("stdio session '{}' opened by '{}' ({})", sid, from, o.client);
  return mv::opened{sid};
}

void mcp_service::on_frame(const mv::frame& f, const std::string& from) {
  auto it = _stdio.find(f.session);
  if (it == _stdio.end() || it->second.peer != from) {
    (void)_rt.bus().notify(from, mv::close{f.session, "no such session (it was closed, or the server restarted)"});
    return;
  }
  it->second.used = it->second.heard = clock::now();
  if (auto s = it->second.srv->receive(f.line); !s) _log.debug("stdio session '{}': {}", f.session, s.err().message);
}

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
  if (auto s = _rt.bus().notify(it->second.peer, mv::frame{sid, std::move(line)}); !s)
    _log.warning("Failed to send a frame to '{}': {}", it->second.peer, s.err().message);
}

void mcp_service::close_stdio(const std::string& sid, const std::string& reason, bool tell_peer) {
  auto it = _stdio.find(sid);
  if (it == _stdio.end()) return;
  if (tell_peer) (void)_rt.bus().notify(it->second.peer, mv::close{sid, reason});
  if (it->second.ping) _rt.forget(it->second.ping);
  _log.info("stdio session '{}' of '{}' closed: {}", sid, it->second.peer, reason);
  _stdio.erase(it);
}

void mcp_service::check_stdio_peers() {
  auto now = clock::now();
  for (auto& [sid, s] : _stdio) {
    if (s.ping || now - s.heard < _o.stdio_ping_after) continue;
    // Not retried: a weftctl that is not on the bus is gone.
    s.ping = _rt.call(s.peer, bus::ping{}, {.timeout = stdio_ping_timeout, .retry = false},
                      [this, sid = sid](result<ipc::message> r) {
                        auto it = _stdio.find(sid);
                        if (it == _stdio.end()) return;
                        it->second.ping = 0;
                        if (!r) return close_stdio(sid, "its weftctl is gone: " + r.err().message, false);
                        it->second.heard = clock::now();
                      });
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
  to.idle_expiry = _o.http_idle;
  to.session = server_options();
  if (s.require_token) {
    auto t = http::ensure_token(_o.token_file);
    if (!t) return t.take_error();
    to.token = *t;
  }
  http::server_options so;
  so.lim.max_body_bytes = to.max_body_bytes + 64 * 1024;  // slightly over: the transport answers 413 in JSON-RPC
  so.lim.max_header_bytes = 32 * 1024;
  auto srv = http::server::listen(_rt.loop(), *where, so, "mcp");
  if (!srv) return srv.take_error();
  _http = std::move(*srv);
  _transport = std::make_unique<mcp::http::transport>(std::move(to));
  _transport->make_handlers = [this](const std::string&) { return make_handlers(); };
  _transport->admit = [this] { return make_room(); };
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
    if (auto w = write_file_volatile(_o.port_file, std::to_string(_http->port()) + "\n", 0644); !w)
      _log.warning("Failed to write the port file '{}': {}, ignoring", _o.port_file, w.err().message);
  }
  return true;
}

}  // namespace weft::mcpsrv
