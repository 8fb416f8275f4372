#pragma once
/// The main loop of a simple bus service: dispatches requests by type to handlers,
/// answers Ping, sends heartbeats, signals READY once it can serve, and on TERM stops
/// taking new requests, finishes the one in hand and exits (drain).

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <weft/ipc/bus_client.hh>
#include <weft/service/notify.hh>

namespace weft::service {

/// A reply: its type and encoded payload.
struct reply {
  std::string type;
  std::string payload;
  template <class T>
  static reply of(const T& m) {
    return {std::string(T::type_name), wire::encode(m)};
  }
};

/// Blocks SIGTERM and SIGINT in the calling thread and every thread it creates later, so
/// they can be read from a signalfd. Call first in main(), before any library starts
/// threads (CAF does not mask signals in its own threads). Returns a signalfd for them.
int block_stop_signals();

class service_loop {
 public:
  using handler = std::function<result<reply>(const ipc::message&)>;

  service_loop(ipc::bus_client& bus, notifier& n);
  ~service_loop();

  /// Handles requests of `type`; a returned error is sent as an error reply.
  void on(std::string_view type, handler h);

  /// Typed form: decodes the payload as Req (BadRequest when it does not decode).
  template <class Req, class Fn>
  void on(Fn fn) {
    on(Req::type_name, [fn = std::move(fn)](const ipc::message& m) -> result<reply> {
      auto req = m.template as<Req>();
      if (!req) return req.take_error();
      auto r = fn(*req, m);
      if (!r) return r.take_error();
      return reply::of(*r);
    });
  }

  /// Handles events of `type` (no reply).
  void on_event(std::string_view type, std::function<void(const ipc::message&)> h);

  /// Runs until TERM/INT (returns 0) or a fatal error (returns 1). Sends READY first.
  int run();

  /// Asks run() to return after the current message (drain).
  void stop() { _stopping = true; }

 private:
  void dispatch(const ipc::message& m);

  ipc::bus_client& _bus;
  notifier& _notify;
  std::map<std::string, handler, std::less<>> _handlers;
  std::map<std::string, std::function<void(const ipc::message&)>, std::less<>> _event_handlers;
  int _signal_fd = -1;
  bool _stopping = false;
  log::logger& _log;
};

}  // namespace weft::service
