#include <weft/mcp/server.hh>

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

constexpr std::array<method_spec, 6> methods{{
    {"tools/list", &handlers::list_tools, "", true},
    {"tools/call", &handlers::call_tool, "name", false},
    {"resources/list", &handlers::list_resources, "", true},
    {"resources/read", &handlers::read_resource, "uri", false},
    {"prompts/list", &handlers::list_prompts, "", true},
    {"prompts/get", &handlers::get_prompt, "name", false},
}};

}  // namespace

server::server(options opt, handlers h, sender send) : _opt(std::move(opt)), _h(std::move(h)), _send(std::move(send)) {}

json server::capabilities() const {
  json c = json::object();
  if (_h.list_tools) c["tools"] = {{"listChanged", true}};
  if (_h.list_resources) c["resources"] = json::object();
  if (_h.list_prompts) c["prompts"] = json::object();
  return c;
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
      std::erase_if(_listens, [&](const request_id& id) { return to_json(id) == rid; });
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
    auto e = detect_era(q);
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
                {"capabilities", capabilities()},
                {"serverInfo", {{"name", _opt.name}, {"version", _opt.version}}}};
      if (!_opt.title.empty()) r["serverInfo"]["title"] = _opt.title;
      if (!_opt.instructions.empty()) r["instructions"] = _opt.instructions;
      return _send(serialize(response{q.id, std::move(r)}));
    }
  }

  const bool modern = _era == era::modern || !_era;  // unpinned here means a modern opening request
  if (modern) {
    auto v = meta_protocol_version(params);
    if (v != modern_version) {
      json data = {{"supported", json::array({modern_version})}, {"requested", v ? json(*v) : json()}};
      return send_error(q.id, code::unsupported_version,
                        fmt::format("Unsupported protocol version: {}", v ? *v : "(none in _meta)"), std::move(data));
    }
    _era = era::modern;
    _version = modern_version;
    if (q.method == "initialize")
      return send_error(q.id, code::invalid_request, "This connection speaks protocol version 2026-07-28: no 'initialize'");
    if (q.method == "server/discover") {
      json r = {{"supportedVersions", json::array({modern_version})}, {"capabilities", capabilities()}};
      if (!_opt.instructions.empty()) r["instructions"] = _opt.instructions;
      return answer(q.id, std::move(r), /*modern=*/true, /*list=*/true);
    }
    if (q.method == "subscriptions/listen") return listen(q.id, params);
  } else {
    if (q.method == "initialize")
      return send_error(q.id, code::invalid_request, "Invalid request: the session is already initialized");
    if (q.method == "ping") return _send(serialize(response{q.id, json::object()}));
  }

  const method_spec* spec = nullptr;
  for (auto& m : methods)
    if (m.method == q.method && _h.*m.h) spec = &m;
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

  if ((q.method == "tools/call" || q.method == "prompts/get") && !params.contains("arguments"))
    params["arguments"] = json::object();

  if (*_in_flight >= _opt.max_in_flight)
    return send_error(q.id, code::internal_error,
                      fmt::format("Failed to serve '{}': {} requests already in flight", q.method, *_in_flight));
  ++*_in_flight;
  auto once = std::make_shared<bool>(false);
  (_h.*spec->h)(params, [this, alive = _alive, in_flight = _in_flight, once, id = q.id, modern,
                         list = spec->list](result<json> r) {
    if (*once) return;  // a handler that answers twice: the first answer stands
    *once = true;
    --*in_flight;
    if (*alive) answer(id, std::move(r), modern, list);
  });
}

void server::answer(const request_id& id, result<json> r, bool modern, bool list) {
  if (!r) {
    _send(serialize(error_response{id, to_error_object(r.err())}));
    return;
  }
  json& j = *r;
  if (!j.is_object()) return send_error(id, code::internal_error, "Internal error: the handler's result is not an object");
  if (modern) {
    j["resultType"] = "complete";
    j["_meta"][meta::server_info] = {{"name", _opt.name}, {"version", _opt.version}};
    if (list) {
      if (!j.contains("ttlMs")) j["ttlMs"] = 0;
      if (!j.contains("cacheScope")) j["cacheScope"] = "private";
    }
  }
  _send(serialize(response{id, std::move(j)}));
}

void server::listen(const request_id& id, const json& params) {
  auto filter = params.find("notifications");
  if (filter == params.end() || !filter->is_object())
    return send_error(id, code::invalid_params, "Invalid params: 'notifications' is required and must be an object");
  if (_listens.size() >= max_listens)
    return send_error(id, code::internal_error,
                      fmt::format("Subscription limit reached: {} open subscriptions/listen on this connection", max_listens));
  // Honoured: what was asked for and is offered. Resource and prompt lists never change here.
  json honoured = json::object();
  auto tools = filter->find("toolsListChanged");
  if (_h.list_tools && tools != filter->end() && *tools == true) honoured["toolsListChanged"] = true;
  _send(serialize(notification{"notifications/subscriptions/acknowledged",
                               {{"notifications", honoured}, {"_meta", {{meta::subscription_id, to_json(id)}}}}}));
  if (honoured.empty()) return answer(id, json::object(), /*modern=*/true, /*list=*/false);  // nothing to wait for
  _listens.push_back(id);
}

bool server::notify_tools_changed() {
  if (_era == era::modern) {
    for (auto& id : _listens)
      _send(serialize(notification{"notifications/tools/list_changed", {{"_meta", {{meta::subscription_id, to_json(id)}}}}}));
    return !_listens.empty();
  }
  if (_era != era::legacy || !_initialized) return false;
  _send(serialize(notification{"notifications/tools/list_changed", json()}));
  return true;
}

void server::end_listens() {
  auto open = std::move(_listens);
  _listens.clear();
  for (auto& id : open) answer(id, json{{"_meta", {{meta::subscription_id, to_json(id)}}}}, /*modern=*/true, false);
}

}  // namespace weft::mcp
