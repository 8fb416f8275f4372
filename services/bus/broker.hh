#pragma once
/// The broker's logic without sockets: authenticates peers, stamps senders, applies the
/// ACL and limits, routes by address and decides what to publish. main.cc feeds it
/// frames from the ROUTER socket and carries out what it asks through `transport`.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include <weft/base/log.hh>
#include <weft/ipc/message.hh>
#include <weft/ipc/token.hh>
#include <weft/service/config.hh>

#include "acl.hh"
#include "rate_window.hh"

namespace weft::bus {

namespace proto = weft::proto::bus_v1;

/// What the broker needs from the sockets.
class transport {
 public:
  enum class send_result { ok, unreachable, full };
  virtual ~transport() = default;
  /// Sends [rid][header][payload] on the ROUTER without blocking.
  virtual send_result send(std::string_view rid, std::string_view header, std::string_view payload) = 0;
  /// Publishes [topic][header][payload] on the event side.
  virtual void publish(std::string_view topic, std::string_view header, std::string_view payload) = 0;
};

class broker {
 public:
  broker(const service::bus_settings& settings, const ipc::secret& key, transport& t);

  /// Applies new settings (reload): ACL and limits; connected peers stay.
  void configure(const service::bus_settings& settings);

  /// One message from the peer with routing id `rid`. `payload` may be empty.
  void on_message(std::string_view rid, std::string_view header, std::string_view payload);

  /// A subscription change on the event side ("trace:<address>\n" topics start tracing).
  void on_subscription(std::string_view topic, bool subscribed);

  /// The agents cut off by Quarantine (agent id → why, by whom, since when).
  struct quarantine_entry {
    std::string reason;
    std::string by;
    utc_time since;
  };
  const std::map<std::string, quarantine_entry>& quarantined() const { return _quarantined; }
  /// At most this many agents quarantined at once, and as many throttled; more: Denied (a
  /// runaway monitor must not grow the bus without bound).
  static constexpr std::size_t max_quarantined = 4096;

  /// The agents slowed down by Throttle (agent id → why, by whom, since and until when, the
  /// tool calls it made within the rate).
  struct throttle_entry {
    std::string reason;
    std::string by;
    utc_time since;
    utc_time until;
    rate_window window;
  };
  const std::map<std::string, throttle_entry>& throttled() const { return _throttled; }
  /// A throttle's rate is 1 to this many calls a minute (the window keeps one stamp per call)
  /// and lasts 1 s to a week.
  static constexpr std::uint32_t max_throttle_rate = 100000;
  static constexpr std::uint32_t max_throttle_seconds = 7 * 86400;

  /// Keeps the quarantines and throttles in `path` ($WEFT_HOME/bus/quarantine.json), so that a
  /// restarted bus (killed, crashed, weftd restarted) still refuses what it refused: reads what
  /// the file holds (no file: nothing) and writes it through again at every change. A file
  /// that does not read is an error: starting without it would lift every quarantine.
  status open_state(std::string path);

  /// The clock throttles are timed by (tests set their own).
  void set_clock(std::function<utc_time()> clock) { _clock = std::move(clock); }

  const std::string& instance() const { return _instance; }
  std::size_t peer_count() const { return _peers.size(); }
  std::uint64_t forwarded() const { return _forwarded; }

 private:
  struct peer {
    std::string address;
    utc_time since;
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    std::string instance;  // Hello.instance: new when the process restarted
  };

  void handle_hello(std::string_view rid, const proto::envelope& env, std::string_view payload);
  void handle_own(std::string_view rid, const proto::envelope& env, std::string_view payload);
  void reply(std::string_view rid, const proto::envelope& req, std::string_view type, const std::string& payload);
  void reply_error(std::string_view rid, const proto::envelope& req, const error& e);
  template <class T>
  void event(const T& m);
  void trace(const proto::envelope& env, std::string_view header, std::string_view payload);
  void handle_quarantine(std::string_view rid, const proto::envelope& env, std::string_view payload);
  void handle_release(std::string_view rid, const proto::envelope& env, std::string_view payload);
  void handle_throttle(std::string_view rid, const proto::envelope& env, std::string_view payload);
  /// A request from a throttled agent to a tool over its rate: refused (true); ends a throttle
  /// whose time is up.
  bool refuse_throttled(std::string_view rid, const proto::envelope& env);
  /// Writes the quarantines and throttles to the state file, if there is one; a failure is
  /// logged (what is in force stays in force, until the bus restarts).
  void save_state();
  proto::quarantine_list quarantine_list() const;
  /// The quarantined agent `env` comes from or goes to, or nullptr.
  const std::pair<const std::string, quarantine_entry>* quarantine_of(const proto::envelope& env) const;
  void drop_peer(std::string_view rid);

  service::bus_settings _settings;
  acl _acl;
  ipc::secret _key;
  transport& _t;
  std::string _instance;
  std::unordered_map<std::string, peer> _peers;               // by routing id
  std::unordered_map<std::string, std::string> _rid_of;       // address -> routing id
  std::multiset<std::string> _traced;                         // "trace:<addr>\n" prefixes
  std::map<std::string, quarantine_entry> _quarantined;       // by agent id
  std::map<std::string, throttle_entry> _throttled;           // by agent id
  std::string _state_path;                                    // empty: nothing survives a restart
  std::function<utc_time()> _clock = utc_now;
  std::deque<std::string> _admin_order;                       // ctl/* peers, oldest first
  static constexpr std::size_t max_admin_peers = 256;
  std::uint64_t _forwarded = 0;
  std::uint64_t _next_id = 1;
  log::logger& _log;
};

}  // namespace weft::bus
