// weft-tool-mcp — the MCP client host: connects to the MCP servers of the config's
// [tools.mcp_servers.<name>] tables and serves their tools on the weft bus.
//
// Serves io.weft.Tool.v1 at $WEFT_ADDRESS (tool/mcp): ListTools there (every ready server's
// tools as <server>__<tool>), Call at tool/mcp/<server>__<tool>; io.weft.Mcp.v1.ListServers
// (weftd and ctl/* only); publishes io.weft.Tool.v1.ToolsChanged when its tool set changes.
// weftd derives the service when [tools.mcp_servers] has entries and sends SIGHUP after
// every reload: the servers are diffed by name (new → connect, removed → disconnect,
// changed → reconnect, unchanged → untouched). See docs/guides/mcp.md.
#include <signal.h>

#include <cstdlib>

#include <weft/service/main.hh>
#include <weft/service/paths.hh>
#include <weft/service/startup.hh>

#include "services/tool-mcp/host.hh"

using namespace weft;

namespace {
constexpr const char* help = R"(usage: weft-tool-mcp [--help]
The MCP client host: connects to every enabled [tools.mcp_servers.<name>] of the weft config
and serves their tools on the weft bus (io.weft.Tool.v1 at tool/mcp) as <name>__<tool>.

  stdio servers (command, args, env, cwd): started with posix_spawn in their own process
    group, in cwd or $WEFT_HOME/mcp/<name> (created 0700), with exactly the entry's env
    plus PATH (default /usr/local/bin:/usr/bin:/bin) and HOME (= the working directory)
    unless env sets them - never weft's own environment. The command is looked up in
    that PATH. stderr is logged at debug; its last line explains an exit.
    Stopping one: stdin closed, 1 s, TERM to its group, 2 s, KILL. Their process groups
    are recorded in $WEFT_RUNTIME_DIR/tool-mcp.pids; a weft-tool-mcp that starts kills the
    groups a killed predecessor left behind.
  http servers (url, headers): MCP Streamable HTTP (POST, JSON or SSE answers,
    Mcp-Session-Id, MCP-Protocol-Version, the GET event stream, DELETE at the end; the
    headers go with every request). A POST's event stream that ends before its answer after
    an event id is resumed: GET with Last-Event-ID after the server's retry delay. Every
    request runs on one libcurl multi-socket client on the service's event loop.

  Each connection: server/discover (2026-07-28) or initialize (2025-11-25, down to
  2024-11-05; a -32022 answer to the probe is followed in a version the server lists),
  tools/list (all pages),
  ready. notifications/tools/list_changed → listed again (within connect_timeout_ms, else
  the old list is kept). Idle 15 s → ping; no answer in 5 s, exit or closed pipe → killed
  and reconnected. No ping while tools/call requests are in flight (a single-threaded
  server answers nothing else meanwhile; each call has its own deadline). Connecting
  must finish within connect_timeout_ms. Reconnects back off exponentially with full jitter (0.5 s doubling
  to 30 s, reset after 60 s of health). A server that never starts stays in backoff with
  its error and never slows the others.

  Call → tools/call with Call.timeout_ms (else call_timeout_ms); results keep text
  (other blocks as placeholders, the blocks themselves in Result.blocks), isError and
  structuredContent; Call.meta is the request's _meta; at most 64 calls in flight per server; results cut at 768 KiB. A
  call past its deadline is answered Timeout and cancelled (notifications/cancelled; over
  HTTP its POST is dropped). Arguments nested deeper than 128 levels are refused.
  ListTools answers in one bus message: each enabled server may offer tool specs up to an
  equal share of [bus] max_message_bytes less 1/8 (at least 64 KiB); a server over its
  share stays connected, offers no tools, and its last_error says why.
  SIGHUP: the config is read again and the servers diffed by name.

Environment (set by weftd):
  WEFT_CONFIG      the config file (read with its [tools] secrets)
  WEFT_HOME        state directory (default working directories under mcp/)
  WEFT_RUNTIME_DIR runtime directory (tool-mcp.pids)
  WEFT_BUS, WEFT_ADDRESS, WEFT_TOKEN_FD, WEFT_NOTIFY_FD
  WEFT_LOG         log levels, e.g. "debug" (server stderr is logged at debug)
  WEFT_MCP_PING_MS idle time before a ping (default 15000; for tests); the answer
                   is awaited min(5000, 2 x this) ms
)";
}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);  // a server that closed stdin is an EPIPE, not our death
  return service::run_main(
      argc, argv, {.program = "weft-tool-mcp", .log_name = "tool-mcp", .help = help}, [](service::main_context& m) {
        mcp_host::host_options o;
        o.home = service::home_dir(m.cfg.home);
        o.max_message_bytes = m.cfg.bus.max_message_bytes;
        const char* rt = std::getenv("WEFT_RUNTIME_DIR");  // weftd's, authoritative
        o.pids_file = (rt && *rt ? std::string(rt) : service::runtime_dir(m.cfg.runtime_dir)) + "/tool-mcp.pids";
        if (const char* p = std::getenv("WEFT_MCP_PING_MS"); p && *p) {
          auto ms = std::strtoul(p, nullptr, 10);
          if (ms >= 100 && ms <= 3600000) {
            o.ping_interval = std::chrono::milliseconds(ms);
            o.ping_timeout = std::min(o.ping_timeout, std::chrono::milliseconds(2 * ms));
          }
        }
        mcp_host::host h(*m.rt, o);
        h.configure(m.cfg.tools.mcp_servers);
        m.rt->on_reload([&] {
          auto again = service::load_service_config();
          if (!again) {
            m.log.error("Failed to reload the MCP servers: {}; keeping the current ones", again.err().message);
            return;
          }
          m.log.info("reloading the MCP servers from '{}'", again->source);
          h.set_max_message_bytes(again->bus.max_message_bytes);
          h.configure(again->tools.mcp_servers);
        });
        m.log.info("'{}' serving {} MCP server(s)", m.rt->address(), m.cfg.tools.mcp_servers.size());
        return m.rt->run();
      });
}
