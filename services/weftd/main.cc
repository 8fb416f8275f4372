// weftd — the weft supervisor.
//
// Purpose: reads the config (or runs the built-in default), creates the per-boot bus
// secret, starts the bus and every configured service in dependency order, waits for
// each one's READY on its own notify socket, watches heartbeats, restarts dead or hung
// children with exponential backoff, reloads on SIGHUP or `weftctl reload`, stops in
// reverse order on TERM, and serves weftctl on $WEFT_RUNTIME_DIR/control — to every peer
// but a sandboxed tool process or one inside its namespaces (peer_guard.hh), which gets
// io.weft.Supervisor.v1.Denied and an audit line in the log.
// Under systemd (Type=notify) it reports READY/STATUS/WATCHDOG to $NOTIFY_SOCKET.
//
// Options:
//   -c, --config FILE      config file [$WEFT_CONFIG, $WEFT_HOME/clawft.toml,
//                          ~/.clawft/clawft.toml, /etc/weft/clawft.toml, else built-in]
//   --runtime-dir DIR      sockets [$WEFT_RUNTIME_DIR, $RUNTIME_DIRECTORY,
//                          $XDG_RUNTIME_DIR/weft, /tmp/weft-<uid>]
//   --check                validate the config and exit (0 valid, 2 invalid)
//   --help, --version
// Exit codes: 0 stopped cleanly, 1 failure, 2 usage or config error.
//
// Example config:
//   [supervisor]
//   restart_backoff_initial_ms = 100
//   [services.echo-1]
//   exec = "/usr/libexec/weft/weft-echo"
//   address = "echo/1"
#include <csignal>
#include <filesystem>
#include <pthread.h>

#include <weft/service/exit.hh>
#include <weft/service/main.hh>
#include <weft/service/paths.hh>

#include "supervisor.hh"

using namespace weft;

#ifndef WEFT_LIBEXECDIR
#define WEFT_LIBEXECDIR "/usr/libexec/weft"
#endif

namespace {

constexpr std::string_view help = R"(usage: weftd [-c FILE] [--runtime-dir DIR] [--check]

The weft supervisor: starts and watches the bus and every configured service.

  -c, --config FILE   config file (default: $WEFT_CONFIG, $WEFT_HOME/clawft.toml,
                      ~/.clawft/clawft.toml, /etc/weft/clawft.toml, else built-in)
  --runtime-dir DIR   directory for sockets (default: $WEFT_RUNTIME_DIR, …, /tmp/weft-<uid>)
  --check             validate the config and exit (0 valid, 2 invalid)
  --help              show this help
  --version           show the version

Talk to a running weftd with weftctl (status, start, stop, restart, reload, …).
)";

/// Service executables live beside weftd in the build tree (services/<name>/<name>) and
/// in libexec when installed: $WEFT_LIBEXEC_DIR when set, else <weftd's dir>/../libexec/weft
/// when the bus is there (an install is relocatable: a `meson install --destdir` tree, a
/// container's /usr, an unpacked .deb run in place), else the prefix it was built for.
weftd::layout find_layout() {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto build_bus = self.parent_path().parent_path() / "bus";
    if (fs::exists(build_bus / "bus", ec)) return {build_bus.string(), true};
  }
  if (const char* d = std::getenv("WEFT_LIBEXEC_DIR"); d && *d) return {d};
  if (!ec) {
    auto beside = self.parent_path().parent_path() / "libexec" / "weft";
    if (fs::exists(beside / "bus", ec)) return {beside.lexically_normal().string()};
  }
  return {WEFT_LIBEXECDIR};
}

}  // namespace

int main(int argc, char** argv) {
  // Children's exits are read from the event loop's signalfd: SIGCHLD is blocked before
  // any thread exists, beside the TERM, INT and HUP that run_main blocks.
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &chld, nullptr);

  std::string config_arg, runtime_arg;
  bool check = false;
  auto set = [](std::string& field) {
    return [&field](std::string_view v) -> status {
      field = std::string(v);
      return {};
    };
  };
  service::main_spec spec{.program = "weftd",
                          .log_name = "weftd",
                          .help = help,
                          .options = {{"--config", "-c", "FILE", set(config_arg)},
                                      {"--runtime-dir", "", "DIR", set(runtime_arg)},
                                      {"--check", "", "",
                                       [&](std::string_view) -> status {
                                         check = true;
                                         return {};
                                       }}},
                          .bus = false,
                          .config = false};
  return service::run_main(argc, argv, spec, [&](service::main_context& m) {
    auto path = service::find_config(config_arg);
    auto cfg = service::load_config_or_default(path.value_or(""));
    if (!cfg) {
      fmt::print(stderr, "{}\n", cfg.err().message);
      if (!check) fmt::print(stderr, "weftd: Failed to load config; nothing was started.\n");
      return service::to_int(service::exit_code::usage);
    }
    if (check) {
      for (auto& w : cfg->warnings) fmt::print(stderr, "{}\n", w);
      fmt::print("{}: OK ({} services)\n", path ? *path : "(built-in default)",
                 weftd::all_services(*cfg, find_layout()).size() + 1);
      return 0;
    }
    if (!cfg->log.empty() && !std::getenv("WEFT_LOG")) log::configure(cfg->log);
    std::string config_path = path ? std::filesystem::absolute(*path).string() : std::string();
    auto runtime = service::runtime_dir(runtime_arg.empty() ? cfg->runtime_dir : runtime_arg);
    auto loop = event_loop::create();
    if (!loop) return m.fail(loop.err());
    weftd::supervisor s(**loop, std::move(*cfg), config_path, find_layout(), runtime);
    return s.run();
  });
}
