// Integration: the agent's side of memory in a real stack (weftd, bus, weft-llm,
// weft-tool-fs, weft-agent) with the fake LLM provider and a stand-in for the memory
// service at bus address `memory` (weft-fake-memory, which records what it receives).
// Shown: each message of a turn arrives as a Put with its key, role and session; the
// model's memory_search reaches memory with an empty agent field (the bus-authenticated
// sender decides the namespace) and the hits come back as the tool result; memory_store
// stores a note; a memory error is an is_error tool result; a long session gets exactly one
// summary file and a summary Put, and the next request carries the summary instead of the
// old messages; ToolCalled events are published for every tool call; [agents.*.tools] and
// [memory] enabled decide which memory tools are offered.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <sodium.h>

#include <weft/service/paths.hh>

#include "proto/chat_v1.hh"
#include "proto/memory_v1.hh"
#include "tests/integration/agent/turn_util.hh"
#include "tests/integration/fake_peer.hh"
#include "tests/integration/harness.hh"
#include "tests/temp_dir.hh"

using namespace weft;
using namespace std::chrono_literals;
namespace chat = weft::proto::chat_v1;
namespace mem = weft::proto::memory_v1;
namespace fs = std::filesystem;
using json = nlohmann::json;
using weft::test::eventually;
using weft::test::make_turn;
using weft::test::requests;

namespace {

std::string missing_programs() {
  return test::missing_programs({"services/agent/weft-agent", "services/llm/weft-llm", "services/tool-fs/weft-tool-fs",
                                 "tests/integration/agent/weft-fake-memory"});
}

std::string config(const std::string& ws, const std::string& provider_url, const std::string& memory_log,
                   const std::string& allow, const std::string& memory_section) {
  return fmt::format(
      "[providers.fake]\nstyle = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"fake-model\"\n\n"
      "[llm]\ndefault_provider = \"fake\"\nretries = 0\n\n"
      "[memory]\n{memory}\n\n"
      "[agents.main]\nworkspace = \"{ws}\"\nmax_iterations = 4\ntool_timeout_ms = 5000\n"
      "[agents.main.tools]\nallow = {allow}\nfamilies = [\"fs\"]\n\n"
      "[services.llm]\nexec = \"{llm}\"\naddress = \"llm\"\n\n"
      "[services.memory]\nexec = \"{fake}\"\naddress = \"memory\"\nenv = {{ FAKE_MEMORY_LOG = \"{log}\" }}\n\n"
      "[services.tool-fs-main]\nexec = \"{fs}\"\naddress = \"tool/fs/main\"\n"
      "env = {{ WEFT_AGENT = \"main\", WEFT_WORKSPACE = \"{ws}\" }}\n\n"
      "[services.agent-main]\nexec = \"{agent}\"\naddress = \"agent/main\"\n"
      "after = [\"bus\", \"llm\", \"memory\", \"tool-fs-main\"]\n"
      "env = {{ WEFT_AGENT = \"main\", WEFT_WORKSPACE = \"{ws}\" }}\n",
      fmt::arg("url", provider_url), fmt::arg("memory", memory_section), fmt::arg("ws", ws), fmt::arg("allow", allow),
      fmt::arg("log", memory_log), fmt::arg("llm", test::build_path("services/llm/weft-llm")),
      fmt::arg("fake", test::build_path("tests/integration/agent/weft-fake-memory")),
      fmt::arg("fs", test::build_path("services/tool-fs/weft-tool-fs")),
      fmt::arg("agent", test::build_path("services/agent/weft-agent")));
}

std::string ask(ipc::bus_client& b, const chat::turn& t) {
  ipc::call_options o;
  o.timeout = 30s;
  o.attempt_timeout = 30s;
  auto r = b.call("agent/main", t, o);
  REQUIRE_MESSAGE(r, (r ? "" : r.err().to_string()));
  auto res = r->as<chat::turn_result>();
  REQUIRE(res);
  REQUIRE(res->reply.parts.size() == 1);
  return res->reply.parts[0].text.value_or("");
}

std::vector<json> lines_of(const std::string& path) {
  std::ifstream f(path);
  std::vector<json> out;
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) out.push_back(json::parse(line, nullptr, false));
  return out;
}

std::vector<json> of_type(const std::vector<json>& log, const std::string& type) {
  std::vector<json> out;
  for (auto& l : log)
    if (l.value("type", "") == type) out.push_back(l);
  return out;
}

std::string sha256_hex(const std::string& s) {
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  std::string out;
  for (auto b : h) out += fmt::format("{:02x}", b);
  return out;
}

std::vector<std::string> offered(const json& request) {
  std::vector<std::string> out;
  for (auto& t : request["body"].value("tools", json::array())) out.push_back(t["function"]["name"]);
  return out;
}

}  // namespace

TEST_CASE("agent memory: indexing, memory tools, summaries replacing old messages, ToolCalled events") {
  auto missing = missing_programs();
  if (!missing.empty()) {
    MESSAGE("skipped: not built yet: " << missing);
    return;
  }
  test::fake_peer llm("fake_llm.py");
  weft::test::temp_dir d{"weft-agent-mem-it"};
  auto ws = d.path.string() + "/ws";
  auto log = d.path.string() + "/memory.jsonl";
  auto st = test::stack::start(config(ws, llm.url(), log, R"(["read_file", "memory_*"])",
                                      "summarise_after_messages = 8\nsummary_keep_messages = 2"));
  auto events = ipc::event_subscriber::connect(st->ctx(), service::events_endpoint(st->runtime()),
                                               {std::string(mem::tool_called::type_name)});
  REQUIRE(events);
  auto b = st->bus_client();

  // 1. A plain turn: its two messages arrive at memory as Puts, after the session sync.
  CHECK(ask(*b, make_turn("web:1", "hello there, my build broke on arm64")) ==
        "You said: hello there, my build broke on arm64");
  REQUIRE_MESSAGE(eventually([&] { return of_type(lines_of(log), "Put").size() >= 2; }), st->log());
  auto puts = of_type(lines_of(log), "Put");
  REQUIRE(puts.size() == 2);
  CHECK(puts[0]["from"] == "agent/main");
  CHECK(puts[0]["agent"] == "");
  CHECK(puts[0]["kind"] == "message");
  CHECK(puts[0]["key"] == "web:1#0");
  CHECK(puts[0]["role"] == "user");
  CHECK(puts[0]["session"] == "web:s1");
  CHECK(puts[0]["text"] == "hello there, my build broke on arm64");
  CHECK(puts[0]["created"].get<std::string>().size() == 24);
  CHECK(puts[1]["key"] == "web:1#1");
  CHECK(puts[1]["role"] == "assistant");
  CHECK(puts[1]["text"] == "You said: hello there, my build broke on arm64");
  auto reqs = requests(llm);
  REQUIRE(reqs.size() == 1);
  auto tools = offered(reqs[0]);
  CHECK(std::find(tools.begin(), tools.end(), "memory_search") != tools.end());
  CHECK(std::find(tools.begin(), tools.end(), "memory_store") != tools.end());

  // 2. memory_search, memory_store and read_file in one step.
  REQUIRE(llm.post("/_script", R"([{"tool_calls":[{"name":"memory_search","arguments":{"query":"arm64","k":5}},
                                                  {"name":"memory_store","arguments":{"text":"prefers short answers","tags":["style"]}},
                                                  {"name":"read_file","arguments":{"path":"SOUL.md"}}]},
                                   {"text":"I found it."}])").status == 200);
  CHECK(ask(*b, make_turn("web:2", "what did I say about my build?")) == "I found it.");
  reqs = requests(llm);
  REQUIRE(reqs.size() == 3);
  auto msgs = reqs[2]["body"]["messages"];
  REQUIRE(msgs.size() >= 4);
  auto search_result = msgs[msgs.size() - 3];
  CHECK(search_result["role"] == "tool");
  auto hits = search_result["content"].get<std::string>();
  MESSAGE("memory_search result: " << hits);
  CHECK(hits.find("memor") != std::string::npos);
  CHECK(hits.find("session=web:s1 role=user") != std::string::npos);
  CHECK(hits.find("hello there, my build broke on arm64") != std::string::npos);
  CHECK(msgs[msgs.size() - 2]["content"].get<std::string>().find("Remembered (entry m-") == 0);
  auto memlog = lines_of(log);
  auto searches = of_type(memlog, "Search");
  REQUIRE(searches.size() == 1);
  CHECK(searches[0]["from"] == "agent/main");
  CHECK(searches[0]["agent"] == "");  // the namespace is the bus-authenticated sender's
  CHECK(searches[0]["query"] == "arm64");
  CHECK(searches[0]["k"] == 5);
  bool note = false;
  for (auto& p : of_type(memlog, "Put"))
    if (p["kind"] == "note") {
      note = true;
      CHECK(p["text"] == "prefers short answers");
      CHECK(p["tags"] == json::array({"style"}));
      CHECK(p["key"].get<std::string>().starts_with("web:2#"));
    }
  CHECK(note);

  // The witness events: one per call, stamped with the agent as sender, hashing the arguments.
  auto calls = msgs[msgs.size() - 4]["tool_calls"];
  REQUIRE(calls.size() == 3);
  std::map<std::string, mem::tool_called> seen;
  for (int i = 0; i < 100 && seen.size() < 3; ++i)
    if (auto ev = (*events)->next(100ms)) {
      auto tc = ev->second.as<mem::tool_called>();
      REQUIRE(tc);
      CHECK(ev->second.env.from == "agent/main");
      seen[tc->tool] = *tc;
    }
  REQUIRE(seen.size() == 3);
  REQUIRE(seen.count("agent/main/memory_search"));
  REQUIRE(seen.count("agent/main/memory_store"));
  REQUIRE(seen.count("tool/fs/main/read_file"));
  for (auto& c : calls) {
    auto name = c["function"]["name"].get<std::string>();
    auto& ev = seen[name == "read_file" ? "tool/fs/main/read_file" : "agent/main/" + name];
    CHECK(ev.ok);
    CHECK(ev.call_id == c["id"]);
    CHECK(ev.arguments_sha256 == sha256_hex(c["function"]["arguments"].get<std::string>()));
  }

  // 3. The session now has 2 + 6 messages; this turn makes 10 > 8: after its reply the agent
  // asks the model for a summary of the oldest 8 (up to the turn boundary before the kept 2).
  REQUIRE(llm.post("/_script", R"([{"text":"third answer"},
                                   {"text":"SUMMARY: the person's build broke on arm64; memory was searched."}])")
              .status == 200);
  CHECK(ask(*b, make_turn("web:3", "third")) == "third answer");
  auto summaries_dir = ws + "/memory/summaries";
  REQUIRE_MESSAGE(eventually([&] {
                    for (auto& p : of_type(lines_of(log), "Put"))
                      if (p["kind"] == "summary") return true;
                    return false;
                  }),
                  st->log());
  reqs = requests(llm);
  REQUIRE(reqs.size() == 5);
  auto sreq = reqs[4]["body"];
  CHECK(offered(reqs[4]).empty());
  CHECK(sreq["messages"][0]["role"] == "system");
  CHECK(sreq["messages"][0]["content"].get<std::string>().find("summarise") != std::string::npos);
  auto transcript = sreq["messages"][1]["content"].get<std::string>();
  CHECK(transcript.find("user: hello there, my build broke on arm64") != std::string::npos);
  CHECK(transcript.find("assistant: I found it.") != std::string::npos);
  CHECK(transcript.find("third") == std::string::npos);  // the kept messages are not summarised
  std::vector<fs::path> files;
  for (auto& e : fs::directory_iterator(summaries_dir)) files.push_back(e.path());
  REQUIRE(files.size() == 1);
  CHECK(files[0].filename() == "web%3As1-001.md");
  std::ifstream mdf(files[0]);
  std::string md((std::istreambuf_iterator<char>(mdf)), {});
  CHECK(md.find("# Summary of session web:s1") == 0);
  CHECK(md.find("- messages: 0 to 7 (8 messages)") != std::string::npos);
  CHECK(md.find("SUMMARY: the person's build broke on arm64") != std::string::npos);
  json summary_put;
  for (auto& p : of_type(lines_of(log), "Put"))
    if (p["kind"] == "summary") summary_put = p;
  CHECK(summary_put["session"] == "web:s1");
  CHECK(summary_put["text"] == "SUMMARY: the person's build broke on arm64; memory was searched.");
  CHECK(summary_put["key"] == "web:s1#summary#0-8");
  // The session records what it covers (so a restart neither repeats nor loses it).
  REQUIRE(eventually([&] {
    for (auto& l : lines_of(ws + "/sessions/web%3As1.jsonl"))
      if (l.value("type", "") == "summary") return true;
    return false;
  }));
  int summary_lines = 0;
  for (auto& l : lines_of(ws + "/sessions/web%3As1.jsonl"))
    if (l.value("type", "") == "summary") {
      ++summary_lines;
      CHECK(l["from"] == 0);
      CHECK(l["to"] == 8);
      CHECK(l["file"] == "memory/summaries/web%3As1-001.md");
    }
  CHECK(summary_lines == 1);

  // 4. The next turn's request carries the summary instead of the old messages; a memory
  // error comes back as an is_error tool result that says what failed.
  REQUIRE(llm.post("/_script", R"([{"tool_calls":[{"name":"memory_search","arguments":{"query":"FAIL please"}}]},
                                   {"text":"memory failed"}])").status == 200);
  CHECK(ask(*b, make_turn("web:4", "fourth")) == "memory failed");
  reqs = requests(llm);
  REQUIRE(reqs.size() == 7);
  msgs = reqs[5]["body"]["messages"];
  auto system = msgs[0]["content"].get<std::string>();
  CHECK(system.find("Summary of earlier conversation (8 messages") != std::string::npos);
  CHECK(system.find("SUMMARY: the person's build broke on arm64") != std::string::npos);
  CHECK(msgs.dump().find("hello there") == std::string::npos);
  REQUIRE(msgs.size() == 4);  // system, turn 3 (user, answer), the current message
  CHECK(msgs[1]["content"] == "third");
  CHECK(msgs[3]["content"] == "fourth");
  msgs = reqs[6]["body"]["messages"];
  auto failed = msgs[msgs.size() - 1]["content"].get<std::string>();
  CHECK(failed.find("memory_search") != std::string::npos);
  CHECK(failed.find("asked to fail") != std::string::npos);
  bool failed_event = false;
  for (int i = 0; i < 100 && !failed_event; ++i)
    if (auto ev = (*events)->next(100ms)) {
      auto tc = ev->second.as<mem::tool_called>();
      failed_event = tc && tc->tool == "agent/main/memory_search" && !tc->ok;
    }
  CHECK(failed_event);
  // 10 + 4 messages, 8 covered: no second summary.
  files.clear();
  for (auto& e : fs::directory_iterator(summaries_dir)) files.push_back(e.path());
  CHECK(files.size() == 1);
}

TEST_CASE("agent memory: [agents.*.tools] and [memory] enabled decide which memory tools are offered") {
  auto missing = missing_programs();
  if (!missing.empty()) {
    MESSAGE("skipped: not built yet: " << missing);
    return;
  }
  for (bool enabled : {true, false}) {
    CAPTURE(enabled);
    test::fake_peer llm("fake_llm.py");
    weft::test::temp_dir d{"weft-agent-mem-it"};
    auto ws = d.path.string() + "/ws";
    auto st = test::stack::start(config(ws, llm.url(), d.path.string() + "/memory.jsonl",
                                        R"(["read_file", "memory_*"])",
                                        enabled ? "enabled = true" : "enabled = false"));
    auto b = st->bus_client();
    CHECK(ask(*b, make_turn("web:1", "hi")) == "You said: hi");
    auto reqs = requests(llm);
    REQUIRE(reqs.size() == 1);
    auto tools = offered(reqs[0]);
    bool search = std::find(tools.begin(), tools.end(), "memory_search") != tools.end();
    CHECK(search == enabled);
  }
  test::fake_peer llm("fake_llm.py");
  weft::test::temp_dir d{"weft-agent-mem-it"};
  auto ws = d.path.string() + "/ws";
  auto st = test::stack::start(
      config(ws, llm.url(), d.path.string() + "/memory.jsonl", R"(["read_file", "memory_search"])", ""));
  auto b = st->bus_client();
  // memory_store is not allowed: not offered, and refused if the model asks anyway.
  REQUIRE(llm.post("/_script", R"([{"tool_calls":[{"name":"memory_store","arguments":{"text":"x"}}]},
                                   {"text":"ok"}])").status == 200);
  CHECK(ask(*b, make_turn("web:1", "remember x")) == "ok");
  auto reqs = requests(llm);
  REQUIRE(reqs.size() == 2);
  auto tools = offered(reqs[0]);
  CHECK(std::find(tools.begin(), tools.end(), "memory_search") != tools.end());
  CHECK(std::find(tools.begin(), tools.end(), "memory_store") == tools.end());
  auto msgs = reqs[1]["body"]["messages"];
  CHECK(msgs[msgs.size() - 1]["content"].get<std::string>().find("Permission denied") != std::string::npos);
}
