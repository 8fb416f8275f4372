// weft-tool-web — fetches web pages for every agent (one shared process).
//
// Serves io.weft.Tool.v1 at $WEFT_ADDRESS (tool/web): ListTools there, Call at
// tool/web/web_fetch. http and https only; redirects (at most 5) re-checked; body cut at
// max_bytes (default 1 MiB); time limit timeout_ms (default 20 s). The address of every
// connection is checked after DNS, so loopback, private, link-local, CGNAT, unique-local
// and multicast targets are refused (DNS rebinding included) unless
// WEFT_WEB_ALLOW_PRIVATE=1. Fetches run on 4 worker threads (64 more may wait), so the bus
// loop keeps answering. See docs/tools.md.
//
// Environment:
//   WEFT_WEB_ALLOW_PRIVATE  "1": allow loopback and private targets (tests, home labs)
//   WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD, WEFT_LOG   set by weftd
//
// Example config (weftd derives this when an agent uses the web family):
//   [services.tool-web]
//   exec = "/usr/libexec/weft/weft-tool-web"
//   address = "tool/web"
#include <cstdlib>
#include <cstring>

#include <curl/curl.h>

#include <weft/toolserver/tool_main.hh>

#include "services/tool-web/fetch.hh"

using namespace weft;

namespace {
constexpr const char* help = R"(usage: weft-tool-web [--help] [--version]
Fetches web pages for agents, served on the weft bus (io.weft.Tool.v1):
  web_fetch{url, max_bytes?, timeout_ms?}
    http/https only, at most 5 redirects (each re-checked);
    body cut at max_bytes (default 1 MiB, at most 10 MiB);
    time limit timeout_ms, else the Call's timeout_ms, else 20 s (at most 120 s);
    returns status, content type, final URL and the body as text
    (HTML reduced to plain text; binary bodies are not shown).
  Loopback, private (RFC 1918), link-local, CGNAT, unique-local IPv6, 0.0.0.0/8 and
  multicast targets are refused at connect time (after DNS).
  At most 4 fetches run at once; 64 more may wait.

Environment:
  WEFT_WEB_ALLOW_PRIVATE   "1": allow loopback and private targets
  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD   set by weftd
  WEFT_LOG                 log levels, e.g. "debug"
)";
}

int main(int argc, char** argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT);  // before any thread
  tools::tool_main_options o{.program = "weft-tool-web",
                             .log_name = "tool-web",
                             .help = help,
                             .per_agent = false,
                             .server = {.family = "web", .workers = 4, .max_queued = 64}};
  int rc = tools::tool_main(argc, argv, o, [](const tools::tool_setup& s) {
    tools::web_limits lim;
    if (const char* p = std::getenv("WEFT_WEB_ALLOW_PRIVATE"); p && std::strcmp(p, "1") == 0) {
      lim.allow_private = true;
      s.log.warning("WEFT_WEB_ALLOW_PRIVATE=1: loopback and private addresses may be fetched");
    }
    return tools::web_tools(lim);
  });
  curl_global_cleanup();
  return rc;
}
