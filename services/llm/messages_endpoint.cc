#include "services/llm/messages_endpoint.hh"

#include <nlohmann/json.hpp>

#include <weft/base/log.hh>
#include <weft/base/time.hh>
#include <weft/http/request.hh>
#include <weft/http/token.hh>

#include "services/llm/budget.hh"

namespace weft::llm {

namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;
constexpr std::size_t max_json_body = 16u << 20;  // a non-streamed answer whose usage is read

std::string error_body(std::string_view type, std::string_view message) {
  return json{{"type", "error"}, {"error", {{"type", type}, {"message", message}}}}.dump();
}

}  // namespace

struct messages_endpoint::forward {
  std::string agent, model;
  http::client::id transfer = 0;
  bool streaming = false;
  usage_reader usage;
};

const service::provider_settings* anthropic_provider(const service::config& cfg) {
  auto usable = [](const service::provider_settings& p) {
    return p.enabled && p.style == service::api_style::anthropic && !p.api_key.empty();
  };
  if (auto it = cfg.providers.find(cfg.llm.default_provider); it != cfg.providers.end() && usable(it->second))
    return &it->second;
  for (auto& [name, p] : cfg.providers)
    if (usable(p)) return &p;
  return nullptr;
}

result<std::unique_ptr<messages_endpoint>> messages_endpoint::start(event_loop& loop, http::client& http,
                                                                    const service::config& cfg, spend_ledger& ledger,
                                                                    std::string socket_path) {
  std::unique_ptr<messages_endpoint> e(new messages_endpoint(loop, http, cfg, ledger, std::move(socket_path)));
  http::server_options o;
  o.lim.max_body_bytes = 32u << 20;  // a long session's whole history and tool specs
  o.lim.max_headers = 128;
  auto s = http::server::listen_unix(loop, e->_socket, 0660, o, "llm");
  if (!s) return s.take_error();
  e->_server = std::move(*s);
  e->_server->on_request = [p = e.get()](http::server::conn_id c, const http::request& r) { p->on_request(c, r); };
  e->_server->on_close = [p = e.get()](http::server::conn_id c) { p->on_close(c); };
  return e;
}

messages_endpoint::messages_endpoint(event_loop& loop, http::client& http, const service::config& cfg,
                                     spend_ledger& ledger, std::string socket_path)
    : _loop(loop), _http(http), _cfg(cfg), _ledger(ledger), _socket(std::move(socket_path)) {}

messages_endpoint::~messages_endpoint() {
  for (auto& [c, f] : _forwarding) _http.cancel(f->transfer);
  _server.reset();
  ::unlink(_socket.c_str());
}

proto::llm_v1::run_token messages_endpoint::issue(const std::string& agent, milliseconds ttl) {
  auto now = event_loop::clock::now();
  std::erase_if(_tokens, [&](auto& t) { return t.second.expires <= now; });
  // Bounded: the oldest grants go first when a caller keeps asking.
  while (_tokens.size() >= max_tokens_held) {
    auto oldest = std::min_element(_tokens.begin(), _tokens.end(),
                                   [](auto& a, auto& b) { return a.second.expires < b.second.expires; });
    _tokens.erase(oldest);
  }
  if (ttl <= milliseconds::zero()) ttl = default_ttl;
  ttl = std::min<milliseconds>(ttl, max_ttl);
  auto token = "weft-run-" + http::random_hex(32);
  _tokens[token] = {agent, now + ttl};
  return {token, _socket, static_cast<std::uint32_t>(ttl.count())};
}

void messages_endpoint::fail(http::server::conn_id c, int status, std::string_view type, std::string_view message) {
  _server->respond(c, status, "application/json", error_body(type, message));
}

void messages_endpoint::on_request(http::server::conn_id c, const http::request& req) {
  if (req.path != "/v1/messages")
    return fail(c, 404, "not_found_error", fmt::format("weft's llm serves POST /v1/messages only, not {}", req.path));
  if (req.method != "POST") return fail(c, 405, "invalid_request_error", "use POST /v1/messages");
  std::string token = req.header("x-api-key");
  if (auto auth = req.header("authorization"); token.empty() && auth.rfind("Bearer ", 0) == 0) token = auth.substr(7);
  // Compared in constant time with every grant: how long the answer takes says nothing of
  // how much of a guess was right.
  auto it = _tokens.end();
  if (!token.empty())
    for (auto t = _tokens.begin(); t != _tokens.end(); ++t)
      if (http::equal_secret(t->first, token)) it = t;
  if (it != _tokens.end() && it->second.expires <= event_loop::clock::now()) {
    _tokens.erase(it);
    it = _tokens.end();
  }
  if (it == _tokens.end())
    return fail(c, 401, "authentication_error",
                "weft: the run token is missing, unknown or expired (a delegated run gets one from weft's llm)");
  auto agent = it->second.agent;
  auto* p = anthropic_provider(_cfg);
  if (!p)
    return fail(c, 503, "api_error",
                "weft has no Anthropic provider with a key: add [providers.anthropic] with api_key (or "
                "ANTHROPIC_API_KEY in weft's environment) and run `weftctl reload`");
  double budget = 0;
  if (auto a = _cfg.agents.find(agent); a != _cfg.agents.end()) budget = a->second.budget_usd;
  if (auto s = _ledger.check(agent, budget, utc_now()); !s)
    return fail(c, 429, "rate_limit_error", fmt::format("weft: {}", s.err().message));

  http::client_request up;
  up.method = "POST";
  auto query = req.target.find('?');
  up.url = p->base_url + "/messages" + (query == std::string::npos ? "" : req.target.substr(query));
  up.headers = {"content-type: application/json", "x-api-key: " + p->api_key,
                "anthropic-version: " + (req.header("anthropic-version").empty() ? std::string("2023-06-01")
                                                                                 : req.header("anthropic-version"))};
  if (auto beta = req.header("anthropic-beta"); !beta.empty()) up.headers.push_back("anthropic-beta: " + beta);
  for (auto& [name, value] : p->headers) up.headers.push_back(name + ": " + value);
  up.body = req.body;
  up.stream = true;
  up.timeout = milliseconds(0);  // a long answer streams for as long as it takes
  up.idle_timeout = milliseconds(_cfg.llm.timeout_ms);  // but not silent for longer than a whole request may take
  auto f = std::make_unique<forward>();
  f->agent = agent;
  auto body = json::parse(req.body, nullptr, false);
  if (body.is_object() && body.contains("model") && body["model"].is_string()) f->model = body["model"].get<std::string>();
  auto* fp = f.get();
  _forwarding[c] = std::move(f);
  fp->transfer = _http.start(
      std::move(up),
      {.on_head =
           [this, c, fp](const http::client_response& r) {
             if (r.status < 200 || r.status >= 300) return;
             auto ct = r.headers.count("content-type") ? r.headers.at("content-type") : std::string("application/json");
             fp->streaming = _server->start_stream(c, ct);
           },
       .on_body =
           [this, c, fp](std::string_view bytes) {
             fp->usage.feed(bytes);
             return fp->streaming && _server->write(c, bytes);
           },
       .done =
           [this, c](http::client_response r) {
             auto it = _forwarding.find(c);
             if (it == _forwarding.end()) return;
             auto f = std::move(it->second);
             _forwarding.erase(it);
             f->usage.finish();
             charge(*f);
             if (f->streaming) return _server->close(c);
             if (r.status == 0)
               return fail(c, 502, "api_error", fmt::format("weft could not reach the provider: {}", r.error));
             auto ct = r.headers.count("content-type") ? r.headers.at("content-type") : std::string("application/json");
             _server->respond(c, static_cast<int>(r.status), ct, r.body);
           }});
}

void messages_endpoint::on_close(http::server::conn_id c) {
  auto it = _forwarding.find(c);
  if (it == _forwarding.end()) return;
  _http.cancel(it->second->transfer);
  auto f = std::move(it->second);
  _forwarding.erase(it);
  f->usage.finish();
  charge(*f);  // what was used before the run went away still counts
}

void messages_endpoint::charge(const forward& f) {
  auto in = f.usage.input_tokens(), out = f.usage.output_tokens();
  if (in == 0 && out == 0) return;
  auto model = f.usage.model().empty() ? f.model : f.usage.model();
  auto* p = anthropic_provider(_cfg);
  double usd = 0;
  for (auto& t : _cfg.llm.tiers)
    if (p && t.provider == p->name && (t.model == model || (t.model.empty() && p->model == model))) {
      usd = (static_cast<double>(in) * t.input_cost_per_mtok + static_cast<double>(out) * t.output_cost_per_mtok) / 1e6;
      break;
    }
  log::get("llm").info("delegated run of agent '{}': {} input, {} output tokens of '{}' (${:.6f})", f.agent, in, out,
                       model, usd);
  if (usd > 0)
    if (auto s = _ledger.add(f.agent, usd, utc_now()); !s) log::get("llm").warning("{}", s.err().message);
}

// ---- usage_reader --------------------------------------------------------------------------

void usage_reader::feed(std::string_view bytes) {
  if (!_decided) {
    auto first = bytes.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return;
    _sse = bytes[first] != '{';
    _decided = true;
  }
  if (!_sse) {
    if (_body.size() + bytes.size() <= max_json_body) _body.append(bytes);
    return;
  }
  // A runaway line is dropped: its usage is lost, not memory.
  (void)_lines.feed(bytes, [this](std::string_view l) { line(l); });
}

void usage_reader::finish() {
  if (_sse) _lines.finish([this](std::string_view l) { line(l); });
  if (!_sse && !_body.empty()) object(_body);
  _body.clear();
}

void usage_reader::line(std::string_view l) {
  if (l.rfind("data:", 0) != 0) return;
  l.remove_prefix(5);
  object(l);
}

void usage_reader::object(std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (!j.is_object()) return;
  auto count = [](const json& usage, const char* key) -> std::uint64_t {
    return usage.is_object() && usage.contains(key) && usage[key].is_number_unsigned() ? usage[key].get<std::uint64_t>() : 0;
  };
  auto input = [&](const json& usage) {
    return count(usage, "input_tokens") + count(usage, "cache_creation_input_tokens") +
           count(usage, "cache_read_input_tokens");
  };
  auto type = j.value("type", "");
  if (type == "message_start" && j.contains("message") && j["message"].is_object()) {
    auto& m = j["message"];
    _in = input(m.value("usage", json()));
    _out = std::max(_out, count(m.value("usage", json()), "output_tokens"));
    if (m.contains("model") && m["model"].is_string()) _model = m["model"].get<std::string>();
  } else if (type == "message_delta") {
    _out = std::max(_out, count(j.value("usage", json()), "output_tokens"));  // cumulative
  } else if (type == "message") {  // a whole JSON answer
    _in = input(j.value("usage", json()));
    _out = count(j.value("usage", json()), "output_tokens");
    if (j.contains("model") && j["model"].is_string()) _model = j["model"].get<std::string>();
  }
}

}  // namespace weft::llm
