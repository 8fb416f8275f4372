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

#include <weft/base/log.hh>
#include <weft/ipc/message.hh>
#include <weft/ipc/token.hh>
#include <weft/service/config.hh>
#include <weft/service/notify.hh>

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

class supervisor {
 public:
  supervisor(service::config cfg, std::string config_path, layout l, std::string runtime_dir);
  ~supervisor();

  /// Runs until TERM/INT; returns the process exit code.
  int run();

 private:
  struct child {
    service::service_spec spec;
    bool is_bus = false;
    sv::state state = sv::state::waiting;
    pid_t pid = 0;
    int notify_fd = -1;
    utc_time since = utc_now();
    mono deadline{};         // meaning depends on state: ready timeout, backoff end, kill time
    mono last_heartbeat{};
    mono started_at{};
    std::optional<mono> ready_since;
    std::uint32_t restarts = 0;
    std::string last_exit, status_line;
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
  void tick();
  void reap();
  void begin_shutdown();
  status reload(sv::reload_reply* out);
  void check_ready_all();
  sv::service_info info(const child& c) const;
  sv::status_reply snapshot() const;

  // control socket
  void on_control();
  void handle_control(const std::string& rid, const ipc::message& m);
  void control_send(const std::string& rid, const std::string& header, const std::string& payload);
  void control_reply(const std::string& rid, const ipc::bus::envelope& req, std::string_view type,
                     const std::string& payload);
  void control_error(const std::string& rid, const ipc::bus::envelope& req, const error& e);
  void answer_waiters();

  service::config _cfg;
  std::string _config_path;
  layout _layout;
  std::string _runtime;
  ipc::secret _secret;
  std::vector<std::unique_ptr<child>> _children;
  zmq::context_t _ctx;
  zmq::socket_t _control;
  int _signal_fd = -1;
  service::notifier _notify;
  bool _shutting_down = false;
  bool _announced_ready = false;
  mono _boot;
  utc_time _boot_utc;
  std::vector<std::string> _watchers;
  std::vector<waiter> _waiters;
  log::logger& _log;
};

}  // namespace weft::weftd
