// The runtime checks (RT-*) over what weftd reported: see runtime.hh.
#include <weft/scan/runtime.hh>

#include <algorithm>
#include <sstream>

#include <fmt/format.h>

namespace weft::scan {

namespace {

/// The words of a sandbox summary: "landlock=7 seccomp=1 net=netns" → {landlock: 7, …}.
std::string word(const std::string& summary, std::string_view key) {
  std::istringstream in(summary);
  std::string w;
  while (in >> w)
    if (w.size() > key.size() && w.compare(0, key.size(), key) == 0 && w[key.size()] == '=') return w.substr(key.size() + 1);
  return {};
}

bool running(const std::string& state) { return state == "ready" || state == "starting" || state == "stopping"; }

}  // namespace

const std::vector<std::string>& sandboxed_tool_families() {
  // As libs/service's config_check.hh per_agent_families: every per-agent tool process.
  static const std::vector<std::string> f = {"fs", "shell", "delegate", "git", "cargo", "code", "plugins"};
  return f;
}

bool is_sandboxed_tool(std::string_view s) {
  if (s.substr(0, 5) != "tool-") return false;
  auto rest = s.substr(5);
  auto dash = rest.find('-');
  if (dash == std::string_view::npos || dash + 1 == rest.size()) return false;
  auto fam = rest.substr(0, dash);
  auto& f = sandboxed_tool_families();
  return std::find(f.begin(), f.end(), fam) != f.end();
}

std::vector<finding> audit_runtime(const runtime_view& v) {
  std::vector<finding> out;
  auto add = [&](std::string_view id, std::string msg) {
    auto* r = find_rule(id);
    out.push_back(finding{r, v.where, 0, std::string(r->title) + ": " + msg, 0});
  };
  for (auto& s : v.services) {
    if (!is_sandboxed_tool(s.name) || !running(s.state) || s.pid == 0) continue;
    if (s.sandbox.empty()) {
      add("RT-001", fmt::format("{} (pid {}) runs without a sandbox", s.name, s.pid));
      continue;
    }
    auto landlock = word(s.sandbox, "landlock"), seccomp = word(s.sandbox, "seccomp");
    if (landlock.empty() || landlock == "0" || seccomp != "1")
      add("RT-002", fmt::format("{} (pid {}): {}", s.name, s.pid, s.sandbox));
    auto net = word(s.sandbox, "net");
    if (net != "netns" && net != "userns")
      add("RT-003", fmt::format("{} (pid {}): {}", s.name, s.pid, s.sandbox));
  }
  if (v.config_checked) {
    if (!v.config_error.empty()) {
      add("RT-004", fmt::format("{} no longer loads, a reload would fail: {}", v.config_file,
                                v.config_error.substr(0, v.config_error.find('\n'))));
    } else {
      std::vector<std::string> what;
      for (auto& s : v.services)
        if (!s.config.empty()) what.push_back(fmt::format("{} {}", s.name, s.config));
      for (auto& a : v.config_added) what.push_back(a + " added");
      if (!what.empty()) {
        std::string list;
        for (auto& w : what) list += (list.empty() ? "" : ", ") + w;
        add("RT-004", fmt::format("{} changed since weftd loaded it: {}", v.config_file, list));
      }
    }
  }
  for (auto& q : v.quarantined)
    add("RT-005", fmt::format("agent '{}'{}{}", q.agent, q.by.empty() ? "" : " by " + q.by,
                              q.reason.empty() ? "" : ": " + q.reason));
  return out;
}

}  // namespace weft::scan
