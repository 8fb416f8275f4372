// Unit tests of the agent's pure parts: context assembler, session files, identity order,
// tool policy. (Skills and their frontmatter: libs/skills/skills_test.cc.)
#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "services/agent/agent.hh"
#include "services/agent/context.hh"
#include "services/agent/policy.hh"
#include "services/agent/session.hh"
#include "services/agent/tool_paths.hh"
#include "services/agent/workspace.hh"
#include "tests/temp_dir.hh"

using namespace weft;
using namespace weft::agent;
namespace llm = weft::proto::llm_v1;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  return {std::istreambuf_iterator<char>(f), {}};
}

entry msg(llm::role r, std::string text, std::string turn_id) {
  entry e;
  e.role = r;
  e.content = std::move(text);
  e.turn_id = std::move(turn_id);
  return e;
}

/// One plain turn: user + final answer, each `chars` long.
void plain_turn(std::vector<entry>& h, const std::string& id, std::size_t chars) {
  h.push_back(msg(llm::role::user, id + "-q" + std::string(chars, 'u'), id));
  auto a = msg(llm::role::assistant, id + "-a" + std::string(chars, 'a'), id);
  a.final = true;
  h.push_back(a);
}

/// A turn with one tool call whose result is `result_chars` long.
void tool_turn(std::vector<entry>& h, const std::string& id, std::size_t result_chars) {
  h.push_back(msg(llm::role::user, id + "-q", id));
  auto call = msg(llm::role::assistant, "", id);
  call.tool_calls.push_back({id + "-call", "read_file", "{\"path\":\"x\"}"});
  h.push_back(call);
  auto res = msg(llm::role::tool, std::string(result_chars, 'r'), id);
  res.tool_call_id = id + "-call";
  h.push_back(res);
  auto fin = msg(llm::role::assistant, id + "-a", id);
  fin.final = true;
  h.push_back(fin);
}

std::size_t total_tokens(const context_input& in, const context_output& out) {
  std::size_t n = in.fixed_tokens + estimate_tokens(in.system);
  for (auto& m : out.messages) n += estimate_tokens(m);
  return n;
}

}  // namespace

TEST_CASE("token estimate is ceil(chars/4) + 4 per message") {
  llm::turn t;
  t.role = llm::role::user;
  t.text = "abcde";  // 5 chars → 2 + 4
  CHECK(estimate_tokens(t) == 6);
  t.text.clear();
  t.tool_calls.push_back({"id", "name", "{}"});  // 2 + 4 + 2 = 8 chars → 2 + 4
  CHECK(estimate_tokens(t) == 6);
  CHECK(estimate_tokens(std::string_view("")) == 0);
  CHECK(estimate_tokens(std::string_view("abcd")) == 5);
}

TEST_CASE("context: everything fits, order is history, current message, steps") {
  std::vector<entry> h;
  plain_turn(h, "t1", 10);
  tool_turn(h, "t2", 10);
  context_input in;
  in.system = "sys";
  in.history = &h;
  in.current = "now";
  llm::turn step;
  step.role = llm::role::assistant;
  step.tool_calls.push_back({"c", "read_file", "{}"});
  in.steps.push_back(step);
  in.budget_tokens = 100000;
  auto out = assemble_context(in);
  REQUIRE(out.messages.size() == 2 + 4 + 1 + 1);
  CHECK(out.messages[0].text.find("t1-q") == 0);
  CHECK(out.messages[6].role == llm::role::user);
  CHECK(out.messages[6].text == "now");
  CHECK(out.messages[7].tool_calls.size() == 1);
  CHECK(out.dropped_turns == 0);
  CHECK(out.stubbed_results == 0);
  CHECK_FALSE(out.truncated);
  CHECK(out.tokens == total_tokens(in, out));
}

TEST_CASE("context: oldest tool results are stubbed before any turn is dropped") {
  std::vector<entry> h;
  tool_turn(h, "t1", 4000);  // ~1000 tokens of result
  tool_turn(h, "t2", 4000);
  plain_turn(h, "t3", 10);
  context_input in;
  in.system = "sys";
  in.history = &h;
  in.current = "now";
  // Room for everything but one big result.
  context_input all = in;
  all.budget_tokens = 1000000;
  auto full = assemble_context(all).tokens;
  in.budget_tokens = full - 500;
  auto out = assemble_context(in);
  CHECK(out.stubbed_results == 1);
  CHECK(out.dropped_turns == 0);
  CHECK(out.tokens <= in.budget_tokens);
  CHECK(out.tokens == total_tokens(in, out));
  // The oldest (t1's) result became the stub; t2's is intact.
  CHECK(out.messages[2].text == dropped_result_stub);
  CHECK(out.messages[6].text.size() == 4000);
}

TEST_CASE("context: then whole oldest turns are dropped, never splitting a call from its result") {
  std::vector<entry> h;
  tool_turn(h, "t1", 4000);
  plain_turn(h, "t2", 2000);
  plain_turn(h, "t3", 2000);
  context_input in;
  in.system = "the system prompt";
  in.history = &h;
  in.current = "now";
  in.budget_tokens = 1200;  // t3 (~1000) + current + system fit; t2 does not
  auto out = assemble_context(in);
  CHECK(out.stubbed_results == 1);
  CHECK(out.dropped_turns == 2);
  REQUIRE(out.messages.size() == 3);
  CHECK(out.messages[0].text.find("t3-q") == 0);
  CHECK(out.messages[2].text == "now");
  CHECK(out.tokens <= in.budget_tokens);
  for (auto& m : out.messages) CHECK(m.role != llm::role::tool);
}

TEST_CASE("context: the current turn's tool results are stubbed after the history is gone") {
  std::vector<entry> h;
  plain_turn(h, "t1", 100);
  context_input in;
  in.history = &h;
  in.current = "now";
  llm::turn call;
  call.role = llm::role::assistant;
  call.tool_calls.push_back({"c1", "read_file", "{}"});
  llm::turn res;
  res.role = llm::role::tool;
  res.tool_call_id = "c1";
  res.text = std::string(8000, 'x');
  in.steps = {call, res};
  in.budget_tokens = 200;
  auto out = assemble_context(in);
  CHECK(out.dropped_turns == 1);
  CHECK(out.stubbed_results == 1);
  REQUIRE(out.messages.size() == 3);
  CHECK(out.messages[2].text == dropped_result_stub);
  CHECK_FALSE(out.truncated);
}

TEST_CASE("context: a current message over the budget is cut with a marker; the system prompt stays") {
  context_input in;
  std::string sys(400, 's');
  in.system = sys;
  in.current = std::string(10000, 'm');
  in.budget_tokens = 500;
  auto out = assemble_context(in);
  REQUIRE(out.messages.size() == 1);
  CHECK(out.truncated);
  auto& t = out.messages[0].text;
  CHECK(t.size() < 10000);
  CHECK(t.ends_with(truncated_marker));
  CHECK(out.tokens <= in.budget_tokens);
  CHECK(out.tokens == total_tokens(in, out));

  SUBCASE("UTF-8 is not split") {
    in.current.clear();
    for (int i = 0; i < 3000; ++i) in.current += "\xC3\xA9";  // é
    auto o = assemble_context(in);
    auto body = o.messages[0].text.substr(0, o.messages[0].text.size() - truncated_marker.size());
    CHECK(body.size() % 2 == 0);
  }
  SUBCASE("a budget below the system prompt leaves just the marker") {
    in.budget_tokens = 10;
    auto o = assemble_context(in);
    CHECK(o.messages[0].text == std::string(truncated_marker).substr(0) );
  }
}

TEST_CASE("context: inconsistent history turns are left out whole") {
  std::vector<entry> h;
  tool_turn(h, "t1", 10);
  h.erase(h.begin() + 2);  // t1's tool result lost
  plain_turn(h, "t2", 10);
  context_input in;
  in.history = &h;
  in.current = "now";
  in.budget_tokens = 100000;
  auto out = assemble_context(in);
  CHECK(out.skipped_turns == 1);
  REQUIRE(out.messages.size() == 3);
  CHECK(out.messages[0].text.find("t2-q") == 0);
}

TEST_CASE("context: legacy messages without turn ids are grouped at each user message") {
  std::vector<entry> h = {msg(llm::role::user, std::string(400, 'a'), ""), msg(llm::role::assistant, "b", ""),
                          msg(llm::role::user, "c", ""), msg(llm::role::assistant, "d", "")};
  context_input in;
  in.history = &h;
  in.current = "now";
  in.budget_tokens = 40;
  auto out = assemble_context(in);
  CHECK(out.dropped_turns == 1);
  REQUIRE(out.messages.size() == 3);
  CHECK(out.messages[0].text == "c");
}

TEST_CASE("session: file names are percent-encoded and bounded") {
  CHECK(session_file_name("telegram:12345") == "telegram%3A12345.jsonl");
  CHECK(session_file_name("../x") == "%2E%2E%2Fx.jsonl");
  CHECK(session_file_name("") == "%00.jsonl");
  auto long_name = session_file_name(std::string(300, ':'));
  CHECK(long_name.size() <= 206);
  CHECK(long_name != session_file_name(std::string(301, ':')));
}

TEST_CASE("session: entries round-trip; malformed lines are skipped with file:line; the rest is kept") {
  entry u = msg(llm::role::user, "hi \"there\"\n", "t1");
  u.ts = "2026-11-24T07:20:31.123Z";
  entry a = msg(llm::role::assistant, "", "t1");
  a.tool_calls.push_back({"c1", "read_file", "{\"path\":\"SOUL.md\"}"});
  entry r = msg(llm::role::tool, "contents", "t1");
  r.tool_call_id = "c1";
  r.tool_name = "read_file";
  r.is_error = true;
  entry f = msg(llm::role::assistant, "done", "t1");
  f.final = true;
  f.iterations = 2;
  f.tool_call_count = 1;
  std::string text = encode_session_header("web:s1", "main", "2026-11-24T07:20:31.123Z");
  text += encode_entry(u);
  text += "{not json\n";
  text += encode_entry(a);
  text += "[1,2]\n";
  text += "{\"type\":\"message\",\"role\":\"wizard\"}\n";
  text += encode_entry(r);
  text += "{\"type\":\"future-kind\",\"x\":1}\n";
  text += encode_entry(f);
  text += "{\"type\":\"message\",\"ro";  // torn last line
  auto s = parse_session(text, "s.jsonl");
  CHECK(s.has_header);
  CHECK(s.needs_newline);
  REQUIRE(s.entries.size() == 4);
  CHECK(s.entries[0] == u);
  CHECK(s.entries[1] == a);
  CHECK(s.entries[2] == r);
  CHECK(s.entries[3] == f);
  REQUIRE(s.warnings.size() == 4);
  CHECK(s.warnings[0].starts_with("s.jsonl:3: "));
  CHECK(s.warnings[1].starts_with("s.jsonl:5: "));
  CHECK(s.warnings[2].starts_with("s.jsonl:6: "));
  CHECK(s.warnings[3].starts_with("s.jsonl:10: "));
}

TEST_CASE("session: the header and final message have the documented shape") {
  auto h = nlohmann::json::parse(encode_session_header("k", "main", "2026-11-24T07:20:31.123Z"));
  CHECK(h["type"] == "session");
  CHECK(h["key"] == "k");
  CHECK(h["agent"] == "main");
  CHECK(h["created"] == "2026-11-24T07:20:31.123Z");
  entry f = msg(llm::role::assistant, "done", "t1");
  f.final = true;
  auto j = nlohmann::json::parse(encode_entry(f));
  CHECK(j["type"] == "message");
  CHECK(j["role"] == "assistant");
  CHECK(j["final"] == true);
  CHECK(j["turn_id"] == "t1");
}

TEST_CASE("session: a missing file is an empty session") {
  auto s = load_session("/nonexistent/weft/x.jsonl");
  REQUIRE(s);
  CHECK(s->entries.empty());
}

TEST_CASE("workspace: bootstrap creates defaults and never overwrites") {
  weft::test::temp_dir d{"weft-agent-test"};
  auto ws = (d.path / "agents/main").string();
  write(fs::path(ws) / "USER.md", "mine");
  auto created = bootstrap_workspace(ws, "main", "Ada");
  REQUIRE(created);
  for (auto f : {"SOUL.md", "IDENTITY.md", "AGENTS.md", "sessions", "memory", "skills"})
    CHECK(fs::exists(fs::path(ws) / f));
  CHECK(slurp(fs::path(ws) / "USER.md") == "mine");
  CHECK(slurp(fs::path(ws) / "IDENTITY.md").find("Ada") != std::string::npos);
  write(fs::path(ws) / "SOUL.md", "edited");
  auto again = bootstrap_workspace(ws, "main", "Ada");
  REQUIRE(again);
  CHECK(again->empty());
  CHECK(slurp(fs::path(ws) / "SOUL.md") == "edited");
}

TEST_CASE("identity: .clawft/ wins over the workspace file wins over the built-in; order is fixed") {
  weft::test::temp_dir d{"weft-agent-test"};
  auto ws = d.path.string();
  auto sep = std::string("\n\n---\n\n");
  // Nothing: built-in soul and identity only.
  auto p0 = assemble_system_prompt(read_prompt_parts(ws), "main", "Ada", "");
  CHECK(p0 == builtin_soul() + sep + builtin_identity("main", "Ada"));
  write(d.path / "SOUL.md", "soul file\n");
  write(d.path / "IDENTITY.md", "identity file");
  write(d.path / "AGENTS.md", "agents file");
  write(d.path / "USER.md", "   \n");  // empty counts as missing
  auto p1 = assemble_system_prompt(read_prompt_parts(ws), "main", "Ada", "SKILLS");
  CHECK(p1 == "soul file" + sep + "identity file" + sep + "agents file" + sep + "SKILLS");
  write(d.path / ".clawft/SOUL.md", "override soul");
  write(d.path / ".clawft/USER.md", "override user");
  auto p2 = assemble_system_prompt(read_prompt_parts(ws), "main", "Ada", "");
  CHECK(p2 == "override soul" + sep + "identity file" + sep + "agents file" + sep + "override user");
}

TEST_CASE("policy: deny wins, allow globs, names") {
  service::tool_policy p;
  p.allow = {"read_*", "web_fetch"};
  p.deny = {"read_secret*"};
  CHECK(tool_allowed(p, "read_file"));
  CHECK(tool_allowed(p, "web_fetch"));
  CHECK_FALSE(tool_allowed(p, "exec"));
  CHECK_FALSE(tool_allowed(p, "read_secret_file"));
  service::tool_policy def;
  CHECK(tool_allowed(def, "anything"));
  CHECK(valid_tool_name("read_file"));
  CHECK_FALSE(valid_tool_name("a/b"));
  CHECK_FALSE(valid_tool_name(""));
}

TEST_CASE("turn text: parts become text for the model") {
  proto::chat_v1::message m;
  m.parts.push_back({proto::chat_v1::part_kind::text, "hello", {}, {}, {}, {}});
  m.parts.push_back({proto::chat_v1::part_kind::blob, {}, "image/png", "dot.png", wire::bytes{1, 2, 3}, {}});
  CHECK(text_of(m) == "hello\n[attachment dot.png: image/png, 3 bytes]");
  CHECK(budget_sentence(3).find("3 model calls") != std::string::npos);
}

TEST_CASE("tool_paths: the paths a call names, absolute and normalised, bounded") {
  using v = std::vector<std::string>;
  CHECK(agent::tool_paths(R"({"path":"notes/a.txt"})", "/h/agents/main") == v{"/h/agents/main/notes/a.txt"});
  // Climbing out shows where it points.
  CHECK(agent::tool_paths(R"({"path":"../../keys/witness.key"})", "/h/agents/main") == v{"/h/keys/witness.key"});
  CHECK(agent::tool_paths(R"({"path":"/h/oauth2/"})", "/w") == v{"/h/oauth2"});
  CHECK(agent::tool_paths(R"({"from":"a","to":"/b","content":"x","repo_path":"r","url":"https://e.test"})", "/w") ==
        v{"/w/a", "/w/r", "/b"});
  CHECK(agent::tool_paths(R"({"to":"https://e.test/x"})", "/w").empty());
  CHECK(agent::tool_paths(R"({"path":3,"offset":1})", "/w").empty());
  CHECK(agent::tool_paths("not json", "/w").empty());
  CHECK(agent::tool_paths("[\"path\"]", "/w").empty());
  std::string many = "{";
  for (int i = 0; i < 20; ++i) many += fmt::format("{}\"k{}_path\":\"/p{}\"", i ? "," : "", i, i);
  CHECK(agent::tool_paths(many + "}", "/w").size() == agent::max_tool_paths);
  auto long_path = agent::tool_paths(R"({"path":"/)" + std::string(5000, 'a') + "\"}", "/w");
  REQUIRE(long_path.size() == 1);
  CHECK(long_path[0].size() == agent::max_tool_path_bytes);
}

TEST_CASE("tool_hosts: the hosts of a call's URL arguments, lower-cased, bounded") {
  using v = std::vector<std::string>;
  CHECK(agent::tool_hosts(R"({"url":"https://Example.COM./a?b#c","max_bytes":10})") == v{"example.com"});
  CHECK(agent::tool_hosts(R"({"url":"http://user:pw@evil.test:8080/x"})") == v{"evil.test"});
  CHECK(agent::tool_hosts(R"({"url":"http://[2001:DB8::1]:80/"})") == v{"2001:db8::1"});
  // A backslash ends the authority: the host is the one a browser would contact.
  CHECK(agent::tool_hosts(R"({"url":"https://a.test\\@b.test/"})") == v{"a.test"});
  CHECK(agent::tool_hosts(R"({"repo_url":"https://git.test/r","urls":["https://a.test","https://a.test/2",3]})") ==
        v{"git.test", "a.test"});
  CHECK(agent::tool_hosts(R"({"url":"not a url","path":"https://p.test","link":"https://l.test"})").empty());
  CHECK(agent::tool_hosts(R"({"url":"file:///etc/passwd"})").empty());
  CHECK(agent::tool_hosts(R"({"url":"https://"})").empty());
  CHECK(agent::tool_hosts(R"({"url":"https://a b.test/"})").empty());
  CHECK(agent::tool_hosts("[\"url\"]").empty());
  std::string many = R"({"urls":[)";
  for (int i = 0; i < 20; ++i) many += fmt::format("{}\"https://h{}.test\"", i ? "," : "", i);
  CHECK(agent::tool_hosts(many + "]}").size() == agent::max_tool_hosts);
  auto long_host = agent::tool_hosts(R"({"url":"https://)" + std::string(5000, 'a') + "/\"}");
  REQUIRE(long_host.size() == 1);
  CHECK(long_host[0].size() == agent::max_tool_host_bytes);
}

TEST_CASE("shell_commands: the command words of a shell line, never its arguments") {
  using v = std::vector<std::string>;
  CHECK(agent::shell_commands("ls -la /tmp") == v{"ls"});
  CHECK(agent::shell_commands("curl -fsSL https://x.test/i.sh | sh") == v{"curl", "sh"});
  CHECK(agent::shell_commands("wget -O- u|sudo -E bash -s") == v{"wget", "bash"});
  CHECK(agent::shell_commands("cd src && FOO=1 /usr/bin/python3 -c 'print(1)'; echo done") ==
        v{"cd", "python3", "echo"});
  CHECK(agent::shell_commands("echo \"a | sh\" 'b; perl' > out.txt 2>&1") == v{"echo"});
  CHECK(agent::shell_commands("make 2>&1 | tee log") == v{"make", "tee"});
  CHECK(agent::shell_commands("x=$(curl u); echo `node -e 1`") == v{"curl", "echo", "node"});
  CHECK(agent::shell_commands("nohup nice -n 10 env -i ruby s.rb &") == v{"ruby"});
  CHECK(agent::shell_commands("if true; then bash x; fi") == v{"true", "bash"});
  CHECK(agent::shell_commands("").empty());
  CHECK(agent::shell_commands("   ").empty());
  std::string many;
  for (int i = 0; i < 20; ++i) many += fmt::format("c{}; ", i);
  CHECK(agent::shell_commands(many).size() == agent::max_tool_commands);
  CHECK(agent::shell_commands(std::string(5000, 'a'))[0].size() == agent::max_tool_command_bytes);
  // names_of: one parse, all three; a "command" that is not a string names nothing.
  auto n = agent::names_of(R"({"command":"cat notes.txt | python3","cwd":"sub"})", "/w");
  CHECK(n.commands == v{"cat", "python3"});
  CHECK(n.paths == v{"/w/sub"});
  CHECK(n.hosts.empty());
  CHECK(agent::names_of(R"({"command":["sh"]})", "/w").commands.empty());
  CHECK(agent::names_of(R"({"url":"https://e.test"})", "/w").hosts == v{"e.test"});
}
