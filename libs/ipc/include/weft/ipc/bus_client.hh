#pragma once
/// A service's connection to the bus: a DEALER socket that authenticates with Hello,
/// sends requests, replies and events, and survives a bus restart by saying Hello again
/// and resending the requests the new bus did not know about.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <zmq.hpp>

#include <weft/base/log.hh>
#include <weft/ipc/message.hh>

namespace weft::ipc {

using namespace std::chrono_literals;

struct client_options {
  std::string endpoint;                         ///< e.g. ipc:///run/weft/bus
  std::string address;                          ///< address to claim, e.g. echo/1
  std::string token;                            ///< from weftd
  std::chrono::milliseconds hello_timeout = 5s;  ///< first Hello must be answered within this
  std::size_t max_outbox = 10000;               ///< messages held while the bus is away
};

/// Options of a blocking call().
struct call_options {
  std::chrono::milliseconds timeout = 5s;          ///< overall deadline
  std::chrono::milliseconds attempt_timeout = 1s;  ///< resend when no answer within this
  bool retry = true;  ///< retry transient errors (NoSuchAddress, QueueFull) until the deadline
};

class bus_client {
 public:
  /// Connects to the bus and completes Hello. AuthFailed when the bus refuses the token.
  static result<std::unique_ptr<bus_client>> connect(zmq::context_t& ctx, client_options opts);

  /// Credentials as weftd passes them to a child: $WEFT_BUS (endpoint), $WEFT_ADDRESS and
  /// the token on the inherited fd named by $WEFT_TOKEN_FD.
  static result<client_options> options_from_env();

  ~bus_client();
  bus_client(const bus_client&) = delete;
  bus_client& operator=(const bus_client&) = delete;

  const std::string& address() const { return _opts.address; }
  bool registered() const { return _registered; }
  /// This process's Hello.instance (random, fixed for the client's life): peers that see it
  /// change in PeerChanged know this process restarted.
  const std::string& instance() const { return _instance; }

  /// Sends a request; the reply arrives through next() with env.id == the returned id.
  result<std::uint64_t> send_request(std::string_view to, std::string_view type, std::string payload);
  template <class T>
  result<std::uint64_t> send_request(std::string_view to, const T& m) {
    return send_request(to, T::type_name, wire::encode(m));
  }

  status reply(const message& req, std::string_view type, std::string payload) {
    return reply(req.env, type, std::move(payload));
  }
  template <class T>
  status reply(const message& req, const T& m) {
    return reply(req.env, T::type_name, wire::encode(m));
  }
  status reply_error(const message& req, const error& e) { return reply_error(req.env, e); }
  /// The same, given only the request's envelope (a deferred reply keeps no payload).
  status reply(const bus::envelope& req, std::string_view type, std::string payload);
  status reply_error(const bus::envelope& req, const error& e);
  status publish(std::string_view type, std::string payload);
  template <class T>
  status publish(const T& m) {
    return publish(T::type_name, wire::encode(m));
  }

  /// Gives up on a request sent with send_request: its late answer, if any, is dropped.
  void forget(std::uint64_t id) { _pending.erase(id); }
  /// Requests sent and not yet answered.
  std::size_t pending() const { return _pending.size(); }
  bool pending(std::uint64_t id) const { return _pending.count(id) != 0; }

  /// The process serving `address` restarted (PeerChanged with a new instance) at
  /// `joined`: the requests sent to it, or to an address beneath it (tool/fs/a/read_file
  /// for tool/fs/a), before then and not answered died with the old process. Sends them
  /// again with the same ids, so the caller's reply handling is untouched; the receiver
  /// sees them as redeliveries (the ids and the payloads' idempotency keys are the same).
  /// Requests sent after `joined` reached the new process already. Returns how many.
  std::size_t resend_to(std::string_view address, utc_time joined);

  /// A directed event: routed to `to` like a request (ACL included) but never answered,
  /// and dropped when `to` is not there (streaming pieces: Llm.v1.Delta, Chat.v1.Delta).
  status notify(std::string_view to, std::string_view type, std::string payload);
  template <class T>
  status notify(std::string_view to, const T& m) {
    return notify(to, T::type_name, wire::encode(m));
  }

  /// Sends a request and waits for its reply, retrying transient failures until the
  /// deadline. An error reply becomes the returned error. Other traffic that arrives
  /// meanwhile is kept for next().
  result<message> call(std::string_view to, std::string_view type, std::string payload, call_options o = {});
  template <class T>
  result<message> call(std::string_view to, const T& m, call_options o = {}) {
    return call(to, T::type_name, wire::encode(m), o);
  }

  /// The next request, event, or reply to send_request(), waiting up to `timeout`.
  std::optional<message> next(std::chrono::milliseconds timeout);

  /// For other poll loops: poll these for ZMQ_POLLIN, then call process_input().
  zmq::socket_t& socket() { return _sock; }
  zmq::socket_t& monitor_socket() { return _mon; }
  /// Handles whatever is readable without blocking; returns true if next() has something.
  bool process_input();
  bool has_input() const { return !_inbox.empty(); }
  /// What process_input() has taken in, oldest first, without touching the sockets.
  std::optional<message> take();
  /// How many messages this client has handed to its socket: a loop that drained the
  /// socket knows whether a send since (which may consume the edge of ZMQ_FD) asks for
  /// another look before it sleeps.
  std::uint64_t sends() const { return _sends; }

  /// Stops reconnecting and drops anything unsent once `linger` has passed.
  void close(std::chrono::milliseconds linger = 200ms);

 private:
  explicit bus_client(zmq::context_t& ctx, client_options opts);
  status send_frames(const std::string& header, std::string_view payload);
  status send_or_queue(std::string header, std::string payload);
  void send_hello();
  void handle_message(message m);
  void handle_monitor();
  void poll_once(std::chrono::milliseconds timeout);

  struct pending_request {
    std::string to, type, payload;
    bool resend = false;
    mono_clock::time_point sent;
    utc_time sent_at;  // for resend_to: before or after the callee restarted
  };

  zmq::context_t& _ctx;
  client_options _opts;
  zmq::socket_t _sock;
  zmq::socket_t _mon;
  log::logger& _log;
  std::uint64_t _next_id = 1;
  std::uint64_t _hello_id = 0;  // id of the Hello in flight, 0 if none
  bool _registered = false;
  bool _closed = false;
  std::optional<error> _auth_error;
  std::string _bus_instance;
  std::string _instance;
  std::deque<message> _inbox;
  std::uint64_t _sends = 0;
  std::deque<std::pair<std::string, std::string>> _outbox;  // header, payload
  std::map<std::uint64_t, pending_request> _pending;       // requests sent, not answered
};

/// Subscribes to the bus's event side (audit events, peer changes, traces).
class event_subscriber {
 public:
  /// `prefixes` are topic prefixes: message types ("io.weft.Bus.v1.") or "trace:<address>\n".
  static result<std::unique_ptr<event_subscriber>> connect(zmq::context_t& ctx, const std::string& endpoint,
                                                           const std::vector<std::string>& prefixes);
  /// The next event (topic is returned in env.to for traces, env.type otherwise).
  std::optional<std::pair<std::string, message>> next(std::chrono::milliseconds timeout);
  zmq::socket_t& socket() { return _sock; }

 private:
  explicit event_subscriber(zmq::context_t& ctx);
  zmq::socket_t _sock;
};

}  // namespace weft::ipc
