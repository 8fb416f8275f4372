#pragma once
/// Connects CAF actors to the bus: a bus_client runs on its own thread; requests and
/// events for this service arrive at a handler actor as (bus_request_atom, bus_message);
/// any actor may answer them, send requests of its own (answers arrive as
/// (bus_reply_atom, bus_message)) or publish events — all thread-safe.

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include <caf/all.hpp>

#include <weft/ipc/bus_client.hh>

namespace weft::ipc {

/// A bus message shared between actors (immutable once delivered).
using bus_message = std::shared_ptr<const message>;

/// (bus_request_atom, bus_message): a request or event for this service.
using bus_request_atom = caf::atom_constant<caf::atom("busreq")>;
/// (bus_reply_atom, bus_message): the reply or error to an actor's request().
using bus_reply_atom = caf::atom_constant<caf::atom("busrep")>;

class actor_bridge {
 public:
  /// Takes over `client`; nothing is delivered before start().
  explicit actor_bridge(std::unique_ptr<bus_client> client);
  /// Serves the bus on a new thread, delivering requests and events to `handler`,
  /// until stop(). Separate from the constructor so the handler may refer to the bridge.
  void start(caf::actor handler);
  ~actor_bridge();
  actor_bridge(const actor_bridge&) = delete;
  actor_bridge& operator=(const actor_bridge&) = delete;

  void reply(const message& req, std::string type, std::string payload);
  template <class T>
  void reply(const message& req, const T& m) {
    reply(req, std::string(T::type_name), wire::encode(m));
  }
  void reply_error(const message& req, error e);
  /// Sends a request; its answer goes to `reply_to`.
  void request(std::string to, std::string type, std::string payload, caf::actor reply_to);
  void publish(std::string type, std::string payload);
  /// A directed event to `to` (see bus_client::notify).
  void notify(std::string to, std::string type, std::string payload);

  /// Drain, step 1: from now on new requests are answered ShuttingDown by the bridge.
  void refuse_new() { _refusing = true; }
  /// Drain, step 2: stops the bus thread after sending what is queued; idempotent.
  void stop();

 private:
  void post(std::function<void(bus_client&)> op);
  void run();

  std::unique_ptr<bus_client> _client;
  caf::actor _handler;
  int _wake_fd = -1;
  std::mutex _mu;
  std::deque<std::function<void(bus_client&)>> _ops;
  std::unordered_map<std::uint64_t, caf::actor> _waiting;  // bus thread only
  bool _stopping = false;
  std::atomic<bool> _refusing{false};
  std::thread _thread;
};

}  // namespace weft::ipc

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(weft::ipc::bus_message)
