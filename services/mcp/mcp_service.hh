#pragma once
/// weft as an MCP server (issue 5, item 2): one agent's tools — the union of its tool
/// processes' ListTools, filtered by the agent's [agents.<id>.tools] and by [mcp]
/// allow/deny, sorted by name — plus its skills as resources and prompts, served to MCP
/// clients over Streamable HTTP (mcp::http::transport on http::server) and over the
/// bus (io.weft.Mcp.v1 Open/Frame/Close, which `weftctl mcp serve` relays from stdio).
/// One mcp::server dispatcher per session, whatever the transport.
///
/// Tool sets are re-listed when a tool process joins or leaves the bus (Bus.v1.PeerChanged
/// from the bus) or says its tools changed (Tool.v1.ToolsChanged, sender stamped by the
/// bus); when the offered set (names and schemas) changed, every initialized session gets
/// notifications/tools/list_changed.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <weft/base/event_loop.hh>
#include <weft/http/server.hh>
#include <weft/http/token.hh>
#include <weft/ipc/bus_client.hh>
#include <weft/mcp/http_server_transport.hh>
#include <weft/mcp/server.hh>
#include <weft/service/config.hh>
#include <weft/service/notify.hh>
#include <weft/skills/skills.hh>

#include "proto/tool_v1.hh"

namespace weft::mcpsrv {

struct mcp_options {
  std::string agent;                          ///< whose tools (the bus checks calls as agent/<agent>/mcp)
  service::mcp_serve_settings settings;       ///< [mcp]
  service::tool_policy agent_policy;          ///< [agents.<agent>.tools]
  std::vector<std::string> tool_processes;    ///< tool/fs/<agent>, tool/web, … in family order
  std::vector<agent::skill_dir> skill_dirs;   ///< lowest precedence first
  std::string token_file;                     ///< $WEFT_HOME/mcp/http.token
  std::string port_file;                      ///< $WEFT_RUNTIME_DIR/mcp.port
  std::string events_endpoint;                ///< $WEFT_EVENTS (PeerChanged, ToolsChanged)
  std::size_t max_frame_bytes = 1u << 20;     ///< a Frame's line must fit the bus's message limit
  std::chrono::milliseconds call_timeout{60000};  ///< a tools/call without _meta["io.weft/timeoutMs"]
  std::chrono::milliseconds stdio_ping_after{30000};  ///< a stdio session this quiet has its weftctl pinged
  std::string version = "0.1";
};

/// Reads the HTTP token from `file`, creating it (32 random bytes as hex, mode 0600) when
/// it does not exist.
using http::ensure_token;

class mcp_service {
 public:
  mcp_service(ipc::bus_client& bus, service::notifier& notify, zmq::context_t& ctx, mcp_options o);
  ~mcp_service();
  /// Listens (HTTP when configured), subscribes to events, and runs until TERM/INT.
  int run(int signal_fd);

 private:
  using clock = std::chrono::steady_clock;
  struct proc {
    std::string address;
    std::vector<proto::tool_v1::tool_spec> tools;
    bool known = false, listing = false, again = false;
    bool rejoined = false;  // came back on the bus: clients hear list_changed even if its tools are the same
    clock::time_point next_try{};
    std::chrono::milliseconds backoff{500};
  };
  struct offered_tool {
    std::size_t proc;
    nlohmann::json entry;
  };
  struct pending {
    bool list = false;
    std::size_t proc = 0;
    mcp::reply_fn reply;
    std::string tool;
    clock::time_point deadline;
    std::string ping_session;  // a liveness Ping to this stdio session's weftctl
  };
  struct stdio_session {
    std::string peer;  // ctl/<pid>
    std::unique_ptr<mcp::server> srv;
    std::chrono::steady_clock::time_point used;
    bool pinging = false;
  };

  mcp::handlers make_handlers(const std::string& session);
  mcp::server::options server_options() const;
  void list(std::size_t i);
  void on_listed(std::size_t i, const ipc::message* m);
  /// Recomputes the offered tools; tells every session when they changed (or `force`).
  void rebuild(bool force = false);
  bool discovering() const;
  void after_discovery(std::function<void()> f);
  void list_tools(mcp::reply_fn reply);
  void call_tool(const nlohmann::json& params, mcp::reply_fn reply);
  void dispatch(const ipc::message& m);
  void on_event(const ipc::message& m);
  void on_open(const ipc::message& m);
  void on_frame(const ipc::message& m);
  void on_close_event(const ipc::message& m);
  void send_frame(const std::string& sid, std::string line);
  void close_stdio(const std::string& sid, const std::string& reason, bool tell_peer);
  /// Pings the weftctl of every stdio session quiet for a while: the bus reports no
  /// disconnects, so a killed `weftctl mcp serve` is found this way and its session closed.
  void check_stdio_peers();
  result<bool> start_http();
  std::chrono::milliseconds tick();

  ipc::bus_client& _bus;
  service::notifier& _notify;
  zmq::context_t& _ctx;
  mcp_options _o;
  log::logger& _log;
  std::vector<proc> _procs;
  std::map<std::string, offered_tool> _offered;  // by name: a stable, sorted order
  std::string _fingerprint;
  std::vector<std::function<void()>> _waiting;   // requests waiting for discovery
  std::map<std::uint64_t, pending> _pending;     // bus request id → what waits
  std::map<std::string, stdio_session> _stdio;
  std::unique_ptr<ipc::event_subscriber> _events;
  // TEMPORARY, until this service moves onto service::runtime: the HTTP server runs on an
  // event loop of its own, which run() polls (its fd) beside the bus and turns once per pass.
  std::unique_ptr<event_loop> _http_loop;
  std::unique_ptr<http::server> _http;
  std::unique_ptr<mcp::http::transport> _transport;
  std::uint64_t _calls = 0, _next_session = 0;
  bool _stopping = false;
};

}  // namespace weft::mcpsrv
