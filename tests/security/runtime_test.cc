// The runtime checks (RT-*) on crafted weftd status: each rule with a view it must flag and a
// look-alike it must leave alone.
#include <doctest/doctest.h>

#include <algorithm>

#include <weft/scan/rules.hh>
#include <weft/scan/runtime.hh>

using namespace weft::scan;

namespace {

constexpr const char* full = "landlock=7 seccomp=1 scoped=1 net=netns pids=own";

runtime_view::service svc(std::string name, std::string sandbox, std::string state = "ready") {
  return {std::move(name), std::move(state), 4242, std::move(sandbox), ""};
}

std::vector<std::string> ids(const std::vector<finding>& f) {
  std::vector<std::string> out;
  for (auto& x : f) out.emplace_back(x.r->id);
  return out;
}

bool has(const std::vector<finding>& f, std::string_view id) {
  return std::any_of(f.begin(), f.end(), [&](auto& x) { return x.r->id == id; });
}

/// A normal stack: the bus, llm and agent unsandboxed (as weftd runs them), the tool
/// processes fully sandboxed, the config as loaded.
runtime_view normal() {
  runtime_view v;
  v.where = "/run/weft";
  v.config_checked = true;
  v.config_file = "/etc/weft/clawft.toml";
  v.services = {svc("bus", ""), svc("llm", ""), svc("tool-fs-main", full), svc("tool-shell-main", full),
                svc("tool-plugins-main", full), svc("tool-web", ""), svc("agent-main", "")};
  return v;
}

}  // namespace

TEST_CASE("a normal stack has no runtime finding") {
  auto f = audit_runtime(normal());
  CAPTURE(ids(f));
  CHECK(f.empty());
}

TEST_CASE("which services are per-agent tool processes") {
  CHECK(is_sandboxed_tool("tool-shell-main"));
  CHECK(is_sandboxed_tool("tool-plugins-a-b"));  // agent ids may hold '-'
  CHECK(!is_sandboxed_tool("tool-web"));         // shared, not sandboxed by weftd
  CHECK(!is_sandboxed_tool("tool-forge"));
  CHECK(!is_sandboxed_tool("tool-shell-"));
  CHECK(!is_sandboxed_tool("agent-main"));
  CHECK(!is_sandboxed_tool("notes-sync"));
}

TEST_CASE("RT-001: a tool process without a sandbox") {
  auto v = normal();
  v.services[3] = svc("tool-shell-main", "");
  auto f = audit_runtime(v);
  REQUIRE(f.size() == 1);
  CHECK(f[0].r->id == std::string_view("RT-001"));
  CHECK(f[0].r->sev == severity::critical);
  CHECK(f[0].message.find("tool-shell-main (pid 4242)") != std::string::npos);
  // Negative: a stopped one runs nothing; a shared tool process is not weftd's to sandbox.
  v.services[3] = svc("tool-shell-main", "", "stopped");
  v.services[3].pid = 0;
  CHECK(audit_runtime(v).empty());
  v.services[3] = svc("tool-web", "");
  CHECK(audit_runtime(v).empty());
}

TEST_CASE("RT-002: a tool process without Landlock or seccomp") {
  auto v = normal();
  v.services[2] = svc("tool-fs-main", "landlock=0 seccomp=1 scoped=0 net=netns pids=own");
  CHECK(ids(audit_runtime(v)) == std::vector<std::string>{"RT-002"});
  v.services[2] = svc("tool-fs-main", "landlock=4 seccomp=0 scoped=0 net=netns pids=own");
  CHECK(ids(audit_runtime(v)) == std::vector<std::string>{"RT-002"});
  v.services[2] = svc("tool-fs-main", "landlock=4 seccomp=1 scoped=0 net=userns pids=own");  // older Landlock: fine
  CHECK(audit_runtime(v).empty());
}

TEST_CASE("RT-003: a tool process sharing the host's network") {
  auto v = normal();
  v.services[4] = svc("tool-plugins-main", "landlock=7 seccomp=1 scoped=1 net=none pids=shared");
  auto f = audit_runtime(v);
  CHECK(ids(f) == std::vector<std::string>{"RT-003"});
  CHECK(f[0].r->sev == severity::high);
  v.services[4] = svc("tool-plugins-main", "landlock=7 seccomp=1 scoped=1");  // own_network not asked
  CHECK(ids(audit_runtime(v)) == std::vector<std::string>{"RT-003"});
}

TEST_CASE("RT-004: the config changed and was not reloaded") {
  auto v = normal();
  v.services[2].config = "changed";
  v.config_added = {"tool-git-main"};
  auto f = audit_runtime(v);
  REQUIRE(ids(f) == std::vector<std::string>{"RT-004"});
  CHECK(f[0].message.find("tool-fs-main changed, tool-git-main added") != std::string::npos);
  CHECK(std::string(f[0].r->remediation).find("weftctl reload") != std::string::npos);
  v = normal();
  v.config_error = "/etc/weft/clawft.toml:3:1: error: unknown key 'agnets'";
  f = audit_runtime(v);
  REQUIRE(ids(f) == std::vector<std::string>{"RT-004"});
  CHECK(f[0].message.find("a reload would fail") != std::string::npos);
  // Not checked (an old weftd): nothing is claimed.
  v = normal();
  v.config_checked = false;
  v.services[2].config = "changed";
  CHECK(audit_runtime(v).empty());
}

TEST_CASE("RT-005: an agent in quarantine") {
  auto v = normal();
  v.quarantined = {{"main", "tool_burst: 40 calls in 10s", "monitor"}};
  auto f = audit_runtime(v);
  REQUIRE(ids(f) == std::vector<std::string>{"RT-005"});
  CHECK(f[0].message.find("agent 'main' by monitor: tool_burst") != std::string::npos);
  CHECK(f[0].r->sev == severity::medium);
}
