#include "services/tool-mcp/host.hh"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <weft/ipc/builtin.hh>
#include <weft/service/main.hh>

namespace weft::mcp_host {

namespace bus = weft::proto::bus_v1;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

namespace {
/// The era a connect asks for: the configured one, else the one the last connect settled.
mcp::client::mode connect_mode(const std::string& era, std::optional<mcp::client::mode> known) {
  if (era == "legacy") return mcp::client::mode::legacy;
  if (era == "modern") return mcp::client::mode::modern;
  return known.value_or(mcp::client::mode::automatic);
}

/// What a connect in mode `m` waits for, for the connect deadline's message.
const char* hello_method(mcp::client::mode m) {
  switch (m) {
    case mcp::client::mode::modern: return "server/discover";
    case mcp::client::mode::legacy: return "initialize";
    default: return "server/discover or initialize";
  }
}
}  // namespace

struct host::server {
  service::mcp_server_entry entry;
  std::string state = "connecting";  // connecting, ready, backoff, disabled
  std::unique_ptr<transport> tr;
  std::unique_ptr<mcp::client> cl;
  std::uint64_t gen = 0;
  std::optional<std::string> failure;  // teardown at the next tick
  bool hello_done = false;
  bool listing = false, relist_again = false;
  bool ping_in_flight = false;
  bool healthy_reset = false;
  bool listening = false;           // a 2026-07-28 subscriptions/listen is open
  clock::time_point listen_at{};    // when to open it (again); max: never this session
  clock::time_point listen_opened{};
  // A listen the server ends within 10 s is opened again after 1 s, doubling to 60 s; one
  // that lasted longer (a proxy's idle timeout, say) resets the delay.
  milliseconds listen_delay{1s};
  int listen_quick_ends = 0;
  // The era a connect settled, used for the next attempt without probing again; forgotten
  // when an attempt fails before it is ready (protocols.md §1.9: re-probe after failures).
  std::optional<mcp::client::mode> known_era;
  bool over_budget = false;  // its tools do not fit its share of ListTools: not offered
  std::size_t spec_bytes = 0;
  clock::time_point connect_deadline{}, retry_at{}, ready_since{}, last_rx{}, ping_deadline{};
  backoff bo;
  std::uint32_t restarts = 0;
  bool started_once = false;
  std::string last_error, protocol_version, server_info, era;
  std::vector<tool::tool_spec> specs;           // published while ready
  std::map<std::string, std::string> names;     // bus name → MCP name (kept while reconnecting)

  std::string transport_name() const { return entry.url.empty() ? "stdio" : "http"; }
  std::string target() const {
    if (!entry.url.empty()) return entry.url;
    std::string t = entry.command;
    for (auto& a : entry.args) t += " " + a;
    return t;
  }
  /// For logs: the program without its arguments (they may hold keys), or the URL without
  /// userinfo, query and fragment.
  std::string log_target() const { return entry.url.empty() ? entry.command : redact_url(entry.url); }
};

struct host::call {
  service::responder responder;
  std::string server, tool;
  clock::time_point deadline;
  milliseconds timeout;
  std::uint64_t gen = 0;     // the server's session the request went to
  std::int64_t rpc_id = 0;   // its JSON-RPC id there (for cancel)
  std::string progress_id;   // the Call's: the server's notifications/progress go on as Tool.v1 Progress
  std::string progress_token;  // the progressToken weft gave the request ("weft-<seq>")
};

host::host(service::runtime& rt, host_options o)
    : _rt(rt), _loop(rt.loop()), _o(std::move(o)), _log(log::get("tool-mcp")), _rng(std::random_device{}()) {
  if (!_o.pids_file.empty())
    if (auto n = kill_leftover_groups(_o.pids_file))
      _log.warning("killed {} MCP server process group(s) left behind by a previous weft-tool-mcp (from '{}')", n,
                   _o.pids_file);
  _rt.on<tool::list_tools>(
      [this](const tool::list_tools&, const ipc::message&) -> result<tool::tools> { return list_tools(); });
  _rt.on<mv::list_servers>([this](const mv::list_servers&, const ipc::message& m) -> result<mv::servers> {
    // Status only, but it shows command lines and URLs: for weftd and weftctl.
    if (!ipc::is_admin(m.env.from))
      return mv::make(mv::error_code::denied, "only weftd and ctl/* may list MCP servers, not '{}'", m.env.from);
    return list_servers();
  });
  _rt.on<tool::call>([this](tool::call c, service::responder r) { on_call(std::move(c), std::move(r)); });
  _rt.on_stop([this] { begin_stop(); });
  // Children get stdin closed, then TERM, then KILL: a few seconds at most.
  _rt.drain_until([this] {
    return std::all_of(_retiring.begin(), _retiring.end(), [](auto& t) { return t->finished(); });
  });
}

result<http::client*> host::http_client() {
  if (!_http) {
    http::client_options o;
    o.user_agent = "weft-tool-mcp";
    o.timeout = std::chrono::milliseconds(0);  // the host keeps its own deadlines
    auto c = http::client::create(_loop, std::move(o));
    if (!c) return c.take_error();
    _http = std::move(*c);
  }
  return _http.get();
}

void host::poke() {
  if (_tick_pending) return;
  _tick_pending = true;
  _loop.defer([this, alive = _alive] {
    if (!*alive) return;
    _tick_pending = false;
    run_tick();
  });
}

void host::run_tick() {
  auto now = clock::now();
  tick(now);
  record_groups();
  _loop.cancel(std::exchange(_timer, 0));
  if (auto at = next_wake(clock::now()))
    _timer = _loop.at(*at, [this] {
      _timer = 0;
      run_tick();
    });
}

void host::record_groups() {
  if (_o.pids_file.empty()) return;
  std::vector<group_record> now;
  auto add = [&](const transport& t) {
    if (t.pid() <= 0) return;
    for (auto& r : _recorded)
      if (r.pgid == t.pid()) return now.push_back(r);
    if (auto st = process_start_time(t.pid())) now.push_back({t.pid(), *st});
  };
  for (auto& [name, s] : _servers)
    if (s->tr) add(*s->tr);
  for (auto& t : _retiring) add(*t);
  std::sort(now.begin(), now.end(), [](auto& a, auto& b) { return a.pgid < b.pgid; });
  if (now == _recorded) return;
  if (auto w = write_groups(_o.pids_file, now); !w) _log.warning("{}", w.err().message);
  _recorded = std::move(now);
}

host::~host() {
  *_alive = false;
  _loop.cancel(_timer);
  stop_all();
}

namespace {

service::mcp_server_entry comparable(service::mcp_server_entry e) {
  e.where.clear();
  return e;
}

status make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) return {};
  return fail(errc::io, "Failed to create '{}': {}", path, std::strerror(errno));
}

}  // namespace

void host::configure(const std::map<std::string, service::mcp_server_entry>& entries) {
  auto now = clock::now();
  std::vector<std::string> added, removed, changed;
  for (auto it = _servers.begin(); it != _servers.end();) {
    if (!entries.count(it->first)) {
      removed.push_back(it->first);
      teardown(*it->second, "removed from the config", now, /*graceful=*/true);
      it = _servers.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [name, e] : entries) {
    auto it = _servers.find(name);
    if (it != _servers.end()) {
      auto& s = *it->second;
      if (comparable(s.entry) == comparable(e)) {
        s.entry.where = e.where;
        continue;
      }
      changed.push_back(name);
      if (s.tr || s.cl) teardown(s, "its config changed", now, /*graceful=*/true);
      s.entry = e;
      s.known_era.reset();  // a new command or URL may be another server
      s.bo.reset();
      s.names.clear();
      s.last_error.clear();
      if (e.enabled) connect(s, now);
      else s.state = "disabled";
      continue;
    }
    added.push_back(name);
    auto s = std::make_unique<server>();
    s->entry = e;
    auto& ref = *s;
    _servers.emplace(name, std::move(s));
    if (e.enabled) connect(ref, now);
    else ref.state = "disabled";
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (auto& x : v) out += (out.empty() ? "" : ", ") + x;
    return out.empty() ? std::string("none") : out;
  };
  _log.info("MCP servers: {} configured; added: {}; removed: {}; changed: {}", entries.size(), join(added),
            join(removed), join(changed));
  apply_budget();  // the share per server depends on how many there are
  publish_if_changed();
  poke();
}

void host::connect(server& s, clock::time_point now) {
  if (s.started_once) ++s.restarts;
  s.started_once = true;
  ++s.gen;
  s.state = "connecting";
  s.failure.reset();
  s.hello_done = s.listing = s.relist_again = s.ping_in_flight = s.healthy_reset = s.listening = false;
  s.listen_at = clock::time_point::max();
  s.listen_delay = 1s;
  s.listen_quick_ends = 0;
  s.connect_deadline = now + milliseconds(s.entry.connect_timeout_ms);
  s.last_rx = now;
  auto gen = s.gen;
  auto* sp = &s;
  transport_events ev;
  ev.line = [this, sp, gen](std::string line) {
    if (sp->gen != gen || !sp->cl) return;
    sp->last_rx = clock::now();
    if (auto r = sp->cl->receive(line); !r)
      _log.debug("MCP server '{}' sent something that is not JSON-RPC: {}", sp->entry.name, r.err().message);
    poke();  // an answer may have settled a connect, a listing, a ping or a call
  };
  ev.closed = [this, sp, gen](std::string reason) {
    if (sp->gen == gen && !sp->failure) sp->failure = std::move(reason);
    poke();
  };
  result<std::unique_ptr<transport>> t = [&]() -> result<std::unique_ptr<transport>> {
    if (!s.entry.url.empty()) {
      auto c = http_client();
      if (!c) return c.take_error();
      return start_http(_loop, **c, s.entry, std::move(ev));
    }
    std::string cwd = s.entry.cwd;
    if (cwd.empty()) {
      auto base = _o.home + "/mcp";
      if (auto d = make_dir(_o.home); !d) return d.take_error();
      if (auto d = make_dir(base); !d) return d.take_error();
      cwd = base + "/" + s.entry.name;
      if (auto d = make_dir(cwd); !d) return d.take_error();
    }
    return start_stdio(_loop, s.entry, cwd, std::move(ev));
  }();
  if (!t) {
    s.failure = t.err().message;
    return;
  }
  s.tr = std::move(*t);
  mcp::client::options co;
  co.name = "weft";
  co.version = std::string(service::version());  // one version string everywhere
  co.timeout = 3600s;  // the host keeps its own deadlines (connect, ping, each call)
  s.cl = std::make_unique<mcp::client>(co, [sp](std::string line) {
    if (sp->tr) sp->tr->send(std::move(line));
  });
  s.cl->on_tools_changed([this, sp, gen] {
    if (sp->gen != gen) return;
    _log.info("MCP server '{}' says its tools changed", sp->entry.name);
    if (sp->listing) sp->relist_again = true;  // the listing in flight may predate the change
    else if (sp->state == "ready") relist(*sp, clock::now());
  });
  s.cl->on_notification([this, sp, gen](const mcp::notification& n) {
    _log.debug("MCP server '{}' notification {}", sp->entry.name, n.method);
    if (n.method == "notifications/progress" && sp->gen == gen) on_progress(*sp, n.params);
  });
  auto mode = connect_mode(s.entry.era, s.known_era);
  // A legacy server may ignore the probe instead of answering -32601: after a third of the
  // connect time (at most 5 s) initialize goes beside the probe, and the first answer wins.
  auto probe = std::min<milliseconds>(5s, milliseconds(s.entry.connect_timeout_ms / 3));
  s.cl->connect(now, mode, probe, [this, sp, gen, mode](result<mcp::server_hello> h) {
    if (sp->gen != gen) return;
    if (!h) {
      if (!sp->failure)
        sp->failure = fmt::format("{} failed: {}", mode == mcp::client::mode::modern ? "server/discover" : "initialize",
                                  h.err().message);
      return;
    }
    sp->hello_done = true;
    sp->era = std::string(mcp::to_string(h->era));
    sp->protocol_version = h->protocol_version;
    sp->server_info = h->version.empty() ? h->name : h->name + " " + h->version;
    sp->known_era = h->era == mcp::era::modern ? mcp::client::mode::modern : mcp::client::mode::legacy;
    // 2026-07-28 servers send list_changed only to a subscriptions/listen request.
    bool changes = false;
    if (auto t = h->capabilities.find("tools"); t != h->capabilities.end() && t->is_object())
      if (auto c = t->find("listChanged"); c != t->end()) changes = *c == true;
    if (h->era == mcp::era::modern && changes) open_listen(*sp, clock::now(), /*again=*/false);
    sp->listing = true;
    sp->cl->list_tools(clock::now(), [this, sp, gen](result<std::vector<mcp::tool>> tools) {
      if (sp->gen != gen) return;
      sp->listing = false;
      if (!tools) {
        if (!sp->failure) sp->failure = fmt::format("tools/list failed: {}", tools.err().message);
        return;
      }
      sp->last_error.clear();
      set_tools(*sp, std::move(*tools));
      sp->state = "ready";
      sp->ready_since = clock::now();
      _log.info("MCP server '{}' ready: {} ({}), {} tool(s)", sp->entry.name, sp->server_info, sp->protocol_version,
                sp->specs.size());
      if (sp->relist_again) relist(*sp, clock::now());
      publish_if_changed();
    }, milliseconds(sp->entry.connect_timeout_ms));
  });
}

void host::open_listen(server& s, clock::time_point now, bool again) {
  s.listening = true;
  s.listen_at = clock::time_point::max();
  s.listen_opened = now;
  auto gen = s.gen;
  auto* sp = &s;
  s.cl->listen_tools(now, [this, sp, gen](status st) {
    if (sp->gen != gen) return;
    sp->listening = false;
    if (!st && st.err().code == mcp::code_name(mcp::code::method_not_found)) {
      _log.warning("MCP server '{}' offers tool list changes but no subscriptions/listen: its tools are listed "
                   "once per connection",
                   sp->entry.name);
      return;
    }
    // Ended by the server or broken off: open it again shortly, and list again then, since
    // a change in between would have been missed.
    _log.debug("MCP server '{}': subscriptions/listen ended{}", sp->entry.name,
               st ? std::string() : ": " + st.err().message);
    auto t = clock::now();
    if (t - sp->listen_opened >= 10s) {
      sp->listen_delay = 1s;
      sp->listen_quick_ends = 0;
    } else if (++sp->listen_quick_ends == 5) {
      _log.warning("MCP server '{}' keeps ending subscriptions/listen at once{}; tool list changes may be seen "
                   "late (retrying with growing delays up to 60 s)",
                   sp->entry.name, st ? std::string() : ": " + st.err().message);
    }
    sp->listen_at = t + sp->listen_delay;
    sp->listen_delay = std::min<milliseconds>(sp->listen_delay * 2, 60s);
  });
  if (again) relist(s, now);
}

void host::relist(server& s, clock::time_point now) {
  if (s.listing) {
    s.relist_again = true;
    return;
  }
  s.listing = true;
  s.relist_again = false;
  auto gen = s.gen;
  auto* sp = &s;
  s.cl->list_tools(now, [this, sp, gen](result<std::vector<mcp::tool>> tools) {
    if (sp->gen != gen) return;
    sp->listing = false;
    if (!tools) {
      _log.warning("MCP server '{}': re-listing its tools failed: {}; keeping the previous {}", sp->entry.name,
                   tools.err().message, sp->specs.size());
    } else {
      set_tools(*sp, std::move(*tools));
      _log.info("MCP server '{}' re-listed: {} tool(s)", sp->entry.name, sp->specs.size());
    }
    if (sp->relist_again) relist(*sp, clock::now());
    publish_if_changed();
  }, milliseconds(s.entry.connect_timeout_ms));  // a server that never answers does not block later relists
}

void host::set_tools(server& s, std::vector<mcp::tool> tools) {
  std::set<std::string> taken;
  s.specs.clear();
  s.names.clear();
  std::sort(tools.begin(), tools.end(), [](auto& a, auto& b) { return a.name < b.name; });
  for (auto& t : tools) {
    auto name = bus_tool_name(s.entry.name, t.name, taken);
    taken.insert(name);
    tool::tool_spec spec;
    spec.name = name;
    std::string desc = t.description.empty() ? t.title : t.description;
    spec.description = fmt::format("[{}] {}", s.entry.name, desc);
    spec.input_schema = t.input_schema.dump(-1, ' ', false, json::error_handler_t::replace);
    if (!t.output_schema.is_null())
      spec.output_schema = t.output_schema.dump(-1, ' ', false, json::error_handler_t::replace);
    s.names[name] = t.name;
    s.specs.push_back(std::move(spec));
  }
  s.spec_bytes = 0;
  for (auto& t : s.specs)
    s.spec_bytes += t.name.size() + t.description.size() + t.input_schema.size() + t.output_schema.size() + 64;
  apply_budget();
}

std::size_t host::tools_share() const {
  // ListTools answers every server's tools in one bus message: each enabled server gets an
  // equal share of the bus limit, less a margin for the envelope and the encoding.
  std::size_t enabled = 0;
  for (auto& [name, s] : _servers)
    if (s->entry.enabled) ++enabled;
  auto limit = static_cast<std::size_t>(_o.max_message_bytes);
  auto total = limit - std::min(limit, std::max<std::size_t>(64 * 1024, limit / 8));
  return total / std::max<std::size_t>(1, enabled);
}

void host::apply_budget() {
  auto share = tools_share();
  for (auto& [name, sp] : _servers) {
    auto& s = *sp;
    bool over = !s.specs.empty() && s.spec_bytes > share;
    if (over && !s.over_budget) {
      s.last_error = fmt::format(
          "its {} tools take {} bytes, more than its share of {} bytes of one bus message ([bus] max_message_bytes = "
          "{}, shared by every enabled MCP server); none of its tools are offered",
          s.specs.size(), s.spec_bytes, share, _o.max_message_bytes);
      _log.warning("MCP server '{}': {}", s.entry.name, s.last_error);
    } else if (!over && s.over_budget) {
      s.last_error.clear();
    }
    s.over_budget = over;
  }
}

void host::teardown(server& s, std::string reason, clock::time_point now, bool graceful) {
  bool was_ready = s.state == "ready";
  ++s.gen;  // callbacks of this session are stale from here on
  s.failure.reset();
  if (s.state != "ready") s.known_era.reset();  // failed before it was ready: probe again next time
  if (!graceful) {
    s.last_error = reason;
    _log.warning("MCP server '{}' ({}): {}", s.entry.name, s.log_target(), reason);
  } else {
    _log.info("MCP server '{}' disconnecting: {}", s.entry.name, reason);
  }
  if (s.tr) {
    s.tr->shutdown(/*hard=*/!graceful, [this, alive = _alive] {
      if (*alive) poke();  // tick() lets it go
    });
    _retiring.push_back(std::move(s.tr));
  }
  s.specs.clear();
  s.spec_bytes = 0;
  s.over_budget = false;
  s.listing = s.ping_in_flight = false;
  s.state = graceful ? "stopping" : "backoff";
  if (auto cl = std::move(s.cl)) {
    auto why = graceful ? fmt::format("was disconnected: {}", reason) : reason;
    cl->fail_all(error{std::string(errc::domain), std::string(errc::unavailable), why});
  }
  s.state = "backoff";
  s.retry_at = now + s.bo.next(_rng);
  (void)was_ready;
  publish_if_changed();
}

std::string host::state_text(const server& s) const {
  if (s.state == "backoff")
    return fmt::format("MCP server '{}' is reconnecting (last error: {})", s.entry.name,
                       s.last_error.empty() ? "none" : s.last_error);
  if (s.state == "connecting")
    return fmt::format("MCP server '{}' is connecting{}", s.entry.name,
                       s.last_error.empty() ? "" : fmt::format(" (last error: {})", s.last_error));
  if (s.state == "disabled") return fmt::format("MCP server '{}' is disabled in the config", s.entry.name);
  if (s.over_budget) return fmt::format("MCP server '{}' is connected but {}", s.entry.name, s.last_error);
  return fmt::format("MCP server '{}' is {}", s.entry.name, s.state);
}

tool::tools host::list_tools() const {
  tool::tools out;
  out.family = "mcp";
  for (auto& [name, s] : _servers)
    if (s->state == "ready" && !s->over_budget)
      for (auto& t : s->specs) out.tools.push_back(t);
  return out;
}

mv::servers host::list_servers() const {
  mv::servers out;
  auto now = clock::now();
  for (auto& [name, s] : _servers) {
    mv::server_status x;
    x.name = name;
    x.transport = s->transport_name();
    x.target = s->target();
    x.state = s->state;
    x.era = s->era;
    x.protocol_version = s->protocol_version;
    x.server_info = s->server_info;
    x.tool_count = s->state == "ready" && !s->over_budget ? static_cast<std::uint32_t>(s->specs.size()) : 0;
    x.last_error = s->last_error;
    x.restarts = s->restarts;
    if (s->state == "backoff")
      x.retry_in_ms = static_cast<std::uint32_t>(
          std::max<std::int64_t>(0, std::chrono::duration_cast<milliseconds>(s->retry_at - now).count()));
    out.servers.push_back(std::move(x));
  }
  return out;
}

void host::publish_if_changed() {
  if (_stopping) return;
  std::string sig;
  std::uint32_t count = 0;
  for (auto& [name, s] : _servers)
    if (s->state == "ready" && !s->over_budget)
      for (auto& t : s->specs) {
        sig += t.name + '\0' + t.description + '\0' + t.input_schema + '\0' + t.output_schema + '\n';
        ++count;
      }
  if (_published_once && sig == _published_sig) return;
  bool first = !_published_once;
  _published_once = true;
  _published_sig = std::move(sig);
  if (first && count == 0) return;  // nothing to announce yet
  tool::tools_changed ev;
  ev.count = count;
  if (auto p = _rt.bus().publish(ev); !p) _log.warning("Failed to publish ToolsChanged: {}", p.err().message);
  else _log.info("tool set changed: {} tool(s)", count);
}

void host::on_call(tool::call c, service::responder r) {
  std::string_view to = r.request().to;
  const auto& self = _rt.address();
  std::string_view addressed = to.size() > self.size() && to.substr(0, self.size()) == self && to[self.size()] == '/'
                                   ? to.substr(self.size() + 1)
                                   : std::string_view{};
  if (addressed != c.name)
    return r.fail(tool::make(tool::error_code::bad_arguments,
                             "Call names tool '{}' but was sent to '{}'; send it to '{}/{}'", c.name, to, self, c.name));
  server* sp = nullptr;
  std::string real;
  for (auto& [name, s] : _servers) {
    if (!c.name.starts_with(name + "__")) continue;
    if (auto it = s->names.find(c.name); it != s->names.end()) {
      sp = s.get();
      real = it->second;
    } else if (s->state != "ready") {
      sp = s.get();  // tools not known yet: say why
    }
    break;
  }
  if (!sp) return r.fail(tool::make(tool::error_code::no_such_tool, "'{}' has no tool '{}'", self, c.name));
  if (sp->state != "ready" || !sp->cl || sp->over_budget) {
    tool::result out;
    out.is_error = true;
    out.content = state_text(*sp);
    return r.reply(out);
  }
  // Copying or printing a json value recurses: refuse deep nesting before parsing (like
  // libs/mcp does for every received message).
  auto depth = mcp::limits{}.max_depth;
  if (mcp::nesting(c.arguments, depth) > depth)
    return r.fail(tool::make(tool::error_code::bad_arguments,
                             "Failed to call '{}': arguments are nested deeper than {} levels", c.name, depth));
  json args = json::parse(c.arguments.empty() ? std::string_view("{}") : std::string_view(c.arguments), nullptr,
                          /*allow_exceptions=*/false);
  if (args.is_discarded() || !args.is_object())
    return r.fail(tool::make(tool::error_code::bad_arguments, "Failed to call '{}': arguments are not a JSON object",
                             c.name));
  // The caller's request metadata goes to the server as the request's _meta.
  json meta;
  if (c.meta && !c.meta->empty()) {
    if (mcp::nesting(*c.meta, depth) <= depth) meta = json::parse(*c.meta, nullptr, /*allow_exceptions=*/false);
    if (!meta.is_object())
      return r.fail(tool::make(tool::error_code::bad_arguments, "Failed to call '{}': meta is not a JSON object",
                               c.name));
  }
  if (auto n = calls_in_flight(*sp); n >= _o.max_in_flight)
    return r.fail(tool::make(tool::error_code::failed,
                             "Failed to call '{}': MCP server '{}' already has {} requests in flight; try again later",
                             c.name, sp->entry.name, n));
  auto now = clock::now();
  auto timeout = milliseconds(c.timeout_ms ? c.timeout_ms : sp->entry.call_timeout_ms);
  auto seq = _next_call++;
  _log.debug("call '{}' ({}) from '{}' → '{}' tools/call '{}'", c.name, c.call_id, r.from(), sp->entry.name, real);
  // A caller that takes progress gets the server's: weft asks for it with a token of its own
  // (unless the caller's _meta already carries one, which is then the caller's business).
  std::string token;
  if (!c.progress_id.empty() && !(meta.is_object() && meta.contains("progressToken"))) {
    token = fmt::format("weft-{}", seq);
    if (!meta.is_object()) meta = json::object();
    meta["progressToken"] = token;
  }
  _calls.emplace(seq, call{std::move(r), sp->entry.name, c.name, now + timeout, timeout, sp->gen, 0,
                           token.empty() ? std::string() : c.progress_id, token});
  auto id = sp->cl->call_tool(
      now, real, std::move(args), [this, seq](result<mcp::call_result> res) { finish_call(seq, std::move(res)); },
      std::move(meta));
  if (auto it = _calls.find(seq); it != _calls.end()) it->second.rpc_id = id;
  poke();  // its deadline
}

// notifications/progress {progressToken, progress, total?, message?} of a call weft asked it
// for: to the caller as "[progress/total] message".
void host::on_progress(const server& s, const json& params) {
  if (!params.is_object() || !params.contains("progressToken")) return;
  auto& tok = params["progressToken"];
  if (!tok.is_string()) return;
  for (auto& [seq, c] : _calls) {
    if (c.progress_token != tok.get<std::string>() || c.server != s.entry.name || c.gen != s.gen) continue;
    std::string text;
    auto number = [](const json& v) {
      return v.is_number_integer() ? fmt::format("{}", v.get<std::int64_t>()) : fmt::format("{:g}", v.get<double>());
    };
    if (params.contains("progress") && params["progress"].is_number()) {
      text = "[" + number(params["progress"]);
      if (params.contains("total") && params["total"].is_number()) text += "/" + number(params["total"]);
      text += "]";
    }
    if (params.contains("message") && params["message"].is_string())
      text += (text.empty() ? "" : " ") + params["message"].get<std::string>();
    if (text.empty()) return;
    (void)_rt.bus().notify(c.responder.from(), tool::progress{c.progress_id, fmt::format("{}: {}", c.tool, text)});
    return;
  }
}

std::size_t host::calls_in_flight(const server& s) const {
  std::size_t n = 0;
  for (auto& [seq, c] : _calls)
    if (c.server == s.entry.name && c.gen == s.gen) ++n;
  return n;
}

void host::finish_call(std::uint64_t seq, result<mcp::call_result> r) {
  auto it = _calls.find(seq);
  if (it == _calls.end()) return;  // answered already (timed out)
  auto c = std::move(it->second);
  _calls.erase(it);
  tool::result out;
  if (r) {
    out = to_tool_result(*r, _o.max_result);
  } else if (r.err().domain == mcp::domain) {
    out.is_error = true;
    out.content = rpc_error_text(r.err());
  } else {
    out.is_error = true;
    auto s = _servers.find(c.server);
    if (s != _servers.end() && s->second->state == "backoff")
      out.content = fmt::format("{}; '{}' got no answer", state_text(*s->second), c.tool);
    else
      out.content = fmt::format("MCP server '{}' {}", c.server, r.err().message);
  }
  c.responder.reply(out);
}

void host::tick(clock::time_point now) {
  for (auto& [name, sp] : _servers) {
    auto& s = *sp;
    if (s.failure) {
      auto reason = *s.failure;
      teardown(s, reason, now);
      continue;
    }
    if (s.state == "backoff" && now >= s.retry_at && s.entry.enabled) {
      connect(s, now);
      if (s.failure) teardown(s, *s.failure, now);
      continue;
    }
    if (s.state == "connecting" && now >= s.connect_deadline) {
      teardown(s,
               s.hello_done ? fmt::format("did not finish tools/list within {} ms", s.entry.connect_timeout_ms)
                            : fmt::format("did not answer {} within {} ms", hello_method(connect_mode(s.entry.era, s.known_era)),
                                          s.entry.connect_timeout_ms),
               now);
      continue;
    }
    if (s.cl && s.cl->modern() && !s.listening && now >= s.listen_at) open_listen(s, now, /*again=*/true);
    if (s.state == "ready") {
      if (!s.healthy_reset && now - s.ready_since >= _o.healthy_after) {
        s.healthy_reset = true;
        s.bo.reset();
      }
      // A server busy with calls may answer nothing else until they finish (a single-threaded
      // server queues the ping behind a long call): its silence is not a hang. Each call has
      // its own deadline, and an exit or a closed pipe is noticed by the transport.
      bool busy = calls_in_flight(s) > 0;
      if (s.ping_in_flight && now >= s.ping_deadline) {
        if (busy) {
          s.ping_deadline = now + _o.ping_timeout;
        } else {
          teardown(s, fmt::format("did not answer ping within {} ms", _o.ping_timeout.count()), now);
          continue;
        }
      }
      if (!s.ping_in_flight && !busy && now - s.last_rx >= _o.ping_interval) {
        s.ping_in_flight = true;
        s.ping_deadline = now + _o.ping_timeout;
        auto gen = s.gen;
        auto* p = &s;
        s.last_rx = now;  // next ping one interval after this one at the earliest
        s.cl->ping(now, [p, gen](status st) {
          if (p->gen != gen) return;
          p->ping_in_flight = false;
          if (!st && !p->failure && st.err().domain != mcp::domain)
            p->failure = fmt::format("ping failed: {}", st.err().message);
        });
      }
    }
    if (s.cl) s.cl->expire(now);
  }
  // Calls past their own time limit are answered now; a late result is dropped.
  std::vector<std::uint64_t> late;
  for (auto& [seq, c] : _calls)
    if (now >= c.deadline) late.push_back(seq);
  for (auto seq : late) {
    auto c = std::move(_calls[seq]);
    _calls.erase(seq);
    // The server's slot is freed and it is told to stop (an HTTP POST is aborted).
    if (auto s = _servers.find(c.server); s != _servers.end() && s->second->gen == c.gen && s->second->cl && c.rpc_id)
      s->second->cl->cancel(c.rpc_id, fmt::format("weft stopped waiting after {} ms", c.timeout.count()));
    c.responder.fail(tool::make(tool::error_code::timeout, "MCP server '{}' did not answer tools/call '{}' within {} ms",
                                c.server, c.tool, c.timeout.count()));
  }
  std::erase_if(_retiring, [](auto& t) { return t->finished(); });
}

std::optional<clock::time_point> host::next_wake(clock::time_point now) const {
  std::optional<clock::time_point> t;
  auto at = [&](clock::time_point x) { t = t ? std::min(*t, x) : x; };
  for (auto& [name, s] : _servers) {
    if (s->failure) at(now);
    if (s->state == "backoff" && s->entry.enabled) at(s->retry_at);
    if (s->state == "connecting") at(s->connect_deadline);
    if (s->cl && !s->listening && s->listen_at != clock::time_point::max()) at(s->listen_at);
    if (s->state == "ready") {
      if (s->ping_in_flight) at(s->ping_deadline);
      else if (calls_in_flight(*s) == 0) at(s->last_rx + _o.ping_interval);  // busy: no ping (tick)
      if (!s->healthy_reset) at(s->ready_since + _o.healthy_after);
    }
    if (s->cl)
      if (auto d = s->cl->next_deadline()) at(*d);
  }
  for (auto& [seq, c] : _calls) at(c.deadline);
  if (t) t = std::max(*t, now);
  return t;
}

void host::begin_stop() {
  _log.info("'{}' stopping: {} call(s) in flight are answered as failed", _rt.address(), _calls.size());
  stop_servers();
}

void host::stop_servers() {
  _stopping = true;
  auto now = clock::now();
  for (auto& [name, s] : _servers)
    if (s->tr || s->cl) teardown(*s, "weft-tool-mcp is stopping", now, /*graceful=*/true);
  _servers.clear();
  // Answer what is left (teardown failed the sessions' calls already).
  for (auto& [seq, c] : _calls)
    c.responder.fail(tool::make(tool::error_code::failed, "Failed to call '{}': weft-tool-mcp is stopping", c.tool));
  _calls.clear();
  record_groups();
}

void host::stop_all() {
  stop_servers();
  _retiring.clear();  // the destructors KILL whatever the drain left
  _http.reset();
  if (!_o.pids_file.empty()) ::unlink(_o.pids_file.c_str());
}

}  // namespace weft::mcp_host
