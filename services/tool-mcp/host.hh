#pragma once
/// The MCP client host: one connection per [tools.mcp_servers.<name>] entry (a transport
/// plus a libs/mcp client session), the bus side (ListTools, Call, Mcp.v1.ListServers,
/// the ToolsChanged event) and reloads. Single-threaded: everything runs on the service
/// runtime's event loop (the transports' pipes, timers and HTTP requests too); nothing
/// blocks it. The host's own deadlines (connects, pings, calls, backoff) are one loop timer
/// set to the earliest of them, and every event that may change them looks again (tick).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <weft/http/client.hh>
#include <weft/mcp/client.hh>
#include <weft/service/config.hh>
#include <weft/service/runtime.hh>

#include "proto/mcp_v1.hh"
#include "proto/tool_v1.hh"
#include "services/tool-mcp/mapping.hh"
#include "services/tool-mcp/pidfile.hh"
#include "services/tool-mcp/transport.hh"

namespace weft::mcp_host {

namespace mv = weft::proto::mcp_v1;

struct host_options {
  std::string home;  ///< $WEFT_HOME: stdio servers without cwd run in <home>/mcp/<name>
  std::chrono::milliseconds ping_interval{15000};   ///< idle time before a ping
  std::chrono::milliseconds ping_timeout{5000};     ///< no answer → the server is restarted
  std::chrono::milliseconds healthy_after{60000};   ///< ready this long → backoff starts over
  std::size_t max_in_flight = 64;                    ///< tools/call per server at once
  std::size_t max_result = max_result_bytes;
  std::uint64_t max_message_bytes = 1048576;
  /// Where the stdio servers' process groups are recorded (pidfile.hh); empty: nowhere.
  /// Leftovers of a previous weft-tool-mcp recorded there are killed by the constructor.
  std::string pids_file;  ///< the bus's ([bus] max_message_bytes): ListTools fits in one
};

class host {
 public:
  /// Serves on `rt`: ListTools, Call, ListServers; on TERM the servers are stopped (calls in
  /// flight answered as failed) and the drain waits for their children.
  host(service::runtime& rt, host_options o);
  ~host();
  host(const host&) = delete;
  host& operator=(const host&) = delete;

  /// Takes the [tools.mcp_servers] of a (re)loaded config: connects new servers,
  /// disconnects removed ones, reconnects changed ones, leaves the rest alone.
  void configure(const std::map<std::string, service::mcp_server_entry>& entries);
  /// The bus's message limit of a reloaded config (applied by the next configure()).
  void set_max_message_bytes(std::uint64_t n) { _o.max_message_bytes = n; }

  mv::servers list_servers() const;
  tool::tools list_tools() const;

 private:
  struct server;
  struct call;

  void on_call(tool::call c, service::responder r);
  void connect(server& s, clock::time_point now);
  void teardown(server& s, std::string reason, clock::time_point now, bool graceful = false);
  void relist(server& s, clock::time_point now);
  /// 2026-07-28: subscriptions/listen for tools list_changed (`again`: re-opened, so list too).
  void open_listen(server& s, clock::time_point now, bool again);
  void set_tools(server& s, std::vector<mcp::tool> tools);
  void finish_call(std::uint64_t seq, result<mcp::call_result> r);
  void on_progress(const server& s, const json& params);
  std::size_t calls_in_flight(const server& s) const;
  std::size_t tools_share() const;  ///< bytes of tool specs each enabled server may offer
  void apply_budget();  ///< tools/call of its current session
  void tick(clock::time_point now);
  /// The earliest deadline of a server, a call or a client session; nullopt: none.
  std::optional<clock::time_point> next_wake(clock::time_point now) const;
  /// A tick after the current callback (several requests in one callback: one tick).
  void poke();
  /// tick(), then the loop timer set to next_wake().
  void run_tick();
  result<http::client*> http_client();
  /// TERM: every server stopped; the drain waits for _retiring to empty.
  void begin_stop();
  void publish_if_changed();
  std::string state_text(const server& s) const;
  void stop_servers();  ///< every server torn down, every call answered
  void stop_all();      ///< and the children killed, the pid file removed
  void record_groups();

  service::runtime& _rt;
  event_loop& _loop;
  host_options _o;
  log::logger& _log;
  // Before the transports: they run their requests on it, so it goes after them.
  std::unique_ptr<http::client> _http;
  std::map<std::string, std::unique_ptr<server>> _servers;
  std::vector<std::unique_ptr<transport>> _retiring;
  std::map<std::uint64_t, call> _calls;
  std::uint64_t _next_call = 1;
  std::mt19937_64 _rng;
  std::string _published_sig;
  bool _published_once = false;
  bool _stopping = false;
  bool _tick_pending = false;
  event_loop::id _timer = 0;
  std::vector<group_record> _recorded;
  std::shared_ptr<bool> _alive = std::make_shared<bool>(true);
};

}  // namespace weft::mcp_host
