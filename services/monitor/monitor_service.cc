#include "services/monitor/monitor_service.hh"

#include <zmq.hpp>

#include <weft/ipc/builtin.hh>
#include <weft/service/control_client.hh>
#include <weft/service/paths.hh>

#include "proto/bus_v1.hh"
#include "proto/chat_v1.hh"
#include "proto/llm_v1.hh"
#include "proto/memory_v1.hh"
#include "proto/supervisor_v1.hh"

namespace weft::monitor {

namespace bus = proto::bus_v1;
namespace mon = proto::monitor_v1;
namespace mem = proto::memory_v1;
namespace llm = proto::llm_v1;
namespace chat = proto::chat_v1;
namespace sv = proto::supervisor_v1;

namespace {

std::map<std::string, std::string> workspaces(const service::config& c, const std::string& home) {
  std::map<std::string, std::string> out;
  for (auto& [id, a] : c.agents) out[id] = a.workspace.empty() ? home + "/agents/" + id : a.workspace;
  return out;
}

std::string_view action_name(service::monitor_action a) {
  switch (a) {
    case service::monitor_action::quarantine: return "quarantine";
    case service::monitor_action::throttle: return "throttle";
    case service::monitor_action::alert: break;
  }
  return "alert";
}

}  // namespace

std::vector<std::string_view> monitor_service::topics() {
  return {mem::tool_called::type_name, bus::access_denied::type_name, llm::spent::type_name,
          bus::agent_quarantined::type_name, bus::agent_released::type_name};
}

monitor_service::monitor_service(service::runtime& rt, service::config cfg, std::string home)
    : _rt(rt),
      _cfg(std::move(cfg)),
      _rules(_cfg.security.monitor, home, workspaces(_cfg, home)),
      _runtime_dir(service::runtime_dir(_cfg.runtime_dir)),
      _log(log::get("monitor")) {
  auto& m = _cfg.security.monitor;
  _log.info("monitor: {} agents; tool calls > {}/min: {}; denials > {}/min: {}; cost > ${}/h: {}; sensitive paths: "
            "{}; new hosts after {} calls ({} known): {}; interpreters within {} s and {} calls of a fetch: {}; "
            "throttle: {} tool calls a minute for {} s",
            _cfg.agents.size(), m.tool_calls_per_minute, action_name(m.tool_burst_action), m.denials_per_minute,
            action_name(m.denial_burst_action), m.cost_per_hour_usd, action_name(m.cost_action),
            action_name(m.sensitive_path_action), m.new_host_after_calls, m.known_hosts.size(),
            action_name(m.new_host_action), m.exec_after_fetch_seconds, m.exec_after_fetch_calls,
            action_name(m.exec_after_fetch_action), m.throttle_calls_per_minute, m.throttle_seconds);
  _rt.on<mon::get_state>([this](const mon::get_state& g, const ipc::message& req) -> result<mon::state> {
    if (!ipc::is_admin(req.env.from))
      return mon::make(mon::error_code::denied, "only weftd and ctl/* may read the monitor's state, not '{}'",
                       req.env.from);
    if (g.recent > max_alerts)
      return mon::make(mon::error_code::bad_request, "recent must be at most {}, not {}", max_alerts, g.recent);
    return state(g.recent);
  });
  for (auto topic : topics()) {
    _rt.on_event(topic, [this](const ipc::message& m) { on_event(m); });
    if (auto s = _rt.subscribe(topic); !s) {
      _log.error("{}; the monitor sees nothing", s.err().message);
      break;
    }
  }
  // Quarantines the bus holds already (the monitor restarted): no actions for those agents.
  _rt.call("bus", bus::list_quarantined{}, {.timeout = std::chrono::seconds(10)}, [this](result<ipc::message> r) {
    if (!r) return _log.warning("Failed to ask the bus for quarantined agents: {}", r.err().message);
    if (auto l = r->as<bus::quarantine_list>())
      for (auto& q : l->agents) _rules.set_quarantined(q.agent, true);
  });
}

monitor_service::~monitor_service() = default;  // joins the stoppers

millis monitor_service::now() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - _start).count();
}

void monitor_service::on_event(const ipc::message& m) {
  ++_events;
  std::vector<finding> found;
  // Any peer may publish any event type: each is believed only from the process that
  // decides it (the bus stamps the sender).
  if (m.is(mem::tool_called::type_name)) {
    auto agent = service::agent_of_address(m.env.from);
    if (!agent || m.env.from.rfind("agent/", 0) != 0) return;
    if (auto e = m.as<mem::tool_called>())
      found = _rules.tool_called(
          now(), *agent, tool_call{std::move(e->tool), e->ok, std::move(e->paths), std::move(e->hosts), std::move(e->commands)});
  } else if (m.is(bus::access_denied::type_name)) {
    if (m.env.from != "bus") return;
    auto e = m.as<bus::access_denied>();
    // The quarantine's and the throttle's own refusals: counting them would turn a throttle
    // into a denial_burst.
    if (!e || e->rule.rfind("quarantine", 0) == 0 || e->rule.rfind("throttle", 0) == 0) return;
    if (auto agent = service::agent_of_address(e->from))
      found = _rules.denied(now(), *agent, fmt::format("{} to '{}' by {}", e->type, e->to, e->rule));
  } else if (m.is(llm::spent::type_name)) {
    if (m.env.from != "llm") return;
    if (auto e = m.as<llm::spent>()) found = _rules.spent(now(), e->agent, e->cost_usd);
  } else if (m.is(bus::agent_quarantined::type_name)) {
    if (m.env.from != "bus") return;
    if (auto e = m.as<bus::agent_quarantined>()) _rules.set_quarantined(e->agent, true);
  } else if (m.is(bus::agent_released::type_name)) {
    if (m.env.from != "bus") return;
    if (auto e = m.as<bus::agent_released>()) {
      _rules.set_quarantined(e->agent, false);
      _log.warning("Agent '{}' released from quarantine or throttle by '{}'", e->agent, e->by);
      publish(e->agent, "release", "release", fmt::format("released by {}", e->by));
    }
  }
  for (auto& f : found) act(f);
  if (_rules.over_agent_limit() && !_said_over_limit) {
    _said_over_limit = true;
    _log.warning("Failed to count the events of more than {} agents: the monitor tracks at most that many, ignoring "
                 "the others.",
                 rules::max_agents);
  }
}

void monitor_service::publish(std::string agent, std::string rule, std::string action, std::string detail) {
  mon::alert a{std::move(agent), std::move(rule), std::move(action), std::move(detail), utc_now()};
  if (auto p = _rt.bus().publish(a); !p) _log.error("Failed to publish an alert for agent '{}': {}", a.agent, p.err().message);
  _alerts.push_back(std::move(a));
  while (_alerts.size() > max_alerts) _alerts.pop_front();
}

void monitor_service::act(const finding& f) {
  auto action = action_name(f.action);
  _log.warning("Agent '{}': {} ({}): {}", f.agent, f.rule, action, f.detail);
  publish(f.agent, f.rule, std::string(action), f.detail);
  notify(notice(f, _cfg.security.monitor));
  auto reason = fmt::format("{}: {}", f.rule, f.detail);
  if (f.action == service::monitor_action::throttle) {
    auto& m = _cfg.security.monitor;
    _rt.call("bus", bus::throttle{f.agent, reason, m.throttle_calls_per_minute, m.throttle_seconds},
             {.timeout = std::chrono::seconds(10)}, [this, agent = f.agent](result<ipc::message> r) {
               if (!r) _log.error("Failed to throttle agent '{}' at the bus: {}", agent, r.err().message);
             });
    return;
  }
  if (f.action != service::monitor_action::quarantine) return;
  _rt.call("bus", bus::quarantine{f.agent, reason}, {.timeout = std::chrono::seconds(10)},
           [this, agent = f.agent](result<ipc::message> r) {
             if (!r) {
               _log.error("Failed to quarantine agent '{}' at the bus: {}", agent, r.err().message);
               return;
             }
             stop_tools(agent);
           });
}

void monitor_service::notify(std::string text) {
  auto& m = _cfg.security.monitor;
  if (m.notify_channel.empty()) return;
  // The channel's own Deliver, as the router sends replies: the adapter splits, retries and
  // keeps the id so a repeat is not sent twice. The id is unique per monitor run and alert.
  auto id = fmt::format("monitor:{}:{}", to_rfc3339(_started_utc), ++_notices);
  chat::message msg{id, m.notify_channel, m.notify_chat, "monitor", utc_now(), {}, std::nullopt, {}};
  msg.parts.push_back({chat::part_kind::text, std::move(text), std::nullopt, std::nullopt, std::nullopt, std::nullopt});
  auto to = "chan/" + m.notify_channel;
  _rt.call(to, chat::deliver{id, std::move(msg), {}}, {.timeout = std::chrono::seconds(60)},
           [this, to](result<ipc::message> r) {
             if (!r) _log.error("Failed to send a security notice to '{}': {}", to, r.err().message);
           });
}

void monitor_service::stop_tools(const std::string& agent) {
  // weftd answers Control stop once the process is gone (up to its stop timeout): a thread
  // of its own, with its own control socket, so the loop keeps counting meanwhile.
  _stoppers.emplace_back([this, agent, dir = _runtime_dir] {
    auto& lg = log::get("monitor");
    auto c = service::control_client::connect(_rt.context(), dir);
    if (!c) return lg.error("Failed to stop the tool processes of agent '{}': {}", agent, c.err().message);
    auto st = (*c)->request(sv::status{});
    auto status = st ? st->as<sv::status_reply>() : result<sv::status_reply>(st.err());
    if (!status) return lg.error("Failed to stop the tool processes of agent '{}': {}", agent, status.err().message);
    for (auto& s : status->services) {
      if (s.address.rfind("tool/", 0) != 0 || service::agent_of_address(s.address) != agent) continue;
      if (s.state == sv::state::stopped) continue;
      if (auto d = (*c)->request(sv::control{s.name, "stop"}); !d)
        lg.error("Failed to stop '{}' of quarantined agent '{}': {}", s.name, agent, d.err().message);
      else lg.warning("Stopped '{}' of quarantined agent '{}'", s.name, agent);
    }
  });
}

mon::state monitor_service::state(std::uint32_t recent) const {
  mon::state s;
  s.enabled = _cfg.security.monitor.enabled;
  s.events = _events;
  for (auto& v : _rules.view(now()))
    s.agents.push_back({v.agent, v.tool_calls_minute, v.denials_minute, v.cost_hour_usd, v.tool_calls,
                        v.baseline_per_minute, v.quarantined});
  auto from = _alerts.size() > recent ? _alerts.size() - recent : 0;
  s.alerts.assign(_alerts.begin() + static_cast<std::ptrdiff_t>(from), _alerts.end());
  return s;
}

}  // namespace weft::monitor
