#include <weft/ipc/actor_bridge.hh>

#include <weft/ipc/builtin.hh>

#include <sys/eventfd.h>
#include <unistd.h>

namespace weft::ipc {

actor_bridge::actor_bridge(std::unique_ptr<bus_client> client) : _client(std::move(client)) {
  _wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

void actor_bridge::start(caf::actor handler) {
  _handler = std::move(handler);
  _thread = std::thread([this] { run(); });
}

actor_bridge::~actor_bridge() {
  stop();
  if (_wake_fd >= 0) ::close(_wake_fd);
}

void actor_bridge::post(std::function<void(bus_client&)> op) {
  {
    std::lock_guard lock(_mu);
    if (_stopping) return;
    _ops.push_back(std::move(op));
  }
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(_wake_fd, &one, sizeof one);
}

void actor_bridge::reply(const message& req, std::string type, std::string payload) {
  post([req, type = std::move(type), payload = std::move(payload)](bus_client& c) mutable {
    (void)c.reply(req, type, std::move(payload));
  });
}

void actor_bridge::reply_error(const message& req, error e) {
  post([req, e = std::move(e)](bus_client& c) { (void)c.reply_error(req, e); });
}

void actor_bridge::request(std::string to, std::string type, std::string payload, caf::actor reply_to) {
  post([this, to = std::move(to), type = std::move(type), payload = std::move(payload),
        reply_to = std::move(reply_to)](bus_client& c) mutable {
    auto id = c.send_request(to, type, std::move(payload));
    if (!id) {
      // Answer the actor with the failure as an error message, so it never waits in vain.
      auto m = std::make_shared<message>();
      m->env.kind = bus::kind::error;
      m->env.type = bus::error::type_name;
      m->payload = wire::encode(bus::error{id.err().domain, id.err().code, id.err().message});
      caf::anon_send(reply_to, bus_reply_atom::value, bus_message(std::move(m)));
      return;
    }
    _waiting.emplace(*id, std::move(reply_to));
  });
}

void actor_bridge::publish(std::string type, std::string payload) {
  post([type = std::move(type), payload = std::move(payload)](bus_client& c) mutable {
    (void)c.publish(type, std::move(payload));
  });
}

void actor_bridge::notify(std::string to, std::string type, std::string payload) {
  post([to = std::move(to), type = std::move(type), payload = std::move(payload)](bus_client& c) mutable {
    (void)c.notify(to, type, std::move(payload));
  });
}

void actor_bridge::stop() {
  {
    std::lock_guard lock(_mu);
    if (_stopping) return;
    _stopping = true;
  }
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(_wake_fd, &one, sizeof one);
  if (_thread.joinable()) _thread.join();
  else if (_client) _client->close(std::chrono::milliseconds(0));
}

void actor_bridge::run() {
  for (;;) {
    zmq::pollitem_t items[] = {{_client->socket().handle(), 0, ZMQ_POLLIN, 0},
                               {_client->monitor_socket().handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, _wake_fd, ZMQ_POLLIN, 0}};
    zmq::poll(items, 3, std::chrono::milliseconds(1000));
    if (items[2].revents & ZMQ_POLLIN) {
      std::uint64_t v;
      [[maybe_unused]] auto n = ::read(_wake_fd, &v, sizeof v);
    }
    std::deque<std::function<void(bus_client&)>> ops;
    bool stopping;
    {
      std::lock_guard lock(_mu);
      ops.swap(_ops);
      stopping = _stopping;
    }
    for (auto& op : ops) op(*_client);
    if (stopping) break;
    _client->process_input();
    while (auto m = _client->next(std::chrono::milliseconds(0))) {
      auto shared = std::make_shared<const message>(std::move(*m));
      if (answer_builtin(*_client, *shared)) {
        // Ping and SetLogLevel need no actor.
      } else if (shared->env.kind == bus::kind::request && _refusing) {
        (void)_client->reply_error(*shared, bus::make(bus::error_code::shutting_down, "'{}' is shutting down",
                                                      _client->address()));
      } else if (shared->env.kind == bus::kind::request || shared->env.kind == bus::kind::event) {
        caf::anon_send(_handler, bus_request_atom::value, bus_message(shared));
      } else if (auto it = _waiting.find(shared->env.id); it != _waiting.end()) {
        caf::anon_send(it->second, bus_reply_atom::value, bus_message(shared));
        _waiting.erase(it);
      }
    }
  }
  _client->close(std::chrono::milliseconds(500));
}

}  // namespace weft::ipc
