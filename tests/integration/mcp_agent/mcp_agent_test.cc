// Integration (issue 5): an agent using community MCP servers through weft's client host.
// A real stack (weftd, bus, llm against the fake provider, agent main, tool-mcp) with the
// three reference servers installed from npm (tools/dev peers) connected at once, plus one
// that never starts. A scripted agent turn lists and calls their tools; a killed server
// comes back with its tools; `weftctl mcp add` of a fourth server during the run makes its
// tools usable on the next turn, `weftctl mcp remove` takes them away — no restarts.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "proto/chat_v1.hh"
#include "tests/integration/fake_peer.hh"
#include "tests/integration/harness.hh"
#include "tests/integration/turn_client.hh"
#include "tests/temp_dir.hh"

using namespace weft;
using namespace std::chrono_literals;
namespace chat = weft::proto::chat_v1;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string peers_bin(const std::string& program) {
  const char* peers = std::getenv("WEFT_MCP_PEERS");
  return std::string(peers ? peers : "") + "/node_modules/.bin/" + program;
}

chat::turn make_turn(const std::string& id, const std::string& text) {
  chat::turn t;
  t.turn_id = id;
  t.session = "web:mcp";
  t.message.id = id;
  t.message.channel = "web";
  t.message.chat_id = "mcp";
  t.message.sender = "tester";
  t.message.ts = utc_now();
  t.message.parts.push_back({chat::part_kind::text, text, {}, {}, {}, {}});
  return t;
}

chat::turn_result ask(ipc::bus_client& b, const chat::turn& t) {
  ipc::call_options o;
  o.timeout = 60s;
  o.attempt_timeout = 60s;
  auto r = b.call("agent/main", t, o);
  REQUIRE_MESSAGE(r, (r ? "" : r.err().to_string()));
  auto res = r->as<chat::turn_result>();
  REQUIRE(res);
  return *res;
}

json requests(test::fake_peer& llm) {
  auto r = llm.get("/_requests");
  REQUIRE(r.status == 200);
  return json::parse(r.body);
}

/// The tool messages (role "tool") of the newest request, in order.
std::vector<std::string> tool_results(const json& request) {
  std::vector<std::string> out;
  for (auto& m : request["body"]["messages"])
    if (m["role"] == "tool") out.push_back(m["content"].get<std::string>());
  return out;
}

std::vector<std::string> offered(const json& request) {
  std::vector<std::string> out;
  for (auto& t : request["body"]["tools"]) out.push_back(t["function"]["name"].get<std::string>());
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

json mcp_list(test::stack& st) {
  auto r = st.weftctl({"--json", "mcp", "list"});
  if (r.exit_code != 0) return json();
  auto j = json::parse(r.out, nullptr, false);
  return j.is_discarded() ? json() : j;
}

json server_of(const json& list, const std::string& name) {
  if (!list.is_object()) return json();
  for (auto& s : list["servers"])
    if (s["name"] == name) return s;
  return json();
}

/// Polls `weftctl mcp list` until `ok(list)` (an event would be better; the list is what a
/// user sees, so it is what this test checks).
bool wait_list(test::stack& st, const std::function<bool(const json&)>& ok, std::chrono::seconds limit, json* last) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto l = mcp_list(st);
    if (last) *last = l;
    if (ok(l)) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(200ms);
  }
}

/// Children of `parent` whose command line contains `needle`.
std::vector<pid_t> children_with(pid_t parent, const std::string& needle) {
  std::vector<pid_t> out;
  for (auto& e : fs::directory_iterator("/proc")) {
    auto name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::ifstream stat(e.path() / "stat");
    std::string line((std::istreambuf_iterator<char>(stat)), {});
    auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid != parent) continue;
    std::ifstream f(e.path() / "cmdline");
    std::string cmd((std::istreambuf_iterator<char>(f)), {});
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (cmd.find(needle) != std::string::npos) out.push_back(static_cast<pid_t>(std::stoi(name)));
  }
  return out;
}


/// The programs this test runs are built and the npm peers installed (a missing peer fails
/// the test; a program not built yet skips it, saying which).
bool programs_and_peers_here() {
  auto missing = test::missing_programs({"services/agent/weft-agent", "services/llm/weft-llm",
                                         "services/tool-mcp/weft-tool-mcp"});
  if (!missing.empty()) {
    MESSAGE("skipped: not built yet: " << missing);
    return false;
  }
  REQUIRE_MESSAGE(fs::exists(peers_bin("mcp-server-everything")),
                  "the MCP test peers are not installed at $WEFT_MCP_PEERS: run tools/dev setup");
  return true;
}

}  // namespace

TEST_CASE("mcp: an agent uses three real MCP servers; kill, never-starting, add and remove at run time") {
  if (!programs_and_peers_here()) return;
  test::fake_peer llm("fake_llm.py");
  weft::test::temp_dir d{"weft-mcp-agent-it"};
  auto ws = d.path.string() + "/ws", files = d.path.string() + "/files", graph = d.path.string() + "/graph.jsonl";
  fs::create_directories(files);
  auto config = fmt::format(
      "[providers.fake]\nstyle = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"fake-model\"\n\n"
      "[llm]\ndefault_provider = \"fake\"\nretries = 0\n\n"
      "[memory]\nenabled = false\n\n"
      "[agents.main]\nworkspace = \"{ws}\"\nmax_iterations = 4\ntool_timeout_ms = 20000\n"
      "[agents.main.tools]\nfamilies = [\"mcp\"]\ndeny = [\"everything__trigger-*\"]\n\n"
      "[tools.mcp_servers.everything]\ncommand = \"{everything}\"\nargs = [\"stdio\"]\n\n"
      "[tools.mcp_servers.filesystem]\ncommand = \"{filesystem}\"\nargs = [\"{files}\"]\n\n"
      "[tools.mcp_servers.memory]\ncommand = \"{memory}\"\nenv = {{ MEMORY_FILE_PATH = \"{graph}\" }}\n\n"
      "[tools.mcp_servers.broken]\ncommand = \"/nonexistent/mcp-server\"\n",
      fmt::arg("url", llm.url()), fmt::arg("ws", ws), fmt::arg("files", files), fmt::arg("graph", graph),
      fmt::arg("everything", peers_bin("mcp-server-everything")),
      fmt::arg("filesystem", peers_bin("mcp-server-filesystem")), fmt::arg("memory", peers_bin("mcp-server-memory")));
  auto st = test::stack::start(config);
  auto b = st->bus_client();

  // 1. All three connect; the one that cannot start is reported with its error.
  json list;
  bool up = wait_list(*st, [](const json& l) {
    for (auto name : {"everything", "filesystem", "memory"})
      if (server_of(l, name)["state"] != "ready") return false;
    return !server_of(l, "broken")["last_error"].get<std::string>().empty();
  }, 90s, &list);
  REQUIRE_MESSAGE(up, list.dump(2));
  auto broken = server_of(list, "broken");
  CHECK(broken["state"] == "backoff");
  CHECK(broken["last_error"].get<std::string>().find("No such file or directory") != std::string::npos);
  for (auto name : {"everything", "filesystem", "memory"}) {
    auto s = server_of(list, name);
    CHECK(s["era"] == "legacy");
    CHECK(s["protocol_version"] == "2025-11-25");
    CHECK(s["tool_count"].get<int>() > 0);
  }
  // The table a person reads names the broken server's error too.
  auto table = st->weftctl({"mcp", "list"});
  CHECK(table.exit_code == 0);
  CHECK(table.out.find("broken") != std::string::npos);
  CHECK(table.out.find("last error: ") != std::string::npos);

  // 2. A scripted turn calls a tool of each server; the results reach the model.
  auto target = files + "/note.txt";
  REQUIRE(llm.post("/_script", json::array({
      {{"tool_calls", json::array({
           {{"name", "everything__echo"}, {"arguments", {{"message", "hi"}}}},
           {{"name", "filesystem__write_file"}, {"arguments", {{"path", target}, {"content", "hello from weft"}}}},
           {{"name", "memory__create_entities"},
            {"arguments", {{"entities", json::array({{{"name", "weft"}, {"entityType", "project"},
                                                      {"observations", json::array({"C++ gateway"})}}})}}}},
       })}},
      {{"text", "all three done"}},
  }).dump()).status == 200);
  auto r1 = ask(*b, make_turn("web:1", "use your MCP servers"));
  CHECK(r1.tool_calls == 3);
  auto reqs = requests(llm);
  REQUIRE(reqs.size() == 2);
  auto tools = offered(reqs[0]);
  for (auto t : {"everything__echo", "everything__get-sum", "filesystem__read_text_file", "filesystem__write_file",
                 "memory__create_entities", "memory__read_graph"})
    CHECK_MESSAGE(has(tools, t), t);
  CHECK_FALSE(has(tools, "everything__trigger-long-running-operation"));  // the agent's deny glob
  auto results = tool_results(reqs[1]);
  REQUIRE(results.size() == 3);
  CHECK(results[0].find("Echo: hi") != std::string::npos);
  CHECK(results[1].find("Successfully wrote") != std::string::npos);
  CHECK(results[2].find("weft") != std::string::npos);
  {
    std::ifstream f(target);
    std::string content((std::istreambuf_iterator<char>(f)), {});
    CHECK(content == "hello from weft");
  }
  CHECK(fs::exists(graph));

  // 3. Read both back on the next turn.
  REQUIRE(llm.post("/_script", json::array({
      {{"tool_calls", json::array({{{"name", "filesystem__read_text_file"}, {"arguments", {{"path", target}}}},
                                   {{"name", "memory__read_graph"}, {"arguments", json::object()}}})}},
      {{"text", "read back"}},
  }).dump()).status == 200);
  ask(*b, make_turn("web:2", "read it back"));
  results = tool_results(requests(llm).back());
  REQUIRE(results.size() >= 2);
  CHECK(results[results.size() - 2].find("hello from weft") != std::string::npos);
  CHECK(results.back().find("C++ gateway") != std::string::npos);

  // 4. kill -9 the memory server: weft notices, reconnects, and its tools come back.
  auto tool_mcp_pid = st->service_pid("tool-mcp");
  auto victims = children_with(tool_mcp_pid, "mcp-server-memory");
  REQUIRE_MESSAGE(victims.size() == 1, "mcp-server-memory processes under tool-mcp: " << victims.size());
  auto restarts_before = server_of(mcp_list(*st), "memory")["restarts"].get<int>();
  for (auto p : victims) ::kill(p, SIGKILL);
  up = wait_list(*st, [&](const json& l) {
    auto s = server_of(l, "memory");
    return s.is_object() && s["state"] == "ready" && s["restarts"].get<int>() > restarts_before;
  }, 60s, &list);
  REQUIRE_MESSAGE(up, list.dump(2));
  CHECK(server_of(list, "everything")["state"] == "ready");
  CHECK(st->service_pid("tool-mcp") == tool_mcp_pid);
  REQUIRE(llm.post("/_script", json::array({
      {{"tool_calls", json::array({{{"name", "memory__read_graph"}, {"arguments", json::object()}}})}},
      {{"text", "graph after the restart"}},
  }).dump()).status == 200);
  ask(*b, make_turn("web:3", "is the graph still there"));
  CHECK(tool_results(requests(llm).back()).back().find("C++ gateway") != std::string::npos);

  // 5. weftctl mcp add of a fourth server while everything runs: usable on the next turn.
  auto agent_pid = st->service_pid("agent-main");
  auto add = st->weftctl({"mcp", "add", "extra", "--", peers_bin("mcp-server-everything"), "stdio"});
  REQUIRE_MESSAGE(add.exit_code == 0, add.out << add.err);
  CHECK(add.out.find("'extra' is ready") != std::string::npos);
  {
    std::ifstream f(st->config_path());
    std::string text((std::istreambuf_iterator<char>(f)), {});
    CHECK(text.find("[tools.mcp_servers.extra]") != std::string::npos);
    CHECK(text.find("[tools.mcp_servers.broken]") != std::string::npos);  // the rest is kept
  }
  REQUIRE(llm.post("/_script", json::array({
      {{"tool_calls", json::array({{{"name", "extra__echo"}, {"arguments", {{"message", "again"}}}}})}},
      {{"text", "the new server answered"}},
  }).dump()).status == 200);
  auto r4 = ask(*b, make_turn("web:4", "use the new one"));
  CHECK(r4.tool_calls == 1);
  reqs = requests(llm);
  CHECK(has(offered(reqs[reqs.size() - 2]), "extra__echo"));
  CHECK(tool_results(reqs.back()).back().find("Echo: again") != std::string::npos);
  // Nothing restarted: not the client host, not the agent, not the servers already there.
  CHECK(st->service_pid("tool-mcp") == tool_mcp_pid);
  CHECK(st->service_pid("agent-main") == agent_pid);
  CHECK(server_of(mcp_list(*st), "everything")["restarts"] == server_of(list, "everything")["restarts"]);

  // 6. remove: the tools are gone on the next turn, the file no longer has the table.
  auto rm = st->weftctl({"mcp", "remove", "extra"});
  REQUIRE_MESSAGE(rm.exit_code == 0, rm.out << rm.err);
  CHECK(server_of(mcp_list(*st), "extra").is_null());
  ask(*b, make_turn("web:5", "what can you use now"));
  auto last_tools = offered(requests(llm).back());
  CHECK_FALSE(has(last_tools, "extra__echo"));
  CHECK(has(last_tools, "everything__echo"));
  {
    std::ifstream f(st->config_path());
    std::string text((std::istreambuf_iterator<char>(f)), {});
    CHECK(text.find("[tools.mcp_servers.extra]") == std::string::npos);
    CHECK(text.find("[tools.mcp_servers.memory]") != std::string::npos);
  }
  // Adding a name twice, or removing an unknown one, is refused with a reason.
  auto twice = st->weftctl({"mcp", "add", "memory", "--", "/bin/true"});
  CHECK(twice.exit_code == 1);
  CHECK(twice.err.find("already configured at") != std::string::npos);
  auto unknown = st->weftctl({"mcp", "remove", "nope"});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err.find("configured: broken, everything, filesystem, memory") != std::string::npos);

  // 7. A 2026-07-28 server (the TypeScript SDK v2), added with its era named: the agent uses
  // it like any other.
  auto modern = st->weftctl(std::vector<std::string>{
      "mcp", "add", "modern", "--era", "modern", "--env", "WEFT_MCP_PEERS=" + std::string(std::getenv("WEFT_MCP_PEERS")),
      "--", "node", std::string(WEFT_SOURCE_ROOT) + "/tests/mcp/modern_server.mjs"});
  REQUIRE_MESSAGE(modern.exit_code == 0, modern.out << modern.err);
  CHECK(modern.out.find("'modern' is ready") != std::string::npos);
  {
    std::ifstream f(st->config_path());
    std::string text((std::istreambuf_iterator<char>(f)), {});
    CHECK(text.find("[tools.mcp_servers.modern]\ncommand = \"node\"") != std::string::npos);
    CHECK(text.find("era = \"modern\"") != std::string::npos);
  }
  auto m = server_of(mcp_list(*st), "modern");
  CHECK(m["era"] == "modern");
  CHECK(m["protocol_version"] == "2026-07-28");
  REQUIRE(llm.post("/_script", json::array({
      {{"tool_calls", json::array({{{"name", "modern__add"}, {"arguments", {{"a", 20}, {"b", 22}}}}})}},
      {{"text", "42 it is"}},
  }).dump()).status == 200);
  auto r6 = ask(*b, make_turn("web:6", "add twenty and twenty-two"));
  CHECK(r6.tool_calls == 1);
  CHECK(tool_results(requests(llm).back()).back().find("42") != std::string::npos);
  auto bad_era = st->weftctl({"mcp", "add", "x", "--era", "2026", "--", "/bin/true"});
  CHECK(bad_era.exit_code == 2);
  CHECK(bad_era.err.find("--era needs auto, legacy or modern") != std::string::npos);
}

TEST_CASE("mcp: a server's progress on a long call reaches a streaming chat as it happens") {
  if (!programs_and_peers_here()) return;
  test::fake_peer llm("fake_llm.py");
  weft::test::temp_dir d{"weft-mcp-progress"};
  auto st = test::stack::start(fmt::format(
      "[providers.fake]\nstyle = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"fake-model\"\n"
      "[llm]\ndefault_provider = \"fake\"\nretries = 0\n[memory]\nenabled = false\n"
      "[agents.main]\nworkspace = \"{}/ws\"\ntool_timeout_ms = 20000\n[agents.main.tools]\nfamilies = [\"mcp\"]\n"
      "[tools.mcp_servers.everything]\ncommand = \"{}\"\nargs = [\"stdio\"]\n",
      llm.url(), d.path.string(), peers_bin("mcp-server-everything")));
  auto b = st->bus_client();
  json list;
  REQUIRE_MESSAGE(wait_list(*st, [](const json& l) { return server_of(l, "everything")["state"] == "ready"; }, 90s, &list),
                  list.dump(2));
  auto tool = "everything__trigger-long-running-operation";
  auto call = json::array({{{"tool_calls", json::array({{{"name", tool}, {"arguments", {{"duration", 0.3}, {"steps", 3}}}}})}},
                           {{"text", "it finished"}}});
  // A turn of a streaming channel: the server's three steps, then the answer.
  REQUIRE(llm.post("/_script", call.dump()).status == 200);
  std::vector<std::string> deltas;
  auto done = test::streamed_turn(*b, "main", make_turn("web:p1", "run the long operation"), deltas);
  CHECK(done.tool_calls == 1);
  std::string joined;
  for (auto& piece : deltas) joined += piece;
  CAPTURE(joined);
  auto one = joined.find(fmt::format("{}: [1/3]\n", tool)), two = joined.find(fmt::format("{}: [2/3]\n", tool)),
       three = joined.find(fmt::format("{}: [3/3]\n", tool)), answer = joined.find("it finished");
  CHECK(one != std::string::npos);
  CHECK(two != std::string::npos);
  CHECK(three != std::string::npos);
  CHECK(answer != std::string::npos);
  CHECK((one < two && two < three && three < answer));

  // A chatty server does not flood the chat: 200 steps are shown, then one line says so.
  REQUIRE(llm.post("/_script", json::array({{{"tool_calls", json::array({{{"name", tool},
                                                                          {"arguments", {{"duration", 0.5}, {"steps", 230}}}}})}},
                                            {{"text", "done again"}}}).dump()).status == 200);
  deltas.clear();
  done = test::streamed_turn(*b, "main", make_turn("web:p3", "run it with many steps"), deltas);
  int steps = 0, notes = 0;
  for (auto& piece : deltas) {
    if (piece.find(fmt::format("{}: [", tool)) == 0) ++steps;
    if (piece == fmt::format("[… further steps of '{}' are not shown]\n", tool)) ++notes;
  }
  CHECK(steps == 200);
  CHECK(notes == 1);

  // A turn of a channel that does not stream gets the result alone.
  REQUIRE(llm.post("/_script", call.dump()).status == 200);
  auto r = ask(*b, make_turn("web:p2", "again, quietly"));
  CHECK(r.tool_calls == 1);
  auto reqs = requests(llm);
  CHECK(tool_results(reqs.back()).at(0).find("Long running operation completed") != std::string::npos);
}
