#include <weft/mcp/client.hh>

#include <weft/mcp/version.hh>

#include <algorithm>

#include <fmt/ranges.h>

namespace weft::mcp {
namespace {

error malformed(std::string_view what, std::string_view why) {
  return make_error(domain, "InvalidParams", "Failed to read {} result: {}", what, why);
}

std::string str(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

json member(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() ? *it : json();
}

/// The prefix of the `_meta` keys the protocol itself defines.
constexpr std::string_view protocol_meta_prefix = "io.modelcontextprotocol/";

/// data.supported of a -32022 answer (strings only); nullopt when it has none.
std::optional<std::vector<std::string>> supported_versions(const json& data) {
  auto s = data.is_object() ? data.find("supported") : data.end();
  if (s == data.end() || !s->is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (auto& v : *s)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

}  // namespace

result<tool> parse_tool(const json& t) {
  if (!t.is_object() || !t.contains("name") || !t["name"].is_string())
    return malformed("tools/list", "a tool without a string 'name'");
  tool out{str(t, "name"), str(t, "title"), str(t, "description"), member(t, "inputSchema"),
           member(t, "outputSchema"), member(t, "annotations")};
  if (!out.input_schema.is_object())
    return malformed("tools/list", fmt::format("tool '{}' has no object 'inputSchema'", out.name));
  return out;
}

result<call_result> parse_call_result(const json& r) {
  if (!r.is_object()) return malformed("tools/call", "not an object");
  call_result out;
  auto content = r.find("content");
  if (content != r.end()) {
    if (!content->is_array()) return malformed("tools/call", "'content' is not an array");
    for (auto& b : *content) {
      if (!b.is_object() || !b.contains("type") || !b["type"].is_string())
        return malformed("tools/call", "a content block without a string 'type'");
      content_block cb{str(b, "type"), str(b, "text"), str(b, "data"), str(b, "mimeType"), str(b, "uri"), b};
      if (cb.type == "resource") {
        auto res = member(b, "resource");
        if (!res.is_object()) return malformed("tools/call", "a resource block without 'resource'");
        cb.uri = str(res, "uri");
        cb.mime_type = str(res, "mimeType");
        cb.text = str(res, "text");
        cb.data = str(res, "blob");
      }
      out.content.push_back(std::move(cb));
    }
  }
  out.structured = member(r, "structuredContent");
  if (auto e = r.find("isError"); e != r.end()) {
    if (!e->is_boolean()) return malformed("tools/call", "'isError' is not a boolean");
    out.is_error = e->get<bool>();
  }
  return out;
}

client::client(options opt, sender send) : _opt(std::move(opt)), _send(std::move(send)) {}

std::int64_t client::send_request(clock::time_point deadline, std::chrono::milliseconds timeout, std::string method,
                                  json params, std::function<void(result<json>)> done) {
  if (modern()) {
    params = with_meta(std::move(params));
    // MRTR: a server that needs input from the client answers "input_required"; weft
    // declares no client capabilities, so there is nothing it could send back.
    done = [method, done = std::move(done)](result<json> r) {
      if (r && r->is_object() && str(*r, "resultType") == "input_required")
        return done(make_error(domain, "InvalidRequest",
                               "Failed to call '{}': the server asks the client for input (resultType "
                               "\"input_required\"), which weft cannot give",
                               method));
      done(std::move(r));
    };
  }
  auto id = _next_id++;
  auto text = serialize(mcp::request{id, method, std::move(params)});
  _pending.emplace(id, pending_request{std::move(method), deadline, timeout, std::move(done)});
  _send(std::move(text));
  return id;
}

json client::with_meta(json params) const {
  if (!params.is_object()) params = json::object();
  auto& m = params["_meta"];
  if (!m.is_object()) m = json::object();
  m[std::string(meta::protocol_version)] = modern_version;
  m[std::string(meta::client_capabilities)] = _opt.capabilities;
  m[std::string(meta::client_info)] = {{"name", _opt.name}, {"version", _opt.version}};
  return params;
}

std::int64_t client::request(clock::time_point now, std::string method, json params,
                             std::function<void(result<json>)> done) {
  _now = std::max(_now, now);
  if (_state != state::ready) {
    done(make_error(domain, "InvalidRequest", "Failed to send '{}': the MCP session is not initialized", method));
    return 0;
  }
  return send_request(now + _opt.timeout, _opt.timeout, std::move(method), std::move(params), std::move(done));
}

void client::send_cancelled(std::int64_t id, std::string_view reason) {
  if (_state == state::closed) return;
  json params = {{"requestId", id}};
  if (!reason.empty()) params["reason"] = std::string(reason);
  if (modern()) params = with_meta(std::move(params));  // 2026-07-28: notifications carry it too
  _send(serialize(notification{"notifications/cancelled", std::move(params)}));
}

bool client::cancel(std::int64_t id, std::string_view reason) {
  auto it = _pending.find(id);
  if (it == _pending.end()) return false;
  bool wire = it->second.method != "initialize";  // MCP: initialize MUST NOT be cancelled
  _pending.erase(it);
  if (wire) send_cancelled(id, reason);
  return true;
}

void client::initialize(clock::time_point now, std::function<void(result<server_hello>)> done) {
  _now = std::max(_now, now);
  if (_state != state::idle)
    return done(make_error(domain, "InvalidRequest", "Failed to initialize MCP session: already started"));
  send_initialize(now, [this, done = std::move(done)](result<server_hello> h) {
    if (!h) _state = state::closed;
    done(std::move(h));
  });
}

result<server_hello> client::read_initialize(const json& j) const {
  if (!j.is_object() || !j.contains("protocolVersion") || !j["protocolVersion"].is_string())
    return malformed("initialize", "no string 'protocolVersion'");
  if (auto ok = check_server_version(j["protocolVersion"].get<std::string>()); !ok) return ok.take_error();
  auto info = member(j, "serverInfo");
  server_hello h{era::legacy,        str(j, "protocolVersion"), member(j, "capabilities"), str(info, "name"),
                 str(info, "title"), str(info, "version"),      str(j, "instructions")};
  if (!h.capabilities.is_object()) h.capabilities = json::object();
  return h;
}

std::int64_t client::send_initialize(clock::time_point now, std::function<void(result<server_hello>)> done,
                                    std::string_view version) {
  _state = state::initializing;
  json params = {{"protocolVersion", version.empty() ? _opt.protocol_version : std::string(version)},
                 {"capabilities", _opt.capabilities},
                 {"clientInfo", {{"name", _opt.name}, {"version", _opt.version}}}};
  return send_request(now + _opt.timeout, _opt.timeout, "initialize", std::move(params),
                      [this, done = std::move(done)](result<json> r) {
    auto h = r ? read_initialize(*r) : result<server_hello>(r.take_error());
    if (!h) return done(h.take_error());  // the caller decides what the session becomes
    _hello = std::move(*h);
    _state = state::ready;
    _send(serialize(notification{"notifications/initialized", json()}));
    done(_hello);
  });
}

void client::probe_era(clock::time_point now, std::function<void(mcp::era)> done) {
  _now = std::max(_now, now);
  send_request(now + _opt.timeout, _opt.timeout, "server/discover", with_meta(json::object()),
               [done = std::move(done)](result<json> r) {
    bool modern = r || r.err().code == code_name(code::unsupported_version);
    done(modern ? era::modern : era::legacy);
  });
}

result<server_hello> client::read_discover(const json& r) const {
  auto versions = r.is_object() ? r.find("supportedVersions") : r.end();
  if (versions == r.end() || !versions->is_array())
    return malformed("server/discover", "no array 'supportedVersions'");
  std::vector<std::string> offered;
  for (auto& v : *versions)
    if (v.is_string()) offered.push_back(v.get<std::string>());
  if (std::find(offered.begin(), offered.end(), modern_version) == offered.end())
    return make_error(domain, code_name(code::unsupported_version),
                      "Failed to start an MCP session: the server offers protocol version(s) {} through "
                      "server/discover, not {}",
                      offered.empty() ? "(none)" : fmt::format("{}", fmt::join(offered, ", ")), modern_version);
  auto info = member(member(r, "_meta"), std::string(meta::server_info).c_str());
  server_hello h{era::modern,        std::string(modern_version), member(r, "capabilities"), str(info, "name"),
                 str(info, "title"), str(info, "version"),        str(r, "instructions")};
  if (!h.capabilities.is_object()) h.capabilities = json::object();
  return h;
}

/// One connect(): the probe and (legacy) initialize may both be in flight — a slow server's
/// late DiscoverResult still wins while initialize waits — and `done` runs exactly once.
struct client::connecting {
  mode m;
  std::function<void(result<server_hello>)> done;
  clock::time_point fallback_at;  ///< automatic: initialize starts then if the probe is unanswered
  std::chrono::milliseconds probe_timeout{0};
  /// initialize was refused while the probe is still out: the probe gets until then (one more
  /// probe_timeout) before initialize's error stands.
  clock::time_point give_up_at = clock::time_point::max();
  std::int64_t probe_id = 0, init_id = 0;
  std::optional<error> probe_error, init_error;
  /// A -32022 answer to the probe: the versions the server listed (data.supported).
  std::optional<std::vector<std::string>> supported;
  bool probed_again = false;  ///< server/discover was sent a second time (at most once)
};

void client::finish_connect(result<server_hello> h) {
  auto cx = std::move(_connecting);
  if (!cx) return;
  if (!h) _state = state::closed;
  cx->done(std::move(h));
}

void client::connect(clock::time_point now, mode m, std::chrono::milliseconds probe_timeout,
                     std::function<void(result<server_hello>)> done) {
  _now = std::max(_now, now);
  if (m == mode::legacy) return initialize(now, std::move(done));
  if (_state != state::idle)
    return done(make_error(domain, "InvalidRequest", "Failed to start MCP session: already started"));
  _state = state::probing;
  auto cx = std::make_shared<connecting>();
  cx->m = m;
  cx->done = std::move(done);
  cx->fallback_at = m == mode::automatic && probe_timeout.count() > 0 ? now + probe_timeout : clock::time_point::max();
  cx->probe_timeout = probe_timeout;
  _connecting = cx;
  send_probe(now);
}

void client::send_probe(clock::time_point now) {
  auto cx = _connecting;
  // The probe itself waits the whole request timeout: a server slower than the fallback may
  // still answer it (having pinned the connection to 2026-07-28, it refuses initialize).
  cx->probe_id = send_request(now + _opt.timeout, _opt.timeout, "server/discover", with_meta(json::object()),
                              [this, cx](result<json> r) {
    if (_connecting != cx) return;
    auto h = r ? read_discover(*r) : result<server_hello>(r.take_error());
    if (h) {
      if (cx->init_id) _pending.erase(cx->init_id);  // initialize is never cancelled on the wire
      _hello = std::move(*h);
      _state = state::ready;
      return finish_connect(_hello);
    }
    cx->probe_error = h.take_error();
    if (_state == state::closed) return finish_connect(std::move(*cx->probe_error));
    // -32022 lists the versions the server speaks: the client picks one of them and asks
    // again (the 2026-07-28 rule), instead of guessing the legacy era.
    auto listed = std::exchange(cx->supported, std::nullopt);
    auto has = [&](std::string_view v) { return listed && std::find(listed->begin(), listed->end(), v) != listed->end(); };
    if (has(modern_version) && !cx->probed_again && !cx->init_id) {
      // It refused the version it lists (a restart, a conformance check): once more, as it asks.
      cx->probed_again = true;
      cx->probe_error.reset();
      return send_probe(_now);
    }
    if (cx->m == mode::modern) return finish_connect(std::move(*cx->probe_error));
    if (cx->init_error) return finish_connect(connect_failure(*cx));
    std::string_view legacy_choice;
    if (listed)
      for (auto v : legacy_versions())
        if (has(v)) {
          legacy_choice = v;  // newest first: the newest both sides speak
          break;
        }
    if (_state == state::probing) fall_back(_now, legacy_choice);
  });
}

void client::fall_back(clock::time_point now, std::string_view version) {
  auto cx = _connecting;
  cx->fallback_at = clock::time_point::max();
  cx->init_id = send_initialize(now, [this, cx](result<server_hello> h) {
    if (_connecting != cx) return;
    if (h) {
      if (_pending.count(cx->probe_id)) cancel(cx->probe_id, "the server speaks the legacy era");
      return finish_connect(std::move(h));
    }
    cx->init_error = h.take_error();
    // A probe still in flight may yet show a 2026-07-28 server (which refuses initialize), but
    // not for long: a server that answered initialize is alive, and its refusal is the news.
    if (_state != state::closed && _pending.count(cx->probe_id)) {
      cx->give_up_at = _now + cx->probe_timeout;
      return;
    }
    finish_connect(connect_failure(*cx));
  }, version);
}

error client::connect_failure(const connecting& cx) const {
  const auto& init = *cx.init_error;
  // A 2026-07-28 server without our version (-32022) is worth naming beside initialize's refusal.
  if (cx.probe_error && cx.probe_error->code == code_name(code::unsupported_version))
    return make_error(domain, init.code, "{}; initialize failed too: {}", cx.probe_error->message, init.message);
  return init;
}

std::int64_t client::listen_tools(clock::time_point now, std::function<void(status)> ended) {
  _now = std::max(_now, now);
  if (!modern()) {
    ended(make_error(domain, "InvalidRequest",
                     "Failed to send 'subscriptions/listen': the MCP session is not a 2026-07-28 one"));
    return 0;
  }
  json params = {{"notifications", {{"toolsListChanged", true}}}};
  return send_request(clock::time_point::max(), std::chrono::milliseconds(0), "subscriptions/listen",
                      std::move(params), [ended = std::move(ended)](result<json> r) {
    if (!r) return ended(r.take_error());
    ended(status{});
  });
}

void client::list_page(clock::time_point deadline, std::chrono::milliseconds timeout, std::string cursor,
                       std::size_t page, std::shared_ptr<std::vector<tool>> acc, std::function<void(result<std::vector<tool>>)> done) {
  json params = json::object();
  if (!cursor.empty()) params["cursor"] = cursor;
  send_request(deadline, timeout, "tools/list", std::move(params),
               [this, deadline, timeout, page, acc, done = std::move(done)](result<json> r) mutable {
                 if (!r) return done(r.take_error());
                 auto tools = r->is_object() ? r->find("tools") : r->end();
                 if (tools == r->end() || !tools->is_array()) return done(malformed("tools/list", "no array 'tools'"));
                 for (auto& t : *tools) {
                   auto parsed = parse_tool(t);
                   if (!parsed) return done(parsed.take_error());
                   acc->push_back(std::move(*parsed));
                 }
                 auto next = str(*r, "nextCursor");
                 if (next.empty()) return done(std::move(*acc));
                 if (page + 1 >= _opt.max_pages)
                   return done(malformed("tools/list", fmt::format("more than {} pages", _opt.max_pages)));
                 list_page(deadline, timeout, std::move(next), page + 1, std::move(acc), std::move(done));
               });
}

void client::list_tools(clock::time_point now, std::function<void(result<std::vector<tool>>)> done,
                        std::chrono::milliseconds timeout) {
  _now = std::max(_now, now);
  if (_state != state::ready)
    return done(make_error(domain, "InvalidRequest", "Failed to send 'tools/list': the MCP session is not initialized"));
  if (timeout.count() <= 0) timeout = _opt.timeout;
  list_page(now + timeout, timeout, "", 0, std::make_shared<std::vector<tool>>(), std::move(done));
}

std::int64_t client::call_tool(clock::time_point now, std::string name, json arguments,
                               std::function<void(result<call_result>)> done, json meta) {
  json params = {{"name", name}, {"arguments", arguments.is_null() ? json::object() : std::move(arguments)}};
  if (meta.is_object()) {
    // The protocol's own keys are the session's to set (a 2026-07-28 version in a legacy
    // session would make an HTTP transport speak the other era).
    for (auto it = meta.begin(); it != meta.end();)
      it = it.key().starts_with(protocol_meta_prefix) ? meta.erase(it) : std::next(it);
    if (!meta.empty()) params["_meta"] = std::move(meta);
  }
  return request(now, "tools/call", std::move(params), [done = std::move(done)](result<json> r) {
    if (!r) return done(r.take_error());
    done(parse_call_result(*r));
  });
}

void client::ping(clock::time_point now, std::function<void(status)> done) {
  // The 2026-07-28 revision has no ping; server/discover is its cheapest request.
  request(now, modern() ? "server/discover" : "ping", json(), [done = std::move(done)](result<json> r) {
    if (!r) return done(r.take_error());
    done(status{});
  });
}

void client::complete(std::int64_t id, result<json> r) {
  auto it = _pending.find(id);
  if (it == _pending.end()) return;  // late answer to an expired request
  auto done = std::move(it->second.done);
  _pending.erase(it);
  done(std::move(r));
}

status client::receive(std::string_view line) {
  auto m = parse(line, _opt.lim);
  if (!m) return m.take_error();
  if (auto* r = std::get_if<response>(&*m)) {
    if (auto* id = std::get_if<std::int64_t>(&r->id)) complete(*id, std::move(r->result));
  } else if (auto* e = std::get_if<error_response>(&*m)) {
    auto* id = e->id ? std::get_if<std::int64_t>(&*e->id) : nullptr;
    if (!id) return from_error_object(e->error, "use MCP session");
    auto it = _pending.find(*id);
    if (it == _pending.end()) return {};
    if (_connecting && *id == _connecting->probe_id && e->error.code == code::unsupported_version)
      _connecting->supported = supported_versions(e->error.data);
    complete(*id, from_error_object(e->error, fmt::format("call '{}'", it->second.method)));
  } else if (auto* n = std::get_if<notification>(&*m)) {
    if (n->method == "notifications/tools/list_changed") {
      if (_on_tools_changed) _on_tools_changed();
    } else if (_on_notification) {
      _on_notification(*n);
    }
  } else if (auto* q = std::get_if<mcp::request>(&*m)) {
    if (q->method == "ping")
      _send(serialize(response{q->id, json::object()}));
    else
      _send(serialize(error_response{q->id, {code::method_not_found, "Method not found: " + q->method, json()}}));
  }
  return {};
}

void client::expire(clock::time_point now) {
  _now = std::max(_now, now);
  if (_connecting && _state == state::probing && now >= _connecting->fallback_at) fall_back(now);
  if (auto cx = _connecting; cx && cx->init_error && now >= cx->give_up_at) {
    cancel(cx->probe_id, "initialize was answered instead");
    finish_connect(connect_failure(*cx));
  }
  std::vector<std::int64_t> overdue;
  for (auto& [id, p] : _pending)
    if (p.deadline <= now) overdue.push_back(id);
  for (auto id : overdue) {
    auto it = _pending.find(id);  // an earlier callback may have failed it already
    if (it == _pending.end()) continue;
    auto e = fail(errc::timeout, "Failed to call '{}': no answer within {} ms", it->second.method,
                  it->second.timeout.count());
    if (it->second.method != "initialize") send_cancelled(id, "no answer in time");
    complete(id, std::move(e));
  }
}

std::optional<client::clock::time_point> client::next_deadline() const {
  std::optional<clock::time_point> t;
  auto at = [&](clock::time_point x) {
    if (x != clock::time_point::max()) t = t ? std::min(*t, x) : x;
  };
  for (auto& [id, p] : _pending) at(p.deadline);
  if (_connecting) {
    if (_state == state::probing) at(_connecting->fallback_at);
    if (_connecting->init_error) at(_connecting->give_up_at);
  }
  return t;
}

void client::fail_all(const error& e) {
  _state = state::closed;
  auto pending = std::move(_pending);
  _pending.clear();
  for (auto& [id, p] : pending) p.done(e);
}

}  // namespace weft::mcp
