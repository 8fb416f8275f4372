#pragma once
/// The broker on its ZeroMQ sockets: a ROUTER where services connect and an XPUB where
/// events go out, both bound to ipc:// endpoints and served from an event loop. The logic
/// is broker's; this only moves frames between it and the sockets.

#include <memory>
#include <string>

#include <zmq.hpp>

#include <weft/base/event_loop.hh>

#include "broker.hh"

namespace weft::bus {

class server {
 public:
  /// Binds both endpoints (a socket file left by a killed bus is replaced) and starts
  /// serving on `loop`. errc::io "Failed to bind '<endpoint>': <reason>".
  static result<std::unique_ptr<server>> bind(zmq::context_t& ctx, event_loop& loop,
                                              const service::bus_settings& settings, const ipc::secret& key,
                                              const std::string& bus_endpoint, const std::string& events_endpoint);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  broker& core() { return *_broker; }

 private:
  class zmq_transport;
  server(zmq::context_t& ctx, event_loop& loop);
  bool pump();

  event_loop& _loop;
  zmq::socket_t _router, _pub;
  std::unique_ptr<zmq_transport> _transport;
  std::unique_ptr<broker> _broker;
  std::string _bus_path, _events_path;
  std::vector<event_loop::id> _watches;
  event_loop::id _hook = 0;
};

}  // namespace weft::bus
