// bus — the weft message broker.
//
// Purpose: every weft service connects here with a ZeroMQ DEALER and says Hello with the
// token weftd gave it. The bus stamps the authenticated sender on every envelope, routes
// by address, enforces the ACL and limits from [bus], answers typed errors
// (io.weft.Bus.v1), and publishes events and traces on its event socket.
//
// Options (defaults in brackets):
//   --config FILE     config file [$WEFT_CONFIG, else the built-in default]
//   --runtime-dir DIR where the sockets live [see docs/architecture.md]
//   --secret-fd N     read the per-boot secret (hex) from fd N [$WEFT_SECRET_FD]
//   --help
// Serves: io.weft.Bus.v1 (Hello, Ping, ListPeers; Quarantine and Throttle from the monitor,
// Release from weftctl). Sockets: ROUTER ipc://<dir>/bus, XPUB ipc://<dir>/events.
// State: $WEFT_HOME/bus/quarantine.json, the quarantined and throttled agents (kept across
// restarts of the bus; removing it while the bus is stopped lifts them all).
//
// Example config:
//   [bus]
//   max_message_bytes = 1048576
//   queue_depth = 1000
//   default_policy = "allow"
//   [[bus.acl]]
//   from = "agent/*"
//   to = "tool/shell/*"
//   action = "deny"
#include <sys/prctl.h>

#include <csignal>
#include <cstdlib>

#include <weft/ipc/token.hh>
#include <weft/service/exit.hh>
#include <weft/service/main.hh>
#include <weft/service/notify.hh>
#include <weft/service/paths.hh>

#include "server.hh"

using namespace weft;

namespace {

constexpr std::string_view help = R"(usage: bus [--config FILE] [--runtime-dir DIR] [--secret-fd N]

The weft message broker; normally started by weftd. Services connect to its ROUTER at
ipc://<runtime dir>/bus and say Hello with the token weftd gave them; events go out on
ipc://<runtime dir>/events.

  --config FILE      config file ([bus] limits and ACL) [$WEFT_CONFIG, else built-in]
  --runtime-dir DIR  where the sockets live [[weft] runtime_dir, $WEFT_RUNTIME_DIR, ...]
  --secret-fd N      read the per-boot secret (hex) from fd N [$WEFT_SECRET_FD]
  --help, --version

State: $WEFT_HOME/bus/quarantine.json holds the agents the monitor quarantined or throttled,
so a restarted bus keeps refusing them; 'weftctl security release AGENT' lifts one.
)";

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, runtime;
  int secret_fd = -1;
  if (const char* v = std::getenv("WEFT_SECRET_FD")) secret_fd = std::atoi(v);
  if (const char* v = std::getenv("WEFT_CONFIG")) config_path = v;
  auto set = [](auto& field) {
    return [&field](std::string_view v) -> status {
      field = std::string(v);
      return {};
    };
  };
  service::main_spec spec{.program = "bus",
                          .log_name = "bus",
                          .help = help,
                          .options = {{"--config", "", "FILE", set(config_path)},
                                      {"--runtime-dir", "", "DIR", set(runtime)},
                                      {"--secret-fd", "", "N",
                                       [&](std::string_view v) -> status {
                                         secret_fd = std::atoi(std::string(v).c_str());
                                         return {};
                                       }}},
                          .bus = false,
                          .config = false};
  return service::run_main(argc, argv, spec, [&](service::main_context& m) {
    // Nobody else running as our uid may read the secret out of our memory.
    prctl(PR_SET_DUMPABLE, 0);
    if (secret_fd < 0) return service::usage_error("bus", "no secret: pass --secret-fd or start the bus from weftd");
    auto hex = ipc::read_credential_fd(secret_fd);
    if (!hex) return m.fail(hex.err());
    auto key = ipc::secret_from_hex(*hex);
    if (!key) return m.fail(fail(errc::io, "Failed to read the bus secret: {}", key.err().message));
    // weftd checked the file with its whole environment; the bus has none of the sections'
    // secrets ([tools.forges] tokens, MCP server variables), so their variables are left empty.
    auto cfg = service::load_config_or_default(config_path, /*lenient_env=*/true);
    if (!cfg) return m.fail(cfg.err());
    runtime = service::runtime_dir(runtime.empty() ? cfg->runtime_dir : runtime);
    auto loop = event_loop::create();
    if (!loop) return m.fail(loop.err());
    zmq::context_t ctx(1);
    auto srv = bus::server::bind(ctx, **loop, cfg->bus, *key, service::bus_endpoint(runtime),
                                 service::events_endpoint(runtime));
    if (!srv) return m.fail(srv.err());
    // Before the first message: a restarted bus refuses at once what the one before refused.
    auto state_file = service::home_dir(cfg->home) + "/bus/quarantine.json";
    if (auto st = (*srv)->core().open_state(state_file); !st) return m.fail(st.err());
    auto notify = service::notifier::from_env();
    for (int sig : {SIGTERM, SIGINT}) (void)(*loop)->on_signal(sig, [&](const signalfd_siginfo&) { (*loop)->quit(); });
    if (auto iv = notify.heartbeat_interval(); iv.count() > 0) (*loop)->every(iv, [&] { (void)notify.heartbeat(); });
    (void)notify.ready();
    m.log.info("bus instance {} serving on {}", (*srv)->core().instance(), service::bus_endpoint(runtime));
    (*loop)->run();
    (void)notify.stopping();
    m.log.info("bus stopping after forwarding {} messages", (*srv)->core().forwarded());
    return 0;
  });
}
