#include "supervisor.hh"

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/ipc/address.hh>
#include <weft/sandbox/sandbox.hh>
#include <weft/service/paths.hh>

#include "spawn.hh"

namespace weft::weftd {

namespace bus = weft::proto::bus_v1;
using namespace std::chrono_literals;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

namespace {
mono now() { return std::chrono::steady_clock::now(); }
/// The User-Id the ZAP handler gives a control peer: admitted, or refused with the reason after the prefix.
constexpr std::string_view control_admitted = "admitted";
constexpr std::string_view control_refused = "refused: ";
bool running(sv::state s) { return s == sv::state::starting || s == sv::state::ready || s == sv::state::stopping; }
/// ERRNO= a child sends when the address it must listen on is taken (EADDRINUSE).
constexpr int errno_address_in_use = EADDRINUSE;
}  // namespace

std::string address_in_use_hint(std::string_view name) {
  // The derived services that listen, and the setting that says where.
  static constexpr std::pair<std::string_view, std::string_view> settings[] = {
      {"chan-web", "[channels.web] listen"},
      {"chan-telegram", "[channels.telegram] webhook_listen"},
      {"mcp", "[mcp] listen"},
  };
  std::string setting = fmt::format("the address [services.{}] listens on", name);
  for (auto& [service, key] : settings)
    if (service == name) setting = key;
  return fmt::format("port taken: set {} to another port, then weftctl start {}", setting, name);
}

std::optional<milliseconds> restart_policy::on_crash(mono t, std::optional<mono> ready_since) {
  // A service that ran well for a while starts its backoff afresh.
  if (ready_since && t - *ready_since > 10s) _consecutive = 0;
  _times.push_back(t);
  while (!_times.empty() && t - _times.front() > std::chrono::seconds(_s.restart_window_s)) _times.pop_front();
  if (_times.size() > _s.restart_intensity) return std::nullopt;
  auto d = milliseconds(_s.restart_backoff_initial_ms);
  for (unsigned i = 0; i < _consecutive && d < milliseconds(_s.restart_backoff_max_ms); ++i) d *= 2;
  ++_consecutive;
  return std::min(d, milliseconds(_s.restart_backoff_max_ms));
}

std::string layout::exec(std::string_view program) const {
  if (!build_tree) return libexec_dir + "/" + std::string(program);
  auto dir = program.substr(0, 5) == "weft-" ? program.substr(5) : program;
  return std::filesystem::path(libexec_dir).parent_path().string() + "/" + std::string(dir) + "/" +
         std::string(program);
}

/// The bus's settings without where in the file they were written: a table that only moved
/// (a provider added above the agents) is no reason to restart the bus; its denial messages
/// may name the old position until it restarts.
static service::bus_settings positionless(service::bus_settings b) {
  for (auto& r : b.acl) r.where.clear();
  for (auto& [name, p] : b.agent_tools) p.where.clear();
  return b;
}

std::vector<service::service_spec> all_services(const service::config& cfg, const layout& l) {
  auto out = service::derived_services(cfg, [&](std::string_view p) { return l.exec(p); });
  for (auto s : cfg.services) {
    service::add_secret_env(cfg, s);  // a [services.llm] of one's own still gets the provider keys
    auto it = std::find_if(out.begin(), out.end(), [&](auto& d) { return d.name == s.name; });
    if (it != out.end()) *it = s;
    else out.push_back(s);
  }
  return out;
}

supervisor::supervisor(event_loop& loop, service::config cfg, std::string config_path, layout l,
                       std::string runtime_dir)
    : _loop(loop),
      _cfg(std::move(cfg)),
      _config_path(std::move(config_path)),
      _layout(std::move(l)),
      _runtime(std::move(runtime_dir)),
      _secret(ipc::make_secret()),
      _ctx(1),
      _zap(_ctx, zmq::socket_type::rep),
      _control(_ctx, zmq::socket_type::router),
      _boot(now()),
      _boot_utc(utc_now()),
      _log(log::get("weftd")) {
  _children.push_back(make_child(bus_spec(), true));
  _cfg.services = all_services(_cfg, _layout);
  for (auto& s : _cfg.services) _children.push_back(make_child(s, false));
}

supervisor::~supervisor() {
  for (auto& c : _children) {
    disarm(*c);
    if (c->notify_watch) _loop.unwatch(c->notify_watch);
  }
  if (_control_watch) _loop.unwatch(_control_watch);
  if (_control_hook) _loop.remove_before_wait(_control_hook);
  if (_zap_watch) _loop.unwatch(_zap_watch);
  if (_zap_hook) _loop.remove_before_wait(_zap_hook);
}

service::service_spec supervisor::bus_spec() const {
  service::service_spec s;
  s.name = "bus";
  s.exec = _layout.bus_exec();
  s.address = "";
  s.after = {};
  return s;
}

std::unique_ptr<supervisor::child> supervisor::make_child(const service::service_spec& spec, bool is_bus) {
  auto c = std::make_unique<child>(_cfg.supervisor);
  c->spec = spec;
  c->is_bus = is_bus;
  c->want_running = spec.enabled;
  c->state = spec.enabled ? sv::state::waiting : sv::state::stopped;
  return c;
}

supervisor::child* supervisor::find(std::string_view name) {
  for (auto& c : _children)
    if (c->spec.name == name) return c.get();
  return nullptr;
}

bool supervisor::deps_ready(const child& c) const {
  for (auto& d : c.spec.after)
    for (auto& o : _children)
      if (o->spec.name == d && o->state != sv::state::ready) return false;
  return true;
}

bool supervisor::has_running_dependents(const child& c) const {
  for (auto& o : _children) {
    if (!running(o->state)) continue;
    for (auto& d : o->spec.after)
      if (d == c.spec.name) return true;
  }
  return false;
}

sv::service_info supervisor::info(const child& c) const {
  sv::service_info i;
  i.name = c.spec.name;
  i.address = c.spec.address;
  i.state = c.state;
  i.pid = static_cast<std::uint32_t>(c.pid);
  i.restarts = c.restarts;
  i.since = c.since;
  i.last_exit = c.last_exit;
  i.status = c.status_line;
  i.error = c.error;
  i.sandbox = c.sandbox;
  return i;
}

void supervisor::arm(child& c, mono when) {
  disarm(c);
  c.timer = _loop.at(when, [this, &c] {
    c.timer = 0;
    on_deadline(c);
  });
}

void supervisor::disarm(child& c) {
  if (c.timer) _loop.cancel(std::exchange(c.timer, 0));
}

void supervisor::poke() {
  if (std::exchange(_step_pending, true)) return;
  _loop.defer([this] {
    _step_pending = false;
    step();
  });
}

void supervisor::set_state(child& c, sv::state s) {
  if (c.state == s) return;
  disarm(c);  // each state arms its own deadline, if it has one
  c.state = s;
  c.since = utc_now();
  poke();
  auto header = ipc::encode_header(bus::kind::event, sv::service_changed::type_name, 0, "", "weftd");
  auto ev = wire::encode(sv::service_changed{info(c)});
  for (auto& rid : _watchers) control_send(rid, header, ev);
  answer_waiters();
}

void supervisor::start(child& c) {
  if (auto s = check_executable(c.spec.exec); !s) {
    _log.error("{}", s.err().message);
    c.last_exit = s.err().message;
    c.error = s.err().message;
    set_state(c, sv::state::failed);
    return;
  }
  spawn_request r;
  r.exec = c.spec.exec;
  r.args = c.spec.args;
  r.sandbox = c.spec.sandbox;
  r.env = base_environment();
  // The service's own env first: it may set WEFT_LOG and the like, but never override the
  // protocol variables below.
  for (auto& [k, v] : c.spec.env) r.env[k] = v;
  auto wd = std::to_string(std::uint64_t(_cfg.supervisor.heartbeat_interval_ms) * 2000);
  r.env["WEFT_NOTIFY_FD"] = std::to_string(child_notify_fd);
  r.env["WEFT_WATCHDOG_USEC"] = wd;
  r.env["WEFT_RUNTIME_DIR"] = _runtime;
  r.env["WEFT_HOME"] = service::home_dir(_cfg.home);
  r.env["WEFT_BUS"] = service::bus_endpoint(_runtime);
  r.env["WEFT_EVENTS"] = service::events_endpoint(_runtime);
  r.env["WEFT_SERVICE"] = c.spec.name;
  if (!_config_path.empty()) r.env["WEFT_CONFIG"] = _config_path;
  if (c.is_bus) {
    r.env["WEFT_SECRET_FD"] = std::to_string(child_credential_fd);
    r.credential = ipc::secret_to_hex(_secret);
  } else {
    r.env["WEFT_ADDRESS"] = c.spec.address;
    r.env["WEFT_TOKEN_FD"] = std::to_string(child_credential_fd);
    r.credential = ipc::make_token(_secret, c.spec.address);
  }
  auto sp = spawn(r);
  if (!sp) {
    _log.error("{}", sp.err().message);
    c.last_exit = sp.err().message;
    c.error = sp.err().message;
    set_state(c, sv::state::failed);
    return;
  }
  c.pid = sp->pid;
  c.ns = {};
  c.ns_unread = sp->ns_flags;
  c.sandbox = std::move(sp->sandbox);
  c.notify_fd = std::move(sp->notify_fd);
  c.started_at = now();
  c.ready_since.reset();
  c.status_line.clear();
  c.errno_sent = 0;
  auto* cp = &c;
  if (auto w = _loop.watch(c.notify_fd.get(), EPOLLIN, [this, cp](std::uint32_t) { on_notify(*cp); }))
    c.notify_watch = *w;
  else  // it cannot say READY: it is killed at the ready timeout and restarted
    _log.error("Failed to watch the notify socket of '{}': {}", c.spec.name, w.err().message);
  _log.info("Started '{}' (pid {})", c.spec.name, c.pid);
  set_state(c, sv::state::starting);
  arm(c, c.started_at + milliseconds(_cfg.supervisor.ready_timeout_ms));
}

// Read once the child speaks (it has exec'd: nothing of the tool has run yet, so nothing it
// started can be outside them), or when a control peer must be judged before that.
void supervisor::read_namespaces(child& c) {
  if (!c.ns_unread || c.pid <= 0) return;
  int flags = std::exchange(c.ns_unread, 0);
  auto ns = namespaces_of(c.pid);
  if (!ns) {
    _log.warning("{}; control requests from within the namespaces of '{}' are refused by pid only, ignoring.",
                 ns.err().message, c.spec.name);
    return;
  }
  if (flags & CLONE_NEWNET) c.ns.net = ns->net;
  if (flags & CLONE_NEWPID) c.ns.pid = ns->pid;
}

void supervisor::on_notify(child& c) {
  read_namespaces(c);
  char buf[4096];
  while (c.notify_fd) {
    auto n = ::recv(c.notify_fd.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) return;
    std::string_view msg(buf, static_cast<size_t>(n));
    while (!msg.empty()) {
      auto nl = msg.find('\n');
      auto line = msg.substr(0, nl);
      msg = nl == std::string_view::npos ? std::string_view{} : msg.substr(nl + 1);
      if (line == "READY=1" && c.state == sv::state::starting) {
        c.last_heartbeat = now();
        c.ready_since = now();
        _log.info("'{}' is ready ({} ms)", c.spec.name, duration_cast<milliseconds>(now() - c.started_at).count());
        c.error.clear();
        set_state(c, sv::state::ready);
        arm(c, c.last_heartbeat + milliseconds(_cfg.supervisor.heartbeat_timeout_ms));
        // It may have read the config before a reload that came while it started.
        if (std::exchange(c.hup_when_ready, false)) ::kill(c.pid, SIGHUP);
      } else if (line == "WATCHDOG=1") {
        c.last_heartbeat = now();
      } else if (line.substr(0, 7) == "STATUS=") {
        c.status_line = std::string(line.substr(7, 200));
      } else if (line.substr(0, 6) == "ERRNO=") {
        c.errno_sent = std::atoi(std::string(line.substr(6)).c_str());
      } else if (line == "STOPPING=1" && c.state == sv::state::ready) {
        set_state(c, sv::state::stopping);
        arm(c, now() + milliseconds(_cfg.supervisor.stop_timeout_ms));
      }
    }
  }
}

void supervisor::on_exit(child& c, int ws) {
  // What it said before it died counts (READY, STATUS=): read it before closing the socket.
  on_notify(c);
  if (c.notify_watch) _loop.unwatch(std::exchange(c.notify_watch, 0));
  c.notify_fd.reset();
  c.pid = 0;
  c.last_exit = describe_exit(ws);
  bool clean = WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
  bool address_in_use = !clean && c.errno_sent == errno_address_in_use;
  // A process that exits with an error said why in its last STATUS= (service::run_main
  // does); a signal says nothing more than last_exit.
  if (WIFEXITED(ws) && !clean && !c.status_line.empty()) c.error = c.status_line;
  // The child's own message may already say which setting to change (chan-web's does): then
  // only how to start it again is added.
  if (address_in_use)
    c.error = c.error.find("to another port") != std::string::npos
                  ? fmt::format("{}; then weftctl start {}", c.error, c.spec.name)
                  : fmt::format("{} ({})", c.error.empty() ? "address in use" : c.error,
                                address_in_use_hint(c.spec.name));
  if (!c.want_running || _shutting_down) {
    _log.info("'{}' stopped ({})", c.spec.name, c.last_exit);
    if (c.restart_after_stop && !_shutting_down) {
      c.restart_after_stop = false;
      c.want_running = true;
      c.policy.reset();
      set_state(c, sv::state::waiting);
    } else {
      set_state(c, sv::state::stopped);
    }
    return;
  }
  if (c.spec.restart == service::restart_policy::never ||
      (c.spec.restart == service::restart_policy::on_failure && clean)) {
    _log.info("'{}' {}; not restarting (restart = {})", c.spec.name, c.last_exit,
              c.spec.restart == service::restart_policy::never ? "never" : "on-failure");
    set_state(c, sv::state::stopped);
    return;
  }
  if (address_in_use) {
    // Restarting cannot free the port: say so at once instead of five times.
    _log.error("'{}' {}: {}; not restarting", c.spec.name, c.last_exit, c.error);
    set_state(c, sv::state::failed);
    return;
  }
  auto delay = c.policy.on_crash(now(), c.ready_since);
  if (!delay) {
    _log.error("'{}' {}; it failed more than {} times in {} s, giving up (weftctl start {} to retry)", c.spec.name,
               c.last_exit, _cfg.supervisor.restart_intensity, _cfg.supervisor.restart_window_s, c.spec.name);
    set_state(c, sv::state::failed);
    return;
  }
  ++c.restarts;
  _log.warning("'{}' {}; restarting in {} ms", c.spec.name, c.last_exit, delay->count());
  set_state(c, sv::state::backoff);
  arm(c, now() + *delay);
}

void supervisor::reap() {
  for (;;) {
    int ws = 0;
    pid_t pid = ::waitpid(-1, &ws, WNOHANG);
    if (pid <= 0) return;
    for (auto& c : _children)
      if (c->pid == pid) {
        on_exit(*c, ws);
        break;
      }
  }
}

void supervisor::on_deadline(child& c) {
  auto t = now();
  switch (c.state) {
    case sv::state::starting:
      _log.error("'{}' did not become ready within {} ms; killing it", c.spec.name, _cfg.supervisor.ready_timeout_ms);
      ::kill(c.pid, SIGKILL);  // the exit arrives through SIGCHLD
      break;
    case sv::state::ready:
      if (t - c.last_heartbeat > milliseconds(_cfg.supervisor.heartbeat_timeout_ms)) {
        _log.error("'{}' sent no heartbeat for {} ms; killing it as hung", c.spec.name,
                   _cfg.supervisor.heartbeat_timeout_ms);
        ::kill(c.pid, SIGKILL);
      } else {  // heartbeats came meanwhile: look again when the last one is too old
        arm(c, c.last_heartbeat + milliseconds(_cfg.supervisor.heartbeat_timeout_ms) + 1ms);
      }
      break;
    case sv::state::backoff:
      set_state(c, sv::state::waiting);
      break;
    case sv::state::stopping:
      if (c.pid > 0) {
        _log.warning("'{}' did not stop within {} ms; killing it", c.spec.name, _cfg.supervisor.stop_timeout_ms);
        ::kill(c.pid, SIGKILL);
      }
      break;
    default:
      break;
  }
}

void supervisor::step() {
  // What may start now starts in config order, those that need namespaces of their own last:
  // creating them (and learning once which are permitted) keeps weftd busy for a while, and
  // the others need not wait for that.
  for (bool namespaced : {false, true})
    for (auto& cp : _children) {
      auto& c = *cp;
      if (c.state == sv::state::waiting && c.want_running && !_shutting_down && deps_ready(c) &&
          (c.spec.sandbox.enabled && c.spec.sandbox.own_network) == namespaced)
        start(c);
    }
  for (auto& cp : _children) {
    auto& c = *cp;
    // Stop what should not run, dependents first while shutting down.
    if (!c.want_running && (c.state == sv::state::starting || c.state == sv::state::ready) &&
        !(_shutting_down && has_running_dependents(c))) {
      ::kill(c.pid, SIGTERM);
      set_state(c, sv::state::stopping);
      arm(c, now() + milliseconds(_cfg.supervisor.stop_timeout_ms));
    }
    if (!c.want_running && (c.state == sv::state::backoff || c.state == sv::state::waiting))
      set_state(c, sv::state::stopped);
  }
  // Services removed by a reload go once they have stopped.
  std::erase_if(_children, [this](auto& c) {
    if (!c->remove_after_stop || running(c->state) || c->pid != 0) return false;
    disarm(*c);
    return true;
  });
  check_ready_all();
  if (_shutting_down && std::none_of(_children.begin(), _children.end(), [](auto& c) { return c->pid > 0; }))
    _loop.quit(0);
}

void supervisor::check_ready_all() {
  if (_announced_ready || _shutting_down) return;
  // Start-up is over when every wanted service is ready or has failed for good.
  size_t failed = 0;
  for (auto& c : _children) {
    if (c->want_running && c->state == sv::state::failed) ++failed;
    else if (c->want_running && c->state != sv::state::ready) return;
  }
  _announced_ready = true;
  auto ms = duration_cast<std::chrono::microseconds>(now() - _boot).count() / 1000.0;
  if (failed)
    _log.error("started with {} of {} services failed (see weftctl status)", failed, _children.size());
  else
    _log.info("ready: {} services in {:.1f} ms", _children.size(), ms);
  (void)_notify.status_line(fmt::format("{} services running, {} failed", _children.size() - failed, failed));
  (void)_notify.ready();
}

void supervisor::begin_shutdown() {
  if (_shutting_down) return;
  _log.info("stopping all services");
  (void)_notify.stopping();
  _shutting_down = true;
  for (auto& c : _children) c->want_running = false;
  poke();
}

status supervisor::reload(sv::reload_reply* out) {
  // Running on the built-in default: a config file written since (say by `weftctl mcp add`)
  // where weftd looks for one is adopted.
  auto path = _config_path;
  if (path.empty())
    if (auto found = service::find_config(""); found && ::access(found->c_str(), R_OK) == 0) path = *found;
  auto cfg = service::load_config_or_default(path);
  if (cfg) cfg->services = all_services(*cfg, _layout);
  if (!cfg) return sv::make(sv::error_code::config_invalid, "{}", cfg.err().message);
  if (path != _config_path) {
    _log.info("adopting the config file '{}' (was running on the built-in default)", path);
    _config_path = path;
  }
  for (auto& w : cfg->warnings) _log.warning("{}", w);
  bool bus_changed = !(positionless(cfg->bus) == positionless(_cfg.bus));
  _cfg.supervisor = cfg->supervisor;
  _cfg.bus = cfg->bus;
  for (auto& c : _children) c->policy.set(cfg->supervisor);
  // Removed or changed services.
  for (auto& c : _children) {
    if (c->is_bus) continue;
    auto it = std::find_if(cfg->services.begin(), cfg->services.end(),
                           [&](auto& s) { return s.name == c->spec.name; });
    if (it == cfg->services.end()) {
      c->want_running = false;
      c->remove_after_stop = true;
      out->stopped.push_back(c->spec.name);
    } else if (!(*it == c->spec)) {
      c->spec = *it;
      if (running(c->state)) {
        c->want_running = false;
        c->restart_after_stop = it->enabled;
      } else {
        c->want_running = it->enabled;
        if (c->want_running && c->state != sv::state::backoff) set_state(*c, sv::state::waiting);
      }
      out->restarted.push_back(c->spec.name);
    }
  }
  for (auto& s : cfg->services)
    if (!find(s.name)) {
      _children.push_back(make_child(s, false));
      out->started.push_back(s.name);
    }
  if (bus_changed) {
    auto* b = find("bus");
    if (running(b->state)) {
      b->want_running = false;
      b->restart_after_stop = true;
    }
    out->restarted.push_back("bus");
  }
  // Services that re-read their part of the config in place hear of the reload.
  for (auto& c : _children) {
    if (!c->spec.reload_signal || !c->want_running || c->pid <= 0 ||
        std::find(out->restarted.begin(), out->restarted.end(), c->spec.name) != out->restarted.end())
      continue;
    if (c->state == sv::state::ready) ::kill(c->pid, SIGHUP);
    else if (c->state == sv::state::starting) c->hup_when_ready = true;  // no handler yet: SIGHUP would kill it
  }
  _cfg.services = cfg->services;
  _log.info("reloaded '{}': {} started, {} stopped, {} restarted", _config_path.empty() ? "(built-in default)" : _config_path,
            out->started.size(), out->stopped.size(), out->restarted.size());
  poke();
  return {};
}

void supervisor::control_send(const std::string& rid, const std::string& header, const std::string& payload) {
  // Never block on a weftctl that stopped reading; a vanished peer is simply skipped.
  try {
    if (!_control.send(zmq::buffer(rid), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return;
    _control.send(zmq::buffer(header), zmq::send_flags::sndmore);
    _control.send(zmq::buffer(payload), zmq::send_flags::none);
  } catch (const zmq::error_t& e) {
    _log.debug("Failed to answer a control peer: {}", e.what());
  }
}

void supervisor::control_reply(const std::string& rid, const ipc::bus::envelope& req, std::string_view type,
                               const std::string& payload) {
  control_send(rid, ipc::encode_header(bus::kind::reply, type, req.id, req.from, "weftd"), payload);
}

void supervisor::control_error(const std::string& rid, const ipc::bus::envelope& req, const error& e) {
  control_send(rid, ipc::encode_header(bus::kind::error, bus::error::type_name, req.id, req.from, "weftd"),
               wire::encode(bus::error{e.domain, e.code, e.message}));
}

void supervisor::answer_waiters() {
  std::vector<waiter> keep;
  for (auto& w : _waiters) {
    auto* c = find(w.service);
    bool reached = !c || std::find(w.until.begin(), w.until.end(), c->state) != w.until.end();
    if (!reached) {
      keep.push_back(std::move(w));
      continue;
    }
    if (c && c->state == sv::state::failed && std::find(w.until.begin(), w.until.end(), sv::state::ready) != w.until.end())
      control_error(w.rid, w.env, sv::make(sv::error_code::busy, "'{}' failed: {}{}", w.service, c->last_exit,
                                           c->error.empty() ? "" : ": " + c->error));
    else
      control_reply(w.rid, w.env, sv::done::type_name, wire::encode(sv::done{w.done_message}));
  }
  _waiters = std::move(keep);
}

sv::status_reply supervisor::snapshot() const {
  sv::status_reply r;
  for (auto& c : _children) r.services.push_back(info(*c));
  r.config = _config_path.empty() ? "(built-in default)" : _config_path;
  r.runtime_dir = _runtime;
  r.started = _boot_utc;
  r.home = service::home_dir(_cfg.home);
  return r;
}

void supervisor::check_config(sv::status_reply& r) const {
  r.config_checked = true;
  // The file a reload would read (the built-in default's adoption of a new file included).
  auto path = _config_path;
  if (path.empty())
    if (auto found = service::find_config(""); found && ::access(found->c_str(), R_OK) == 0) path = *found;
  auto cfg = service::load_config_or_default(path);
  if (!cfg) {
    r.config_error = cfg.err().message;
    return;
  }
  auto services = all_services(*cfg, _layout);
  for (auto& i : r.services) {
    if (i.name == "bus") {
      // The bus holds the ACL and each agent's tool policy: what it enforces.
      if (!(positionless(cfg->bus) == positionless(_cfg.bus))) i.config = "changed";
      continue;
    }
    auto* c = std::find_if(_children.begin(), _children.end(), [&](auto& x) { return x->spec.name == i.name; })->get();
    if (c->remove_after_stop) continue;  // a reload already removed it: on its way out
    auto it = std::find_if(services.begin(), services.end(), [&](auto& s) { return s.name == i.name; });
    if (it == services.end()) i.config = "removed";
    else if (!(*it == c->spec)) i.config = "changed";
  }
  for (auto& s : services)
    if (!std::any_of(_children.begin(), _children.end(), [&](auto& x) { return x->spec.name == s.name; }))
      r.config_added.push_back(s.name);
}

void supervisor::handle_control(const std::string& rid, const ipc::message& m) {
  auto& env = m.env;
  if (m.is(sv::status::type_name)) {
    auto req = m.as<sv::status>();
    auto r = snapshot();
    if (req && req->check_config) check_config(r);
    control_reply(rid, env, sv::status_reply::type_name, wire::encode(r));
  } else if (m.is(sv::control::type_name)) {
    auto req = m.as<sv::control>();
    if (!req) return control_error(rid, env, sv::make(sv::error_code::bad_request, "{}", req.err().message));
    auto* c = find(req->service);
    if (!c)
      return control_error(rid, env, sv::make(sv::error_code::no_such_service, "no service named '{}'", req->service));
    if (_shutting_down) return control_error(rid, env, sv::make(sv::error_code::busy, "weftd is shutting down"));
    if (req->action == "start") {
      c->want_running = true;
      if (c->state == sv::state::stopped || c->state == sv::state::failed) {
        c->policy.reset();
        set_state(*c, sv::state::waiting);
      }
      _waiters.push_back({rid, env, c->spec.name, {sv::state::ready, sv::state::failed}, "started " + c->spec.name});
    } else if (req->action == "stop") {
      c->want_running = false;
      _waiters.push_back({rid, env, c->spec.name, {sv::state::stopped, sv::state::failed}, "stopped " + c->spec.name});
    } else if (req->action == "restart") {
      if (running(c->state)) {
        c->want_running = false;
        c->restart_after_stop = true;
      } else {
        c->want_running = true;
        c->policy.reset();
        set_state(*c, sv::state::waiting);
      }
      _waiters.push_back({rid, env, c->spec.name, {sv::state::ready, sv::state::failed}, "restarted " + c->spec.name});
    } else {
      return control_error(rid, env, sv::make(sv::error_code::bad_request, "unknown action '{}'; expected start, stop or restart", req->action));
    }
    poke();
  } else if (m.is(sv::reload::type_name)) {
    sv::reload_reply r;
    if (auto s = reload(&r); !s) return control_error(rid, env, s.err());
    control_reply(rid, env, sv::reload_reply::type_name, wire::encode(r));
  } else if (m.is(sv::issue_token::type_name)) {
    auto req = m.as<sv::issue_token>();
    if (!req) return control_error(rid, env, sv::make(sv::error_code::bad_request, "{}", req.err().message));
    sv::token t;
    t.address = ipc::addr::ctl(req->pid);
    t.token = ipc::make_token(_secret, t.address);
    t.bus = service::bus_endpoint(_runtime);
    t.events = service::events_endpoint(_runtime);
    control_reply(rid, env, sv::token::type_name, wire::encode(t));
  } else if (m.is(sv::watch::type_name)) {
    if (std::find(_watchers.begin(), _watchers.end(), rid) == _watchers.end()) _watchers.push_back(rid);
    if (_watchers.size() > 64) _watchers.erase(_watchers.begin());  // bounded: oldest goes
    control_reply(rid, env, sv::status_reply::type_name, wire::encode(snapshot()));
  } else {
    control_error(rid, env, sv::make(sv::error_code::bad_request, "weftd does not handle '{}'", env.type));
  }
}

std::vector<sandboxed_child> supervisor::sandboxed_children() {
  std::vector<sandboxed_child> out;
  for (auto& c : _children) read_namespaces(*c);
  for (auto& c : _children)
    if (c->spec.sandbox.enabled && (c->pid > 0 || c->ns.net != 0 || c->ns.pid != 0))
      out.push_back({c->spec.name, c->pid, c->ns});
  return out;
}

bool supervisor::on_zap() {
  // ZAP (ZeroMQ RFC 27): version, request id, domain, address, routing id, mechanism, credentials….
  std::vector<zmq::message_t> req;
  while (true) {
    req.clear();
    zmq::message_t part;
    if (!_zap.recv(part, zmq::recv_flags::dontwait)) break;
    req.push_back(std::move(part));
    while (req.back().more()) {
      req.emplace_back();
      if (!_zap.recv(req.back())) break;
    }
    if (req.size() < 6) {  // not a ZAP request: a REP socket must still answer something
      _zap.send(zmq::str_buffer("1.0"), zmq::send_flags::sndmore);
      _zap.send(zmq::str_buffer(""), zmq::send_flags::sndmore);
      _zap.send(zmq::str_buffer("500"), zmq::send_flags::sndmore);
      _zap.send(zmq::str_buffer("malformed ZAP request"), zmq::send_flags::sndmore);
      _zap.send(zmq::str_buffer(""), zmq::send_flags::sndmore);
      _zap.send(zmq::str_buffer(""), zmq::send_flags::none);
      continue;
    }
    // Admitted: the connection goes on. Refused: it goes on too, marked, so every request on
    // it gets a typed Denied answer instead of a handshake that silently never completes.
    std::string user = std::string(control_admitted);
    auto address = req[3].to_string();
    auto peer = parse_zap_address(address);
    std::optional<std::string> why;
    if (!peer) why = fmt::format("no peer credentials in '{}'", address);
    else why = refusal(*peer, sandboxed_children(), ::geteuid(), proc_processes());
    if (why) {
      user = std::string(control_refused) + *why;
      if (peer)
        _log.warning("refused control peer pid {} uid {}: {}", peer->pid, peer->uid, *why);
      else
        _log.warning("refused control peer: {}", *why);
    }
    _zap.send(zmq::str_buffer("1.0"), zmq::send_flags::sndmore);
    _zap.send(req[1], zmq::send_flags::sndmore);
    _zap.send(zmq::str_buffer("200"), zmq::send_flags::sndmore);
    _zap.send(zmq::str_buffer("OK"), zmq::send_flags::sndmore);
    _zap.send(zmq::buffer(user), zmq::send_flags::sndmore);
    _zap.send(zmq::str_buffer(""), zmq::send_flags::none);
  }
  return _zap.get(zmq::sockopt::events) & ZMQ_POLLIN;
}

bool supervisor::on_control() {
  zmq::message_t rid, header;
  while (_control.recv(rid, zmq::recv_flags::dontwait)) {
    if (!rid.more() || !_control.recv(header)) continue;
    // What the ZAP handler decided when this peer connected; no mark at all is a refusal.
    const char* user = zmq_msg_gets(header.handle(), "User-Id");
    std::string_view mark = user ? user : "";
    auto m = ipc::read_rest(_control, header, wire::limits{65536, 4});
    if (!m || m->env.kind != bus::kind::request) continue;
    if (mark != control_admitted) {
      auto why = mark.substr(0, control_refused.size()) == control_refused ? mark.substr(control_refused.size())
                                                                            : std::string_view("it was not checked");
      control_error(rid.to_string(), m->env,
                    sv::make(sv::error_code::denied, "weftd serves no sandboxed tool on its control socket: {}", why));
      continue;
    }
    handle_control(rid.to_string(), *m);
  }
  return _control.get(zmq::sockopt::events) & ZMQ_POLLIN;
}

status supervisor::bind_control() {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(_runtime, ec);
  if (ec) return fail(errc::io, "Failed to create runtime directory '{}': {}", _runtime, ec.message());
  ::chmod(_runtime.c_str(), 0700);
  auto control_path = _runtime + "/control";
  fs::remove(control_path, ec);
  try {
    // Each connecting peer is looked at (SO_PEERCRED, through ZAP) before it may send anything.
    _zap.set(zmq::sockopt::linger, 0);
    _zap.bind("inproc://zeromq.zap.01");
    _control.set(zmq::sockopt::zap_domain, "weftd-control");
    _control.set(zmq::sockopt::linger, 0);
    _control.set(zmq::sockopt::router_mandatory, 1);
    _control.bind(service::control_endpoint(_runtime));
  } catch (const zmq::error_t& e) {
    return fail(errc::io, "Failed to bind the control socket '{}': {}", control_path, e.what());
  }
  ::chmod(control_path.c_str(), 0600);
  // ZMQ_FD is edge-triggered: each wake drains, and the hook looks again before a wait
  // (a send may have consumed the edge of a request that arrived meanwhile).
  auto w = _loop.watch(_control.get(zmq::sockopt::fd), EPOLLIN, [this](std::uint32_t) { on_control(); });
  if (!w) return w.take_error();
  _control_watch = *w;
  _control_hook = _loop.before_wait([this] { return on_control(); });
  auto z = _loop.watch(_zap.get(zmq::sockopt::fd), EPOLLIN, [this](std::uint32_t) { on_zap(); });
  if (!z) return z.take_error();
  _zap_watch = *z;
  _zap_hook = _loop.before_wait([this] { return on_zap(); });
  return {};
}

int supervisor::run() {
  if (auto s = bind_control(); !s) {
    _log.error("{}", s.err().message);
    return 1;
  }
  for (int sig : {SIGTERM, SIGINT})
    (void)_loop.on_signal(sig, [this](const signalfd_siginfo&) { begin_shutdown(); });
  (void)_loop.on_signal(SIGHUP, [this](const signalfd_siginfo&) {
    sv::reload_reply r;
    if (auto s = reload(&r); !s) _log.error("Failed to reload: {}", s.err().message);
  });
  (void)_loop.on_signal(SIGCHLD, [this](const signalfd_siginfo&) { reap(); });
  _notify = service::notifier::from_env();
  // WATCHDOG=1 to systemd when it asks for it.
  if (auto iv = _notify.heartbeat_interval(); iv.count() > 0) {
    (void)_notify.heartbeat();
    _loop.every(iv, [this] { (void)_notify.heartbeat(); });
  }

  _log.info("weftd starting with {} in {}", _config_path.empty() ? "the built-in default config" : "'" + _config_path + "'",
            _runtime);
  for (auto& w : _cfg.warnings) _log.warning("{}", w);
  poke();
  // Which namespaces tool processes may have is learnt once, of a short-lived child: once the
  // bus is started (poke's step runs first), while weftd only waits for it, rather than on
  // the way to the first tool's start.
  if (std::any_of(_children.begin(), _children.end(),
                  [](auto& c) { return c->spec.sandbox.enabled && c->spec.sandbox.own_network; }))
    _loop.defer([] { (void)sandbox::probe_network_isolation(); });
  int rc = _loop.run();
  _log.info("all services stopped");
  _loop.unwatch(std::exchange(_control_watch, 0));
  _loop.remove_before_wait(std::exchange(_control_hook, 0));
  _loop.unwatch(std::exchange(_zap_watch, 0));
  _loop.remove_before_wait(std::exchange(_zap_hook, 0));
  _control.close();
  _zap.close();
  std::error_code ignore;
  std::filesystem::remove(_runtime + "/control", ignore);
  return rc;
}

}  // namespace weft::weftd
