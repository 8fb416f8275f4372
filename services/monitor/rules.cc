#include "services/monitor/rules.hh"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>

#include <fmt/format.h>

namespace weft::monitor {

namespace {

std::string strip_slash(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

}  // namespace

std::string notice(const finding& f, const service::monitor_settings& s) {
  switch (f.action) {
    case service::monitor_action::quarantine:
      return fmt::format("weft security: agent '{}' quarantined by rule {}: {}; release with `weftctl security release "
                         "{}`",
                         f.agent, f.rule, f.detail, f.agent);
    case service::monitor_action::throttle:
      return fmt::format("weft security: agent '{}' throttled to {} tool calls a minute for {} s by rule {}: {}; "
                         "release sooner with `weftctl security release {}`",
                         f.agent, s.throttle_calls_per_minute, s.throttle_seconds, f.rule, f.detail, f.agent);
    case service::monitor_action::alert: break;
  }
  return fmt::format("weft security: agent '{}' alert by rule {}: {}; see `weftctl security monitor`", f.agent, f.rule,
                     f.detail);
}

bool under(const std::string& path, const std::string& prefix) {
  if (prefix.empty()) return false;
  if (prefix == "/") return !path.empty() && path.front() == '/';
  return path == prefix || (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
                            path[prefix.size()] == '/');
}

rules::rules(service::monitor_settings s, std::string home, std::map<std::string, std::string> workspaces)
    : _s(std::move(s)) {
  home = strip_slash(std::move(home));
  for (auto& p : _s.sensitive_paths) {
    if (p == "$WEFT_HOME") _paths.push_back(home);
    else if (p.rfind("$WEFT_HOME/", 0) == 0) _paths.push_back(strip_slash(home + p.substr(10)));
    else _paths.push_back(strip_slash(p));
  }
  for (auto& [id, w] : workspaces) _workspaces[id] = strip_slash(w);
}

std::vector<std::string> rules::sensitive_for(const std::string& agent) const {
  auto out = _paths;
  if (_s.other_workspaces) {
    auto own = _workspaces.find(agent);
    for (auto& [id, w] : _workspaces)
      // Another's workspace, unless the agent's own lies within it (then the agent would be
      // flagged for touching its own files).
      if (id != agent && !(own != _workspaces.end() && under(own->second, w))) out.push_back(w);
  }
  return out;
}

rules::agent_state* rules::state(const std::string& agent) {
  if (auto it = _agents.find(agent); it != _agents.end()) return &it->second;
  if (_agents.size() >= max_agents) {
    _over_limit = true;
    return nullptr;
  }
  return &_agents[agent];
}

void rules::fire(millis now, agent_state& a, const std::string& agent, const std::string& rule,
                 service::monitor_action action, std::string detail, std::vector<finding>& out, bool cooldown) {
  if (a.quarantined) return;  // cut off already; its counters still count
  if (auto it = a.fired.find(rule); cooldown && it != a.fired.end() && now - it->second < cooldown_ms) return;
  a.fired[rule] = now;
  if (action == service::monitor_action::quarantine) a.quarantined = true;
  out.push_back({agent, rule, action, std::move(detail)});
}

bool rules::known_host(const std::string& host) const {
  for (auto& k : _s.known_hosts) {
    if (k == "*" || k == host) return true;
    if (k.rfind("*.", 0) == 0 && host.size() > k.size() - 1 &&
        host.compare(host.size() - (k.size() - 1), k.size() - 1, k, 1) == 0)
      return true;
  }
  return false;
}

std::string rules::interpreter(const std::string& command) const {
  for (auto& i : _s.interpreters) {
    if (command.rfind(i, 0) != 0) continue;
    // "python" runs as python3 and python3.12; "sh" is not "shred".
    if (std::all_of(command.begin() + static_cast<std::ptrdiff_t>(i.size()), command.end(),
                    [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; }))
      return i;
  }
  return {};
}

void rules::new_hosts(millis now, agent_state& a, const std::string& agent, const tool_call& c,
                      std::vector<finding>& out) {
  // The agent's first new_host_after_calls calls (this one is call number a.total) teach it
  // its hosts; afterwards a host it never named, and not known, is new.
  bool learning = a.total <= _s.new_host_after_calls;
  for (auto& h : c.hosts) {
    if (known_host(h)) continue;
    auto key = static_cast<std::uint64_t>(std::hash<std::string>{}(h));
    if (a.hosts.count(key)) continue;
    bool remembered = a.hosts.size() < max_hosts_per_agent && a.hosts.insert(key).second;
    if (learning) continue;
    fire(now, a, agent, "new_host", _s.new_host_action,
         fmt::format("{} named host '{}', new for this agent (not among the hosts of its first {} calls, not in "
                     "known_hosts)",
                     c.tool, h, _s.new_host_after_calls),
         out, /*cooldown=*/!remembered);
  }
}

void rules::exec_after_fetch(millis now, agent_state& a, const std::string& agent, const tool_call& c,
                             std::vector<finding>& out) {
  if (_s.exec_after_fetch_seconds && a.fetch_at >= 0 && !c.commands.empty()) {
    auto age = now - a.fetch_at;
    auto calls = a.total - a.fetch_call;  // 1: the call right after the fetch
    bool recent = age <= static_cast<millis>(_s.exec_after_fetch_seconds) * 1000 &&
                  (_s.exec_after_fetch_calls == 0 || calls <= _s.exec_after_fetch_calls);
    for (auto& word : c.commands) {
      if (!recent) break;
      if (interpreter(word).empty()) continue;
      fire(now, a, agent, "exec_after_fetch", _s.exec_after_fetch_action,
           fmt::format("{} ran '{}' {} s and {} calls after a fetch from '{}'", c.tool, word, age / 1000, calls,
                       a.fetch_host),
           out);
      break;
    }
  }
  // A successful call naming a host brought the web's text into the agent's context.
  if (c.ok && !c.hosts.empty()) {
    a.fetch_at = now;
    a.fetch_call = a.total;
    a.fetch_host = c.hosts.front();
  }
}

std::vector<finding> rules::tool_called(millis now, const std::string& agent, const tool_call& c) {
  const auto& tool = c.tool;
  const auto& paths = c.paths;
  std::vector<finding> out;
  auto* a = state(agent);
  if (!a) return out;
  a->calls.add(now);
  ++a->total;
  // The baseline: a moving average of the calls per minute over the minutes it was active.
  auto minute = now / 60000;
  if (minute != a->minute) {
    if (a->minute >= 0) {
      auto n = static_cast<double>(a->in_minute);
      a->baseline = a->baseline ? 0.8 * *a->baseline + 0.2 * n : n;
    }
    a->minute = minute;
    a->in_minute = 0;
  }
  ++a->in_minute;
  // Paths first: a read of a key store is the graver finding.
  if (!paths.empty()) {
    auto sensitive = sensitive_for(agent);
    for (auto& p : paths) {
      auto hit = std::find_if(sensitive.begin(), sensitive.end(), [&](auto& s) { return under(p, s); });
      if (hit == sensitive.end()) continue;
      fire(now, *a, agent, "sensitive_path", _s.sensitive_path_action,
           fmt::format("{} named '{}' (under '{}')", tool, p, *hit), out);
      break;
    }
  }
  if (!c.hosts.empty()) new_hosts(now, *a, agent, c, out);
  exec_after_fetch(now, *a, agent, c, out);
  auto n = static_cast<unsigned>(a->calls.sum(now));
  if (_s.tool_calls_per_minute && n > _s.tool_calls_per_minute)
    fire(now, *a, agent, "tool_burst", _s.tool_burst_action,
         fmt::format("{} tool calls in the last minute, over {} (usual: {:.1f} per minute)", n,
                     _s.tool_calls_per_minute, a->baseline.value_or(0)),
         out);
  return out;
}

std::vector<finding> rules::denied(millis now, const std::string& agent, const std::string& what) {
  std::vector<finding> out;
  auto* a = state(agent);
  if (!a) return out;
  a->denials.add(now);
  auto n = static_cast<unsigned>(a->denials.sum(now));
  if (_s.denials_per_minute && n > _s.denials_per_minute)
    fire(now, *a, agent, "denial_burst", _s.denial_burst_action,
         fmt::format("{} denials in the last minute, over {} (last: {})", n, _s.denials_per_minute, what), out);
  return out;
}

std::vector<finding> rules::spent(millis now, const std::string& agent, double usd) {
  std::vector<finding> out;
  if (!(usd > 0) || !std::isfinite(usd)) return out;
  auto* a = state(agent);
  if (!a) return out;
  a->cost.add(now, usd);
  auto total = a->cost.sum(now);
  if (_s.cost_per_hour_usd > 0 && total > _s.cost_per_hour_usd)
    fire(now, *a, agent, "cost_per_hour", _s.cost_action,
         fmt::format("${:.4f} of LLM cost in the last hour, over ${:.4f}", total, _s.cost_per_hour_usd), out);
  return out;
}

void rules::set_quarantined(const std::string& agent, bool on) {
  auto* a = state(agent);
  if (!a) return;
  a->quarantined = on;
  if (!on) {
    // Released: what led to the quarantine is dealt with; counting starts over.
    a->calls.clear(), a->denials.clear(), a->cost.clear();
    a->fired.clear();
    a->fetch_at = -1;  // the hosts it learned stay: they are a baseline, not a count
  }
}

bool rules::quarantined(const std::string& agent) const {
  auto it = _agents.find(agent);
  return it != _agents.end() && it->second.quarantined;
}

std::vector<agent_view> rules::view(millis now) const {
  std::vector<agent_view> out;
  for (auto& [id, a] : _agents)
    out.push_back({id, static_cast<unsigned>(a.calls.sum(now)), static_cast<unsigned>(a.denials.sum(now)),
                   a.cost.sum(now), a.total, a.baseline.value_or(0), a.quarantined});
  return out;
}

}  // namespace weft::monitor
