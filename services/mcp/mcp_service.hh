#pragma once
/// weft as an MCP server (issue 5, item 2): one agent's tools — the union of its tool
/// processes' ListTools, filtered by the agent's [agents.<id>.tools] and by [mcp]
/// allow/deny, sorted by name — plus its skills as resources, a resource template, prompts
/// and completions (skill_catalog), served to MCP clients over Streamable HTTP
/// (mcp::http::transport on http::server, on the runtime's loop) and over the bus
/// (io.weft.Mcp.v1 Open/Frame/Close, which `weftctl mcp serve` relays from stdio). One
/// mcp::server dispatcher per session, whatever the transport. Wire glue only: the protocol
/// is libs/mcp's, the tool mapping mapping.hh's, the skills skill_catalog's.
///
/// Tool sets are re-listed when a tool process joins or leaves the bus (Bus.v1.PeerChanged
/// from the bus) or says its tools changed (Tool.v1.ToolsChanged, sender stamped by the
/// bus); when the offered set (names and schemas) changed, every initialized session gets
/// notifications/tools/list_changed. Skill folders are looked at every few seconds while a
/// session is open: resources and prompts list_changed, resources/updated for the skills
/// that changed. Sessions that asked (logging/setLevel) get the server's notices (tool
/// processes coming and going, the offered tools changing) as notifications/message.
///
/// Admission, one rule for both transports ([mcp] max_sessions, docs/config.md): when the
/// limit is held, a new session takes the place of the least recently used idle one,
/// whatever its transport — an HTTP session with no request in flight and no open stream,
/// or a stdio session with nothing in flight that has sent nothing for stdio_idle; with
/// none idle the new one is refused (HTTP 503, Mcp.v1.TooManySessions). HTTP sessions idle
/// for http_idle are ended anyway; a stdio session ends with its weftctl (found by pinging
/// it after stdio_ping_after of quiet).
///
/// Stop: new sessions are refused, 2026-07-28 subscriptions get their final result, tool
/// calls in flight are answered, then every stdio session is closed (Mcp.v1.Close).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <weft/http/server.hh>
#include <weft/mcp/http_server_transport.hh>
#include <weft/mcp/server.hh>
#include <weft/service/config.hh>
#include <weft/service/runtime.hh>
#include <weft/skills/skills.hh>

#include "proto/mcp_v1.hh"
#include "proto/tool_v1.hh"
#include "services/mcp/skill_catalog.hh"

namespace weft::mcpsrv {

struct mcp_options {
  std::string agent;                          ///< whose tools (the bus checks calls as agent/<agent>/mcp)
  service::mcp_serve_settings settings;       ///< [mcp]
  service::tool_policy agent_policy;          ///< [agents.<agent>.tools]
  std::vector<std::string> tool_processes;    ///< tool/fs/<agent>, tool/web, … in family order
  std::vector<skills::skill_dir> skill_dirs;  ///< lowest precedence first
  std::string token_file;                     ///< $WEFT_HOME/mcp/http.token
  std::string port_file;                      ///< $WEFT_RUNTIME_DIR/mcp.port
  std::string version;                        ///< serverInfo.version: service::version()
  std::size_t max_frame_bytes = 1u << 20;     ///< a Frame's line must fit the bus's message limit
  std::chrono::milliseconds call_timeout{60000};  ///< a tools/call without _meta["io.weft/timeoutMs"]
  std::chrono::milliseconds list_timeout{5000};   ///< a tool process's answer to ListTools
  std::chrono::milliseconds stdio_ping_after{30000};  ///< a stdio session this quiet has its weftctl pinged
  std::chrono::milliseconds stdio_idle{std::chrono::minutes(10)};  ///< a quiet stdio session may make room after this
  std::chrono::milliseconds http_idle{std::chrono::minutes(30)};   ///< an idle HTTP session is ended after this
  std::chrono::milliseconds skill_scan{2000};  ///< how often skill folders are looked at (sessions open)
};

class mcp_service {
 public:
  /// Registers the handlers of Mcp.v1 Open/Frame/Close, PeerChanged and ToolsChanged on `rt`.
  mcp_service(service::runtime& rt, mcp_options o);
  ~mcp_service();
  mcp_service(const mcp_service&) = delete;
  mcp_service& operator=(const mcp_service&) = delete;

  /// Listens on HTTP (when [mcp] listen is set; a failure is logged and stdio still
  /// serves), asks the tool processes for their tools and starts the timers. Before rt.run().
  void start();

 private:
  using clock = std::chrono::steady_clock;
  struct proc {
    std::string address;
    std::vector<proto::tool_v1::tool_spec> tools;
    bool known = false, listing = false, again = false;
    bool gone = false;      // left the bus: asked again when it joins
    bool rejoined = false;  // came back on the bus: clients hear list_changed even if its tools are the same
    std::chrono::milliseconds backoff{500};
    event_loop::id retry = 0;
  };
  struct offered_tool {
    std::size_t proc;
    nlohmann::json entry;
  };
  struct stdio_session {
    std::string peer;  // ctl/<pid>
    std::unique_ptr<mcp::server> srv;
    clock::time_point used;   // its last frame
    clock::time_point heard;  // its last frame or answered ping
    std::uint64_t ping = 0;   // a Ping to its weftctl in flight
  };

  mcp::handlers make_handlers();
  mcp::server::options server_options() const;

  // Tools.
  void list(std::size_t i);
  void on_listed(std::size_t i, result<ipc::message> answer);
  /// Recomputes the offered tools; tells every session when they changed (or `force`).
  void rebuild(bool force = false);
  bool discovering() const;
  void after_discovery(std::function<void()> f);
  void list_tools(mcp::reply_fn reply);
  void call_tool(const nlohmann::json& params, mcp::reply_fn reply);
  void on_peer_changed(const std::string& address, bool joined);

  // Skills.
  /// Looks at the skill folders; tells sessions what changed.
  void refresh_skills();

  // Sessions of both transports.
  std::size_t held() const;
  /// The one admission rule: true when a new session may open, after ending the least
  /// recently used idle session of either transport if the limit is held.
  bool make_room();
  /// Applies `fn` to every session's dispatcher that can be written to; how many sent.
  std::size_t each_session(const std::function<bool(mcp::server&)>& fn);
  /// Logs a notice and sends it to the sessions that asked for messages this severe.
  void tell(log::level l, const std::string& text);

  // stdio over the bus.
  result<proto::mcp_v1::opened> on_open(const proto::mcp_v1::open& o, const std::string& from);
  void on_frame(const proto::mcp_v1::frame& f, const std::string& from);
  void send_frame(const std::string& sid, std::string line);
  void close_stdio(const std::string& sid, const std::string& reason, bool tell_peer);
  /// Pings the weftctl of every stdio session quiet for a while: the bus reports no
  /// disconnects, so a killed `weftctl mcp serve` is found this way and its session closed.
  void check_stdio_peers();

  // HTTP.
  result<bool> start_http();

  service::runtime& _rt;
  mcp_options _o;
  log::logger& _log;
  skill_catalog _skills;
  std::vector<proc> _procs;
  std::map<std::string, offered_tool> _offered;  // by name: a stable, sorted order
  std::string _fingerprint;
  std::vector<std::function<void()>> _waiting;  // requests waiting for discovery
  std::map<std::string, stdio_session> _stdio;
  std::unique_ptr<http::server> _http;
  std::unique_ptr<mcp::http::transport> _transport;
  std::uint64_t _calls = 0, _next_session = 0;
  std::size_t _tool_calls = 0;  // tools/call in flight
  bool _stopping = false;
};

}  // namespace weft::mcpsrv
