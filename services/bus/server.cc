#include "server.hh"

#include <filesystem>

namespace weft::bus {

namespace fs = std::filesystem;

class server::zmq_transport final : public transport {
 public:
  zmq_transport(zmq::socket_t& router, zmq::socket_t& pub) : _router(router), _pub(pub) {}
  send_result send(std::string_view rid, std::string_view header, std::string_view payload) override {
    try {
      if (!_router.send(zmq::buffer(rid.data(), rid.size()), zmq::send_flags::sndmore | zmq::send_flags::dontwait))
        return send_result::full;
      _router.send(zmq::buffer(header.data(), header.size()), zmq::send_flags::sndmore);
      _router.send(zmq::buffer(payload.data(), payload.size()), zmq::send_flags::none);
      return send_result::ok;
    } catch (const zmq::error_t& e) {
      if (e.num() == EHOSTUNREACH) return send_result::unreachable;
      if (e.num() == EAGAIN) return send_result::full;
      throw;
    }
  }
  void publish(std::string_view topic, std::string_view header, std::string_view payload) override {
    // Never block the router for a slow subscriber: XPUB drops at its high-water mark.
    (void)_pub.send(zmq::buffer(topic.data(), topic.size()), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    (void)_pub.send(zmq::buffer(header.data(), header.size()), zmq::send_flags::sndmore);
    (void)_pub.send(zmq::buffer(payload.data(), payload.size()), zmq::send_flags::none);
  }

 private:
  zmq::socket_t& _router;
  zmq::socket_t& _pub;
};

namespace {

status bind_ipc(zmq::socket_t& s, const std::string& endpoint) {
  // A socket file left by a killed bus would make bind fail: it is ours to replace.
  if (endpoint.rfind("ipc://", 0) == 0) {
    std::error_code ec;
    fs::remove(endpoint.substr(6), ec);
  }
  try {
    s.bind(endpoint);
  } catch (const zmq::error_t& e) {
    return fail(errc::io, "Failed to bind '{}': {}", endpoint, e.what());
  }
  return {};
}

}  // namespace

server::server(zmq::context_t& ctx, event_loop& loop)
    : _loop(loop), _router(ctx, zmq::socket_type::router), _pub(ctx, zmq::socket_type::xpub) {}

server::~server() {
  for (auto w : _watches) _loop.unwatch(w);
  if (_hook) _loop.remove_before_wait(_hook);
  std::error_code ec;
  if (!_bus_path.empty()) fs::remove(_bus_path, ec);
  if (!_events_path.empty()) fs::remove(_events_path, ec);
}

result<std::unique_ptr<server>> server::bind(zmq::context_t& ctx, event_loop& loop,
                                             const service::bus_settings& bs, const ipc::secret& key,
                                             const std::string& bus_endpoint, const std::string& events_endpoint) {
  std::unique_ptr<server> s(new server(ctx, loop));
  auto& router = s->_router;
  router.set(zmq::sockopt::router_mandatory, 1);
  router.set(zmq::sockopt::sndhwm, static_cast<int>(bs.queue_depth));
  router.set(zmq::sockopt::rcvhwm, static_cast<int>(bs.queue_depth));
  // Hard cap: past twice the limit the peer is disconnected by ZeroMQ instead of getting
  // TooLarge, so one peer cannot make the bus buffer unbounded data.
  router.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(bs.max_message_bytes * 2 + 65536));
  router.set(zmq::sockopt::linger, 0);
  s->_pub.set(zmq::sockopt::sndhwm, 100000);
  s->_pub.set(zmq::sockopt::linger, 0);
  if (auto r = bind_ipc(router, bus_endpoint); !r) return r.take_error();
  if (bus_endpoint.rfind("ipc://", 0) == 0) s->_bus_path = bus_endpoint.substr(6);
  if (auto r = bind_ipc(s->_pub, events_endpoint); !r) return r.take_error();
  if (events_endpoint.rfind("ipc://", 0) == 0) s->_events_path = events_endpoint.substr(6);
  s->_transport = std::make_unique<zmq_transport>(router, s->_pub);
  s->_broker = std::make_unique<broker>(bs, key, *s->_transport);
  // ZMQ_FD is edge-triggered: each wake drains, and the hook looks again before a wait.
  auto* self = s.get();
  for (auto* sock : {&s->_router, &s->_pub}) {
    auto w = loop.watch(sock->get(zmq::sockopt::fd), EPOLLIN, [self](std::uint32_t) { self->pump(); });
    if (!w) return w.take_error();
    s->_watches.push_back(*w);
  }
  s->_hook = loop.before_wait([self] { return self->pump(); });
  return s;
}

// Returns true when more input is waiting (a bounded batch per wake keeps heartbeats and
// signals served under load).
bool server::pump() {
  zmq::message_t sub;
  while (_pub.recv(sub, zmq::recv_flags::dontwait)) {
    auto s = sub.to_string_view();
    if (!s.empty() && (s[0] == 0 || s[0] == 1)) _broker->on_subscription(s.substr(1), s[0] == 1);
  }
  zmq::message_t rid, header, payload, extra;
  for (int n = 0; n < 4096; ++n) {
    if (!_router.recv(rid, zmq::recv_flags::dontwait)) break;
    bool have_header = rid.more() && _router.recv(header);
    bool have_payload = have_header && header.more() && _router.recv(payload);
    bool more = have_payload && payload.more();
    while (more) {  // frames beyond [header][payload] are not part of the protocol
      (void)_router.recv(extra);
      more = extra.more();
    }
    if (!have_header) continue;
    _broker->on_message(rid.to_string_view(), header.to_string_view(),
                        have_payload ? payload.to_string_view() : std::string_view());
  }
  return (_router.get(zmq::sockopt::events) & ZMQ_POLLIN) || (_pub.get(zmq::sockopt::events) & ZMQ_POLLIN);
}

}  // namespace weft::bus
