#pragma once
/// The monitor's logic without sockets: per-agent sliding-window counters and baselines,
/// and the rules of [security.monitor] evaluated on each observation. The service feeds it
/// the bus's events and carries out the actions it returns; the tests feed it times.

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include <weft/service/config.hh>

#include "services/monitor/window.hh"

namespace weft::monitor {

/// A rule that fired: what to do about which agent, and why.
struct finding {
  std::string agent;
  std::string rule;  ///< tool_burst, denial_burst, cost_per_hour, sensitive_path, new_host, exec_after_fetch
  service::monitor_action action;
  std::string detail;  ///< for a person: the count against the threshold, the path
};

/// One tool call, as Memory.v1 ToolCalled tells it.
struct tool_call {
  std::string tool;
  bool ok = true;
  std::vector<std::string> paths;     ///< the file paths its arguments name
  std::vector<std::string> hosts;     ///< the hosts its URL arguments name
  std::vector<std::string> commands;  ///< the command words of its shell command
};

/// One agent's counters, as GetState shows them.
struct agent_view {
  std::string agent;
  unsigned tool_calls_minute = 0, denials_minute = 0;
  double cost_hour_usd = 0;
  std::uint64_t tool_calls = 0;
  double baseline_per_minute = 0;
  bool quarantined = false;
};

class rules {
 public:
  /// At most this many agents are tracked; events of more are counted nowhere (and said once).
  static constexpr std::size_t max_agents = 4096;
  /// A rule fires at most once per agent in this long (one alert for a burst, not one per call).
  /// new_host is the exception while the host can be remembered: each new host alerts once.
  static constexpr millis cooldown_ms = 60000;
  /// At most this many hosts are remembered per agent (as 64-bit hashes: 8 bytes each); past
  /// it, a host not remembered alerts under the cooldown, at most once a minute.
  static constexpr std::size_t max_hosts_per_agent = 1024;

  /// `home`: $WEFT_HOME, for "$WEFT_HOME/…" in sensitive_paths; `workspaces`: every agent's
  /// workspace by id (another agent's is sensitive when other_workspaces is on).
  rules(service::monitor_settings s, std::string home, std::map<std::string, std::string> workspaces);

  std::vector<finding> tool_called(millis now, const std::string& agent, const tool_call& c);
  /// A successful call naming only paths (the tests of the older rules).
  std::vector<finding> tool_called(millis now, const std::string& agent, const std::string& tool,
                                   const std::vector<std::string>& paths) {
    return tool_called(now, agent, tool_call{tool, true, paths, {}, {}});
  }
  std::vector<finding> denied(millis now, const std::string& agent, const std::string& what);
  std::vector<finding> spent(millis now, const std::string& agent, double usd);

  /// The agent is quarantined (no further actions for it) or released (counters start over).
  void set_quarantined(const std::string& agent, bool on);
  bool quarantined(const std::string& agent) const;

  std::vector<agent_view> view(millis now) const;
  /// The sensitive prefixes for `agent`, resolved (for the docs and tests).
  std::vector<std::string> sensitive_for(const std::string& agent) const;
  bool over_agent_limit() const { return _over_limit; }
  /// `host` is in known_hosts (exactly, under a "*." entry, or "*" is there).
  bool known_host(const std::string& host) const;
  /// The interpreter of [security.monitor] interpreters that `command` runs ("python3.12" →
  /// "python"); empty: none.
  std::string interpreter(const std::string& command) const;

 private:
  struct agent_state {
    window_counter calls{60000, 60}, denials{60000, 60}, cost{3600000, 60};
    std::uint64_t total = 0;
    millis minute = -1;          // the minute `in_minute` counts
    std::uint64_t in_minute = 0;
    std::optional<double> baseline;
    bool quarantined = false;
    std::map<std::string, millis> fired;  // rule → when it last fired
    std::unordered_set<std::uint64_t> hosts;  // hashes of the hosts it named (its first calls', then alerted ones)
    millis fetch_at = -1;                 // the last successful call naming a host; -1: none
    std::uint64_t fetch_call = 0;         // its number (total at the time)
    std::string fetch_host;               // a host it named
  };
  agent_state* state(const std::string& agent);
  void fire(millis now, agent_state& a, const std::string& agent, const std::string& rule,
            service::monitor_action action, std::string detail, std::vector<finding>& out, bool cooldown = true);
  void new_hosts(millis now, agent_state& a, const std::string& agent, const tool_call& c, std::vector<finding>& out);
  void exec_after_fetch(millis now, agent_state& a, const std::string& agent, const tool_call& c,
                        std::vector<finding>& out);

  service::monitor_settings _s;
  std::vector<std::string> _paths;                     // resolved sensitive_paths
  std::map<std::string, std::string> _workspaces;      // agent → workspace
  std::map<std::string, agent_state> _agents;
  bool _over_limit = false;
};

/// The short text an admin channel ([security.monitor] notify) gets for `f`: the agent, what
/// was done, the rule and what it saw, and how to lift it.
std::string notice(const finding& f, const service::monitor_settings& s);

/// `path` is `prefix` or under it (component-wise: /h/keys2 is not under /h/keys).
bool under(const std::string& path, const std::string& prefix);

}  // namespace weft::monitor
