#include <weft/mcp/server.hh>

#include <algorithm>
#include <array>

namespace weft::mcp {
namespace {

/// How a method's params are checked before its handler sees them.
struct method_spec {
  std::string_view method;
  handler handlers::*h;
  std::string_view required_string;  ///< a param that must be a string ("" = none)
  bool list;                         ///< a list result (cursor param, cache hints in the modern era)
};

constexpr std::array<method_spec, 8> methods{{
    {"tools/list", &handlers::list_tools, "", true},
    {"tools/call", &handlers::call_tool, "name", false},
    {"resources/list", &handlers::list_resources, "", true},
    {"resources/read", &handlers::read_resource, "uri", false},
    {"resources/templates/list", &handlers::list_resource_templates, "", true},
    {"prompts/list", &handlers::list_prompts, "", true},
    {"prompts/get", &handlers::get_prompt, "name", false},
    {"completion/complete", &handlers::complete, "", false},
}};

/// MCP's log levels (RFC 5424 severities), least severe first.
constexpr std::array<std::string_view, 8> log_levels{"debug",    "info",     "notice", "warning",
                                                     "error",    "critical", "alert",  "emergency"};

int severity_of(log::level l) {
  switch (l) {
    case log::level::trace:
    case log::level::debug: return 0;
    case log::level::info: return 1;
    case log::level::warning: return 3;
    default: return 4;
  }
}

std::string_view list_name(list_kind k) {
  return k == list_kind::tools ? "tools" : k == list_kind::resources ? "resources" : "prompts";
}

/// completion/complete: what its params must hold; the -32602 message otherwise.
std::optional<std::string> bad_completion(const json& p) {
  auto ref = p.find("ref");
  if (ref == p.end() || !ref->is_object()) return "Invalid params: 'ref' must be an object";
  auto type = ref->find("type");
  if (type == ref->end() || !type->is_string()) return "Invalid params: 'ref.type' must be a string";
  auto want = *type == "ref/prompt" ? "name" : *type == "ref/resource" ? "uri" : "";
  if (!*want) return "Invalid params: 'ref.type' must be 'ref/prompt' or 'ref/resource'";
  if (auto k = ref->find(want); k == ref->end() || !k->is_string())
    return fmt::format("Invalid params: 'ref.{}' must be a string", want);
  auto arg = p.find("argument");
  if (arg == p.end() || !arg->is_object()) return "Invalid params: 'argument' must be an object";
  for (auto key : {"name", "value"})
    if (auto k = arg->find(key); k == arg->end() || !k->is_string())
      return fmt::format("Invalid params: 'argument.{}' must be a string", key);
  if (auto c = p.find("context"); c != p.end()) {
    if (!c->is_object()) return "Invalid params: 'context' must be an object";
    if (auto a = c->find("arguments"); a != c->end()) {
      if (!a->is_object()) return "Invalid params: 'context.arguments' must be an object";
      for (auto& [k, v] : a->items())
        if (!v.is_string()) return fmt::format("Invalid params: 'context.arguments.{}' must be a string", k);
    }
  }
  return std::nullopt;
}

/// The spec's limit on completion values: at most 100, the rest announced by hasMore.
void cap_completion(json& r) {
  constexpr std::size_t max_values = 100;
  auto c = r.find("completion");
  if (c == r.end() || !c->is_object()) return;
  auto v = c->find("values");
  if (v == c->end() || !v->is_array() || v->size() <= max_values) return;
  if (!c->contains("total")) (*c)["total"] = v->size();
  v->erase(v->begin() + static_cast<std::ptrdiff_t>(max_values), v->end());
  (*c)["hasMore"] = true;
}

}  // namespace

std::optional<era> opening_era(const request& opening) {
  if (auto v = meta_protocol_version(opening.params); v && !is_legacy_version(*v)) return era::modern;
  return detect_era(opening);
}

std::optional<std::string> missing_meta(const json& params) {
  auto m = params.is_object() ? params.find("_meta") : params.end();
  bool has_meta = params.is_object() && m != params.end() && m->is_object();
  if (!has_meta || !meta_protocol_version(params))
    return fmt::format("Invalid params: every request of protocol version {} carries _meta[\"{}\"] (a string)",
                       modern_version, meta::protocol_version);
  auto caps = m->find(meta::client_capabilities);
  if (caps == m->end() || !caps->is_object())
    return fmt::format("Invalid params: every request of protocol version {} carries _meta[\"{}\"] (an object, {{}} "
                       "for none)",
                       modern_version, meta::client_capabilities);
  return std::nullopt;
}

server::server(options opt, handlers h, sender send) : _opt(std::move(opt)), _h(std::move(h)), _send(std::move(send)) {
  if (_opt.stateless) _era = era::modern;
}

bool server::promises_changes(list_kind k) const {
  switch (k) {
    case list_kind::tools: return static_cast<bool>(_h.list_tools);
    case list_kind::resources: return _opt.list_changes && _h.list_resources;
    case list_kind::prompts: return _opt.list_changes && _h.list_prompts;
  }
  return false;
}

json server::capabilities(mcp::era e) const {
  json c = json::object();
  if (_h.list_tools) c["tools"] = {{"listChanged", true}};
  if (_h.list_resources) {
    c["resources"] = json::object();
    if (_opt.resource_updates) c["resources"]["subscribe"] = true;
    if (_opt.list_changes) c["resources"]["listChanged"] = true;
  }
  if (_h.list_prompts) {
    c["prompts"] = json::object();
    if (_opt.list_changes) c["prompts"]["listChanged"] = true;
  }
  if (_h.complete) c["completions"] = json::object();
  // 2026-07-28 moved log levels into each request's _meta, which weft does not serve.
  if (_opt.logging && e == era::legacy) c["logging"] = json::object();
  return c;
}

bool server::offers(std::string_view method, mcp::era e) const {
  if (e == era::modern) {
    if (method == "server/discover" || method == "subscriptions/listen") return true;
  } else {
    if (method == "ping" || method == "initialize") return true;
    if (method == "resources/subscribe" || method == "resources/unsubscribe")
      return _opt.resource_updates && _h.list_resources;
    if (method == "logging/setLevel") return _opt.logging;
  }
  if (method == "resources/templates/list") return _h.list_resource_templates || _h.list_resources;
  return std::any_of(methods.begin(), methods.end(), [&](auto& m) { return m.method == method && _h.*m.h; });
}

status server::receive(std::string_view line) {
  auto m = parse(line, _opt.lim);
  if (!m) {
    _send(serialize(refusal(m.err())));
    return m.take_error();
  }
  if (auto* q = std::get_if<request>(&*m)) {
    dispatch(*q);
  } else if (auto* n = std::get_if<notification>(&*m)) {
    if (n->method == "notifications/initialized" && _era == era::legacy) _initialized = true;
    if (n->method == "notifications/cancelled" && n->params.is_object() && n->params.contains("requestId")) {
      auto& rid = n->params["requestId"];
      std::erase_if(_listens, [&](const listen_entry& l) { return to_json(l.id) == rid; });
    }
    // Others (roots/list_changed, …) need nothing from a server without them.
  }
  // Responses: this server sends no requests, so there is nothing to match them to.
  return {};
}

void server::send_error(const request_id& id, int code, std::string message, json data) {
  _send(serialize(error_response{id, {code, std::move(message), std::move(data)}}));
}

void server::dispatch(const request& q) {
  if (!q.params.is_null() && !q.params.is_object())
    return send_error(q.id, code::invalid_params, "Invalid params: 'params' must be an object");
  json params = q.params.is_null() ? json::object() : q.params;

  if (!_era) {
    auto e = opening_era(q);
    if (!e) {
      if (q.method == "ping") return _send(serialize(response{q.id, json::object()}));
      return send_error(q.id, code::invalid_request, "Server not initialized: send 'initialize' first");
    }
    if (*e == era::legacy) {
      auto v = params.find("protocolVersion");
      if (v == params.end() || !v->is_string())
        return send_error(q.id, code::invalid_params, "Invalid params: 'protocolVersion' must be a string");
      _era = era::legacy;
      _version = negotiate(v->get<std::string>());
      json r = {{"protocolVersion", _version},
                {"capabilities", capabilities(era::legacy)},
                {"serverInfo", {{"name", _opt.name}, {"version", _opt.version}}}};
      if (!_opt.title.empty()) r["serverInfo"]["title"] = _opt.title;
      if (!_opt.instructions.empty()) r["instructions"] = _opt.instructions;
      return _send(serialize(response{q.id, std::move(r)}));
    }
  }

  const bool modern = _era == era::modern || !_era;  // unpinned here means a modern opening request
  if (modern) {
    // The order of the checks (protocols.md §1.8): the version names the method set, the
    // method names what its params must hold. A refused opening pins nothing.
    if (auto v = meta_protocol_version(params); v && *v != modern_version) {
      json data = {{"supported", json::array({modern_version})}, {"requested", *v}};
      return send_error(q.id, code::unsupported_version, fmt::format("Unsupported protocol version: {}", *v),
                        std::move(data));
    }
    if (!offers(q.method, era::modern)) {
      if (q.method == "initialize")
        return send_error(q.id, code::method_not_found,
                          fmt::format("Method not found: initialize (protocol version {} has no handshake; weft "
                                      "answers initialize from clients of {} and earlier)",
                                      modern_version, latest_legacy_version));
      return send_error(q.id, code::method_not_found, "Method not found: " + q.method);
    }
    if (auto bad = missing_meta(params)) return send_error(q.id, code::invalid_params, *bad);
    _era = era::modern;
    _version = modern_version;
    if (q.method == "server/discover") {
      json r = {{"supportedVersions", json::array({modern_version})}, {"capabilities", capabilities(era::modern)}};
      if (!_opt.instructions.empty()) r["instructions"] = _opt.instructions;
      return answer(context{q.id, true, true, {}}, std::move(r));
    }
    if (q.method == "subscriptions/listen") return listen(q.id, params);
  } else {
    if (q.method == "initialize")
      return send_error(q.id, code::invalid_request, "Invalid request: the session is already initialized");
    if (!offers(q.method, era::legacy)) return send_error(q.id, code::method_not_found, "Method not found: " + q.method);
    if (q.method == "ping" || q.method == "resources/subscribe" || q.method == "resources/unsubscribe" ||
        q.method == "logging/setLevel")
      return serve_legacy_builtin(q, params);
  }

  const method_spec* spec = nullptr;
  for (auto& m : methods)
    if (m.method == q.method) spec = &m;
  if (!spec) return send_error(q.id, code::method_not_found, "Method not found: " + q.method);

  if (!spec->required_string.empty()) {
    auto it = params.find(spec->required_string);
    if (it == params.end() || !it->is_string())
      return send_error(q.id, code::invalid_params, fmt::format("Invalid params: '{}' must be a string", spec->required_string));
  }
  if (auto c = params.find("cursor"); spec->list && c != params.end() && !c->is_string())
    return send_error(q.id, code::invalid_params, "Invalid params: 'cursor' must be a string");
  if (auto a = params.find("arguments"); a != params.end() && !a->is_object())
    return send_error(q.id, code::invalid_params, "Invalid params: 'arguments' must be an object");
  if (q.method == "completion/complete")
    if (auto bad = bad_completion(params)) return send_error(q.id, code::invalid_params, *bad);

  if ((q.method == "tools/call" || q.method == "prompts/get") && !params.contains("arguments"))
    params["arguments"] = json::object();

  context ctx{q.id, modern, spec->list, {}};
  if (q.method == "resources/read") ctx.uri = params["uri"].get<std::string>();
  if (!(_h.*spec->h)) {
    // resources/templates/list of a server whose resources have no templates.
    return answer(ctx, json{{"resourceTemplates", json::array()}});
  }

  if (*_in_flight >= _opt.max_in_flight)
    return send_error(q.id, code::internal_error,
                      fmt::format("Failed to serve '{}': {} requests already in flight", q.method, *_in_flight));
  ++*_in_flight;
  auto once = std::make_shared<bool>(false);
  bool complete = q.method == "completion/complete";
  (_h.*spec->h)(params, [this, alive = _alive, in_flight = _in_flight, once, ctx = std::move(ctx),
                         complete](result<json> r) {
    if (*once) return;  // a handler that answers twice: the first answer stands
    *once = true;
    --*in_flight;
    if (!*alive) return;
    if (r && complete) cap_completion(*r);
    answer(ctx, std::move(r));
  });
}

void server::serve_legacy_builtin(const request& q, const json& params) {
  if (q.method == "ping") return _send(serialize(response{q.id, json::object()}));
  if (q.method == "logging/setLevel") {
    auto l = params.find("level");
    auto at = l != params.end() && l->is_string()
                  ? std::find(log_levels.begin(), log_levels.end(), l->get<std::string>())
                  : log_levels.end();
    if (at == log_levels.end())
      return send_error(q.id, code::invalid_params,
                        "Invalid params: 'level' must be one of debug, info, notice, warning, error, critical, alert, "
                        "emergency");
    _log_severity = static_cast<int>(at - log_levels.begin());
    return _send(serialize(response{q.id, json::object()}));
  }
  // resources/subscribe and resources/unsubscribe
  auto u = params.find("uri");
  if (u == params.end() || !u->is_string())
    return send_error(q.id, code::invalid_params, "Invalid params: 'uri' must be a string");
  auto uri = u->get<std::string>();
  if (q.method == "resources/unsubscribe") {
    _subscribed.erase(uri);
  } else {
    if (!_subscribed.count(uri) && _subscribed.size() >= max_resource_subscriptions)
      return send_error(q.id, code::invalid_params,
                        fmt::format("Invalid params: this session already watches {} resources, the most it may",
                                    max_resource_subscriptions));
    _subscribed.insert(std::move(uri));
  }
  _send(serialize(response{q.id, json::object()}));
}

void server::answer(const context& c, result<json> r) {
  if (!r) {
    auto& e = r.err();
    if (e.domain == domain && e.code == code_name(code::resource_not_found)) {
      // 2026-07-28 retired -32002 for -32602; both name the URI.
      int number = c.modern ? code::invalid_params : code::resource_not_found;
      return send_error(c.id, number, e.message, json{{"uri", c.uri}});
    }
    _send(serialize(error_response{c.id, to_error_object(e)}));
    return;
  }
  json& j = *r;
  if (!j.is_object()) return send_error(c.id, code::internal_error, "Internal error: the handler's result is not an object");
  if (c.modern) {
    j["resultType"] = "complete";
    j["_meta"][meta::server_info] = {{"name", _opt.name}, {"version", _opt.version}};
    if (c.list) {
      if (!j.contains("ttlMs")) j["ttlMs"] = 0;
      if (!j.contains("cacheScope")) j["cacheScope"] = "private";
    }
  }
  _send(serialize(response{c.id, std::move(j)}));
}

void server::listen(const request_id& id, const json& params) {
  auto filter = params.find("notifications");
  if (filter == params.end() || !filter->is_object())
    return send_error(id, code::invalid_params, "Invalid params: 'notifications' is required and must be an object");
  if (_listens.size() >= max_listens)
    return send_error(id, code::internal_error,
                      fmt::format("Subscription limit reached: {} open subscriptions/listen on this connection", max_listens));
  listen_entry l{id};
  auto asked = [&](std::string_view key) {
    auto it = filter->find(key);
    return it != filter->end() && *it == true;
  };
  // Honoured: what was asked for and is offered.
  json honoured = json::object();
  l.tools = promises_changes(list_kind::tools) && asked("toolsListChanged");
  l.resources = promises_changes(list_kind::resources) && asked("resourcesListChanged");
  l.prompts = promises_changes(list_kind::prompts) && asked("promptsListChanged");
  if (l.tools) honoured["toolsListChanged"] = true;
  if (l.resources) honoured["resourcesListChanged"] = true;
  if (l.prompts) honoured["promptsListChanged"] = true;
  if (auto subs = filter->find("resourceSubscriptions"); subs != filter->end()) {
    if (!subs->is_array() || !std::all_of(subs->begin(), subs->end(), [](auto& u) { return u.is_string(); }))
      return send_error(id, code::invalid_params, "Invalid params: 'resourceSubscriptions' must be an array of strings");
    if (subs->size() > max_resource_subscriptions)
      return send_error(id, code::invalid_params,
                        fmt::format("Invalid params: at most {} resourceSubscriptions", max_resource_subscriptions));
    if (_opt.resource_updates && _h.list_resources && !subs->empty()) {
      for (auto& u : *subs) l.uris.insert(u.get<std::string>());
      honoured["resourceSubscriptions"] = json(l.uris);
    }
  }
  _send(serialize(notification{"notifications/subscriptions/acknowledged",
                               {{"notifications", honoured}, {"_meta", {{meta::subscription_id, to_json(id)}}}}}));
  if (honoured.empty()) return answer(context{id, true, false, {}}, json::object());  // nothing to wait for
  _listens.push_back(std::move(l));
}

bool server::notify_list_changed(list_kind k) {
  auto method = fmt::format("notifications/{}/list_changed", list_name(k));
  if (_era == era::modern) {
    bool sent = false;
    for (auto& l : _listens) {
      bool wants = k == list_kind::tools ? l.tools : k == list_kind::resources ? l.resources : l.prompts;
      if (!wants) continue;
      _send(serialize(notification{method, {{"_meta", {{meta::subscription_id, to_json(l.id)}}}}}));
      sent = true;
    }
    return sent;
  }
  if (_era != era::legacy || !_initialized || !promises_changes(k)) return false;
  _send(serialize(notification{method, json()}));
  return true;
}

bool server::notify_resource_updated(std::string_view uri) {
  if (_era == era::modern) {
    bool sent = false;
    for (auto& l : _listens) {
      if (!l.uris.count(uri)) continue;
      _send(serialize(notification{"notifications/resources/updated",
                                   {{"uri", std::string(uri)}, {"_meta", {{meta::subscription_id, to_json(l.id)}}}}}));
      sent = true;
    }
    return sent;
  }
  if (_era != era::legacy || !_subscribed.count(uri)) return false;
  _send(serialize(notification{"notifications/resources/updated", {{"uri", std::string(uri)}}}));
  return true;
}

bool server::log(log::level l, std::string_view logger, std::string_view text) {
  if (_era != era::legacy || !_log_severity || l == log::level::off) return false;
  auto s = severity_of(l);
  if (s < *_log_severity) return false;
  _send(serialize(notification{"notifications/message",
                               {{"level", std::string(log_levels[static_cast<std::size_t>(s)])},
                                {"logger", std::string(logger)},
                                {"data", std::string(text)}}}));
  return true;
}

void server::end_listens() {
  auto open = std::move(_listens);
  _listens.clear();
  for (auto& l : open) answer(context{l.id, true, false, {}}, json{{"_meta", {{meta::subscription_id, to_json(l.id)}}}});
}

}  // namespace weft::mcp
