#include <weft/service/service_loop.hh>

#include <weft/ipc/builtin.hh>

#include <csignal>
#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace weft::service {

namespace bus = weft::proto::bus_v1;

int block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

service_loop::service_loop(ipc::bus_client& b, notifier& n)
    : _bus(b), _notify(n), _signal_fd(block_stop_signals()), _log(log::get("service")) {}

service_loop::~service_loop() {
  if (_signal_fd >= 0) ::close(_signal_fd);
}

void service_loop::on(std::string_view type, handler h) { _handlers.insert_or_assign(std::string(type), std::move(h)); }

void service_loop::on_event(std::string_view type, std::function<void(const ipc::message&)> h) {
  _event_handlers.insert_or_assign(std::string(type), std::move(h));
}

void service_loop::dispatch(const ipc::message& m) {
  if (m.env.kind == bus::kind::event) {
    if (auto it = _event_handlers.find(m.env.type); it != _event_handlers.end()) it->second(m);
    return;
  }
  if (m.env.kind != bus::kind::request) return;  // replies to our own requests: nobody waits here
  if (ipc::answer_builtin(_bus, m)) return;
  auto it = _handlers.find(m.env.type);
  if (it == _handlers.end()) {
    (void)_bus.reply_error(m, bus::make(bus::error_code::unknown_type, "'{}' does not handle '{}'", _bus.address(),
                                        m.env.type));
    return;
  }
  result<reply> r = [&]() -> result<reply> {
    try {
      return it->second(m);
    } catch (const std::exception& e) {
      // A handler bug must not take the service down with the request.
      _log.error("Failed to handle '{}' from '{}': {}", m.env.type, m.env.from, e.what());
      return bus::make(bus::error_code::internal, "'{}' failed while handling '{}'", _bus.address(), m.env.type);
    }
  }();
  if (r)
    (void)_bus.reply(m, r->type, std::move(r->payload));
  else
    (void)_bus.reply_error(m, r.err());
}

int service_loop::run() {
  (void)_notify.ready();
  while (!_stopping) {
    auto wait = _notify.beat_if_due();
    zmq::pollitem_t items[] = {{_bus.socket().handle(), 0, ZMQ_POLLIN, 0},
                               {_bus.monitor_socket().handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, _signal_fd, ZMQ_POLLIN, 0}};
    zmq::poll(items, 3, wait);
    if (items[2].revents & ZMQ_POLLIN) {
      signalfd_siginfo si;
      while (::read(_signal_fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) _stopping = true;
      if (_stopping) _log.info("'{}' stopping: draining", _bus.address());
    }
    _bus.process_input();
    // Drain: what has already arrived is served even after TERM; nothing is read after.
    while (auto m = _bus.next(std::chrono::milliseconds(0))) dispatch(*m);
  }
  (void)_notify.stopping();
  _bus.close(std::chrono::milliseconds(500));
  return 0;
}

}  // namespace weft::service
