#include <weft/service/runtime.hh>

#include <csignal>
#include <future>

#include <weft/ipc/builtin.hh>

namespace weft::service {

using namespace std::chrono_literals;
namespace bp = weft::proto::bus_v1;

// ---- responder ---------------------------------------------------------------------------

responder::responder(runtime* rt, bp::envelope env) : _rt(rt), _env(std::move(env)) { ++_rt->_owed; }

responder::responder(responder&& o) noexcept : _rt(std::exchange(o._rt, nullptr)), _env(std::move(o._env)) {}

responder& responder::operator=(responder&& o) noexcept {
  if (this != &o) {
    if (_rt) fail(bp::make(bp::error_code::internal, "'{}' dropped the request", _rt->address()));
    _rt = std::exchange(o._rt, nullptr);
    _env = std::move(o._env);
  }
  return *this;
}

responder::~responder() {
  if (!_rt) return;
  _rt->_log.error("Failed to answer '{}' from '{}': the handler dropped it", _env.type, _env.from);
  fail(bp::make(bp::error_code::internal, "'{}' failed while handling '{}'", _rt->address(), _env.type));
}

void responder::send(std::string_view type, std::string payload) {
  if (!_rt) return;
  auto* rt = std::exchange(_rt, nullptr);
  (void)rt->_bus->reply(_env, type, std::move(payload));
  rt->answered();
}

void responder::fail(const error& e) {
  if (!_rt) return;
  auto* rt = std::exchange(_rt, nullptr);
  (void)rt->_bus->reply_error(_env, e);
  rt->answered();
}

// ---- runtime -----------------------------------------------------------------------------

result<std::unique_ptr<runtime>> runtime::create(zmq::context_t& ctx, std::unique_ptr<ipc::bus_client> bus,
                                                 notifier notify, runtime_options o) {
  auto loop = event_loop::create();
  if (!loop) return loop.take_error();
  std::unique_ptr<runtime> rt(new runtime(ctx, std::move(bus), std::move(notify), std::move(o), std::move(*loop)));
  if (auto s = rt->start(); !s) return s.take_error();
  return rt;
}

runtime::runtime(zmq::context_t& ctx, std::unique_ptr<ipc::bus_client> bus, notifier notify, runtime_options o,
                 std::unique_ptr<event_loop> loop)
    : _ctx(ctx),
      _bus(std::move(bus)),
      _notify(std::move(notify)),
      _opts(std::move(o)),
      _loop(std::move(loop)),
      _log(log::get("service")) {}

runtime::~runtime() = default;

status runtime::start() {
  // ZMQ_FD is edge-triggered: it says "something changed", so every wake drains the socket
  // (a receive that finds nothing has taken in everything zeromq had for it). A send can
  // consume the edge of a message that arrives meanwhile, so a send after the last drain
  // (from a timer, a posted completion, another descriptor's callback) drains again before
  // the loop sleeps.
  int zfd = _bus->socket().get(zmq::sockopt::fd);
  int mfd = _bus->monitor_socket().get(zmq::sockopt::fd);
  auto pump = [this](std::uint32_t) { pump_bus(); };
  if (auto w = _loop->watch(zfd, EPOLLIN, pump); !w) return w.take_error();
  if (auto w = _loop->watch(mfd, EPOLLIN, pump); !w) return w.take_error();
  _loop->before_wait([this] { return (_bus->sends() != _sends_seen || _bus->has_input()) && pump_bus(); });
  for (int sig : {SIGTERM, SIGINT})
    if (auto s = _loop->on_signal(sig, [this](const signalfd_siginfo&) { begin_stop(); }); !s) return s;
  if (auto iv = _notify.heartbeat_interval(); iv > 0ms) _loop->every(iv, [this] { (void)_notify.heartbeat(); });
  return {};
}

// The event side is joined by the first thing that needs it (a call, whose callee's restart
// is learnt from PeerChanged, or a subscription): a service that only answers (a tool, llm)
// keeps no connection to it, which saves every start of the stack a connection per process.
status runtime::join_events() {
  if (_events) return {};
  if (_opts.events_endpoint.empty())
    return fail(errc::unavailable, "'{}' has no bus events endpoint ($WEFT_EVENTS)", address());
  auto ev = ipc::event_subscriber::connect(_ctx, _opts.events_endpoint, {std::string(bp::peer_changed::type_name)});
  if (!ev) return ev.take_error();
  _events = std::move(*ev);
  int efd = _events->socket().get(zmq::sockopt::fd);
  if (auto w = _loop->watch(efd, EPOLLIN, [this](std::uint32_t) { pump_events(); }); !w) return w.take_error();
  // Only this runtime receives on the socket; whatever came before the watch is read now.
  _loop->defer([this] { pump_events(); });
  return {};
}

void runtime::on(std::string_view type, request_fn fn) { _requests.insert_or_assign(std::string(type), std::move(fn)); }

void runtime::on_event(std::string_view type, event_fn fn) {
  _event_fns.insert_or_assign(std::string(type), std::move(fn));
  if (type == bp::peer_changed::type_name) (void)join_events();  // published only: join now
}

status runtime::subscribe(std::string_view topic) {
  if (auto j = join_events(); !j) return fail(errc::unavailable, "Failed to subscribe to '{}': {}", topic, j.err().message);
  _events->socket().set(zmq::sockopt::subscribe, topic);
  _loop->defer([this] { pump_events(); });  // the option may have taken in zeromq's commands
  return {};
}

void runtime::on_reload(std::function<void()> fn) {
  if (_reload_hooks.empty())
    (void)_loop->on_signal(SIGHUP, [this](const signalfd_siginfo&) {
      for (auto& h : _reload_hooks) h();
    });
  _reload_hooks.push_back(std::move(fn));
}

// A bounded batch per wake keeps timers, heartbeats and other descriptors served under load;
// returns true when more is waiting (the loop then does not sleep).
bool runtime::pump_bus() {
  for (int n = 0; n < 256; ++n) {
    // The socket is read only when what was read before is handled: its last receive, the
    // one that finds nothing, comes after the handlers' sends.
    if (!_bus->has_input()) {
      _sends_seen = _bus->sends();
      _bus->process_input();
    }
    auto m = _bus->take();
    if (!m) return false;
    dispatch(std::move(*m));
    if (_loop->quitting()) return false;
  }
  return true;
}

void runtime::pump_events() {
  if (!_events) return;
  while (auto ev = _events->next(0ms)) {
    auto& m = ev->second;
    if (m.is(bp::peer_changed::type_name)) on_peer_changed(m);
    if (auto it = _event_fns.find(m.env.type); it != _event_fns.end()) it->second(m);
  }
}

void runtime::on_peer_changed(const ipc::message& m) {
  auto pc = m.as<bp::peer_changed>();
  if (!pc || !pc->joined || ipc::is_admin(pc->address)) return;
  auto it = _instances.find(pc->address);
  bool restarted = it == _instances.end() || it->second.empty() || pc->instance.empty() || it->second != pc->instance;
  if (it == _instances.end()) _instances.emplace(pc->address, pc->instance);
  else it->second = pc->instance;
  // Same instance: the peer only said Hello again to a restarted bus, and the bus client
  // already resent what that bus may have lost. A new one lost what the old one held.
  if (restarted) _bus->resend_to(pc->address, m.env.ts);
}

void runtime::dispatch(ipc::message m) {
  switch (m.env.kind) {
    case bp::kind::request:
      dispatch_request(m);
      return;
    case bp::kind::reply:
    case bp::kind::error:
      handle_answer(m);
      return;
    case bp::kind::event:
      if (auto it = _event_fns.find(m.env.type); it != _event_fns.end()) it->second(m);
      return;
  }
}

void runtime::dispatch_request(ipc::message& m) {
  if (ipc::answer_builtin(*_bus, m)) return;
  if (_stopping) {
    (void)_bus->reply_error(m, bp::make(bp::error_code::shutting_down, "'{}' is stopping and takes no new work",
                                         address()));
    return;
  }
  auto it = _requests.find(m.env.type);
  if (it == _requests.end() && !_other) {
    (void)_bus->reply_error(m, bp::make(bp::error_code::unknown_type, "'{}' does not handle '{}'", address(),
                                         m.env.type));
    return;
  }
  responder r(this, m.env);
  try {
    (it != _requests.end() ? it->second : _other)(m, std::move(r));
  } catch (const std::exception& e) {
    // A handler bug must not take the service down with the request; the responder, if the
    // handler still held it, answers Internal as it goes.
    _log.error("Failed to handle '{}' from '{}': {}", m.env.type, m.env.from, e.what());
  }
}

// ---- calls -------------------------------------------------------------------------------

result<ipc::message> runtime::call_and_wait(std::string_view to, std::string_view type, std::string payload,
                                           call_options o) {
  auto answer = std::make_shared<std::promise<result<ipc::message>>>();
  auto got = answer->get_future();
  _loop->post([this, to = std::string(to), type = std::string(type), payload = std::move(payload), o, answer]() mutable {
    call(to, type, std::move(payload), o, [answer](result<ipc::message> r) { answer->set_value(std::move(r)); });
  });
  // The loop's own deadline answers first; the extra second covers a loop that stopped.
  if (got.wait_for(o.timeout + std::chrono::seconds(1)) != std::future_status::ready)
    return proto::bus_v1::make(proto::bus_v1::error_code::timeout, "no answer from '{}' within {} ms", to,
                               o.timeout.count());
  return got.get();
}

std::uint64_t runtime::call(std::string_view to, std::string_view type, std::string payload, call_options o,
                            reply_fn fn) {
  if (!_events) (void)join_events();  // to hear of the callee's restart (none without $WEFT_EVENTS)
  auto cid = _next_call++;
  auto& c = _calls[cid];
  c.to = to;
  c.type = type;
  c.payload = std::move(payload);
  c.opts = o;
  c.fn = std::move(fn);
  c.deadline = mono_clock::now() + o.timeout;
  c.timer = _loop->at(c.deadline, [this, cid] {
    auto it = _calls.find(cid);
    if (it == _calls.end()) return;
    it->second.timer = 0;
    finish_call(cid, bp::make(bp::error_code::timeout, "no reply from '{}' to '{}' within {} ms", it->second.to,
                               it->second.type, it->second.opts.timeout.count()));
  });
  send_call(cid);
  return cid;
}

void runtime::send_call(std::uint64_t cid) {
  auto it = _calls.find(cid);
  if (it == _calls.end()) return;
  auto& c = it->second;
  auto id = _bus->send_request(c.to, c.type, c.payload);
  if (!id) {
    _loop->defer([this, cid, e = id.take_error()] { finish_call(cid, e); });
    return;
  }
  c.bus_id = *id;
  _by_bus_id[*id] = cid;
}

void runtime::finish_call(std::uint64_t cid, result<ipc::message> r) {
  auto it = _calls.find(cid);
  if (it == _calls.end()) return;
  auto c = std::move(it->second);
  _calls.erase(it);
  if (c.bus_id) {
    _by_bus_id.erase(c.bus_id);
    _bus->forget(c.bus_id);
  }
  if (c.timer) _loop->cancel(c.timer);
  c.fn(std::move(r));
}

void runtime::forget(std::uint64_t cid) {
  auto it = _calls.find(cid);
  if (it == _calls.end()) return;
  if (it->second.bus_id) {
    _by_bus_id.erase(it->second.bus_id);
    _bus->forget(it->second.bus_id);
  }
  if (it->second.timer) _loop->cancel(it->second.timer);
  _calls.erase(it);
}

void runtime::handle_answer(ipc::message& m) {
  auto b = _by_bus_id.find(m.env.id);
  if (b == _by_bus_id.end()) {
    if (_on_reply) _on_reply(m);
    return;
  }
  auto cid = b->second;
  _by_bus_id.erase(b);
  auto& c = _calls.at(cid);
  c.bus_id = 0;
  if (!m.is_error()) return finish_call(cid, std::move(m));
  auto e = m.to_error();
  bool transient = bp::is(e, bp::error_code::no_such_address) || bp::is(e, bp::error_code::queue_full) ||
                   bp::is(e, bp::error_code::shutting_down);
  auto now = mono_clock::now();
  if (!c.opts.retry || !transient || now + c.backoff >= c.deadline) return finish_call(cid, std::move(e));
  // The callee is restarting or busy: try again after a pause, until the deadline.
  auto pause = c.backoff;
  c.backoff = std::min(c.backoff * 2, std::chrono::milliseconds(200));
  _loop->after(pause, [this, cid] { send_call(cid); });
}

// ---- lifecycle ---------------------------------------------------------------------------

void runtime::ready() {
  if (_ready_sent) return;
  _ready_sent = true;
  (void)_notify.ready();
}

void runtime::stop() { begin_stop(); }

void runtime::begin_stop() {
  if (_stopping) return;
  // What the bus delivered before the signal is work in hand, whichever of the two the loop
  // saw first: it is taken now and finished; what comes after is answered ShuttingDown.
  pump_bus();
  _stopping = true;
  _log.info("'{}' stopping: finishing {} request(s) in hand", address(), _owed);
  (void)_notify.stopping();
  for (auto& h : _stop_hooks) h();
  _drain_timer = _loop->after(_opts.drain_timeout, [this] {
    _drain_timer = 0;
    _log.warning("'{}' stopping with {} request(s) unanswered after {} ms", address(), _owed,
                 _opts.drain_timeout.count());
    _loop->quit(0);
  });
  // Drain checks are predicates: look again every few milliseconds until they hold.
  _loop->every(10ms, [this] { check_drained(); });
  check_drained();
}

void runtime::check_drained() {
  if (!_stopping || _loop->quitting() || _owed > 0) return;
  for (auto& idle : _drain_checks)
    if (!idle()) return;
  _loop->quit(0);
}

int runtime::run() {
  if (_opts.ready_at_start) ready();
  int rc = _loop->run();
  if (!_stopping) (void)_notify.stopping();
  // Replies queued while the bus was away still get a moment to leave.
  _bus->close(500ms);
  return rc;
}

}  // namespace weft::service
