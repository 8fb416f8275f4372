// The monitor's window counters and rules, on times the test chooses.
#include <doctest/doctest.h>

#include "services/monitor/rules.hh"
#include "services/monitor/window.hh"

using namespace weft;
using namespace weft::monitor;
using service::monitor_action;

TEST_CASE("window_counter: values leave the window as it slides; fixed memory") {
  window_counter w(60000, 60);
  for (int i = 0; i < 10; ++i) w.add(1000 * i);  // one per second, 0..9 s
  CHECK(w.sum(9000) == 10);
  CHECK(w.sum(59999) == 10);
  CHECK(w.sum(60000) == 9);   // the call at 0 s is out
  CHECK(w.sum(68999) == 1);
  CHECK(w.sum(69000) == 0);
  // A bucket reused a window later starts from zero.
  w.add(60500, 5);
  CHECK(w.sum(60500) == 5 + 9);
  CHECK(w.sum(200000) == 0);
  w.add(200000, 2.5);
  CHECK(w.sum(200000) == 2.5);
  w.clear();
  CHECK(w.sum(200000) == 0);
}

namespace {

service::monitor_settings settings() {
  service::monitor_settings s;
  s.enabled = true;
  s.tool_calls_per_minute = 10;
  s.denials_per_minute = 3;
  s.cost_per_hour_usd = 1.0;
  return s;
}

rules make(service::monitor_settings s = settings()) {
  return rules(std::move(s), "/h/", {{"main", "/h/agents/main"}, {"other", "/h/agents/other"}, {"x", "/w/x"}});
}

}  // namespace

TEST_CASE("tool_burst: more than the threshold in a minute alerts once; a steady rate never does") {
  auto r = make();
  for (int i = 0; i < 10; ++i) CHECK(r.tool_called(i * 100, "main", "tool/fs/main/read_file", {}).empty());
  auto f = r.tool_called(1000, "main", "tool/fs/main/read_file", {});
  REQUIRE(f.size() == 1);
  CHECK(f[0].rule == "tool_burst");
  CHECK(f[0].action == monitor_action::alert);
  CHECK(f[0].detail.find("11 tool calls in the last minute, over 10") == 0);
  // Once per cooldown, not once per call.
  CHECK(r.tool_called(1100, "main", "t", {}).empty());
  // Another agent has its own counters.
  CHECK(r.tool_called(1200, "other", "t", {}).empty());
  // 10 a minute for an hour: never more than 10 in any 60 s.
  auto steady = make();
  for (int i = 0; i < 600; ++i) CHECK(steady.tool_called(i * 6000, "main", "t", {}).empty());
  auto v = steady.view(600 * 6000);
  REQUIRE(v.size() == 1);
  CHECK(v[0].tool_calls == 600);
  CHECK(v[0].baseline_per_minute == doctest::Approx(10.0));
  // Threshold 0: the rule is off.
  auto s = settings();
  s.tool_calls_per_minute = 0;
  auto off = make(s);
  for (int i = 0; i < 1000; ++i) CHECK(off.tool_called(i, "main", "t", {}).empty());
}

TEST_CASE("sensitive_path: key stores and other agents' workspaces, not its own; the configured action") {
  auto r = make();
  CHECK(r.tool_called(0, "main", "read_file", {"/h/agents/main/notes.txt"}).empty());
  CHECK(r.tool_called(1, "main", "read_file", {"/h/keys2/x"}).empty());  // a sibling, not under keys
  auto f = r.tool_called(2, "main", "read_file", {"/h/keys/witness.key"});
  REQUIRE(f.size() == 1);
  CHECK(f[0].rule == "sensitive_path");
  CHECK(f[0].action == monitor_action::quarantine);
  CHECK(f[0].detail == "read_file named '/h/keys/witness.key' (under '/h/keys')");
  CHECK(r.quarantined("main"));
  // Quarantined: no more actions for it.
  CHECK(r.tool_called(3, "main", "read_file", {"/h/oauth2/store"}).empty());
  // Another agent's workspace; the oauth2 store.
  auto g = r.tool_called(4, "other", "list_dir", {"/h/agents/main"});
  REQUIRE(g.size() == 1);
  CHECK(g[0].detail.find("under '/h/agents/main'") != std::string::npos);
  auto x = r.tool_called(5, "x", "read_file", {"/h/oauth2"});
  REQUIRE(x.size() == 1);
  CHECK(x[0].agent == "x");
  // Released: counters start over, the rules apply again.
  r.set_quarantined("main", false);
  CHECK_FALSE(r.quarantined("main"));
  CHECK(r.tool_called(6, "main", "read_file", {"/h/keys/k"}).size() == 1);
  // other_workspaces off, an alert action, an absolute configured path.
  auto s = settings();
  s.other_workspaces = false;
  s.sensitive_path_action = monitor_action::alert;
  s.sensitive_paths = {"/etc/shadow", "$WEFT_HOME"};
  auto q = make(s);
  CHECK(q.sensitive_for("main") == std::vector<std::string>{"/etc/shadow", "/h"});
  auto e = q.tool_called(0, "main", "read_file", {"/etc/shadow"});
  REQUIRE(e.size() == 1);
  CHECK(e[0].action == monitor_action::alert);
  CHECK_FALSE(q.quarantined("main"));
}

TEST_CASE("denial_burst and cost_per_hour") {
  auto r = make();
  for (int i = 0; i < 3; ++i) CHECK(r.denied(i, "main", "Call to tool/shell/main").empty());
  auto f = r.denied(3, "main", "Call to tool/shell/main");
  REQUIRE(f.size() == 1);
  CHECK(f[0].rule == "denial_burst");
  // Denials a minute apart never add up.
  auto slow = make();
  for (int i = 0; i < 100; ++i) CHECK(slow.denied(i * 61000, "main", "x").empty());

  CHECK(r.spent(0, "main", 0.6).empty());
  CHECK(r.spent(10, "main", -5).empty());  // nonsense is ignored
  auto c = r.spent(20, "main", 0.5);
  REQUIRE(c.size() == 1);
  CHECK(c[0].rule == "cost_per_hour");
  CHECK(c[0].detail.find("$1.1000 of LLM cost in the last hour, over $1.0000") == 0);
  auto h = make();
  CHECK(h.spent(0, "main", 0.9).empty());
  CHECK(h.spent(3600000 + 60000, "main", 0.9).empty());  // the first is an hour gone
}

TEST_CASE("at most max_agents are tracked") {
  auto r = make();
  for (std::size_t i = 0; i < rules::max_agents + 10; ++i) (void)r.tool_called(0, "a" + std::to_string(i), "t", {});
  CHECK(r.view(0).size() == rules::max_agents);
  CHECK(r.over_agent_limit());
}

namespace {

tool_call fetch(std::string host, bool ok = true) {
  return {"tool/web/web_fetch", ok, {}, {std::move(host)}, {}};
}
tool_call shell(std::vector<std::string> commands) { return {"tool/shell/main/exec", true, {}, {}, std::move(commands)}; }

}  // namespace

TEST_CASE("new_host: hosts of the first calls and known_hosts are the agent's; a later new one alerts once") {
  auto s = settings();
  s.tool_calls_per_minute = 0;
  s.new_host_after_calls = 3;
  s.known_hosts = {"*.github.com", "pypi.org"};
  auto r = make(s);
  CHECK(r.tool_called(0, "main", fetch("docs.example")).empty());  // calls 1..3: learning
  CHECK(r.tool_called(1, "main", shell({"ls"})).empty());
  CHECK(r.tool_called(2, "main", fetch("news.example")).empty());
  CHECK(r.tool_called(3, "main", fetch("docs.example")).empty());  // call 4: seen in learning
  CHECK(r.tool_called(4, "main", fetch("pypi.org")).empty());      // known
  CHECK(r.tool_called(5, "main", fetch("api.github.com")).empty());
  auto f = r.tool_called(6, "main", fetch("evil.test"));
  REQUIRE(f.size() == 1);
  CHECK(f[0].rule == "new_host");
  CHECK(f[0].action == monitor_action::alert);
  CHECK(f[0].detail == "tool/web/web_fetch named host 'evil.test', new for this agent (not among the hosts of its first "
                       "3 calls, not in known_hosts)");
  CHECK(r.tool_called(7, "main", fetch("evil.test")).empty());  // once per host
  // Each new host alerts, within the minute too: the host is remembered, so it cannot repeat.
  CHECK(r.tool_called(8, "main", fetch("other.test")).size() == 1);
  // "*.github.com" is its subdomains, not github.com itself, nor evilgithub.com.
  CHECK(r.tool_called(9, "main", fetch("github.com")).size() == 1);
  CHECK(r.tool_called(10, "main", fetch("evilgithub.com")).size() == 1);
  // Another agent learns its own hosts.
  CHECK(r.tool_called(11, "other", fetch("evil.test")).empty());
  // A failed call named the host all the same.
  CHECK(r.tool_called(12, "main", fetch("down.test", /*ok=*/false)).size() == 1);
  // No learning: only known_hosts; "*" turns the rule off; quarantine as configured.
  s.new_host_after_calls = 0;
  s.known_hosts = {"pypi.org"};
  s.new_host_action = monitor_action::quarantine;
  auto strict = make(s);
  CHECK(strict.tool_called(0, "main", fetch("pypi.org")).empty());
  auto q = strict.tool_called(1, "main", fetch("docs.example"));
  REQUIRE(q.size() == 1);
  CHECK(q[0].action == monitor_action::quarantine);
  CHECK(strict.quarantined("main"));
  s.known_hosts = {"*"};
  auto off = make(s);
  for (int i = 0; i < 100; ++i) CHECK(off.tool_called(i, "main", fetch("h" + std::to_string(i) + ".test")).empty());
}

TEST_CASE("new_host: past max_hosts_per_agent, new hosts alert at most once a minute") {
  auto s = settings();
  s.tool_calls_per_minute = 0;
  s.new_host_after_calls = static_cast<std::uint32_t>(rules::max_hosts_per_agent);
  auto r = make(s);
  for (std::size_t i = 0; i < rules::max_hosts_per_agent; ++i)
    CHECK(r.tool_called(0, "main", fetch("h" + std::to_string(i) + ".test")).empty());
  CHECK(r.tool_called(1, "main", fetch("a.test")).size() == 1);
  CHECK(r.tool_called(2, "main", fetch("b.test")).empty());  // cooled down
  CHECK(r.tool_called(2, "main", fetch("h5.test")).empty());  // remembered
  CHECK(r.tool_called(1 + rules::cooldown_ms, "main", fetch("a.test")).size() == 1);  // not remembered: again
}

TEST_CASE("exec_after_fetch: an interpreter soon after a fetch alerts; ls, or long after, does not") {
  auto s = settings();
  s.tool_calls_per_minute = 0;
  s.known_hosts = {"*"};
  s.exec_after_fetch_seconds = 60;
  s.exec_after_fetch_calls = 3;
  auto r = make(s);
  // No fetch yet: running python is the agent's business.
  CHECK(r.tool_called(0, "main", shell({"python3"})).empty());
  CHECK(r.tool_called(1000, "main", fetch("x.test")).empty());
  // The benign sequence: a fetch, then ls and grep.
  CHECK(r.tool_called(2000, "main", shell({"ls"})).empty());
  CHECK(r.tool_called(3000, "main", shell({"grep", "sort"})).empty());
  // curl … | sh two calls later.
  auto f = r.tool_called(4000, "main", shell({"curl", "sh"}));
  REQUIRE(f.size() == 1);
  CHECK(f[0].rule == "exec_after_fetch");
  CHECK(f[0].action == monitor_action::alert);
  CHECK(f[0].detail == "tool/shell/main/exec ran 'sh' 3 s and 3 calls after a fetch from 'x.test'");
  CHECK(r.tool_called(5000, "main", shell({"bash"})).empty());  // cooled down

  auto fresh = [&] { return make(s); };
  // Versions of an interpreter; not a command that merely starts like one.
  auto v = fresh();
  CHECK(v.interpreter("python3.12") == "python");
  CHECK(v.interpreter("perl5.36") == "perl");
  CHECK(v.interpreter("shred").empty());
  CHECK(v.interpreter("nodemon").empty());
  CHECK(v.tool_called(0, "main", fetch("x.test")).empty());
  CHECK(v.tool_called(1, "main", shell({"shred", "nodemon", "bashful"})).empty());
  CHECK(v.tool_called(2, "main", shell({"/ignored", "node"})).size() == 1);
  // Past the time bound; past the call bound.
  auto t = fresh();
  CHECK(t.tool_called(0, "main", fetch("x.test")).empty());
  CHECK(t.tool_called(60001, "main", shell({"sh"})).empty());
  auto c = fresh();
  CHECK(c.tool_called(0, "main", fetch("x.test")).empty());
  for (int i = 1; i <= 3; ++i) CHECK(c.tool_called(i, "main", shell({"ls"})).empty());
  CHECK(c.tool_called(4, "main", shell({"sh"})).empty());  // 4 calls after
  // A failed fetch brought nothing in; another agent's fetch is not this one's.
  auto n = fresh();
  CHECK(n.tool_called(0, "main", fetch("x.test", /*ok=*/false)).empty());
  CHECK(n.tool_called(1, "other", fetch("x.test")).empty());
  CHECK(n.tool_called(2, "main", shell({"bash"})).empty());
  // Quarantine as configured; released, the old fetch no longer counts.
  s.exec_after_fetch_action = monitor_action::quarantine;
  auto q = make(s);
  CHECK(q.tool_called(0, "main", fetch("x.test")).empty());
  REQUIRE(q.tool_called(1, "main", shell({"perl"})).size() == 1);
  CHECK(q.quarantined("main"));
  q.set_quarantined("main", false);
  CHECK(q.tool_called(2, "main", shell({"perl"})).empty());
  // exec_after_fetch_seconds = 0: off; exec_after_fetch_calls = 0: any number of calls.
  s.exec_after_fetch_seconds = 0;
  auto off = make(s);
  CHECK(off.tool_called(0, "main", fetch("x.test")).empty());
  CHECK(off.tool_called(1, "main", shell({"sh"})).empty());
  s.exec_after_fetch_seconds = 60;
  s.exec_after_fetch_calls = 0;
  auto any = make(s);
  CHECK(any.tool_called(0, "main", fetch("x.test")).empty());
  for (int i = 1; i <= 50; ++i) CHECK(any.tool_called(i, "main", shell({"ls"})).empty());
  CHECK(any.tool_called(51, "main", shell({"sh"})).size() == 1);
}

TEST_CASE("throttle action: returned as configured; unlike a quarantine, the agent's other rules still fire") {
  auto s = settings();
  s.tool_burst_action = monitor_action::throttle;
  auto r = make(s);
  std::vector<finding> f;
  for (int i = 0; i <= 10; ++i) f = r.tool_called(i * 100, "main", "tool/fs/main/list_dir", {});
  REQUIRE(f.size() == 1);
  CHECK(f[0].rule == "tool_burst");
  CHECK(f[0].action == monitor_action::throttle);
  CHECK_FALSE(r.quarantined("main"));
  // Throttled, it is still watched: a read of the key store quarantines as configured.
  auto k = r.tool_called(2000, "main", "tool/fs/main/read_file", {"/h/keys/witness.key"});
  REQUIRE(k.size() == 1);
  CHECK(k[0].rule == "sensitive_path");
  CHECK(k[0].action == monitor_action::quarantine);
  CHECK(r.quarantined("main"));
}

TEST_CASE("notice: the admin channel's text names the agent, the action, the rule, what it saw and the way out") {
  auto s = settings();
  s.throttle_calls_per_minute = 7;
  s.throttle_seconds = 120;
  CHECK(notice({"x", "sensitive_path", monitor_action::quarantine, "read_file named '/h/keys/k'"}, s) ==
        "weft security: agent 'x' quarantined by rule sensitive_path: read_file named '/h/keys/k'; release with "
        "`weftctl security release x`");
  CHECK(notice({"x", "tool_burst", monitor_action::throttle, "30 tool calls"}, s) ==
        "weft security: agent 'x' throttled to 7 tool calls a minute for 120 s by rule tool_burst: 30 tool calls; "
        "release sooner with `weftctl security release x`");
  CHECK(notice({"y", "new_host", monitor_action::alert, "web_fetch named host 'a.test'"}, s) ==
        "weft security: agent 'y' alert by rule new_host: web_fetch named host 'a.test'; see `weftctl security "
        "monitor`");
}
