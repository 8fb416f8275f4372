#include <weft/ipc/bus_client.hh>

#include <cstdlib>
#include <atomic>
#include <cstring>
#include <random>

#include <weft/ipc/address.hh>
#include <weft/ipc/token.hh>

namespace weft::ipc {

namespace {

constexpr std::size_t max_pending = 65536;
std::atomic<unsigned> monitor_seq{0};

bool transient(const error& e) {
  return bus::is(e, bus::error_code::no_such_address) || bus::is(e, bus::error_code::queue_full) ||
         bus::is(e, bus::error_code::not_authenticated) || bus::is(e, bus::error_code::shutting_down);
}

std::string random_instance() {
  std::random_device rd;
  std::uint64_t v = (std::uint64_t(rd()) << 32) ^ rd();
  return fmt::format("{:016x}", v);
}

}  // namespace

bus_client::bus_client(zmq::context_t& ctx, client_options opts)
    : _ctx(ctx),
      _opts(std::move(opts)),
      _sock(ctx, zmq::socket_type::dealer),
      _mon(ctx, zmq::socket_type::pair),
      _log(log::get("bus-client")),
      _instance(random_instance()) {}

bus_client::~bus_client() { close(0ms); }

void bus_client::close(std::chrono::milliseconds linger) {
  if (_closed) return;
  _closed = true;
  _sock.set(zmq::sockopt::linger, static_cast<int>(linger.count()));
  _mon.close();
  _sock.close();
}

result<client_options> bus_client::options_from_env() {
  client_options o;
  const char* ep = std::getenv("WEFT_BUS");
  const char* addr = std::getenv("WEFT_ADDRESS");
  const char* fd = std::getenv("WEFT_TOKEN_FD");
  if (!ep || !addr || !fd)
    return fail(errc::invalid_argument,
                "WEFT_BUS, WEFT_ADDRESS and WEFT_TOKEN_FD are not all set; this program is started by weftd");
  o.endpoint = ep;
  o.address = addr;
  auto tok = read_credential_fd(std::atoi(fd));
  if (!tok) return tok.take_error();
  o.token = std::move(*tok);
  return o;
}

result<std::unique_ptr<bus_client>> bus_client::connect(zmq::context_t& ctx, client_options opts) {
  std::unique_ptr<bus_client> c(new bus_client(ctx, std::move(opts)));
  auto& s = c->_sock;
  s.set(zmq::sockopt::linger, 200);
  s.set(zmq::sockopt::sndhwm, 10000);
  s.set(zmq::sockopt::rcvhwm, 10000);
  s.set(zmq::sockopt::reconnect_ivl, 10);
  s.set(zmq::sockopt::reconnect_ivl_max, 250);
  // Connection events tell us when a restarted bus is reachable, so we say Hello again.
  auto mon = fmt::format("inproc://weft-bus-monitor-{}", monitor_seq++);
  zmq_socket_monitor(s.handle(), mon.c_str(), ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED);
  c->_mon.connect(mon);
  try {
    s.connect(c->_opts.endpoint);
  } catch (const zmq::error_t& e) {
    return fail(errc::invalid_argument, "Failed to connect to bus '{}': {}", c->_opts.endpoint, e.what());
  }
  c->send_hello();
  auto deadline = mono_clock::now() + c->_opts.hello_timeout;
  while (!c->_registered) {
    if (c->_auth_error) return *c->_auth_error;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - mono_clock::now());
    if (left <= 0ms)
      return bus::make(bus::error_code::timeout, "Failed to connect to bus '{}': no Welcome within {} ms",
                       c->_opts.endpoint, c->_opts.hello_timeout.count());
    c->poll_once(left);
  }
  return c;
}

void bus_client::send_hello() {
  bus::hello h;
  h.address = _opts.address;
  h.token = _opts.token;
  h.instance = _instance;
  _hello_id = _next_id++;
  auto header = encode_header(bus::kind::request, bus::hello::type_name, _hello_id, "bus");
  (void)send_frames(header, wire::encode(h));
}

status bus_client::send_frames(const std::string& header, std::string_view payload) {
  try {
    auto r = _sock.send(zmq::buffer(header), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    if (!r) return bus::make(bus::error_code::queue_full, "Failed to send to the bus: local queue is full");
    // The second frame always follows the first: the first was accepted, so is this one.
    _sock.send(zmq::buffer(payload.data(), payload.size()), zmq::send_flags::none);
    ++_sends;
  } catch (const zmq::error_t& e) {
    return fail(errc::io, "Failed to send to the bus: {}", e.what());
  }
  return {};
}

status bus_client::send_or_queue(std::string header, std::string payload) {
  if (_closed) return fail(errc::unavailable, "Failed to send: the bus connection is closed");
  if (_registered) return send_frames(header, payload);
  if (_outbox.size() >= _opts.max_outbox)
    return bus::make(bus::error_code::queue_full, "Failed to send: {} messages are already waiting for the bus",
                     _outbox.size());
  _outbox.emplace_back(std::move(header), std::move(payload));
  return {};
}

result<std::uint64_t> bus_client::send_request(std::string_view to, std::string_view type, std::string payload) {
  if (_pending.size() >= max_pending) {
    // Requests unanswered for a minute will not be answered: forget them (a late reply is
    // then dropped like any answer to a request given up on).
    auto cutoff = mono_clock::now() - std::chrono::minutes(1);
    std::erase_if(_pending, [&](auto& p) { return p.second.sent < cutoff; });
  }
  if (_pending.size() >= max_pending)
    return bus::make(bus::error_code::queue_full, "Failed to send '{}': {} requests await replies", type,
                     _pending.size());
  auto id = _next_id++;
  auto header = encode_header(bus::kind::request, type, id, to);
  if (auto s = send_or_queue(std::move(header), payload); !s) return s.take_error();
  _pending.emplace(id, pending_request{std::string(to), std::string(type), std::move(payload), false,
                                       mono_clock::now(), utc_now()});
  return id;
}

status bus_client::reply(const bus::envelope& req, std::string_view type, std::string payload) {
  return send_or_queue(encode_header(bus::kind::reply, type, req.id, req.from), std::move(payload));
}

status bus_client::reply_error(const bus::envelope& req, const error& e) {
  bus::error p;
  p.domain = e.domain;
  p.code = e.code;
  p.message = e.message;
  return send_or_queue(encode_header(bus::kind::error, bus::error::type_name, req.id, req.from), wire::encode(p));
}

std::size_t bus_client::resend_to(std::string_view address, utc_time joined) {
  std::size_t n = 0;
  for (auto& [id, p] : _pending) {
    if (p.sent_at >= joined) continue;
    if (!addr::beneath(p.to, address)) continue;
    ++n;
    if (_registered) (void)send_frames(encode_header(bus::kind::request, p.type, id, p.to), p.payload);
    else p.resend = true;  // after the Welcome
  }
  if (n) _log.info("'{}' restarted: sent {} unanswered request(s) to it again", address, n);
  return n;
}

status bus_client::publish(std::string_view type, std::string payload) {
  return send_or_queue(encode_header(bus::kind::event, type, _next_id++, ""), std::move(payload));
}

status bus_client::notify(std::string_view to, std::string_view type, std::string payload) {
  return send_or_queue(encode_header(bus::kind::event, type, _next_id++, to), std::move(payload));
}

void bus_client::handle_monitor() {
  zmq::message_t ev, addr;
  while (_mon.recv(ev, zmq::recv_flags::dontwait)) {
    if (ev.more()) (void)_mon.recv(addr);
    if (ev.size() < 6) continue;
    std::uint16_t event;
    std::memcpy(&event, ev.data(), sizeof event);
    if (event == ZMQ_EVENT_DISCONNECTED) {
      _log.debug("'{}' lost the bus; waiting for it to come back", _opts.address);
      _registered = false;
      _hello_id = 0;
    } else if (event == ZMQ_EVENT_CONNECTED && !_registered && _hello_id == 0) {
      _log.debug("'{}' reconnected to the bus; saying Hello", _opts.address);
      send_hello();
    }
  }
}

void bus_client::handle_message(message m) {
  if (_hello_id != 0 && m.env.id == _hello_id && m.env.kind != bus::kind::request) {
    _hello_id = 0;
    if (m.is_error()) {
      auto e = m.to_error();
      _log.error("Failed to authenticate '{}' to the bus: {}", _opts.address, e.message);
      _auth_error = e;
      return;
    }
    if (auto w = m.as<bus::welcome>(); w) {
      // A new bus instance knows nothing of what the old one held: every request still
      // unanswered may be lost with it, so all of them go again (same ids; a receiver that
      // already got one may see it twice, and the second answer is dropped here).
      if (!_bus_instance.empty() && w->bus_instance != _bus_instance)
        for (auto& [id, p] : _pending) p.resend = true;
      _bus_instance = w->bus_instance;
    }
    _registered = true;
    // Requests the previous bus may have lost, then what queued while we were away.
    for (auto& [id, p] : _pending)
      if (p.resend) {
        p.resend = false;
        (void)send_frames(encode_header(bus::kind::request, p.type, id, p.to), p.payload);
      }
    while (!_outbox.empty()) {
      auto& [h, pl] = _outbox.front();
      (void)send_frames(h, pl);
      _outbox.pop_front();
    }
    return;
  }

  if (m.is_error()) {
    auto e = m.to_error();
    if (bus::is(e, bus::error_code::not_authenticated)) {
      // The bus restarted and does not know this connection: say Hello again and resend
      // the request after the Welcome.
      if (auto it = _pending.find(m.env.id); it != _pending.end()) it->second.resend = true;
      if (_hello_id == 0) {
        _registered = false;
        send_hello();
      }
      return;
    }
  }
  if (m.env.kind == bus::kind::reply || m.env.kind == bus::kind::error) {
    auto it = _pending.find(m.env.id);
    if (it == _pending.end()) return;  // a late answer to a request we gave up on
    _pending.erase(it);
  }
  _inbox.push_back(std::move(m));
}

bool bus_client::process_input() {
  if (_closed) return false;
  handle_monitor();
  zmq::message_t header;
  while (_sock.recv(header, zmq::recv_flags::dontwait)) {
    auto m = read_rest(_sock, header);
    if (m) handle_message(std::move(*m));
    else _log.warning("Failed to decode an envelope from the bus: {}, ignoring.", m.err().message);
  }
  return !_inbox.empty();
}

void bus_client::poll_once(std::chrono::milliseconds timeout) {
  zmq::pollitem_t items[] = {{_sock.handle(), 0, ZMQ_POLLIN, 0}, {_mon.handle(), 0, ZMQ_POLLIN, 0}};
  zmq::poll(items, 2, timeout);
  process_input();
}

std::optional<message> bus_client::take() {
  if (_inbox.empty()) return std::nullopt;
  auto m = std::move(_inbox.front());
  _inbox.pop_front();
  return m;
}

std::optional<message> bus_client::next(std::chrono::milliseconds timeout) {
  auto deadline = mono_clock::now() + timeout;
  while (_inbox.empty() && !_closed) {
    process_input();
    if (!_inbox.empty()) break;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - mono_clock::now());
    if (left < 0ms) break;
    poll_once(left);
    if (left == 0ms) break;
  }
  if (_inbox.empty()) return std::nullopt;
  auto m = std::move(_inbox.front());
  _inbox.pop_front();
  return m;
}

result<message> bus_client::call(std::string_view to, std::string_view type, std::string payload, call_options o) {
  auto deadline = mono_clock::now() + o.timeout;
  auto backoff = 5ms;
  error last = bus::make(bus::error_code::timeout, "no reply from '{}' to '{}' within {} ms", to, type,
                         o.timeout.count());
  while (mono_clock::now() < deadline) {
    auto id = send_request(to, type, payload);
    if (!id) return id.take_error();
    auto attempt_end = std::min(deadline, mono_clock::now() + o.attempt_timeout);
    std::optional<message> answer;
    while (!answer && mono_clock::now() < attempt_end) {
      for (auto it = _inbox.begin(); it != _inbox.end(); ++it)
        if (it->env.id == *id && it->env.kind != bus::kind::request && it->env.kind != bus::kind::event) {
          answer = std::move(*it);
          _inbox.erase(it);
          break;
        }
      if (!answer)
        poll_once(std::max(1ms, std::chrono::duration_cast<std::chrono::milliseconds>(attempt_end - mono_clock::now())));
    }
    if (!answer) {
      _pending.erase(*id);  // resend under a new id; a late reply to this one is dropped
      if (!o.retry) return last;
      continue;
    }
    if (!answer->is_error()) return std::move(*answer);
    auto e = answer->to_error();
    if (!o.retry || !transient(e)) return e;
    last = e;
    // Transient (the destination is restarting, or its queue is full): back off and retry.
    auto pause = std::min(backoff, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - mono_clock::now()));
    if (pause > 0ms) poll_once(pause);
    backoff = std::min(backoff * 2, 200ms);
  }
  return last;
}

event_subscriber::event_subscriber(zmq::context_t& ctx) : _sock(ctx, zmq::socket_type::sub) {}

result<std::unique_ptr<event_subscriber>> event_subscriber::connect(zmq::context_t& ctx, const std::string& endpoint,
                                                                    const std::vector<std::string>& prefixes) {
  std::unique_ptr<event_subscriber> s(new event_subscriber(ctx));
  s->_sock.set(zmq::sockopt::linger, 0);
  s->_sock.set(zmq::sockopt::rcvhwm, 100000);
  for (auto& p : prefixes) s->_sock.set(zmq::sockopt::subscribe, p);
  try {
    s->_sock.connect(endpoint);
  } catch (const zmq::error_t& e) {
    return fail(errc::invalid_argument, "Failed to connect to bus events '{}': {}", endpoint, e.what());
  }
  return s;
}

std::optional<std::pair<std::string, message>> event_subscriber::next(std::chrono::milliseconds timeout) {
  // Without a wait, the receive itself says whether there is one (a poll would cost more).
  if (timeout > 0ms) {
    zmq::pollitem_t item{_sock.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, timeout) <= 0) return std::nullopt;
  }
  zmq::message_t topic, header;
  if (!_sock.recv(topic, zmq::recv_flags::dontwait)) return std::nullopt;
  if (!topic.more() || !_sock.recv(header)) return std::nullopt;
  auto m = read_rest(_sock, header);
  if (!m) return std::nullopt;
  return std::pair{topic.to_string(), std::move(*m)};
}

}  // namespace weft::ipc
