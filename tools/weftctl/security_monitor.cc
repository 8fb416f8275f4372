// weftctl security monitor|release: the security monitor's counters and recent alerts, the
// agents the bus holds in quarantine or throttles, and lifting a quarantine or throttle (the
// bus lets the agent's calls through again; weftd starts the tool processes the monitor stopped).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <weft/base/time.hh>
#include <weft/service/config.hh>
#include <weft/service/control_client.hh>

#include "proto/bus_v1.hh"
#include "proto/monitor_v1.hh"
#include "proto/supervisor_v1.hh"
#include "tools/weftctl/commands.hh"

namespace weft::ctl {

namespace {

namespace bus = proto::bus_v1;
namespace mon = proto::monitor_v1;
namespace sv = proto::supervisor_v1;
using json = nlohmann::json;

}  // namespace

int cmd_security_monitor(const options& o, const security_args& a) {
  zmq::context_t ctx(1);
  auto b = join_bus(ctx, o);
  if (!b) return failure(fmt::format("Failed to join the bus: {}", b.err().message));
  auto q = (*b)->call("bus", bus::list_quarantined{});
  if (!q) return failure(fmt::format("Failed to list quarantined agents: {}", q.err().to_string()));
  auto quarantined = q->as<bus::quarantine_list>();
  if (!quarantined) return failure(quarantined.err().message);
  auto r = (*b)->call("monitor", mon::get_state{a.recent});
  std::optional<mon::state> st;
  std::string why;
  if (r) {
    auto s = r->as<mon::state>();
    if (!s) return failure(s.err().message);
    st = std::move(*s);
  } else {
    // The bus's quarantines are worth showing without the monitor ([security.monitor] off).
    why = r.err().to_string();
  }
  if (o.json) {
    json j{{"quarantined", json::array()}, {"monitor", nullptr}};
    for (auto& x : quarantined->agents)
      j["quarantined"].push_back({{"agent", x.agent}, {"reason", x.reason}, {"by", x.by}, {"since", to_rfc3339(x.since)}});
    j["throttled"] = json::array();
    for (auto& x : quarantined->throttled)
      j["throttled"].push_back({{"agent", x.agent}, {"reason", x.reason}, {"by", x.by}, {"since", to_rfc3339(x.since)},
                                {"until", to_rfc3339(x.until)}, {"calls_per_minute", x.calls_per_minute}});
    if (st) {
      json m{{"enabled", st->enabled}, {"events", st->events}, {"agents", json::array()}, {"alerts", json::array()}};
      for (auto& x : st->agents)
        m["agents"].push_back({{"agent", x.agent}, {"tool_calls_minute", x.tool_calls_minute},
                               {"denials_minute", x.denials_minute}, {"cost_hour_usd", x.cost_hour_usd},
                               {"tool_calls", x.tool_calls}, {"baseline_per_minute", x.baseline_per_minute},
                               {"quarantined", x.quarantined}});
      for (auto& x : st->alerts)
        m["alerts"].push_back({{"at", to_rfc3339(x.at)}, {"agent", x.agent}, {"rule", x.rule}, {"action", x.action},
                               {"detail", x.detail}});
      j["monitor"] = std::move(m);
    } else {
      j["monitor_error"] = why;
    }
    fmt::print("{}\n", j.dump(2));
    return st ? 0 : 1;
  }
  if (quarantined->agents.empty()) {
    fmt::print("Quarantined: none\n");
  } else {
    fmt::print("Quarantined:\n{:<16} {:<10} {:<24}  {}\n", "AGENT", "BY", "SINCE", "REASON");
    for (auto& x : quarantined->agents)
      fmt::print("{:<16} {:<10} {:<24}  {}\n", x.agent, x.by, to_rfc3339(x.since), x.reason);
  }
  if (!quarantined->throttled.empty()) {
    fmt::print("Throttled:\n{:<16} {:<10} {:>9} {:<24}  {}\n", "AGENT", "BY", "CALLS/MIN", "UNTIL", "REASON");
    for (auto& x : quarantined->throttled)
      fmt::print("{:<16} {:<10} {:>9} {:<24}  {}\n", x.agent, x.by, x.calls_per_minute, to_rfc3339(x.until), x.reason);
  }
  if (!st) return failure(fmt::format("Failed to ask the monitor: {} (is [security.monitor] enabled?)", why));
  fmt::print("\nMonitor: {}, {} events\n", st->enabled ? "enabled" : "disabled", st->events);
  fmt::print("{:<16} {:>10} {:>10} {:>10} {:>10} {:>10}  {}\n", "AGENT", "CALLS/MIN", "USUAL/MIN", "DENIED/MIN",
             "COST/H", "CALLS", "STATE");
  auto throttled = [&](const std::string& agent) {
    return std::any_of(quarantined->throttled.begin(), quarantined->throttled.end(),
                       [&](auto& t) { return t.agent == agent; });
  };
  for (auto& x : st->agents)
    fmt::print("{:<16} {:>10} {:>10.1f} {:>10} {:>10.4f} {:>10}  {}\n", x.agent, x.tool_calls_minute,
               x.baseline_per_minute, x.denials_minute, x.cost_hour_usd, x.tool_calls,
               x.quarantined ? "quarantined" : throttled(x.agent) ? "throttled" : "ok");
  fmt::print("\nRecent alerts:\n");
  if (st->alerts.empty()) fmt::print("  none\n");
  for (auto& x : st->alerts)
    fmt::print("  {} {:<10} {:<16} {:<14} {}\n", to_rfc3339(x.at), x.action, x.agent, x.rule, x.detail);
  return 0;
}

int cmd_security_release(const options& o, const security_args& a) {
  zmq::context_t ctx(1);
  auto b = join_bus(ctx, o);
  if (!b) return failure(fmt::format("Failed to join the bus: {}", b.err().message));
  auto r = (*b)->call("bus", bus::release{a.agent});
  if (!r) return failure(fmt::format("Failed to release '{}': {}", a.agent, r.err().to_string()));
  // The tool processes the quarantine stopped: started again, and waited for.
  auto c = service::control_client::connect(ctx, o.runtime_dir);
  if (!c) return failure(fmt::format("Failed to start the tool processes of '{}': {}", a.agent, c.err().message));
  auto st = (*c)->request(sv::status{}, std::chrono::milliseconds(o.timeout_ms));
  auto status = st ? st->as<sv::status_reply>() : result<sv::status_reply>(st.err());
  if (!status) return failure(fmt::format("Failed to start the tool processes of '{}': {}", a.agent, status.err().message));
  std::vector<std::string> started;
  int rc = 0;
  for (auto& s : status->services) {
    if (s.address.rfind("tool/", 0) != 0 || service::agent_of_address(s.address) != a.agent) continue;
    if (s.state != sv::state::stopped) continue;
    if (auto d = (*c)->request(sv::control{s.name, "start"}, std::chrono::milliseconds(o.timeout_ms)); !d) {
      fmt::print(stderr, "Failed to start '{}': {}\n", s.name, d.err().message);
      rc = 1;
    } else {
      started.push_back(s.name);
    }
  }
  if (o.json) {
    fmt::print("{}\n", json{{"agent", a.agent}, {"released", true}, {"started", started}}.dump(2));
  } else {
    fmt::print("released '{}'{}\n", a.agent,
               started.empty() ? std::string() : fmt::format("; started {}", fmt::join(started, ", ")));
  }
  return rc;
}

}  // namespace weft::ctl
