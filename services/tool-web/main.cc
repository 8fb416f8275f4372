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
// With [tools.web_search] in the config it also serves web_search{query, count?} at
// tool/web/web_search: one request to the configured provider (SearXNG, Brave, Tavily or a
// generic JSON endpoint), results as title, URL and snippet. weftd gives this process alone
// the variable its api_key names.
//
// Environment:
//   WEFT_CONFIG             the config file ([tools.web_search]; its api_key variable from weftd)
//   WEFT_WEB_ALLOW_PRIVATE  "1": allow loopback and private targets (tests, home labs)
//   WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD, WEFT_LOG   set by weftd
//
// Example config (weftd derives this when an agent uses the web family):
//   [services.tool-web]
//   exec = "/usr/libexec/weft/weft-tool-web"
//   address = "tool/web"
//   [tools.web_search]
//   provider = "brave"
//   api_key = "${BRAVE_API_KEY}"
#include <cstdlib>
#include <cstring>

#include <curl/curl.h>

#include <weft/service/startup.hh>
#include <weft/toolserver/tool_main.hh>

#include "services/tool-web/fetch.hh"
#include "services/tool-web/search.hh"

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
  web_search{query, count?}   with [tools.web_search] in the config: one request to its
    provider (searxng, brave, tavily or json); up to max_results results (default 5),
    each a title, URL and snippet.

Environment:
  WEFT_CONFIG              the config file ([tools.web_search])
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
    auto out = tools::web_tools(lim);
    auto cfg = service::load_service_config();
    if (!cfg) {
      s.log.error("Failed to read [tools.web_search]: {}; web_search is not offered", cfg.err().message);
      return out;
    }
    auto& w = cfg->tools.web_search;
    if (!w.configured) return out;
    tools::search_settings ss;
    ss.provider = w.provider == "brave"    ? tools::search_provider::brave
                  : w.provider == "tavily" ? tools::search_provider::tavily
                  : w.provider == "json"   ? tools::search_provider::json
                                           : tools::search_provider::searxng;
    ss.base_url = w.base_url;
    ss.api_key = w.api_key;
    ss.results_path = w.results_path;
    ss.max_results = w.max_results;
    ss.timeout = std::chrono::milliseconds(w.timeout_ms);
    ss.allow_private = w.allow_private;
    if (ss.api_key.empty() && (ss.provider == tools::search_provider::brave || ss.provider == tools::search_provider::tavily))
      s.log.warning("web_search: provider '{}' has no api_key here (is its variable set in weftd's environment?)",
                    w.provider);
    // Scheme and host only: a json template may carry a key in its query.
    auto shown = w.base_url.substr(0, w.base_url.find_first_of("/?#", w.base_url.find("://") + 3));
    s.log.info("web_search: {} at {}, at most {} results", w.provider, shown, w.max_results);
    out.push_back(tools::web_search_tool(std::move(ss), lim));
    return out;
  });
  curl_global_cleanup();
  return rc;
}
