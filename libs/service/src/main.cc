#include <weft/service/main.hh>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <pthread.h>

#include <weft/service/exit.hh>
#include <weft/service/startup.hh>

#ifndef WEFT_VERSION
#error "WEFT_VERSION is set by meson from the project version"
#endif

namespace weft::service {

namespace {

/// TERM, INT and HUP blocked in this thread and every thread started later, so they are
/// read from the event loop's signalfd (CAF, libcurl and worker pools start threads).
void block_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a peer that goes away is an EPIPE, not a death
}

/// --help, --version and the spec's options; returns an exit code when main must end now.
std::optional<int> parse_args(int argc, char** argv, const main_spec& spec) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      fmt::print("{}", spec.help);
      return to_int(exit_code::ok);
    }
    if (a == "--version") {
      fmt::print("{} {}\n", spec.program, version());
      return to_int(exit_code::ok);
    }
    std::string_view inline_value;
    bool has_inline = false;
    if (auto eq = a.find('='); a.substr(0, 2) == "--" && eq != std::string_view::npos) {
      inline_value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_inline = true;
    }
    const option* o = nullptr;
    for (auto& opt : spec.options)
      if (a == opt.name || (!opt.short_name.empty() && a == opt.short_name)) o = &opt;
    if (!o) return usage_error(spec.program, fmt::format("unknown option '{}'", argv[i]));
    std::string_view value;
    if (!o->value.empty()) {
      if (has_inline) value = inline_value;
      else if (i + 1 < argc) value = argv[++i];
      else return usage_error(spec.program, fmt::format("{} needs {}", o->name, o->value));
    } else if (has_inline) {
      return usage_error(spec.program, fmt::format("{} takes no value", o->name));
    }
    if (auto s = o->set(value); !s)
      return usage_error(spec.program, o->value.empty() ? fmt::format("{}: {}", o->name, s.err().message)
                                                        : fmt::format("{} '{}': {}", o->name, value, s.err().message));
  }
  return std::nullopt;
}

}  // namespace

std::string_view version() { return WEFT_VERSION; }

std::string failure_notice(const error& e) {
  // One line: weftd keeps it as the service's error, systemd shows it in its status.
  auto line = std::string_view(e.message).substr(0, e.message.find('\n'));
  auto notice = fmt::format("STATUS={}", line.substr(0, max_status_chars));
  if (e.domain == errc::domain && e.code == errc::address_in_use) notice += fmt::format("\nERRNO={}", EADDRINUSE);
  return notice;
}

int main_context::fail(const error& e) const {
  int rc = exit_with(log, e);
  auto notice = failure_notice(e);
  if (rt) {
    (void)rt->notify().send(notice);
  } else {
    // Before the runtime exists (or beneath the bus) nobody holds the notify socket yet.
    auto n = notifier::from_env();
    (void)n.send(notice);
  }
  return rc;
}

int run_main(int argc, char** argv, const main_spec& spec, const std::function<int(main_context&)>& body) {
  if (auto rc = parse_args(argc, argv, spec)) return *rc;
  block_signals();  // before any thread exists
  log::configure_from_env();
  main_context m{spec.program, log::get(spec.log_name), {}, nullptr, {}};
  if (spec.config) {
    auto cfg = load_service_config();
    if (!cfg) return m.fail(cfg.err());
    m.cfg = std::move(*cfg);
    // [weft] log reaches every service, not only weftd; $WEFT_LOG still wins.
    const char* env = std::getenv("WEFT_LOG");
    if ((!env || !*env) && !m.cfg.log.empty() && !log::configure(m.cfg.log))
      m.log.warning("Failed to apply [weft] log '{}' of '{}': not a log spec, ignoring.", m.cfg.log, m.cfg.source);
  }
  if (spec.bus) {
    auto opts = ipc::bus_client::options_from_env();
    if (!opts) return m.fail(opts.err());
    m.address = opts->address;
    auto ctx = std::make_unique<zmq::context_t>(1);
    auto bus = join_bus(*ctx, *opts);
    if (!bus) return m.fail(bus.err());
    runtime_options ro;
    // weftd sends SIGKILL stop_timeout_ms after TERM: finish before that, with room to exit.
    auto stop = std::chrono::milliseconds(m.cfg.supervisor.stop_timeout_ms);
    ro.drain_timeout = stop > std::chrono::milliseconds(1000) ? stop - std::chrono::milliseconds(500) : stop / 2;
    if (const char* ev = std::getenv("WEFT_EVENTS"); ev && *ev) ro.events_endpoint = ev;
    auto rt = runtime::create(*ctx, std::move(*bus), notifier::from_env(), std::move(ro));
    if (!rt) return m.fail(rt.err());
    m.rt = std::move(*rt);
    // The context outlives the runtime and every socket the body opens on it.
    int rc = body(m);
    m.rt.reset();
    return rc;
  }
  return body(m);
}

}  // namespace weft::service
