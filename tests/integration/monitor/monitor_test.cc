// The security monitor in a running stack: agent main, scripted by the fake model, bursts
// tool calls and then reads a file under $WEFT_HOME/keys through tool-fs. The monitor alerts
// on the burst and quarantines main for the key store: the bus refuses calls to and from main
// with a Denied naming the quarantine, weftd stops tool-fs-main, the witness chain has every
// action; agent other is unaffected. `weftctl security release main` restores it and a tool
// call succeeds. Then many ordinary turns of agent other cause no quarantine and no alert.
#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <weft/witness/verify.hh>

#include "proto/bus_v1.hh"
#include "proto/chat_v1.hh"
#include "proto/monitor_v1.hh"
#include "proto/supervisor_v1.hh"
#include "proto/tool_v1.hh"
#include "tests/integration/fake_peer.hh"
#include "tests/integration/harness.hh"
#include "tests/integration/turn_client.hh"

using namespace weft;
using json = nlohmann::json;
namespace bus = proto::bus_v1;
namespace mon = proto::monitor_v1;
namespace sv = proto::supervisor_v1;

namespace {

json calls(const std::string& name, json args, int n) {
  json c = json::array();
  for (int i = 0; i < n; ++i) c.push_back({{"name", name}, {"arguments", args}});
  return {{"tool_calls", c}};
}

/// Waits until `pred` holds, asking again as the state changes elsewhere; false at the deadline.
template <class Pred>
bool eventually(Pred pred, std::chrono::seconds limit = std::chrono::seconds(30)) {
  for (auto until = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < until;) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

std::vector<bus::quarantined_agent> quarantined(ipc::bus_client& b) {
  auto r = b.call("bus", bus::list_quarantined{});
  REQUIRE(r);
  return r->as<bus::quarantine_list>()->agents;
}

mon::state monitor_state(ipc::bus_client& b) {
  auto r = b.call("monitor", mon::get_state{100});
  REQUIRE_MESSAGE(r, (r ? "" : r.err().to_string()));
  return r->as<mon::state>().value();
}

sv::state state_of(service::control_client& c, const std::string& name) {
  auto r = c.request(sv::status{});
  REQUIRE(r);
  auto st = r->as<sv::status_reply>();  // kept: a range-for over a temporary's member would dangle
  REQUIRE(st);
  for (auto& x : st->services)
    if (x.name == name) return x.state;
  FAIL("no service " << name);
  return sv::state::failed;
}

std::vector<witness::record> witness_records(const std::string& home) {
  auto recs = witness::read_records(home + "/audit");
  REQUIRE_MESSAGE(recs, (recs ? "" : recs.err().message));
  return *recs;
}

bool has_record(const std::vector<witness::record>& recs, std::string_view actor, std::string_view kind,
                std::string_view subject, std::string_view detail_part) {
  return std::any_of(recs.begin(), recs.end(), [&](auto& r) {
    return r.actor == actor && r.kind == kind && r.subject == subject && r.detail.find(detail_part) != std::string::npos;
  });
}

}  // namespace

TEST_CASE("monitor: a burst alerts, a read of $WEFT_HOME/keys quarantines; release restores; ordinary turns never do") {
  test::fake_peer llm("fake_llm.py");
  auto config = fmt::format(
      "[providers.fake]\nstyle = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"fake-model\"\n\n"
      "[llm]\ndefault_provider = \"fake\"\nretries = 0\n\n[memory]\nsummarise_after_messages = 0\n\n"
      "[agents.main]\nmax_iterations = 10\n[agents.main.tools]\nfamilies = [\"fs\"]\n\n"
      "[agents.other]\nmax_iterations = 10\n[agents.other.tools]\nfamilies = [\"fs\"]\n\n"
      "[security.monitor]\nenabled = true\ntool_calls_per_minute = 25\ntool_burst_action = \"alert\"\n"
      "denials_per_minute = 50\nsensitive_path_action = \"quarantine\"\n",
      fmt::arg("url", llm.url()));
  auto s = test::stack::start(config);
  REQUIRE(s);
  auto home = s->dir() + "/home";
  auto b = s->bus_client();
  auto ctl = s->control();
  REQUIRE(ctl);
  std::vector<std::string> deltas;

  // 1. The burst: 3 model steps of 12 list_dir calls each (36 calls, over 25 a minute), then a
  // read of ../../keys/witness.key — $WEFT_HOME/keys from main's workspace, which tool-fs refuses
  // but the call names — then the answer. The quarantine may land before that last model call,
  // so the turn's own outcome is not what this checks.
  json steps = json::array({calls("list_dir", json::object(), 12), calls("list_dir", json::object(), 12),
                            calls("list_dir", json::object(), 12),
                            calls("read_file", {{"path", "../../keys/witness.key"}}, 1), {{"text", "done"}}});
  REQUIRE(llm.post("/_script", steps.dump()).status == 200);
  (void)test::streamed_turn(*b, "main", test::web_turn("m1", "m1", "look around"), deltas);
  REQUIRE_MESSAGE(eventually([&] { return !quarantined(*b).empty(); }), s->log());
  auto q = quarantined(*b);
  REQUIRE(q.size() == 1);
  CHECK(q[0].agent == "main");
  CHECK(q[0].by == "monitor");
  CHECK(q[0].reason.find("sensitive_path: tool/fs/main/read_file named '" + home + "/keys/witness.key'") == 0);
  // weftd stopped main's tool process; other's runs.
  CHECK(eventually([&] { return state_of(*ctl, "tool-fs-main") == sv::state::stopped; }));
  CHECK(state_of(*ctl, "tool-fs-other") == sv::state::ready);
  // The script's last step ("done") is left when the quarantine came before main's last model
  // call (which the bus then refused): cleared, so the next turn gets its own steps.
  REQUIRE(llm.post("/_reset", "{}").status == 200);

  // 2. Quarantined: a tool call on main's tool address and a turn for main are Denied, naming it.
  auto call = b->call("tool/fs/main/read_file", proto::tool_v1::call{"read_file", R"({"path":"a.txt"})"});
  REQUIRE_FALSE(call);
  CHECK(bus::is(call.err(), bus::error_code::denied));
  CHECK(call.err().message.find("agent 'main' is quarantined by monitor") != std::string::npos);
  auto turn = b->call("agent/main", test::web_turn("m2", "m2", "hello"));
  REQUIRE_FALSE(turn);
  CHECK(bus::is(turn.err(), bus::error_code::denied));
  CHECK(turn.err().message.find("weftctl security release main") != std::string::npos);

  // 3. Agent other is unaffected: its tool call works.
  REQUIRE(llm.post("/_script", json::array({calls("list_dir", json::object(), 1)}).dump()).status == 200);
  auto o1 = test::streamed_turn(*b, "other", test::web_turn("o1", "o1", "list"), deltas);
  CHECK_MESSAGE(o1.tool_calls == 1, o1.reply.parts.at(0).text.value_or(""));
  CHECK(o1.reply.parts.at(0).text.value_or("").rfind("Tool said:", 0) == 0);

  // 4. What the monitor and weftctl say, and the witness chain.
  auto st = monitor_state(*b);
  auto alert_of = [&](std::string_view rule, std::string_view action) {
    return std::any_of(st.alerts.begin(), st.alerts.end(),
                       [&](auto& a) { return a.agent == "main" && a.rule == rule && a.action == action; });
  };
  CHECK(alert_of("tool_burst", "alert"));
  CHECK(alert_of("sensitive_path", "quarantine"));
  auto w = s->weftctl({"security", "monitor", "--json"});
  CHECK(w.exit_code == 0);
  auto wj = json::parse(w.out);
  REQUIRE(wj["quarantined"].size() == 1);
  CHECK(wj["quarantined"][0]["agent"] == "main");
  CHECK(wj["monitor"]["enabled"] == true);
  auto text = s->weftctl({"security", "monitor"});
  CHECK(text.out.find("sensitive_path") != std::string::npos);
  REQUIRE_MESSAGE(eventually([&] {
                    auto recs = witness_records(home);
                    return has_record(recs, "monitor", "monitor_quarantine", "agent/main",
                                      "sensitive_path: tool/fs/main/read_file named '" + home + "/keys/");
                  }),
                  s->log());
  auto recs = witness_records(home);
  CHECK(has_record(recs, "monitor", "monitor_alert", "agent/main", "tool_burst: "));
  // The refusals are audited too (the bus's AccessDenied, rule quarantine:main).
  CHECK(std::any_of(recs.begin(), recs.end(), [](auto& r) {
    return r.kind == "access_denied" && r.subject == "tool/fs/main/read_file" &&
           r.detail.find("quarantine:main") != std::string::npos;
  }));

  // 5. Only an admin tool releases; release restores main and its tool process.
  auto rel = s->weftctl({"security", "release", "main"});
  CHECK_MESSAGE(rel.exit_code == 0, rel.err);
  CHECK(rel.out.find("released 'main'; started tool-fs-main") != std::string::npos);
  CHECK(quarantined(*b).empty());
  CHECK(eventually([&] { return state_of(*ctl, "tool-fs-main") == sv::state::ready; }));
  REQUIRE(llm.post("/_script", json::array({calls("list_dir", json::object(), 1)}).dump()).status == 200);
  auto m3 = test::streamed_turn(*b, "main", test::web_turn("m3", "m3", "list again"), deltas);
  CHECK(m3.tool_calls == 1);
  auto m3_text = m3.reply.parts.at(0).text.value_or("");
  CHECK_MESSAGE(m3_text.rfind("Tool said:", 0) == 0, m3_text);
  CHECK(m3_text.find("quarantine") == std::string::npos);
  REQUIRE(eventually([&] {
    auto r = witness_records(home);
    return has_record(r, "monitor", "monitor_release", "agent/main", "released by ctl/") &&
           std::any_of(r.begin(), r.end(), [](auto& x) { return x.kind == "quarantine_released"; });
  }));

  // 6. Ordinary turns of agent other: plain answers, and every 50th a tool call in its own
  // workspace (as many as WEFT_TEST_MONITOR_TURNS says; 1,000 by default). No alert, no quarantine.
  int turns = 1000;
  if (const char* v = std::getenv("WEFT_TEST_MONITOR_TURNS"); v && *v) turns = std::atoi(v);
  int tool_turns = 0;
  for (int i = 0; i < turns; ++i) {
    bool with_tool = i % 50 == 0;
    auto id = fmt::format("n{}", i);
    auto said = with_tool ? std::string("call_tool:list_dir {}") : fmt::format("ordinary message {}", i);
    auto r = test::streamed_turn(*b, "other", test::web_turn(id, fmt::format("c{}", i % 20), said), deltas);
    tool_turns += with_tool;
    REQUIRE_MESSAGE(r.tool_calls == (with_tool ? 1u : 0u), "turn " << i);
  }
  MESSAGE(turns << " ordinary turns of agent other, " << tool_turns << " with a tool call");
  CHECK(quarantined(*b).empty());
  auto after = monitor_state(*b);
  for (auto& a : after.alerts) CHECK_MESSAGE(a.agent != "other", a.rule << ": " << a.detail);
  for (auto& a : after.agents) {
    CHECK_FALSE(a.quarantined);
    if (a.agent == "other") CHECK(a.tool_calls == static_cast<std::uint64_t>(tool_turns + 1));
  }
}

namespace {

std::string base_config(const std::string& llm_url, const std::string& monitor) {
  return fmt::format(
      "[providers.fake]\nstyle = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"fake-model\"\n\n"
      "[llm]\ndefault_provider = \"fake\"\nretries = 0\n\n[memory]\nsummarise_after_messages = 0\n\n"
      "[agents.main]\nmax_iterations = 10\n[agents.main.tools]\nfamilies = [\"fs\"]\n\n"
      "[security.monitor]\nenabled = true\n{monitor}",
      fmt::arg("url", llm_url), fmt::arg("monitor", monitor));
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// The results of the model's last tool calls, as its last request carried them (OpenAI
/// style: the "tool" messages after the last assistant message with tool_calls).
std::vector<std::string> last_tool_results(test::fake_peer& llm) {
  auto reqs = json::parse(llm.get("/_requests").body);
  REQUIRE(!reqs.empty());
  std::vector<std::string> out;
  for (auto& m : reqs.back()["body"]["messages"]) {
    if (m.value("role", "") == "assistant" && m.contains("tool_calls")) out.clear();
    if (m.value("role", "") == "tool") out.push_back(m.value("content", ""));
  }
  return out;
}

}  // namespace

TEST_CASE("monitor: a quarantine survives kill -9 of the bus; release lifts it for good") {
  test::fake_peer llm("fake_llm.py");
  auto s = test::stack::start(base_config(llm.url(), "sensitive_path_action = \"quarantine\"\n"));
  REQUIRE(s);
  auto home = s->dir() + "/home";
  auto state_file = home + "/bus/quarantine.json";
  auto ctl = s->control();
  REQUIRE(ctl);
  std::vector<std::string> deltas;
  {
    auto b = s->bus_client();
    REQUIRE(llm.post("/_script", json::array({calls("read_file", {{"path", "../../keys/witness.key"}}, 1),
                                               {{"text", "done"}}})
                                     .dump())
                .status == 200);
    (void)test::streamed_turn(*b, "main", test::web_turn("m1", "m1", "read the key"), deltas);
    REQUIRE_MESSAGE(eventually([&] { return !quarantined(*b).empty(); }), s->log());
    REQUIRE(llm.post("/_reset", "{}").status == 200);  // "done" is left if the quarantine came first
  }
  // On disk before the bus answered the monitor.
  auto saved = json::parse(read_text(state_file));
  REQUIRE(saved["quarantined"].size() == 1);
  CHECK(saved["quarantined"][0]["agent"] == "main");

  // kill -9: weftd starts a new bus, which has nothing in memory but the file.
  auto watch = s->control();
  REQUIRE(watch);
  REQUIRE(watch->request(sv::watch{}));
  auto bus_pid = s->service_pid("bus");
  REQUIRE(bus_pid > 0);
  REQUIRE(::kill(bus_pid, SIGKILL) == 0);
  REQUIRE_MESSAGE(s->wait_state(*watch, "bus", sv::state::ready, 1, std::chrono::seconds(30)), s->log());
  CHECK(s->service_pid("bus") != bus_pid);
  auto b = s->bus_client();
  auto q = quarantined(*b);
  REQUIRE(q.size() == 1);
  CHECK(q[0].agent == "main");
  CHECK(q[0].reason.find("sensitive_path: ") == 0);
  auto call = b->call("tool/fs/main/read_file", proto::tool_v1::call{"read_file", R"({"path":"a.txt"})"});
  REQUIRE_FALSE(call);
  CHECK(bus::is(call.err(), bus::error_code::denied));
  CHECK(call.err().message.find("agent 'main' is quarantined by monitor (sensitive_path: ") == 0);
  auto turn = b->call("agent/main", test::web_turn("m2", "m2", "hello"));
  REQUIRE_FALSE(turn);
  CHECK(bus::is(turn.err(), bus::error_code::denied));

  // Release lifts it, in the file too: another kill -9 does not bring it back.
  auto rel = s->weftctl({"security", "release", "main"});
  CHECK_MESSAGE(rel.exit_code == 0, rel.err);
  CHECK(json::parse(read_text(state_file))["quarantined"].empty());
  bus_pid = s->service_pid("bus");
  REQUIRE(::kill(bus_pid, SIGKILL) == 0);
  REQUIRE_MESSAGE(s->wait_state(*watch, "bus", sv::state::ready, 2, std::chrono::seconds(30)), s->log());
  b = s->bus_client();
  CHECK(quarantined(*b).empty());
  REQUIRE(eventually([&] { return state_of(*ctl, "tool-fs-main") == sv::state::ready; }));
  // The new bus knows a peer once it said Hello again.
  auto joined = [&](std::string_view address) {
    auto r = b->call("bus", bus::list_peers{});
    REQUIRE(r);
    auto p = r->as<bus::peers>();
    REQUIRE(p);
    return std::any_of(p->peers.begin(), p->peers.end(), [&](auto& x) { return x.address == address; });
  };
  REQUIRE_MESSAGE(eventually([&] { return joined("agent/main") && joined("tool/fs/main"); }), s->log());
  REQUIRE(llm.post("/_script", json::array({calls("list_dir", json::object(), 1)}).dump()).status == 200);
  auto m3 = test::streamed_turn(*b, "main", test::web_turn("m3", "m3", "list"), deltas);
  CHECK(m3.tool_calls == 1);
  CHECK_MESSAGE(m3.reply.parts.at(0).text.value_or("").rfind("Tool said:", 0) == 0,
                m3.reply.parts.at(0).text.value_or(""));
}

TEST_CASE("monitor: a throttled agent's tool calls beyond the rate are refused, naming the throttle; release restores") {
  test::fake_peer llm("fake_llm.py");
  auto s = test::stack::start(base_config(llm.url(), "tool_calls_per_minute = 5\ntool_burst_action = \"throttle\"\n"
                                                     "throttle_calls_per_minute = 3\nthrottle_seconds = 3600\n"));
  REQUIRE(s);
  auto home = s->dir() + "/home";
  auto b = s->bus_client();
  std::vector<std::string> deltas;
  auto throttled = [&] {
    auto r = b->call("bus", bus::list_quarantined{});
    REQUIRE(r);
    return r->as<bus::quarantine_list>()->throttled;
  };

  // 6 calls: over 5 a minute. The Throttle comes from the 6th call's ToolCalled, published
  // once that call was answered: none of these 6 counts against the throttle's rate.
  REQUIRE(llm.post("/_script", json::array({calls("list_dir", json::object(), 6), {{"text", "done"}}}).dump()).status ==
          200);
  auto t1 = test::streamed_turn(*b, "main", test::web_turn("m1", "m1", "look"), deltas);
  CHECK(t1.tool_calls == 6);
  REQUIRE_MESSAGE(eventually([&] { return !throttled().empty(); }), s->log());
  auto th = throttled();
  REQUIRE(th.size() == 1);
  CHECK(th[0].agent == "main");
  CHECK(th[0].calls_per_minute == 3);
  CHECK(th[0].reason.find("tool_burst: 6 tool calls in the last minute, over 5") == 0);
  CHECK(quarantined(*b).empty());

  // 5 calls: 3 pass, 2 are refused with the throttle's terms.
  REQUIRE(llm.post("/_script", json::array({calls("list_dir", json::object(), 5), {{"text", "done"}}}).dump()).status ==
          200);
  (void)test::streamed_turn(*b, "main", test::web_turn("m2", "m2", "look again"), deltas);
  auto results = last_tool_results(llm);
  REQUIRE(results.size() == 5);
  auto refused = std::count_if(results.begin(), results.end(), [](auto& r) {
    return r.find("The tool 'list_dir' was not run: agent 'main' is throttled by monitor to 3 tool calls a minute "
                  "until ") == 0 &&
           r.find("'weftctl security release main' lifts it sooner") != std::string::npos;
  });
  CHECK_MESSAGE(refused == 2, json(results).dump(2));

  // Seen by weftctl and in the witness chain.
  auto w = s->weftctl({"security", "monitor", "--json"});
  CHECK(w.exit_code == 0);
  auto wj = json::parse(w.out);
  REQUIRE(wj["throttled"].size() == 1);
  CHECK(wj["throttled"][0]["agent"] == "main");
  CHECK(wj["throttled"][0]["calls_per_minute"] == 3);
  CHECK(s->weftctl({"security", "monitor"}).out.find("Throttled:\n") != std::string::npos);
  REQUIRE_MESSAGE(eventually([&] {
                    return has_record(witness_records(home), "monitor", "monitor_throttle", "agent/main",
                                      "tool_burst: 6 tool calls");
                  }),
                  s->log());
  CHECK(json::parse(read_text(home + "/bus/quarantine.json"))["throttled"][0]["agent"] == "main");

  // Release: every call passes again.
  auto rel = s->weftctl({"security", "release", "main"});
  CHECK_MESSAGE(rel.exit_code == 0, rel.err);
  CHECK(throttled().empty());
  REQUIRE(llm.post("/_script", json::array({calls("list_dir", json::object(), 5), {{"text", "done"}}}).dump()).status ==
          200);
  (void)test::streamed_turn(*b, "main", test::web_turn("m3", "m3", "once more"), deltas);
  results = last_tool_results(llm);
  REQUIRE(results.size() == 5);
  for (auto& r : results) CHECK_MESSAGE(r.find("throttled") == std::string::npos, r);
}

TEST_CASE("monitor: notify sends each action to the admin's Telegram chat, through chan-telegram") {
  test::fake_peer llm("fake_llm.py");
  const std::string bot_token = "4242:monitor-test";
  test::fake_peer tg("fake_telegram.py", {"--token", bot_token});
  auto config = base_config(llm.url(), "tool_calls_per_minute = 2\ntool_burst_action = \"alert\"\n"
                                       "sensitive_path_action = \"quarantine\"\nnotify = \"telegram:777\"\n") +
                fmt::format("\n[channels.telegram]\ntoken = \"{}\"\napi_base = \"{}\"\npoll_timeout_s = 1\n", bot_token,
                            tg.url());
  auto s = test::stack::start(config);
  REQUIRE(s);
  auto home = s->dir() + "/home";
  auto b = s->bus_client();
  std::vector<std::string> deltas;
  // 3 calls (over 2 a minute: an alert), then a read of the key store (a quarantine).
  REQUIRE(llm.post("/_script", json::array({calls("list_dir", json::object(), 3),
                                            calls("read_file", {{"path", "../../keys/witness.key"}}, 1),
                                            {{"text", "done"}}})
                                   .dump())
              .status == 200);
  (void)test::streamed_turn(*b, "main", test::web_turn("m1", "m1", "look"), deltas);
  auto sent_to_admin = [&] {
    std::vector<std::string> out;
    for (auto& m : json::parse(tg.get("/_sent").body))
      if (m.value("method", "") == "sendMessage" && m.contains("chat_id") &&
          (m["chat_id"] == 777 || m["chat_id"] == "777"))
        out.push_back(m.value("text", ""));
    return out;
  };
  REQUIRE_MESSAGE(eventually([&] { return sent_to_admin().size() >= 2; }, std::chrono::seconds(60)), s->log());
  auto texts = sent_to_admin();
  CHECK(texts.size() == 2);
  auto has = [&](std::string_view start, std::string_view part) {
    return std::any_of(texts.begin(), texts.end(),
                       [&](auto& t) { return t.rfind(start, 0) == 0 && t.find(part) != std::string::npos; });
  };
  CHECK_MESSAGE(has("weft security: agent 'main' alert by rule tool_burst: 3 tool calls in the last minute, over 2",
                    "`weftctl security monitor`"),
                json(texts).dump(2));
  CHECK_MESSAGE(has("weft security: agent 'main' quarantined by rule sensitive_path: tool/fs/main/read_file named '" +
                        home + "/keys/witness.key'",
                    "; release with `weftctl security release main`"),
                json(texts).dump(2));
}

TEST_CASE("monitor: a real web_fetch then exec of python3 alerts new_host and exec_after_fetch; the witness chain has them") {
  test::fake_peer llm("fake_llm.py");
  test::fake_peer site("../integration/tools/web_site.py");
  // tool-web replaced by one that may fetch loopback (the test site); main may fetch and exec.
  auto config = fmt::format(
      "[providers.fake]\nstyle = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"fake-model\"\n\n"
      "[llm]\ndefault_provider = \"fake\"\nretries = 0\n\n[memory]\nsummarise_after_messages = 0\n\n"
      "[agents.main]\nmax_iterations = 10\n[agents.main.tools]\nfamilies = [\"web\", \"shell\"]\n\n"
      "[services.tool-web]\nexec = \"{web}\"\naddress = \"tool/web\"\nenv = {{ WEFT_WEB_ALLOW_PRIVATE = \"1\" }}\n\n"
      "[security.monitor]\nenabled = true\nnew_host_after_calls = 0\nnew_host_action = \"alert\"\n"
      "exec_after_fetch_action = \"alert\"\n",
      fmt::arg("url", llm.url()), fmt::arg("web", test::build_path("services/tool-web/weft-tool-web")));
  auto s = test::stack::start(config);
  REQUIRE(s);
  auto home = s->dir() + "/home";
  auto b = s->bus_client();
  std::vector<std::string> deltas;
  REQUIRE(llm.post("/_script", json::array({calls("web_fetch", {{"url", site.url() + "/page.html"}}, 1),
                                            calls("exec", {{"command", "python3 -c 'print(6 * 7)'"}}, 1),
                                            {{"text", "done"}}})
                                   .dump())
              .status == 200);
  auto t = test::streamed_turn(*b, "main", test::web_turn("m1", "m1", "fetch and run"), deltas);
  CHECK(t.tool_calls == 2);
  // Both calls ran: the page's text reached the model, then python's answer.
  auto reqs = json::parse(llm.get("/_requests").body);
  REQUIRE(reqs.size() >= 3);
  CHECK(reqs[reqs.size() - 2].dump().find("Hello & welcome") != std::string::npos);
  CHECK(reqs.back().dump().find("42") != std::string::npos);

  auto alert = [&](const json& alerts, std::string_view rule, std::string_view part) {
    return std::any_of(alerts.begin(), alerts.end(), [&](auto& a) {
      return a["agent"] == "main" && a["rule"] == rule && a["action"] == "alert" &&
             a["detail"].template get<std::string>().find(part) != std::string::npos;
    });
  };
  json alerts;
  REQUIRE_MESSAGE(eventually([&] {
                    auto w = s->weftctl({"security", "monitor", "--json"});
                    alerts = json::parse(w.out)["monitor"]["alerts"];
                    return alert(alerts, "exec_after_fetch", "");
                  }),
                  s->log());
  CHECK_MESSAGE(alert(alerts, "new_host", "tool/web/web_fetch named host '127.0.0.1', new for this agent"),
                alerts.dump(2));
  CHECK_MESSAGE(alert(alerts, "exec_after_fetch", "tool/shell/main/exec ran 'python3' "), alerts.dump(2));
  CHECK_MESSAGE(alert(alerts, "exec_after_fetch", " s and 1 calls after a fetch from '127.0.0.1'"), alerts.dump(2));
  CHECK(quarantined(*b).empty());  // alerts only

  // The witness chain, as weftctl audit show prints it.
  std::string shown;
  REQUIRE(eventually([&] {
    shown = s->weftctl({"audit", "show", "--last", "0", "--dir", home + "/audit"}).out;
    return shown.find("exec_after_fetch: ") != std::string::npos;
  }));
  CHECK(shown.find("monitor_alert") != std::string::npos);
  CHECK(shown.find("new_host: ") != std::string::npos);
  auto recs = witness_records(home);
  CHECK(has_record(recs, "monitor", "monitor_alert", "agent/main", "exec_after_fetch: "));
  CHECK(has_record(recs, "monitor", "monitor_alert", "agent/main", "new_host: "));
}
