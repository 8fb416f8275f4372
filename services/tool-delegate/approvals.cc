#include "approvals.hh"

#include <future>

#include <fmt/format.h>

#include "proto/tool_v1.hh"

namespace weft::delegate {

using json = nlohmann::json;

struct approvals::run {
  std::string id, caller, call_id;
  std::function<void(std::string)> ask;
  std::unique_ptr<mcp::http::transport> transport;
  mcp::reply_fn pending;  // the open question's answer, if one is open
  json input;             // its tool input, given back on allow
  event_loop::id timer = 0;
};

namespace {

constexpr std::string_view approve_schema = R"({"type":"object","properties":{
"tool_name":{"type":"string"},"input":{"type":"object"},"tool_use_id":{"type":"string"}},"required":["tool_name"]})";

/// The text content Claude Code reads a permission decision from.
json decision_result(const json& decision) {
  return json{{"content", json::array({{{"type", "text"}, {"text", decision.dump()}}})}};
}

}  // namespace

result<std::unique_ptr<approvals>> approvals::start(service::runtime& rt, std::chrono::milliseconds timeout) {
  http::server_options so;
  so.lim.max_body_bytes = 4u << 20;
  auto srv = http::server::listen(rt.loop(), {"127.0.0.1", port}, so, "tool-delegate");
  if (!srv) return fail(errc::io, "Failed to listen on 127.0.0.1:{} for permission prompts: {}", port, srv.err().message);
  std::unique_ptr<approvals> a(new approvals(rt, timeout, std::move(*srv)));
  return a;
}

approvals::approvals(service::runtime& rt, std::chrono::milliseconds timeout, std::unique_ptr<http::server> srv)
    : _rt(rt), _timeout(timeout), _http(std::move(srv)) {
  _http->on_request = [this](http::server::conn_id c, const http::request& q) {
    // /approve/<run>: that run's session; anything else is nobody's.
    constexpr std::string_view prefix = "/approve/";
    auto it = q.path.rfind(prefix, 0) == 0 ? _runs.find(q.path.substr(prefix.size())) : _runs.end();
    if (it == _runs.end()) {
      _http->respond(c, 404, "text/plain", "no such run\n");
      return;
    }
    it->second->transport->handle(c, mcp::http::request{q.method, q.path, q.headers, q.body});
  };
  _http->on_close = [this](http::server::conn_id c) {
    for (auto& [id, r] : _runs) r->transport->closed(c);
  };
  _rt.on_event<proto::tool_v1::answer>([this](const proto::tool_v1::answer& a, const ipc::message& m) {
    on_answer(m.env.from, a.call_id, a.text);
  });
}

approvals::~approvals() {
  for (auto& [id, r] : _runs)
    if (r->timer) _rt.loop().cancel(r->timer);
}

void approvals::on_loop(std::function<void()> fn) {
  auto done = std::make_shared<std::promise<void>>();
  auto f = done->get_future();
  _rt.loop().post([fn = std::move(fn), done] {
    fn();
    done->set_value();
  });
  // A loop that stopped never runs it: the run is being torn down anyway.
  f.wait_for(std::chrono::seconds(5));
}

std::string approvals::open(const std::string& caller, const std::string& call_id,
                            std::function<void(std::string)> ask) {
  std::string url;
  on_loop([&] {
    auto r = std::make_unique<run>();
    r->id = fmt::format("{}", _next++);
    r->caller = caller;
    r->call_id = call_id;
    r->ask = std::move(ask);
    mcp::http::transport::options o;
    o.path = "/approve/" + r->id;
    o.max_sessions = 4;
    o.session.name = "weft";
    o.session.title = "weft permission prompts";
    r->transport = std::make_unique<mcp::http::transport>(std::move(o));
    auto& t = *r->transport;
    auto id = r->id;
    t.make_handlers = [this, id](const std::string&) {
      mcp::handlers h;
      h.list_tools = [](const json&, mcp::reply_fn reply) {
        reply(json{{"tools", json::array({{{"name", "approve"},
                                            {"description", "Ask the person on the chat whether a step may run."},
                                            {"inputSchema", json::parse(approve_schema)}}})}});
      };
      h.call_tool = [this, id](const json& params, mcp::reply_fn reply) { call_approve(id, params, std::move(reply)); };
      return h;
    };
    t.respond = [this](http::server::conn_id c, mcp::http::response resp) {
      if (resp.stream) {
        _http->start_stream(c, "text/event-stream");
        return;
      }
      _http->respond(c, resp.status, resp.content_type.empty() ? "text/plain" : resp.content_type, resp.body,
                     resp.headers);
    };
    t.write = [this](http::server::conn_id c, std::string bytes) { _http->write(c, bytes); };
    t.close = [this](http::server::conn_id c) { _http->close(c); };
    url = fmt::format("http://127.0.0.1:{}/approve/{}", port, r->id);
    _runs.emplace(r->id, std::move(r));
  });
  return url;
}

void approvals::close(const std::string& url) {
  auto id = url.substr(url.rfind('/') + 1);
  on_loop([&] {
    auto it = _runs.find(id);
    if (it == _runs.end()) return;
    if (it->second->pending) decide(*it->second, false, "the run ended before an answer");
    _runs.erase(it);
  });
}

std::string approvals::question(const json& args, std::chrono::milliseconds timeout) {
  auto tool = args.value("tool_name", std::string("a tool"));
  std::string what;
  auto input = args.contains("input") && args["input"].is_object() ? args["input"] : json::object();
  for (auto key : {"command", "file_path", "url", "pattern", "path"})
    if (input.contains(key) && input[key].is_string()) {
      what = input[key].get<std::string>();
      break;
    }
  if (what.empty() && !input.empty()) what = input.dump();
  if (what.size() > 300) what = what.substr(0, 300) + "…";
  return fmt::format("❓ Claude Code asks to use {}{}{} — answer /allow or /deny (within {} s; no answer denies)", tool,
                     what.empty() ? "" : ": ", what, std::chrono::duration_cast<std::chrono::seconds>(timeout).count());
}

void approvals::call_approve(const std::string& id, const json& params, mcp::reply_fn reply) {
  auto it = _runs.find(id);
  if (it == _runs.end()) return reply(decision_result({{"behavior", "deny"}, {"message", "the run is over"}}));
  auto& r = *it->second;
  if (params.value("name", "") != "approve")
    return reply(fail(errc::invalid_argument, "Unknown tool: {}", params.value("name", "")));
  auto args = params.contains("arguments") && params["arguments"].is_object() ? params["arguments"] : json::object();
  // One question at a time: Claude Code asks step by step; a second one replaces nothing.
  if (r.pending) return reply(decision_result({{"behavior", "deny"}, {"message", "another question is open"}}));
  r.pending = std::move(reply);
  r.input = args.contains("input") && args["input"].is_object() ? args["input"] : json::object();
  r.ask(question(args, _timeout));
  r.timer = _rt.loop().after(_timeout, [this, id] {
    auto it = _runs.find(id);
    if (it == _runs.end()) return;
    it->second->timer = 0;
    decide(*it->second, false,
           fmt::format("no answer within {} s", std::chrono::duration_cast<std::chrono::seconds>(_timeout).count()));
  });
}

void approvals::decide(run& r, bool allow, const std::string& why) {
  if (!r.pending) return;
  if (r.timer) _rt.loop().cancel(std::exchange(r.timer, 0));
  auto reply = std::move(r.pending);
  r.pending = nullptr;
  r.ask(allow ? std::string("✓ allowed") : fmt::format("✗ denied ({})", why));
  reply(decision_result(allow ? json{{"behavior", "allow"}, {"updatedInput", r.input}}
                              : json{{"behavior", "deny"}, {"message", "Not allowed: " + why}}));
}

void approvals::on_answer(const std::string& from, const std::string& call_id, const std::string& answer) {
  for (auto& [id, r] : _runs)
    if (r->caller == from && r->call_id == call_id && r->pending) {
      bool allow = answer == "allow";
      decide(*r, allow, allow ? "" : "denied by the person on the chat");
    }
}

}  // namespace weft::delegate
