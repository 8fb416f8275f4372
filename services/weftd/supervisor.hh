#pragma once
/// weftd's supervisor: starts services in dependency order, waits for each one's READY,
/// watches heartbeats, restarts the dead or hung with exponential backoff up to a restart
/// intensity, stops in reverse order, reloads config, and serves weftctl's control socket.

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include <weft/base/event_loop.hh>
#include <weft/base/fd.hh>
#include <weft/base/log.hh>
#include <weft/ipc/message.hh>
#include <weft/ipc/token.hh>
#include <weft/service/config.hh>
#include <weft/service/notify.hh>

#include "peer_guard.hh"
#include "proto/supervisor_v1.hh"

namespace weft::weftd {

namespace sv = weft::proto::supervisor_v1;
using mono = std::chrono::steady_clock::time_point;

/// Where weftd finds its own service executables (bus, …).
struct layout {
  std::string libexec_dir;  ///< directory holding `bus`
  bool build_tree = false;  ///< programs live in <build>/services/<name>/ rather than libexec
  std::string bus_exec() const { return libexec_dir + "/bus"; }
  /// Path of a service program (weft-llm, weft-agent, …).
  std::string exec(std::string_view program) const;
};

/// The services weftd runs for `cfg`: those derived from [agents]/[channels] (see
/// service::derived_services) followed by [services.*]; a [services.<name>] replaces the
/// derived service of the same name.
std::vector<service::service_spec> all_services(const service::config& cfg, const layout& l);

/// Restart timing without processes: backoff doubling and the intensity limit.
class restart_policy {
 public:
  explicit restart_policy(const service::supervisor_settings& s) : _s(s) {}
  /// Records a crash at `now`; returns the delay before the next start, or nullopt when the
  /// service crashed more than restart_intensity times within restart_window_s.
  std::optional<std::chrono::milliseconds> on_crash(mono now, std::optional<mono> ready_since);
  void set(const service::supervisor_settings& s) { _s = s; }
  void reset() { _times.clear(); _consecutive = 0; }

 private:
  service::supervisor_settings _s;
  std::deque<mono> _times;
  unsigned _consecutive = 0;
};

/// The hint weftd adds when service `name` could not bind its address (ERRNO=98): which
/// setting to change, then how to start it again.
std::string address_in_use_hint(std::string_view name);

/// weftd on the event loop: SIGCHLD, TERM/INT and HUP come through `loop`'s signalfd (the
/// caller blocked them before any thread existed), each child's notify socket is a watch,
/// the control socket's ZMQ_FD is a watch plus a before_wait check, and every deadline
/// (ready timeout, heartbeat, backoff, stop timeout) is a timer of that child.
class supervisor {
 public:
  supervisor(event_loop& loop, service::config cfg, std::string config_path, layout l, std::string runtime_dir);
  ~supervisor();

  /// Runs until TERM/INT has stopped every service; returns the process exit code.
  int run();

 private:
  struct child {
    service::service_spec spec;
    bool is_bus = false;
    sv::state state = sv::state::waiting;
    pid_t pid = 0;
    unique_fd notify_fd;
    event_loop::id notify_watch = 0;
    event_loop::id timer = 0;  // the deadline of the current state (see on_deadline)
    utc_time since = utc_now();
    mono last_heartbeat{};
    mono started_at{};
    std::optional<mono> ready_since;
    std::uint32_t restarts = 0;
    std::string last_exit, status_line;
    /// Why it last failed: the STATUS= it sent before it ended badly, with a hint when weftd
    /// knows one. Kept across restarts until it is ready again.
    std::string error;
    int errno_sent = 0;  ///< ERRNO= of this run (98: its address was taken)
    /// The namespaces its sandbox created it in (zero: none), kept after it exits so what it
    /// left behind stays refused until it runs again.
    namespace_ids ns;
    int ns_unread = 0;
    /// The sandbox summary of its last start (spawned::sandbox), kept while it is down.
    std::string sandbox;  ///< namespaces it was created in whose ids are not read yet (read_namespaces)
    bool want_running = true;
    bool remove_after_stop = false;
    bool restart_after_stop = false;
    bool hup_when_ready = false;  ///< a reload came while it was starting (reload_signal)
    restart_policy policy;
    explicit child(const service::supervisor_settings& s) : policy(s) {}
  };

  struct waiter {  // a control request answered when a service reaches a state
    std::string rid;
    ipc::bus::envelope env;
    std::string service;
    std::vector<sv::state> until;
    std::string done_message;
  };

  std::unique_ptr<child> make_child(const service::service_spec& spec, bool is_bus);
  service::service_spec bus_spec() const;
  child* find(std::string_view name);
  bool deps_ready(const child& c) const;
  bool has_running_dependents(const child& c) const;
  void set_state(child& c, sv::state s);
  void start(child& c);
  void on_exit(child& c, int wait_status);
  void on_notify(child& c);
  /// The timer of `c`'s state fired: kill a child that is late (ready, heartbeat, stop), or
  /// end a backoff.
  void on_deadline(child& c);
  /// Arms `c`'s one timer (replacing the one before).
  void arm(child& c, mono when);
  void disarm(child& c);
  /// Runs step() once after the current callback: what a state change may set going.
  void poke();
  /// Starts what waits and may start, stops what should not run, drops services a reload
  /// removed, announces READY once, and ends the loop when shutdown is complete.
  void step();
  void reap();
  void begin_shutdown();
  status reload(sv::reload_reply* out);
  void check_ready_all();
  sv::service_info info(const child& c) const;
  sv::status_reply snapshot() const;
  /// Reads the config file as a reload would and marks in `r` what a reload would change
  /// (Status with check_config: the runtime checks of `weftctl security scan`).
  void check_config(sv::status_reply& r) const;

  // control socket
  status bind_control();
  /// Answers every waiting ZAP request (a peer connecting to the control socket): admitted,
  /// or marked refused in its User-Id with the reason (peer_guard), each refusal logged.
  bool on_zap();
  /// The sandboxed children, for peer_guard.
  std::vector<sandboxed_child> sandboxed_children();
  void read_namespaces(child& c);
  /// Reads every waiting control request; true when more arrived meanwhile.
  bool on_control();
  void handle_control(const std::string& rid, const ipc::message& m);
  void control_send(const std::string& rid, const std::string& header, const std::string& payload);
  void control_reply(const std::string& rid, const ipc::bus::envelope& req, std::string_view type,
                     const std::string& payload);
  void control_error(const std::string& rid, const ipc::bus::envelope& req, const error& e);
  void answer_waiters();

  event_loop& _loop;
  service::config _cfg;
  std::string _config_path;
  layout _layout;
  std::string _runtime;
  ipc::secret _secret;
  std::vector<std::unique_ptr<child>> _children;
  zmq::context_t _ctx;
  zmq::socket_t _zap;  // the ZAP handler of _ctx: libzmq asks it about each control peer
  zmq::socket_t _control;
  event_loop::id _control_watch = 0, _control_hook = 0, _zap_watch = 0, _zap_hook = 0;
  service::notifier _notify;
  bool _step_pending = false;
  bool _shutting_down = false;
  bool _announced_ready = false;
  mono _boot;
  utc_time _boot_utc;
  std::vector<std::string> _watchers;
  std::vector<waiter> _waiters;
  log::logger& _log;
};

}  // namespace weft::weftd
