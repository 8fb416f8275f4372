// weftd — the weft supervisor.
//
// Purpose: reads the config (or runs the built-in default), creates the per-boot bus
// secret, starts the bus and every configured service in dependency order, waits for
// each one's READY on its own notify socket, watches heartbeats, restarts dead or hung
// children with exponential backoff, reloads on SIGHUP or `weftctl reload`, stops in
// reverse order on TERM, and serves weftctl on $WEFT_RUNTIME_DIR/control.
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
#include <climits>
#include <cstring>
#include <filesystem>
#include <unistd.h>

#include <weft/service/exit.hh>
#include <weft/service/main.hh>
#include <weft/service/paths.hh>

#include "supervisor.hh"

using namespace weft;

#ifndef WEFT_LIBEXECDIR
#define WEFT_LIBEXECDIR "/usr/libexec/weft"
#endif

namespace {

void usage() {
  fmt::print(
      "usage: weftd [-c FILE] [--runtime-dir DIR] [--check]\n"
      "\n"
      "The weft supervisor: starts and watches the bus and every configured service.\n"
      "\n"
      "  -c, --config FILE   config file (default: $WEFT_CONFIG, $WEFT_HOME/clawft.toml,\n"
      "                      ~/.clawft/clawft.toml, /etc/weft/clawft.toml, else built-in)\n"
      "  --runtime-dir DIR   directory for sockets (default: $WEFT_RUNTIME_DIR, …, /tmp/weft-<uid>)\n"
      "  --check             validate the config and exit (0 valid, 2 invalid)\n"
      "  --help              show this help\n"
      "  --version           show the version\n"
      "\n"
      "Talk to a running weftd with weftctl (status, start, stop, restart, reload, …).\n");
}

/// Service executables live beside weftd in the build tree (services/<name>/<name>) and
/// in libexec when installed.
weftd::layout find_layout() {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto build_bus = self.parent_path().parent_path() / "bus";
    if (fs::exists(build_bus / "bus", ec)) return {build_bus.string(), true};
  }
  if (const char* d = std::getenv("WEFT_LIBEXEC_DIR"); d && *d) return {d};
  return {WEFT_LIBEXECDIR};
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_arg, runtime_arg;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      usage();
      return 0;
    } else if (a == "--version") {
      fmt::print("weftd {}\n", service::version());
      return 0;
    } else if (a == "-c" || a == "--config") {
      if (i + 1 >= argc) return service::usage_error("weftd", fmt::format("{} needs a file", a));
      config_arg = argv[++i];
    } else if (a == "--runtime-dir") {
      if (i + 1 >= argc) return service::usage_error("weftd", "--runtime-dir needs a directory");
      runtime_arg = argv[++i];
    } else if (a == "--check") {
      check = true;
    } else {
      return service::usage_error("weftd", fmt::format("unknown option '{}'", a));
    }
  }
  log::configure_from_env();
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
  weftd::supervisor s(std::move(*cfg), config_path, find_layout(), runtime);
  return s.run();
}
