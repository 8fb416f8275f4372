#include "services/llm/llm_service.hh"

#include <sys/signalfd.h>
#include <unistd.h>

#include <fmt/ranges.h>

#include <weft/ipc/builtin.hh>

namespace weft::llm {

namespace bus = weft::proto::bus_v1;
using namespace std::chrono_literals;

struct llm_service::job {
  ipc::message req;
  bool is_embed = false;
  lv::complete complete;
  std::size_t embed_inputs = 0;
  std::string agent;
  route r;
  http_request http;
  std::uint32_t attempts = 0;
  bool streamed = false;  // a Delta went to the requester
  std::unique_ptr<stream_decoder> dec;
};

llm_service::llm_service(ipc::bus_client& b, service::config cfg, std::string spend_path, std::string policy_path)
    : _bus(b),
      _cfg(std::move(cfg)),
      _ledger(std::move(spend_path)),
      _policy(std::move(policy_path)),
      _http(http_options{static_cast<long>(_cfg.llm.timeout_ms), static_cast<long>(_cfg.llm.connect_timeout_ms),
                         max_response_bytes, static_cast<long>(std::max<std::uint32_t>(_cfg.llm.max_concurrent, 4))}),
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
}

llm_service::~llm_service() = default;

void llm_service::dispatch(const ipc::message& m) {
  if (m.env.kind != bus::kind::request) return;
  if (ipc::answer_builtin(_bus, m)) return;
  try {
    if (m.is(lv::complete::type_name)) return on_complete(m);
    if (m.is(lv::embed::type_name)) return on_embed(m);
    if (m.is(lv::set_policy::type_name)) return on_set_policy(m);
    if (m.is(lv::get_policy::type_name)) return on_get_policy(m);
  } catch (const std::exception& e) {
    // A bug must not take the service, and every other request in flight, down with it.
    _log.error("Failed to handle '{}' from '{}': {}", m.env.type, m.env.from, e.what());
    (void)_bus.reply_error(m, bus::make(bus::error_code::internal, "'llm' failed while handling '{}'", m.env.type));
    return;
  }
  (void)_bus.reply_error(m, bus::make(bus::error_code::unknown_type, "'{}' does not handle '{}'", _bus.address(),
                                      m.env.type));
}

void llm_service::on_complete(const ipc::message& m) {
  auto c = m.as<lv::complete>();
  if (!c) return (void)_bus.reply_error(m, c.err());
  auto r = choose_route(_cfg, *c, _policy.applied(c->agent));
  if (!r) return (void)_bus.reply_error(m, r.err());
  double budget = 0;
  if (auto a = _cfg.agents.find(c->agent); a != _cfg.agents.end()) budget = a->second.budget_usd;
  if (auto s = _ledger.check(c->agent, budget, utc_now()); !s) {
    _log.warning("{}", s.err().message);
    return (void)_bus.reply_error(m, s.err());
  }
  auto http = build_complete_request(*r->provider, r->model, *c, c->stream);
  if (!http) return (void)_bus.reply_error(m, http.err());
  auto j = std::make_unique<job>();
  j->req = m;
  j->agent = c->agent;
  j->complete = std::move(*c);
  j->r = std::move(*r);
  j->http = std::move(*http);
  _log.debug("Complete from '{}' for agent '{}': provider '{}', model '{}'{}", m.env.from, j->agent, j->r.provider->name,
             j->r.model, j->r.tier.empty() ? "" : fmt::format(", tier '{}'", j->r.tier));
  submit(std::move(j));
}

void llm_service::on_embed(const ipc::message& m) {
  auto e = m.as<lv::embed>();
  if (!e) return (void)_bus.reply_error(m, e.err());
  const service::provider_settings* p = nullptr;
  if (!_cfg.llm.embedding_provider.empty()) {
    auto it = _cfg.providers.find(_cfg.llm.embedding_provider);
    if (it == _cfg.providers.end() || !it->second.enabled)
      return (void)_bus.reply_error(
          m, lv::make(lv::error_code::not_configured,
                      "Embedding provider '{}' is not configured or has no API key: fix [llm] embedding_provider.",
                      _cfg.llm.embedding_provider));
    p = &it->second;
  } else {
    p = default_provider(_cfg);
  }
  if (!p) return (void)_bus.reply_error(m, lv::make(lv::error_code::not_configured, "{}", not_configured_sentence(_cfg)));
  std::string model = !e->model.empty() ? e->model : !_cfg.llm.embedding_model.empty() ? _cfg.llm.embedding_model : p->embedding_model;
  if (model.empty())
    return (void)_bus.reply_error(
        m, lv::make(lv::error_code::not_configured,
                    "Provider '{}' has no embedding model: set [llm] embedding_model or [providers.{}] embedding_model.",
                    p->name, p->name));
  double budget = 0;
  if (auto a = _cfg.agents.find(e->agent); a != _cfg.agents.end()) budget = a->second.budget_usd;
  if (auto s = _ledger.check(e->agent, budget, utc_now()); !s) return (void)_bus.reply_error(m, s.err());
  auto http = build_embed_request(*p, model, e->inputs);
  if (!http) return (void)_bus.reply_error(m, http.err());
  auto j = std::make_unique<job>();
  j->req = m;
  j->is_embed = true;
  j->agent = e->agent;
  j->embed_inputs = e->inputs.size();
  j->r.provider = p;
  j->r.model = model;
  j->http = std::move(*http);
  submit(std::move(j));
}

void llm_service::on_set_policy(const ipc::message& m) {
  auto req = m.as<lv::set_policy>();
  if (!req) return (void)_bus.reply_error(m, req.err());
  // The envelope's sender is authenticated by the bus: agents cannot route themselves.
  const auto& from = m.env.from;
  if (from != "weftd" && from.rfind("ctl/", 0) != 0) {
    _log.warning("Refused to change the routing policy for '{}': '{}' may not (only weftd and ctl/* may)", req->agent,
                 from);
    return (void)_bus.reply_error(
        m, lv::make(lv::error_code::denied, "'{}' may not change the llm routing policy (only weftd and ctl/* may).",
                    from));
  }
  if (auto s = _policy.set(*req, from, utc_now(), _cfg); !s) {
    _log.warning("{}", s.err().message);
    return (void)_bus.reply_error(m, s.err());
  }
  if (req->clear)
    _log.info("routing policy: '{}' cleared the override of agent '{}'", from, req->agent);
  else
    _log.info("routing policy: '{}' set agent '{}'{}{}", from, req->agent,
              req->tier.empty() ? "" : fmt::format(" → tier '{}'", req->tier),
              req->disabled_tiers.empty() ? "" : fmt::format(", disabled tiers: {}", fmt::join(req->disabled_tiers, ", ")));
  (void)_bus.reply(m, _policy.to_proto());
}

void llm_service::on_get_policy(const ipc::message& m) {
  if (auto req = m.as<lv::get_policy>(); !req) return (void)_bus.reply_error(m, req.err());
  (void)_bus.reply(m, _policy.to_proto());
}

void llm_service::submit(std::unique_ptr<job> j) {
  if (_queue.size() >= max_queued_requests) {
    (void)_bus.reply_error(j->req, lv::make(lv::error_code::unavailable,
                                            "The llm service has {} requests waiting already; try again later.",
                                            _queue.size()));
    return;
  }
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
  http_client::body_fn on_body;
  if (j.http.stream) {
    j.dec = std::make_unique<stream_decoder>(j.r.provider->style);
    on_body = [this, id](std::string_view bytes) {
      auto jt = _jobs.find(id);
      if (jt == _jobs.end()) return false;
      auto& jj = *jt->second;
      // The pieces decoded from one read go out as one Delta: as prompt for the reader,
      // and one bus message instead of one per token when the provider is fast.
      std::string text;
      auto s = jj.dec->feed(bytes, [&](std::string_view piece) { text += piece; });
      if (!text.empty()) {
        jj.streamed = true;
        (void)_bus.notify(jj.req.env.from, lv::delta{jj.complete.stream_id, std::move(text)});
      }
      return bool(s);
    };
  }
  _http.start(j.http, std::move(on_body), [this, id](http_response r) { attempt_done(id, std::move(r)); });
}

void llm_service::attempt_done(std::uint64_t id, http_response r) {
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
  result<std::string> payload = std::string();
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
  } else if (r.code == CURLE_OPERATION_TIMEDOUT) {
    o.kind = attempt_result::timeout;
    detail = fmt::format("no complete answer within {} ms ({})", _cfg.llm.timeout_ms, r.error);
  } else if (r.code != CURLE_OK && ok2xx && r.body_started && j.http.stream) {
    o.kind = attempt_result::cut_stream;
    detail = fmt::format("the stream was cut ({})", r.error);
  } else if (r.code != CURLE_OK) {  // refused, DNS, TLS, reset, a body cut short
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
      payload = wire::encode(*c);
    }
  }

  if (o.kind == attempt_result::ok) {
    _log.debug("'{}' answered for agent '{}' after {} attempt(s)", j.r.provider->name, j.agent, j.attempts);
    finish(id, std::move(payload), j.is_embed ? lv::embeddings::type_name : lv::completion::type_name);
    start_queued();
    return;
  }
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  auto d = decide_retry(_cfg.llm, j.attempts, o, jitter(_rng));
  if (d.retry) {
    _log.info("Provider '{}' attempt {} failed ({}{}); retrying in {} ms", j.r.provider->name, j.attempts,
              o.status ? fmt::format("HTTP {}: ", o.status) : std::string(), detail, d.wait.count());
    _timers.emplace(mono_clock::now() + d.wait, id);
  } else {
    auto e = final_error(o, j.attempts, j.r.provider->name, detail);
    _log.warning("Failed to complete for agent '{}': {}", j.agent, e.message);
    fail_job(id, e);
  }
  start_queued();
}

void llm_service::finish(std::uint64_t id, result<std::string> payload, std::string_view type) {
  auto it = _jobs.find(id);
  if (it == _jobs.end()) return;
  (void)_bus.reply(it->second->req, type, std::move(*payload));
  _jobs.erase(it);
}

void llm_service::fail_job(std::uint64_t id, const error& e) {
  auto it = _jobs.find(id);
  if (it == _jobs.end()) return;
  (void)_bus.reply_error(it->second->req, e);
  _jobs.erase(it);
}

void llm_service::run_timers() {
  auto now = mono_clock::now();
  while (!_timers.empty() && _timers.begin()->first <= now) {
    auto id = _timers.begin()->second;
    _timers.erase(_timers.begin());
    if (_jobs.count(id)) _queue.push_front(id);  // a retry goes ahead of new work
  }
  start_queued();
}

std::chrono::milliseconds llm_service::next_timer_wait(std::chrono::milliseconds cap) const {
  if (_timers.empty()) return cap;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(_timers.begin()->first - mono_clock::now());
  return std::clamp(left, 0ms, cap);
}

// The loop: one thread serves the bus and every HTTP transfer. curl_multi_poll() waits on
// curl's sockets plus three of ours: the bus socket's ZMQ_FD, the bus monitor's ZMQ_FD and
// the signalfd. ZMQ_FD is edge-triggered (it signals "something changed", not "readable"),
// so every wake drains the bus completely with process_input(), and before sleeping we ask
// ZMQ_EVENTS whether input is already waiting (a send can consume the edge) and then do not
// sleep at all. Retry waits are timers in this loop, never sleeps.
int llm_service::run(service::notifier& n, int signal_fd) {
  (void)n.ready();
  bool stopping = false;
  int zfd = _bus.socket().get(zmq::sockopt::fd);
  int mfd = _bus.monitor_socket().get(zmq::sockopt::fd);
  for (;;) {
    _bus.process_input();
    if (!stopping)
      while (auto m = _bus.next(0ms)) dispatch(*m);
    if (stopping && _jobs.empty()) break;
    auto wait = next_timer_wait(n.beat_if_due());
    if (!stopping && (_bus.has_input() || (_bus.socket().get(zmq::sockopt::events) & ZMQ_POLLIN))) wait = 0ms;
    curl_waitfd extra[3] = {{zfd, CURL_WAIT_POLLIN, 0}, {mfd, CURL_WAIT_POLLIN, 0}, {signal_fd, CURL_WAIT_POLLIN, 0}};
    _http.wait(extra, static_cast<int>(wait.count()));
    if (extra[2].revents) {
      signalfd_siginfo si;
      while (::read(signal_fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) stopping = true;
      if (stopping) {
        // Drain: requests that already arrived are still served; nothing is read after.
        while (auto m = _bus.next(0ms)) dispatch(*m);
        _log.info("llm stopping: finishing {} request(s) in flight", _jobs.size());
      }
    }
    _http.perform();
    run_timers();
  }
  (void)n.stopping();
  _bus.close(500ms);
  return 0;
}

}  // namespace weft::llm
