// weft-chan-web — the web chat channel.
//
// Purpose: a chat page and a small HTTP API on loopback, so a person can talk to weft's
// agents from a browser. Serves
//   GET  /                      the chat page (self-contained HTML + JS, embedded)
//   POST /api/messages          {"session","text","user"?} -> Inbound to the router; 202 {"id"} after Accepted
//   GET  /api/stream?session=S  Server-Sent Events: "delta" (streamed text) and "message" (final replies)
//   GET  /api/health            {"status":"ok",…}
// With [channels.web] auth_token set, /api/* needs "Authorization: Bearer <token>" (or
// ?token=<token>, for EventSource). A non-loopback listen address needs auth_token.
// Port 0 picks a free port; the URL is printed on stdout and the port written to
// $WEFT_RUNTIME_DIR/web.port.
//
// Started by weftd with $WEFT_BUS, $WEFT_ADDRESS (chan/web), $WEFT_TOKEN_FD,
// $WEFT_NOTIFY_FD, $WEFT_CONFIG, $WEFT_HOME, $WEFT_RUNTIME_DIR. Serves Chat.v1.Deliver and
// Chat.v1.Delta events; calls the router with Chat.v1.Inbound.
//
// Example config:
//   [channels.web]
//   listen = "127.0.0.1:8780"
//   auth_token = "${WEFT_WEB_TOKEN}"   # optional on loopback
#include <cstring>

#include <weft/base/log.hh>
#include <weft/service/exit.hh>
#include <weft/service/paths.hh>
#include <weft/service/service_loop.hh>
#include <weft/service/startup.hh>

#include "web_channel.hh"

using namespace weft;

namespace {
constexpr const char* help_text =
    "usage: weft-chan-web [--help]\n"
    "\n"
    "The web chat channel of weft, started by weftd when [channels.web] is configured (it is\n"
    "in the default config). Serves a chat page and a JSON + Server-Sent Events API.\n"
    "\n"
    "Config ([channels.web] in the file named by $WEFT_CONFIG):\n"
    "  listen      host:port (default 127.0.0.1:8780; port 0: any free port)\n"
    "  auth_token  required Bearer token for /api/* (needed when listen is not loopback)\n"
    "\n"
    "Environment: WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD (from weftd),\n"
    "  WEFT_CONFIG, WEFT_HOME (state in $WEFT_HOME/channels/web), WEFT_RUNTIME_DIR\n"
    "  (the port is written to $WEFT_RUNTIME_DIR/web.port), WEFT_LOG.\n";
}

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      fmt::print("{}", help_text);
      return 0;
    }
    return service::usage_error("weft-chan-web", fmt::format("unknown option '{}'", argv[i]));
  }
  int signal_fd = service::block_stop_signals();
  log::configure_from_env();
  auto& lg = log::get("chan-web");
  auto cfg = service::load_service_config();
  if (!cfg) return service::exit_with(lg, cfg.err());
  chan::web::web_options o;
  if (cfg->channels.web) o.settings = *cfg->channels.web;  // absent: the defaults (loopback)
  o.state_dir = service::home_dir(cfg->home) + "/channels/web";
  o.port_file = service::runtime_dir(cfg->runtime_dir) + "/web.port";
  auto on = service::join_bus_from_env();
  if (!on) return service::exit_with(lg, on.err());
  auto& [notify, ctx, bus] = **on;
  chan::web::web_channel ch(*bus, notify, std::move(o));
  return ch.run(signal_fd);
}
