// weft-chan-web — the web chat channel.
//
// Purpose: a chat page and a small HTTP API on loopback, so a person can talk to weft's
// agents from a browser. Serves
//   GET  /                      the chat page (self-contained HTML + JS, embedded)
//   GET  /?token=T              logs the browser in: an HttpOnly, SameSite=Strict cookie, then 303 to /
//   POST /api/messages          {"session","text"} -> Inbound to the router; 202 {"id"} after Accepted
//   GET  /api/stream?session=S  Server-Sent Events: "delta" (streamed text) and "message" (final replies)
//   GET  /api/health            {"status":"ok",…}
// The API always needs the token — "Authorization: Bearer <token>" or the cookie — even on
// loopback: [channels.web] auth_token, else a random token created once in the 0600 file
// $WEFT_HOME/channels/web/token. The URL with the token is printed on stdout. A message is
// from the token's identity ("web"); a body naming another "user" is refused (400). A
// non-loopback listen address needs auth_token. Port 0 picks a free port; the port is
// written to $WEFT_RUNTIME_DIR/web.port.
//
// Started by weftd with $WEFT_BUS, $WEFT_ADDRESS (chan/web), $WEFT_TOKEN_FD,
// $WEFT_NOTIFY_FD, $WEFT_CONFIG, $WEFT_HOME, $WEFT_RUNTIME_DIR. Serves Chat.v1.Deliver and
// Chat.v1.Delta events; calls the router with Chat.v1.Inbound. Exit codes: 0 after TERM,
// 1 when the listen address is in use (AddressInUse) or the state cannot be written, 2 for
// a bad [channels.web].
//
// Example config:
//   [channels.web]
//   listen = "127.0.0.1:8780"
//   auth_token = "${WEFT_WEB_TOKEN}"   # optional on loopback (a token is generated)
#include <weft/service/main.hh>
#include <weft/service/paths.hh>

#include "web_channel.hh"

using namespace weft;

namespace {
constexpr std::string_view help_text =
    "usage: weft-chan-web [--help] [--version]\n"
    "\n"
    "The web chat channel of weft, started by weftd when [channels.web] is configured (it is\n"
    "in the default config). Serves a chat page and a JSON + Server-Sent Events API that\n"
    "needs a token: open the URL it prints (…/?token=…) in a browser.\n"
    "\n"
    "Config ([channels.web] in the file named by $WEFT_CONFIG):\n"
    "  listen      host:port (default 127.0.0.1:8780; port 0: any free port)\n"
    "  auth_token  the API's token (default: a random one in $WEFT_HOME/channels/web/token;\n"
    "              required when listen is not loopback)\n"
    "\n"
    "Environment: WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD (from weftd),\n"
    "  WEFT_CONFIG, WEFT_HOME (state in $WEFT_HOME/channels/web), WEFT_RUNTIME_DIR\n"
    "  (the port is written to $WEFT_RUNTIME_DIR/web.port), WEFT_LOG.\n";
}

int main(int argc, char** argv) {
  return service::run_main(argc, argv, {.program = "weft-chan-web", .log_name = "chan-web", .help = help_text},
                           [](service::main_context& m) {
                             chan::web::web_options o;
                             if (m.cfg.channels.web) o.settings = *m.cfg.channels.web;  // absent: the defaults
                             o.state_dir = service::home_dir(m.cfg.home) + "/channels/web";
                             o.token_file = o.state_dir + "/token";
                             o.port_file = service::runtime_dir(m.cfg.runtime_dir) + "/web.port";
                             auto ch = chan::web::web_channel::start(*m.rt, std::move(o));
                             if (!ch) return m.fail(ch.err());
                             return m.rt->run();
                           });
}
