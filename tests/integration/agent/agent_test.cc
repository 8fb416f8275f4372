// Integration: weft-agent in a real stack (weftd, bus, weft-llm, weft-tool-fs) against the
// fake LLM provider. A turn answered; the workspace bootstrapped; a scripted read_file
// executed with its result reaching the model; a tool outside the agent's policy denied by
// the bus; a repeated Turn answered from the session without a new model request; the
// session file's shape; streaming deltas; and "no provider" answered with one sentence.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "proto/chat_v1.hh"
#include "tests/integration/agent/turn_util.hh"
#include "tests/integration/fake_peer.hh"
#include "tests/integration/harness.hh"
#include "tests/temp_dir.hh"

using namespace weft;
using namespace std::chrono_literals;
namespace chat = weft::proto::chat_v1;
namespace fs = std::filesystem;
using json = nlohmann::json;
using weft::test::make_turn;
using weft::test::requests;

namespace {

std::string missing_programs() {
  return test::missing_programs({"services/agent/weft-agent", "services/llm/weft-llm", "services/tool-fs/weft-tool-fs"});
}

/// The stack: llm (pointing at the fake provider, or at none), tool-fs and agent main.
std::string stack_config(const std::string& workspace, const std::string& provider_url) {
  std::string c;
  if (!provider_url.empty())
    c += fmt::format(
        "[providers.fake]\nstyle = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"fake-model\"\n\n"
        "[llm]\ndefault_provider = \"fake\"\nretries = 0\n\n",
        provider_url);
  c += fmt::format(
      "[agents.main]\nworkspace = \"{ws}\"\nmax_iterations = 4\ntool_timeout_ms = 5000\n"
      "[agents.main.tools]\nallow = [\"read_file\"]\nfamilies = [\"fs\"]\n\n"
      "[services.llm]\nexec = \"{llm}\"\naddress = \"llm\"\n\n"
      "[services.tool-fs-main]\nexec = \"{fs}\"\naddress = \"tool/fs/main\"\n"
      "env = {{ WEFT_AGENT = \"main\", WEFT_WORKSPACE = \"{ws}\" }}\n\n"
      "[services.agent-main]\nexec = \"{agent}\"\naddress = \"agent/main\"\n"
      "after = [\"bus\", \"llm\", \"tool-fs-main\"]\n"
      "env = {{ WEFT_AGENT = \"main\", WEFT_WORKSPACE = \"{ws}\" }}\n",
      fmt::arg("ws", workspace), fmt::arg("llm", test::build_path("services/llm/weft-llm")),
      fmt::arg("fs", test::build_path("services/tool-fs/weft-tool-fs")),
      fmt::arg("agent", test::build_path("services/agent/weft-agent")));
  return c;
}

chat::turn_result ask(ipc::bus_client& b, const chat::turn& t) {
  ipc::call_options o;
  o.timeout = 30s;
  o.attempt_timeout = 30s;  // a turn is idempotent, but one attempt is what this test means
  auto r = b.call("agent/main", t, o);
  REQUIRE_MESSAGE(r, (r ? "" : r.err().to_string()));
  auto res = r->as<chat::turn_result>();
  REQUIRE(res);
  return *res;
}

std::string reply_text(const chat::turn_result& r) {
  REQUIRE(r.reply.parts.size() == 1);
  return r.reply.parts[0].text.value_or("");
}

std::vector<json> lines_of(const std::string& path) {
  std::ifstream f(path);
  std::vector<json> out;
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

}  // namespace

TEST_CASE("agent: turns, tools, idempotent redelivery and the session file") {
  auto missing = missing_programs();
  if (!missing.empty()) {
    MESSAGE("skipped: not built yet: " << missing);
    return;
  }
  test::fake_peer llm("fake_llm.py");
  weft::test::temp_dir d{"weft-agent-it"};
  auto ws = d.path.string() + "/ws";
  auto st = test::stack::start(stack_config(ws, llm.url()));
  auto b = st->bus_client();

  // 1. A plain turn, answered by the (unscripted) model.
  auto r1 = ask(*b, make_turn("web:1", "hello"));
  CHECK(r1.turn_id == "web:1");
  CHECK(reply_text(r1) == "You said: hello");
  CHECK(r1.iterations == 1);
  CHECK(r1.reply.chat_id == "s1");
  CHECK(r1.reply.reply_to == std::optional<std::string>("web:1"));
  for (auto f : {"SOUL.md", "IDENTITY.md", "AGENTS.md", "USER.md", "sessions", "memory", "skills"})
    CHECK_MESSAGE(fs::exists(ws + "/" + f), f);
  auto reqs = requests(llm);
  REQUIRE(reqs.size() == 1);
  auto body = reqs[0]["body"];
  // The system prompt is the workspace's SOUL.md and IDENTITY.md; only allowed tools offered.
  auto sys = body["messages"][0];
  CHECK(sys["role"] == "system");
  CHECK(sys["content"].get<std::string>().find("self-hosted agent gateway") != std::string::npos);
  REQUIRE(body["tools"].is_array());
  REQUIRE(body["tools"].size() == 1);
  CHECK(body["tools"][0]["function"]["name"] == "read_file");

  // 2. A scripted read_file: executed by weft-tool-fs, its result reaches the model.
  REQUIRE(llm.post("/_script", R"([{"tool_calls":[{"name":"read_file","arguments":{"path":"SOUL.md"}}]},
                                   {"text":"I read it."}])").status == 200);
  auto r2 = ask(*b, make_turn("web:2", "read your soul"));
  CHECK(reply_text(r2) == "I read it.");
  CHECK(r2.tool_calls == 1);
  CHECK(r2.iterations == 2);
  reqs = requests(llm);
  REQUIRE(reqs.size() == 3);
  auto msgs = reqs[2]["body"]["messages"];
  auto tool_msg = msgs[msgs.size() - 1];
  CHECK(tool_msg["role"] == "tool");
  CHECK(tool_msg["content"].get<std::string>().find("# Soul") != std::string::npos);
  // The earlier turn is in the context too.
  CHECK(msgs.dump().find("You said: hello") != std::string::npos);

  // 3. A tool outside [agents.main.tools] allow: not offered, still asked for; the bus says no.
  REQUIRE(llm.post("/_script", R"([{"tool_calls":[{"name":"exec","arguments":{"cmd":"id"}}]},
                                   {"text":"denied, as expected"}])").status == 200);
  auto r3 = ask(*b, make_turn("web:3", "run id"));
  CHECK(reply_text(r3) == "denied, as expected");
  reqs = requests(llm);
  REQUIRE(reqs.size() == 5);
  msgs = reqs[4]["body"]["messages"];
  auto denied = msgs[msgs.size() - 1]["content"].get<std::string>();
  CHECK(denied.find("Permission denied") != std::string::npos);
  CHECK(denied.find("agents.main.tools.allow") != std::string::npos);

  // 4. The same turn again (the router's redelivery): the stored answer, no model request.
  auto again = ask(*b, make_turn("web:2", "read your soul"));
  CHECK(reply_text(again) == "I read it.");
  CHECK(again.tool_calls == 1);
  CHECK(again.iterations == 2);
  CHECK(requests(llm).size() == 5);

  // 5. The session file: header, then user / assistant / tool / final lines.
  auto lines = lines_of(ws + "/sessions/web%3As1.jsonl");
  REQUIRE(lines.size() == 1 + 2 + 4 + 4);
  CHECK(lines[0]["type"] == "session");
  CHECK(lines[0]["key"] == "web:s1");
  CHECK(lines[0]["agent"] == "main");
  CHECK(lines[0]["created"].get<std::string>().ends_with("Z"));
  CHECK(lines[1]["role"] == "user");
  CHECK(lines[1]["content"] == "hello");
  CHECK(lines[2]["final"] == true);
  CHECK(lines[2]["turn_id"] == "web:1");
  CHECK(lines[4]["role"] == "assistant");
  CHECK(lines[4]["tool_calls"][0]["name"] == "read_file");
  CHECK(lines[5]["role"] == "tool");
  CHECK(lines[5]["name"] == "read_file");
  CHECK(lines[5]["is_error"] == false);
  CHECK(lines[6]["content"] == "I read it.");
  CHECK(lines[6]["final"] == true);
  CHECK(lines[9]["is_error"] == true);
  for (auto& l : lines)
    if (l["type"] == "message") CHECK(l["ts"].get<std::string>().size() == 24);

  // 6. Streaming: Delta events reach stream_to before the TurnResult.
  auto t6 = make_turn("web:6", "stream please");
  t6.stream_to = b->address();
  auto id = b->send_request("agent/main", t6);
  REQUIRE(id);
  std::string streamed;
  std::optional<chat::turn_result> r6;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!r6 && std::chrono::steady_clock::now() < deadline) {
    auto m = b->next(1s);
    if (!m) continue;
    if (m->is(chat::delta::type_name)) {
      auto dl = m->as<chat::delta>();
      REQUIRE(dl);
      CHECK(dl->turn_id == "web:6");
      streamed += dl->text;
    } else if (m->env.id == *id) {
      REQUIRE_FALSE(m->is_error());
      r6 = m->as<chat::turn_result>().value();
    }
  }
  REQUIRE(r6);
  CHECK(reply_text(*r6) == "You said: stream please");
  CHECK(streamed == "You said: stream please");
}

TEST_CASE("agent: with no provider every turn is answered with how to configure one") {
  auto missing = missing_programs();
  if (!missing.empty()) {
    MESSAGE("skipped: not built yet: " << missing);
    return;
  }
  weft::test::temp_dir d{"weft-agent-it"};
  auto st = test::stack::start(stack_config(d.path.string() + "/ws", ""));
  auto b = st->bus_client();
  auto r = ask(*b, make_turn("web:1", "hello"));
  auto text = reply_text(r);
  CHECK_FALSE(text.empty());
  CHECK(text.find("provider") != std::string::npos);
  CHECK(text.find("Sorry") == std::string::npos);  // the llm's sentence, not an apology
  // It names the file weftd runs on and says that a reload is enough (issue 28 item 14).
  CHECK_MESSAGE(text.find("'" + st->config_path() + "'") != std::string::npos, text);
  CHECK_MESSAGE(text.find("`weftctl reload` (no restart needed)") != std::string::npos, text);
}

TEST_CASE("agent: skills, one turn asked twice while running, turn budget, llm failure, drain on TERM") {
  auto missing = missing_programs();
  if (!missing.empty()) {
    MESSAGE("skipped: not built yet: " << missing);
    return;
  }
  test::fake_peer llm("fake_llm.py");
  weft::test::temp_dir d{"weft-agent-it"};
  auto ws = d.path.string() + "/ws";
  fs::create_directories(ws + "/skills/greeting");
  std::ofstream(ws + "/skills/greeting/SKILL.md")
      << "---\nname: greeting\ndescription: How to greet people politely\n---\nAlways greet with 'Good day'.\n";
  fs::create_directories(ws + "/skills/broken");
  std::ofstream(ws + "/skills/broken/SKILL.md") << "no frontmatter here\n";
  auto st = test::stack::start(stack_config(ws, llm.url()));
  auto b = st->bus_client();

  // Skills: listed in the system prompt, load_skill offered and answered inside the agent.
  REQUIRE(llm.post("/_script", R"([{"tool_calls":[{"name":"load_skill","arguments":{"name":"greeting"}}]},
                                   {"text":"Good day"}])").status == 200);
  auto r1 = ask(*b, make_turn("web:1", "greet me"));
  CHECK(reply_text(r1) == "Good day");
  auto reqs = requests(llm);
  REQUIRE(reqs.size() == 2);
  auto sys = reqs[0]["body"]["messages"][0]["content"].get<std::string>();
  CHECK(sys.find("<name>greeting</name><description>How to greet people politely</description>") != std::string::npos);
  CHECK(sys.find("broken") == std::string::npos);
  CHECK(reqs[0]["body"]["tools"].dump().find("load_skill") != std::string::npos);
  auto msgs = reqs[1]["body"]["messages"];
  CHECK(msgs[msgs.size() - 1]["content"].get<std::string>().find("Always greet with 'Good day'.") != std::string::npos);

  // The same turn id twice while it runs: one model request, both answered.
  REQUIRE(llm.post("/_script", R"([{"text":"slow answer","delay_ms":700}])").status == 200);
  auto t2 = make_turn("web:2", "take your time");
  auto id_a = b->send_request("agent/main", t2);
  auto id_b = b->send_request("agent/main", t2);
  REQUIRE(id_a);
  REQUIRE(id_b);
  int answered = 0;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (answered < 2 && std::chrono::steady_clock::now() < deadline) {
    auto m = b->next(1s);
    if (!m || (m->env.id != *id_a && m->env.id != *id_b)) continue;
    REQUIRE_FALSE(m->is_error());
    auto r = m->as<chat::turn_result>();
    REQUIRE(r);
    CHECK(reply_text(*r) == "slow answer");
    ++answered;
  }
  CHECK(answered == 2);
  CHECK(requests(llm).size() == 3);

  // The turn budget: max_iterations = 4 model calls, each asking for another tool.
  std::string loop = R"({"text":"still looking","tool_calls":[{"name":"read_file","arguments":{"path":"USER.md"}}]})";
  REQUIRE(llm.post("/_script", "[" + loop + "," + loop + "," + loop + "," + loop + "]").status == 200);
  auto r4 = ask(*b, make_turn("web:4", "loop forever"));
  CHECK(r4.iterations == 4);
  CHECK(r4.tool_calls == 3);  // the last step's call is not run
  CHECK(reply_text(r4).find("still looking") == 0);
  CHECK(reply_text(r4).find("max_iterations") != std::string::npos);
  CHECK(requests(llm).size() == 7);

  // A provider failure: the turn completes with a short apology naming the error.
  REQUIRE(llm.post("/_script", R"([{"status":500}])").status == 200);
  auto r5 = ask(*b, make_turn("web:5", "fail please"));
  CHECK(reply_text(r5).find("Sorry") == 0);
  CHECK(reply_text(r5).find("Upstream") != std::string::npos);
  auto after_failure = requests(llm).size();

  // Drain: TERM while a turn waits for the model; the turn is still answered.
  REQUIRE(llm.post("/_script", R"([{"text":"finished while stopping","delay_ms":1000}])").status == 200);
  auto id = b->send_request("agent/main", make_turn("web:3", "one more"));
  REQUIRE(id);
  auto until = std::chrono::steady_clock::now() + 20s;
  while (requests(llm).size() <= after_failure && std::chrono::steady_clock::now() < until) {
  }
  REQUIRE(requests(llm).size() == after_failure + 1);  // the model has the request: the turn is in hand
  auto pid = st->service_pid("agent-main");
  REQUIRE(pid > 0);
  REQUIRE(::kill(pid, SIGTERM) == 0);
  std::optional<chat::turn_result> r3;
  deadline = std::chrono::steady_clock::now() + 30s;
  while (!r3 && std::chrono::steady_clock::now() < deadline) {
    auto m = b->next(1s);
    if (!m || m->env.id != *id) continue;
    REQUIRE_MESSAGE(!m->is_error(), m->to_error().to_string());
    r3 = m->as<chat::turn_result>().value();
  }
  REQUIRE(r3);
  CHECK(reply_text(*r3) == "finished while stopping");
  // And it was stored before the process exited.
  auto lines = lines_of(ws + "/sessions/web%3As1.jsonl");
  REQUIRE_FALSE(lines.empty());
  CHECK(lines.back()["turn_id"] == "web:3");
  CHECK(lines.back()["final"] == true);
}
