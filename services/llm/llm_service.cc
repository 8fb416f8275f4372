#include "services/llm/llm_service.hh"

#include <fmt/ranges.h>

#include <weft/service/main.hh>

namespace weft::llm {

http::client_options client_options_for(const service::llm_settings& s) {
  http::client_options o;
  o.timeout = std::chrono::milliseconds(s.timeout_ms);
  o.connect_timeout = std::chrono::milliseconds(s.connect_timeout_ms);
  o.max_body = max_response_bytes;
  o.max_connections = static_cast<long>(std::max<std::uint32_t>(s.max_concurrent, 4));
  o.user_agent = fmt::format("weft-llm/{}", service::version());
  return o;
}

struct llm_service::job {
  service::responder answer;
  bool is_embed = false;
  lv::complete complete;
  std::size_t embed_inputs = 0;
  std::string agent;
  route r;
  http_request http;
  std::uint32_t attempts = 0;
  bool streamed = false;  // a Delta went to the requester
  std::unique_ptr<stream_decoder> dec;
  event_loop::id retry_timer = 0;
};

result<std::unique_ptr<llm_service>> llm_service::create(service::runtime& rt, service::config cfg,
                                                         std::string spend_path, std::string policy_path,
                                                         std::string messages_socket) {
  auto http = http::client::create(rt.loop(), client_options_for(cfg.llm));
  if (!http) return http.take_error();
  std::unique_ptr<llm_service> svc(
      new llm_service(rt, std::move(cfg), std::move(spend_path), std::move(policy_path), std::move(*http)));
  if (!messages_socket.empty()) {
    auto e = messages_endpoint::start(rt.loop(), *svc->_http, svc->_cfg, svc->_ledger, std::move(messages_socket));
    if (!e) return e.take_error();
    svc->_messages = std::move(*e);
    svc->_log.info("Anthropic-Messages endpoint for delegated runs on '{}'{}", svc->_messages->socket(),
                   anthropic_provider(svc->_cfg) ? "" : " (no Anthropic provider with a key: it answers 503)");
  }
  return svc;
}

// A run token for an agent's delegated Claude Code runs: only that agent's delegate process
// (tool/delegate/<agent>) and the admin's ctl/* may have one.
result<lv::run_token> llm_service::on_issue_run_token(const lv::issue_run_token& req, const ipc::message& m) {
  const auto& from = m.env.from;
  if (from != "tool/delegate/" + req.agent && from.rfind("ctl/", 0) != 0) {
    _log.warning("Refused a run token for agent '{}' to '{}' (only tool/delegate/{} and ctl/* may have one)", req.agent,
                 from, req.agent);
    return lv::make(lv::error_code::denied, "'{}' may not have a run token for agent '{}' (only tool/delegate/{} may).",
                    from, req.agent, req.agent);
  }
  if (!_messages)
    return lv::make(lv::error_code::not_configured, "this llm has no Anthropic-Messages endpoint for delegated runs");
  if (_cfg.agents.find(req.agent) == _cfg.agents.end())
    return lv::make(lv::error_code::bad_request, "there is no agent '{}' in [agents]", req.agent);
  return _messages->issue(req.agent, std::chrono::milliseconds(req.ttl_ms));
}

llm_service::llm_service(service::runtime& rt, service::config cfg, std::string spend_path, std::string policy_path,
                         std::unique_ptr<http::client> http)
    : _rt(rt),
      _cfg(std::move(cfg)),
      _ledger(std::move(spend_path)),
      _policy(std::move(policy_path)),
      _http(std::move(http)),
      _log(log::get("llm")),
      _rng(std::random_device{}()) {
  if (auto s = _ledger.load(); !s) _log.warning("{}; starting with an empty ledger.", s.err().message);
  _policy.load(_cfg);
  for (auto& w : _policy.warnings()) _log.warning("{}", w);
  for (auto& o : _policy.to_proto().overrides)
    if (o.problem.empty())
      _log.info("routing policy: agent '{}'{}{}", o.agent, o.tier.empty() ? "" : fmt::format(" → tier '{}'", o.tier),
                o.disabled_tiers.empty() ? "" : fmt::format(", disabled tiers: {}", fmt::join(o.disabled_tiers, ", ")));
  if (!default_provider(_cfg)) {
    _log.warning("{}", not_configured_sentence(_cfg));
  } else {
    for (auto& [name, p] : _cfg.providers)
      _log.info("provider '{}': {} at {}{}", name, p.style == service::api_style::anthropic ? "anthropic" : "openai",
                p.base_url, p.enabled ? "" : " (disabled: no API key)");
  }
  // Every request is answered later, through its responder: the runtime's drain waits for
  // them (queued, on the wire and waiting to retry alike) after TERM.
  _rt.on<lv::complete>([this](lv::complete c, service::responder r) { on_complete(std::move(c), std::move(r)); });
  _rt.on<lv::embed>([this](lv::embed e, service::responder r) { on_embed(std::move(e), std::move(r)); });
  _rt.on<lv::set_policy>(
      [this](const lv::set_policy& req, const ipc::message& m) { return on_set_policy(req, m); });
  _rt.on<lv::issue_run_token>(
      [this](const lv::issue_run_token& req, const ipc::message& m) { return on_issue_run_token(req, m); });
  _rt.on<lv::get_policy>(
      [this](const lv::get_policy&, const ipc::message&) -> result<lv::policy> { return _policy.to_proto(); });
}

llm_service::~llm_service() {
  // Only when the runtime stopped waiting (its drain timeout) is anything still in hand. The
  // bus is closed by then, so these answers go nowhere: the callers' runtimes send the
  // requests again to the next llm when it joins. Answering keeps the responders from
  // reporting a handler that dropped its request.
  for (auto& [id, j] : _jobs) {
    if (j->retry_timer) _rt.loop().cancel(j->retry_timer);
    j->answer.fail(lv::make(lv::error_code::unavailable, "'{}' stopped before the provider answered; try again.",
                            _rt.address()));
  }
}

void llm_service::on_complete(lv::complete c, service::responder answer) {
  auto r = choose_route(_cfg, c, _policy.applied(c.agent));
  if (!r) return answer.fail(r.err());
  double budget = 0;
  if (auto a = _cfg.agents.find(c.agent); a != _cfg.agents.end()) budget = a->second.budget_usd;
  if (auto s = _ledger.check(c.agent, budget, utc_now()); !s) {
    _log.warning("{}", s.err().message);
    return answer.fail(s.err());
  }
  auto http = build_complete_request(*r->provider, r->model, c, c.stream);
  if (!http) return answer.fail(http.err());
  auto j = std::make_unique<job>();
  j->answer = std::move(answer);
  j->agent = c.agent;
  j->complete = std::move(c);
  j->r = std::move(*r);
  j->http = std::move(*http);
  _log.debug("Complete from '{}' for agent '{}': provider '{}', model '{}'{}", j->answer.from(), j->agent,
             j->r.provider->name, j->r.model, j->r.tier.empty() ? "" : fmt::format(", tier '{}'", j->r.tier));
  submit(std::move(j));
}

void llm_service::on_embed(lv::embed e, service::responder answer) {
  const service::provider_settings* p = nullptr;
  if (!_cfg.llm.embedding_provider.empty()) {
    auto it = _cfg.providers.find(_cfg.llm.embedding_provider);
    if (it == _cfg.providers.end() || !it->second.enabled)
      return answer.fail(
          lv::make(lv::error_code::not_configured,
                   "Embedding provider '{}' is not configured or has no API key: fix [llm] embedding_provider.",
                   _cfg.llm.embedding_provider));
    p = &it->second;
  } else {
    p = default_provider(_cfg);
  }
  if (!p) return answer.fail(lv::make(lv::error_code::not_configured, "{}", not_configured_sentence(_cfg)));
  std::string model = !e.model.empty() ? e.model : !_cfg.llm.embedding_model.empty() ? _cfg.llm.embedding_model : p->embedding_model;
  if (model.empty())
    return answer.fail(
        lv::make(lv::error_code::not_configured,
                 "Provider '{}' has no embedding model: set [llm] embedding_model or [providers.{}] embedding_model.",
                 p->name, p->name));
  double budget = 0;
  if (auto a = _cfg.agents.find(e.agent); a != _cfg.agents.end()) budget = a->second.budget_usd;
  if (auto s = _ledger.check(e.agent, budget, utc_now()); !s) return answer.fail(s.err());
  auto http = build_embed_request(*p, model, e.inputs);
  if (!http) return answer.fail(http.err());
  auto j = std::make_unique<job>();
  j->answer = std::move(answer);
  j->is_embed = true;
  j->agent = e.agent;
  j->embed_inputs = e.inputs.size();
  j->r.provider = p;
  j->r.model = model;
  j->http = std::move(*http);
  submit(std::move(j));
}

result<lv::policy> llm_service::on_set_policy(const lv::set_policy& req, const ipc::message& m) {
  // The envelope's sender is authenticated by the bus: agents cannot route themselves.
  const auto& from = m.env.from;
  if (from != "weftd" && from.rfind("ctl/", 0) != 0) {
    _log.warning("Refused to change the routing policy for '{}': '{}' may not (only weftd and ctl/* may)", req.agent,
                 from);
    return lv::make(lv::error_code::denied, "'{}' may not change the llm routing policy (only weftd and ctl/* may).",
                    from);
  }
  if (auto s = _policy.set(req, from, utc_now(), _cfg); !s) {
    _log.warning("{}", s.err().message);
    return s.take_error();
  }
  if (req.clear)
    _log.info("routing policy: '{}' cleared the override of agent '{}'", from, req.agent);
  else
    _log.info("routing policy: '{}' set agent '{}'{}{}", from, req.agent,
              req.tier.empty() ? "" : fmt::format(" → tier '{}'", req.tier),
              req.disabled_tiers.empty() ? "" : fmt::format(", disabled tiers: {}", fmt::join(req.disabled_tiers, ", ")));
  return _policy.to_proto();
}

void llm_service::submit(std::unique_ptr<job> j) {
  if (_queue.size() >= max_queued_requests)
    return j->answer.fail(lv::make(lv::error_code::unavailable,
                                   "The llm service has {} requests waiting already; try again later.", _queue.size()));
  auto id = _next_job++;
  _jobs.emplace(id, std::move(j));
  _queue.push_back(id);
  start_queued();
}

void llm_service::start_queued() {
  auto limit = std::max<std::size_t>(1, _cfg.llm.max_concurrent);
  while (_active < limit && !_queue.empty()) {
    auto id = _queue.front();
    _queue.pop_front();
    start_attempt(id);
  }
}

void llm_service::start_attempt(std::uint64_t id) {
  auto it = _jobs.find(id);
  if (it == _jobs.end()) return;
  auto& j = *it->second;
  ++j.attempts;
  ++_active;
  http::client::handlers h;
  h.done = [this, id](http::client_response r) { attempt_done(id, std::move(r)); };
  if (j.http.stream) {
    j.dec = std::make_unique<stream_decoder>(j.r.provider->style);
    h.on_body = [this, id](std::string_view bytes) {
      auto jt = _jobs.find(id);
      if (jt == _jobs.end()) return false;
      auto& jj = *jt->second;
      // The pieces decoded from one read go out as one Delta: as prompt for the reader,
      // and one bus message instead of one per token when the provider is fast.
      std::string text;
      auto s = jj.dec->feed(bytes, [&](std::string_view piece) { text += piece; });
      if (!text.empty()) {
        jj.streamed = true;
        (void)_rt.bus().notify(jj.answer.from(), lv::delta{jj.complete.stream_id, std::move(text)});
      }
      return bool(s);
    };
  }
  // The request is kept for a retry: the transfer gets a copy.
  _http->start(j.http, std::move(h));
}

void llm_service::attempt_done(std::uint64_t id, http::client_response r) {
  --_active;
  auto it = _jobs.find(id);
  if (it == _jobs.end()) {
    start_queued();
    return;
  }
  auto& j = *it->second;
  attempt_outcome o;
  o.status = r.status;
  o.streamed_to_requester = j.streamed;
  std::string detail;
  std::string payload;
  if (auto h = r.headers.find("retry-after-ms"); h != r.headers.end()) {
    long long v = 0;
    if (std::sscanf(h->second.c_str(), "%lld", &v) == 1 && v >= 0) o.retry_after = std::chrono::milliseconds(std::min(v, 3600000LL));
  } else if (auto h2 = r.headers.find("retry-after"); h2 != r.headers.end()) {
    o.retry_after = parse_retry_after(h2->second, utc_now());
  }

  bool ok2xx = r.status >= 200 && r.status < 300;
  if (r.too_large) {
    o.kind = attempt_result::malformed;
    detail = fmt::format("the answer exceeds {} bytes", max_response_bytes);
  } else if (r.aborted && j.dec) {
    auto e = j.dec->finish().err();  // the decoder's error stopped the transfer
    o.kind = lv::is(e, lv::error_code::malformed) ? attempt_result::malformed : attempt_result::stream_error;
    o.stream_error_retryable = lv::is(e, lv::error_code::rate_limited);
    detail = e.message;
  } else if (r.timed_out) {
    o.kind = attempt_result::timeout;
    detail = fmt::format("no complete answer within {} ms ({})", _cfg.llm.timeout_ms, r.error);
  } else if (!r.ok() && ok2xx && r.body_started && j.http.stream) {
    o.kind = attempt_result::cut_stream;
    detail = fmt::format("the stream was cut ({})", r.error);
  } else if (!r.ok()) {  // refused, DNS, TLS, reset, a body cut short
    o.kind = attempt_result::connect_failed;
    detail = r.error;
  } else if (!ok2xx) {
    o.kind = attempt_result::http_error;
    detail = error_message(r.body);
  } else if (j.is_embed) {
    auto e = parse_embed_response(r.body, j.embed_inputs);
    if (!e) {
      o.kind = attempt_result::malformed;
      detail = e.err().message;
    } else {
      if (e->model.empty()) e->model = j.r.model;
      payload = wire::encode(*e);
    }
  } else {
    auto c = j.dec ? j.dec->finish() : parse_complete_response(j.r.provider->style, r.body);
    if (!c) {
      auto& e = c.err();
      if (j.dec && !j.dec->finished() && lv::is(e, lv::error_code::malformed)) o.kind = attempt_result::cut_stream;
      else if (lv::is(e, lv::error_code::malformed)) o.kind = attempt_result::malformed;
      else {
        o.kind = attempt_result::stream_error;
        o.stream_error_retryable = lv::is(e, lv::error_code::rate_limited);
      }
      detail = e.message;
    } else {
      c->provider = j.r.provider->name;
      if (c->model.empty()) c->model = j.r.model;
      c->usage.cost_usd = cost_usd(j.r, c->usage.input_tokens, c->usage.output_tokens);
      c->attempts = j.attempts;
      if (auto s = _ledger.add(j.agent, c->usage.cost_usd, utc_now()); !s) _log.warning("{}", s.err().message);
      // For the security monitor's cost rule (published: whoever listens, nobody waits).
      if (!j.agent.empty())
        if (auto p = _rt.bus().publish(lv::spent{j.agent, c->usage.cost_usd, c->usage.input_tokens,
                                                 c->usage.output_tokens});
            !p)
          _log.debug("Failed to publish Spent for agent '{}': {}", j.agent, p.err().message);
      payload = wire::encode(*c);
    }
  }

  if (o.kind == attempt_result::ok) {
    _log.debug("'{}' answered for agent '{}' after {} attempt(s)", j.r.provider->name, j.agent, j.attempts);
    auto type = j.is_embed ? lv::embeddings::type_name : lv::completion::type_name;
    auto answer = std::move(j.answer);
    _jobs.erase(it);
    answer.send(type, std::move(payload));
    start_queued();
    return;
  }
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  auto d = decide_retry(_cfg.llm, j.attempts, o, jitter(_rng));
  if (d.retry) {
    _log.info("Provider '{}' attempt {} failed ({}{}); retrying in {} ms", j.r.provider->name, j.attempts,
              o.status ? fmt::format("HTTP {}: ", o.status) : std::string(), detail, d.wait.count());
    retry_later(id, d.wait);
  } else {
    auto e = final_error(o, j.attempts, j.r.provider->name, detail);
    _log.warning("Failed to complete for agent '{}': {}", j.agent, e.message);
    auto answer = std::move(j.answer);
    _jobs.erase(it);
    answer.fail(e);
  }
  start_queued();
}

void llm_service::retry_later(std::uint64_t id, std::chrono::milliseconds wait) {
  auto& j = *_jobs.at(id);
  j.retry_timer = _rt.loop().after(wait, [this, id] {
    auto it = _jobs.find(id);
    if (it == _jobs.end()) return;
    it->second->retry_timer = 0;
    _queue.push_front(id);  // a retry goes ahead of new work
    start_queued();
  });
}

}  // namespace weft::llm
