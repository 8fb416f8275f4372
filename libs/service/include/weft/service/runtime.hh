#pragma once
/// The one runtime every bus service stands on, as systemd's daemons stand on sd-event: an
/// event loop (weft::event_loop) that owns the bus connection, the notify socket to weftd
/// (READY, heartbeats, STATUS, STOPPING), the stop and reload signals and the drain, and
/// dispatches what arrives by message type to typed handlers:
///
///     rt.on<tool::list_tools>([&](const tool::list_tools&, const ipc::message&) -> result<tool::tools> {…});
///     rt.on<chat::turn>([&](chat::turn t, service::responder r) { … later: r.reply(result); });
///     rt.on_event<chat::delta>([&](const chat::delta& d, const ipc::message&) {…});
///     rt.call(to, request, {.timeout = 30s}, [&](result<ipc::message> answer) {…});
///
/// Built-in requests (Ping, SetLogLevel) and types nobody handles (UnknownType) are answered
/// here. A service adds its own descriptors, timers and worker threads through loop() and
/// weft::worker_pool.
///
/// Restarts, on either side, are the runtime's business, not the service's: the bus client
/// says Hello again to a restarted bus and resends what it may have lost, and when a peer
/// this service called restarts (Bus.v1.PeerChanged with a new instance), the requests the
/// old process held are sent to the new one — a caller sees a crashed callee as latency.
///
/// Stop: on TERM/INT the runtime stops taking requests (they are answered ShuttingDown,
/// which callers retry), runs the on_stop hooks, waits until every deferred reply is sent
/// and every drain check is idle (at most drain_timeout), then says STOPPING and returns.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <weft/base/event_loop.hh>
#include <weft/base/log.hh>
#include <weft/ipc/bus_client.hh>
#include <weft/service/notify.hh>

namespace weft::service {

class runtime;

/// The answer a request is owed, for handlers that answer later. Move it where the work
/// goes; reply() or fail() once. One dropped without an answer replies Internal (and logs),
/// so a caller never waits out its deadline for a handler's bug.
class responder {
 public:
  responder() = default;
  responder(responder&& o) noexcept;
  responder& operator=(responder&& o) noexcept;
  responder(const responder&) = delete;
  responder& operator=(const responder&) = delete;
  ~responder();

  template <class T>
  void reply(const T& m) {
    send(T::type_name, wire::encode(m));
  }
  void send(std::string_view type, std::string payload);
  void fail(const error& e);
  /// Replies with `r`'s value or fails with its error.
  template <class T>
  void answer(const result<T>& r) {
    if (r) reply(*r);
    else fail(r.err());
  }

  /// The request's envelope (sender, type, id).
  const proto::bus_v1::envelope& request() const { return _env; }
  const std::string& from() const { return _env.from; }
  /// True until reply() or fail().
  bool owed() const { return _rt != nullptr; }

 private:
  friend class runtime;
  responder(runtime* rt, proto::bus_v1::envelope env);
  runtime* _rt = nullptr;
  proto::bus_v1::envelope _env;
};

/// How runtime::call waits.
struct call_options {
  std::chrono::milliseconds timeout{30000};  ///< overall deadline, then Bus.v1.Timeout
  /// Retry transient errors (NoSuchAddress, QueueFull, ShuttingDown: the callee is
  /// restarting or busy) with backoff until the deadline.
  bool retry = true;
};

struct runtime_options {
  /// After TERM: how long in-flight work may take before the service exits anyway.
  std::chrono::milliseconds drain_timeout{5000};
  /// The bus's event endpoint ($WEFT_EVENTS); empty: no published events (no PeerChanged,
  /// so callees' restarts are noticed only through the callers' own timeouts).
  std::string events_endpoint;
  /// Send READY when run() starts; false: the service calls ready() itself.
  bool ready_at_start = true;
};

class runtime {
 public:
  using request_fn = std::function<void(const ipc::message&, responder)>;
  using event_fn = std::function<void(const ipc::message&)>;
  /// Gets a call's answer; may own move-only state (the responder of the request it serves).
  using reply_fn = unique_function<void(result<ipc::message>)>;

  /// Builds the runtime around a joined bus connection. errc::io when the event loop cannot
  /// be created or the bus socket cannot be watched.
  static result<std::unique_ptr<runtime>> create(zmq::context_t& ctx, std::unique_ptr<ipc::bus_client> bus,
                                                 notifier notify, runtime_options o = {});
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  event_loop& loop() { return *_loop; }
  ipc::bus_client& bus() { return *_bus; }
  notifier& notify() { return _notify; }
  zmq::context_t& context() { return _ctx; }
  const std::string& address() const { return _bus->address(); }

  // ---- requests ------------------------------------------------------------------------

  /// Handles requests of `type`; the handler answers through the responder, now or later.
  void on(std::string_view type, request_fn fn);
  /// Handles requests of every type no on() names (a relay); without it they are UnknownType.
  void on_other(request_fn fn) { _other = std::move(fn); }

  /// Typed: decodes the payload as Req (BadRequest to the sender when it does not) and calls
  ///   fn(const Req&, const ipc::message&) -> result<Reply>   (answered at once), or
  ///   fn(Req, responder)                                      (answered when it is ready).
  template <class Req, class Fn>
  void on(Fn fn) {
    if constexpr (std::is_invocable_v<Fn&, Req&&, responder&&>) {
      on(Req::type_name, [fn = std::move(fn)](const ipc::message& m, responder r) mutable {
        auto req = m.template as<Req>();
        if (!req) return r.fail(req.err());
        fn(std::move(*req), std::move(r));
      });
    } else {
      on(Req::type_name, [fn = std::move(fn)](const ipc::message& m, responder r) mutable {
        auto req = m.template as<Req>();
        if (!req) return r.fail(req.err());
        r.answer(fn(*req, m));
      });
    }
  }

  // ---- events --------------------------------------------------------------------------

  /// Handles events of `type`: directed ones (Chat.v1.Delta sent to this address) and, after
  /// subscribe(type), those other services publish.
  void on_event(std::string_view type, event_fn fn);
  template <class Ev, class Fn>
  void on_event(Fn fn) {
    on_event(Ev::type_name, [fn = std::move(fn)](const ipc::message& m) mutable {
      if (auto e = m.template as<Ev>()) fn(*e, m);
    });
  }
  /// Receives the events other services publish under this topic (a type or a prefix).
  /// errc::unavailable when the runtime has no events endpoint.
  status subscribe(std::string_view topic);

  // ---- calls ---------------------------------------------------------------------------

  /// Sends a request; `fn` gets the reply (an error reply becomes the error) or Bus.v1.Timeout
  /// at the deadline, exactly once, on the loop's thread. Returns a handle for forget().
  std::uint64_t call(std::string_view to, std::string_view type, std::string payload, call_options o, reply_fn fn);
  template <class Req>
  std::uint64_t call(std::string_view to, const Req& req, call_options o, reply_fn fn) {
    return call(to, Req::type_name, wire::encode(req), o, std::move(fn));
  }
  /// call() from a thread other than the loop's (a tool's worker), waiting for the answer:
  /// the call is posted to the loop and its reply handed back here. A loop that stops
  /// before answering gives Bus.v1.Timeout at the deadline, never a hang.
  result<ipc::message> call_and_wait(std::string_view to, std::string_view type, std::string payload,
                                     call_options o);
  template <class Req>
  result<ipc::message> call_and_wait(std::string_view to, const Req& req, call_options o) {
    return call_and_wait(to, Req::type_name, wire::encode(req), o);
  }
  /// Gives up on a call: its reply, if any, is dropped and its handler never runs.
  void forget(std::uint64_t call);
  /// Calls in flight.
  std::size_t calls() const { return _calls.size(); }

  /// For replies to requests sent with bus().send_request() rather than call() (services
  /// that keep their own table of requests in flight).
  void on_reply(event_fn fn) { _on_reply = std::move(fn); }

  // ---- lifecycle -----------------------------------------------------------------------

  /// Called once when TERM/INT arrives (or stop() is called): close the doors to new work.
  void on_stop(std::function<void()> fn) { _stop_hooks.push_back(std::move(fn)); }
  /// Called for each SIGHUP.
  void on_reload(std::function<void()> fn);
  /// Drain waits until every check returns true ("nothing in flight").
  void drain_until(std::function<bool()> idle) { _drain_checks.push_back(std::move(idle)); }

  /// READY=1 to weftd (once); only needed with ready_at_start = false.
  void ready();
  /// STATUS=… to weftd.
  void set_status(std::string_view text) { (void)_notify.status_line(text); }
  /// Begins the drain, as TERM does.
  void stop();
  bool stopping() const { return _stopping; }
  /// Ends run() at once with `code` (a fatal error): no drain.
  void exit_now(int code = 1) { _loop->quit(code); }

  /// Serves until the drain after TERM ends (0) or fail(); then closes the bus connection.
  int run();

  /// Deferred replies not yet sent.
  std::size_t owed() const { return _owed; }

 private:
  friend class responder;
  struct pending_call {
    std::string to, type, payload;
    call_options opts;
    reply_fn fn;
    mono_clock::time_point deadline;
    std::uint64_t bus_id = 0;
    event_loop::id timer = 0;
    std::chrono::milliseconds backoff{5};
  };

  runtime(zmq::context_t& ctx, std::unique_ptr<ipc::bus_client> bus, notifier notify, runtime_options o,
          std::unique_ptr<event_loop> loop);
  status start();
  status join_events();
  bool pump_bus();
  void pump_events();
  void dispatch(ipc::message m);
  void dispatch_request(ipc::message& m);
  void handle_answer(ipc::message& m);
  void send_call(std::uint64_t cid);
  void finish_call(std::uint64_t cid, result<ipc::message> r);
  void on_peer_changed(const ipc::message& m);
  void begin_stop();
  void check_drained();
  void answered() {
    if (_owed) --_owed;
    if (_stopping) check_drained();
  }

  zmq::context_t& _ctx;
  std::unique_ptr<ipc::bus_client> _bus;
  notifier _notify;
  runtime_options _opts;
  std::unique_ptr<event_loop> _loop;
  std::unique_ptr<ipc::event_subscriber> _events;
  std::uint64_t _sends_seen = 0;  // the bus client's sends() when its socket was last drained
  log::logger& _log;
  std::map<std::string, request_fn, std::less<>> _requests;
  std::map<std::string, event_fn, std::less<>> _event_fns;
  event_fn _on_reply;
  request_fn _other;
  std::unordered_map<std::uint64_t, pending_call> _calls;     // by call handle
  std::unordered_map<std::uint64_t, std::uint64_t> _by_bus_id;  // bus request id -> call handle
  std::uint64_t _next_call = 1;
  std::map<std::string, std::string, std::less<>> _instances;  // address -> last Hello.instance seen
  std::vector<std::function<void()>> _stop_hooks;
  std::vector<std::function<void()>> _reload_hooks;
  std::vector<std::function<bool()>> _drain_checks;
  std::size_t _owed = 0;
  bool _ready_sent = false;
  bool _stopping = false;
  event_loop::id _drain_timer = 0;
};

}  // namespace weft::service
