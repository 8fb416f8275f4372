// Claude Code as a delegate in the real stack: weftd, bus, router, agent, llm, chan-web and
// weft-tool-delegate running the real Claude Code CLI (the pinned test peer), whose API is
// llm's Messages endpoint, which forwards to tests/fakes/fake_llm.py with the real key.
// A message matching a "flow" rule is done by Claude Code — its steps streamed into the web
// chat, the file in the git repository changed, cost and turns in the session and the
// witness chain — and no process but llm ever holds the provider key. Also: a local rule,
// an agent without exec (no Bash for Claude Code), the fallback when Claude Code is not
// there, a time limit and an API error.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include <fcntl.h>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <weft/base/fd.hh>

#include "proto/chat_v1.hh"
#include "proto/tool_v1.hh"
#include "services/tool-delegate/claude.hh"
#include "tests/integration/delegate/claude_peer.hh"
#include "tests/integration/fake_peer.hh"
#include "tests/integration/harness.hh"
#include "tests/integration/turn_client.hh"
#include "tests/integration/web_client.hh"
#include "tests/temp_dir.hh"

using namespace weft;
using namespace weft::test::web;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace fs = std::filesystem;
namespace chat = weft::proto::chat_v1;
namespace tool = weft::proto::tool_v1;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  return {std::istreambuf_iterator<char>(f), {}};
}


/// A stack with an Anthropic-style provider (the fake, which checks the key), agent main
/// whose workspace holds a git repository src/foo, chan-web, and [delegation] (or any other
/// sections) as given, where @WS@ stands for the workspace.
struct delegate_stack {
  std::string key = fmt::format("sk-weft-test-{}", std::random_device{}());
  test::fake_peer api{"fake_llm.py", {"--key", key}};
  weft::test::temp_dir dir{"weft-delegate-stack"};
  fs::path ws = dir.path / "ws", repo = ws / "src" / "foo", file = repo / "parser.c";
  std::unique_ptr<test::stack> s;

  explicit delegate_stack(const std::string& delegation, const std::string& more_agents = {}) {
    fs::create_directories(repo);
    std::ofstream(file) << "int parse(void) { return 0; }\n";
    REQUIRE(std::system(fmt::format("git -C '{0}' init -q && git -C '{0}' -c user.email=t@t -c user.name=t add -A && "
                                    "git -C '{0}' -c user.email=t@t -c user.name=t commit -qm init",
                                    repo.string())
                            .c_str()) == 0);
    // The key comes in weftd's environment, as from systemd's EnvironmentFile: weftd hands
    // it to llm alone (config::secret_vars).
    auto config = fmt::format(R"([supervisor]
restart_backoff_initial_ms = 50

[providers.anthropic]
style = "anthropic"
base_url = "{url}"
api_key = "${{WEFT_DELEGATE_TEST_KEY}}"
model = "fake-claude"

[llm]
default_provider = "anthropic"
retries = 0

[agents.main]
workspace = "{ws}"
tool_timeout_ms = 20000
{more_agents}
[channels.web]
listen = "127.0.0.1:0"

{delegation}
)",
                              fmt::arg("url", api.url()), fmt::arg("ws", ws.string()),
                              fmt::arg("more_agents", more_agents), fmt::arg("delegation", delegation));
    ::setenv("WEFT_DELEGATE_TEST_KEY", key.c_str(), 1);
    for (auto at = config.find("@WS@"); at != std::string::npos; at = config.find("@WS@"))
      config.replace(at, 4, ws.string());
    s = test::stack::start(config);
    ::unsetenv("WEFT_DELEGATE_TEST_KEY");
    REQUIRE(s);
  }
  void script(const json& steps) { REQUIRE(api.post("/_script", steps.dump()).status == 200); }
  json requests() { return json::parse(api.get("/_requests").body); }
  /// The requests Claude Code made (offering its own tools, e.g. Read), in order.
  std::vector<json> claude_requests();
};

std::string delegation_of(const std::string& rest = {}) {
  return fmt::format("[delegation]\nclaude_path = \"{}\"\n{}", test::claude_path(), rest);
}

/// The names of the tools a Messages request offered.
std::set<std::string> offered(const json& request) {
  std::set<std::string> out;
  auto& body = request["body"];
  if (body.is_object() && body.contains("tools"))
    for (auto& t : body["tools"]) out.insert(t.value("name", ""));
  return out;
}

std::vector<json> delegate_stack::claude_requests() {
  std::vector<json> out;
  for (auto& r : requests())
    if (offered(r).count("Read")) out.push_back(r);
  return out;
}

/// Pids whose environment or command line holds `needle`.
std::vector<pid_t> holders_of(const std::string& needle) {
  std::vector<pid_t> out;
  for (auto& e : fs::directory_iterator("/proc")) {
    auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto env = slurp(e.path() / "environ"), cmd = slurp(e.path() / "cmdline");
    if (env.find(needle) != std::string::npos || cmd.find(needle) != std::string::npos)
      out.push_back(static_cast<pid_t>(std::stoi(name)));
  }
  return out;
}

/// The pid of a live process whose command line holds `needle` and which is Claude Code.
pid_t claude_process(const std::string& needle) {
  for (auto pid : holders_of(needle)) {
    auto cmd = slurp(fmt::format("/proc/{}/cmdline", pid));
    if (cmd.find("claude") != std::string::npos && cmd.find("stream-json") != std::string::npos) return pid;
  }
  return -1;
}



std::string reply_text(const chat::turn_result& r) {
  return r.reply.parts.empty() ? std::string() : r.reply.parts[0].text.value_or("");
}

}  // namespace

TEST_CASE("delegation: a flow message is done by Claude Code, streamed into the web chat; the key stays in llm") {
  delegate_stack f(delegation_of("[delegation.routing_rules]\n\"^refactor\\\\b\" = \"flow\"\n"));
  auto port = wait_web_port(*f.s);
  REQUIRE(port != 0);
  auto token = web_token(*f.s);
  auto auth = bearer(token);
  auto file = f.file.string();
  f.script(json::array(
      {{{"delay_ms", 1500}, {"tool_calls", json::array({{{"name", "Read"}, {"arguments", {{"file_path", file}}}}})}},
       {{"tool_calls", json::array({{{"name", "Edit"},
                                     {"arguments", {{"file_path", file},
                                                    {"old_string", "return 0;"},
                                                    {"new_string", "return 42;"}}}}})}},
       {{"text", "I changed parse() to return 42."}}}));
  sse_stream st(port, "/api/stream?session=s1", auth[0]);
  REQUIRE(st.read_until("retry:"));
  auto task = "refactor the parser in src/foo: make parse return 42";
  REQUIRE(post_message(port, token, json{{"session", "s1"}, {"text", task}}.dump()).status == 202);

  // While Claude Code waits for its first answer: who holds the key?
  REQUIRE_MESSAGE(st.read_until("Claude Code started"), st.data());
  auto claude = claude_process(task);
  REQUIRE_MESSAGE(claude > 0, "no Claude Code process found while it runs");
  auto claude_env = slurp(fmt::format("/proc/{}/environ", claude));
  CHECK(claude_env.find("ANTHROPIC_API_KEY=weft-run-") != std::string::npos);
  CHECK(claude_env.find("ANTHROPIC_BASE_URL=http://127.0.0.1:3129") != std::string::npos);
  // weftd (given it by its environment) and llm (given it by weftd): no agent, no tool
  // process, not Claude Code.
  std::vector<pid_t> expected = {f.s->pid(), f.s->service_pid("llm")};
  std::sort(expected.begin(), expected.end());
  std::vector<pid_t> holders;
  std::string who;
  for (auto pid : holders_of(f.key))
    if (pid != f.api.pid()) {  // the fake provider is told the key
      holders.push_back(pid);
      who += fmt::format("{}: {}\n", pid, slurp(fmt::format("/proc/{}/cmdline", pid)));
    }
  std::sort(holders.begin(), holders.end());
  CAPTURE(who);
  CHECK(holders == expected);

  REQUIRE_MESSAGE(st.read_until("event: message"), st.data());
  auto& d = st.data();
  auto read = d.find("▸ Read: " + file), edit = d.find("▸ Edit: " + file), said = d.find("I changed parse()"),
       final_at = d.find("event: message");
  CAPTURE(d);
  CHECK(read != std::string::npos);
  CHECK(edit != std::string::npos);
  CHECK(read < edit);
  CHECK(edit < final_at);
  CHECK(said < final_at);
  CHECK(d.find("— Claude Code, 3 turns", final_at) != std::string::npos);
  CHECK(slurp(f.file) == "int parse(void) { return 42; }\n");

  // Every request reached the provider with the real key; Claude Code held only its token.
  auto reqs = f.claude_requests();
  REQUIRE(reqs.size() == 3);
  for (auto& r : reqs) CHECK(r["headers"]["x-api-key"] == f.key);
  // With the agent's full policy, Claude Code was given Bash.
  CHECK(offered(reqs[0]).count("Bash") == 1);

  // The session records the run's turns, cost and Claude Code session; the witness chain too.
  std::string session;
  for (auto& e : fs::directory_iterator(f.ws / "sessions")) session += slurp(e.path());
  CHECK(session.find("\"path\":\"claude-code\"") != std::string::npos);
  CHECK(session.find("\"turns\":3") != std::string::npos);
  std::string audit;
  for (auto until = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < until;) {
    auto shown = f.s->weftctl({"--json", "audit", "show", "--last", "50", "--dir", f.s->dir() + "/home/audit"});
    audit = shown.out + shown.err;
    if (audit.find("claude-code: 3 turns") != std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  CAPTURE(audit);
  CHECK(audit.find("tool/delegate/main/delegate_to_claude") != std::string::npos);
  CHECK(audit.find("claude-code: 3 turns") != std::string::npos);

  // A follow-up in the same chat continues Claude Code's session: its request carries the
  // first run's conversation.
  f.script(json::array({{{"text", "It returns 42 now."}}}));
  REQUIRE(post_message(port, token, json{{"session", "s1"}, {"text", "refactor check: what does parse return?"}}.dump())
              .status == 202);
  REQUIRE(st.read_until("It returns 42 now."));
  auto again = f.claude_requests();
  REQUIRE(again.size() == 4);
  CHECK(again.back()["body"].dump().find("I changed parse() to return 42.") != std::string::npos);

  // "/stop" mid-run: the chat is told at once, Claude Code's processes are gone, the turn
  // ends saying so, and the next message is answered.
  f.script(json::array({{{"delay_ms", 30000}, {"text", "too late"}}}));
  sse_stream st2(port, "/api/stream?session=s2", auth[0]);
  REQUIRE(st2.read_until("retry:"));
  auto slow = "refactor slowly, then be stopped";
  REQUIRE(post_message(port, token, json{{"session", "s2"}, {"text", slow}}.dump()).status == 202);
  REQUIRE_MESSAGE(st2.read_until("Claude Code started"), st2.data());
  REQUIRE(claude_process(slow) > 0);
  // Stopped while it waits for the model's answer.
  for (auto until = std::chrono::steady_clock::now() + 30s;
       f.claude_requests().size() < 5 && std::chrono::steady_clock::now() < until;)
    std::this_thread::sleep_for(20ms);
  REQUIRE(f.claude_requests().size() == 5);
  REQUIRE(post_message(port, token, json{{"session", "s2"}, {"text", "/stop"}}.dump()).status == 202);
  REQUIRE_MESSAGE(st2.read_until("Stopping: 1 running tool call was told to stop."), st2.data());
  REQUIRE_MESSAGE(st2.read_until("Claude Code could not finish this task: The Claude Code run was cancelled"),
                  st2.data());
  auto gone_by = std::chrono::steady_clock::now() + 1s;
  while (claude_process(slow) > 0 && std::chrono::steady_clock::now() < gone_by) std::this_thread::sleep_for(20ms);
  CHECK(claude_process(slow) < 0);
  f.script(json::array({{{"text", "Back again."}}}));
  REQUIRE(post_message(port, token, json{{"session", "s2"}, {"text", "are you there?"}}.dump()).status == 202);
  CHECK_MESSAGE(st2.read_until("Back again."), st2.data());
}

TEST_CASE("delegation: local rules, no rule, an agent without exec gets no Bash, the status the CLI reads") {
  delegate_stack f(delegation_of("[delegation.routing_rules]\n\"^refactor\\\\b\" = \"flow\"\n\"^quick\\\\b\" = \"local\"\n"),
                   "[agents.ro]\n[agents.ro.tools]\ndeny = [\"exec\"]\n");
  auto b = f.s->bus_client();
  // No rule: the model may choose delegate_to_claude; a local rule keeps it away.
  f.script(json::array({{{"text", "one"}}, {{"text", "two"}}}));
  std::vector<std::string> deltas;
  CHECK(reply_text(test::streamed_turn(*b, "main", test::web_turn("t1", "c1", "what is 2+2?"), deltas)) == "one");
  CHECK(reply_text(test::streamed_turn(*b, "main", test::web_turn("t2", "c1", "quick: what is 3+3?"), deltas)) == "two");
  auto reqs = f.requests();
  REQUIRE(reqs.size() == 2);
  CHECK(offered(reqs[0]).count("delegate_to_claude") == 1);
  CHECK(offered(reqs[1]).count("delegate_to_claude") == 0);

  // Agent ro may not run commands: its delegated run is not given Bash.
  f.script(json::array({{{"text", "Nothing to run."}}}));
  deltas.clear();
  auto r = test::streamed_turn(*b, "ro", test::web_turn("t3", "c2", "refactor: run the tests"), deltas);
  CHECK(reply_text(r).find("Nothing to run.") == 0);
  auto cc = f.claude_requests();
  REQUIRE(cc.size() == 1);
  auto tools = offered(cc[0]);
  CHECK(tools.count("Bash") == 0);
  CHECK(tools.count("Edit") == 1);

  // What weftctl delegate status shows, from the process itself.
  auto st = f.s->weftctl({"delegate", "status", "--agent", "ro"});
  CAPTURE(st.out);
  CAPTURE(st.err);
  CHECK(st.exit_code == 0);
  CHECK(st.out.find("version: 2.1.197") != std::string::npos);
  CHECK(st.out.find("auth:    weft") != std::string::npos);
  CHECK(st.out.find("Bash") != std::string::npos);  // among the disallowed
}

TEST_CASE("delegation: Claude Code missing falls back to the model, saying so; a time limit and an API error are "
          "clear answers; the agent keeps serving") {
  SUBCASE("missing: the model answers, the reply says which path and why") {
    delegate_stack f("[delegation]\nclaude_path = \"/nonexistent/claude\"\n[delegation.routing_rules]\n"
                     "\"^refactor\\\\b\" = \"flow\"\n");
    f.script(json::array({{{"text", "I looked at it myself."}}}));
    auto b = f.s->bus_client();
    std::vector<std::string> deltas;
    auto text = reply_text(test::streamed_turn(*b, "main", test::web_turn("m1", "c1", "refactor the parser"), deltas));
    CHECK(text ==
          "[Claude Code was not available (Claude Code is configured at '/nonexistent/claude', which is not an "
          "executable file), so the model answered directly.]\n\nI looked at it myself.");
    // The model was not offered the tool that just failed.
    auto reqs = f.requests();
    REQUIRE(reqs.size() == 1);
    CHECK(offered(reqs[0]).count("delegate_to_claude") == 0);
  }
  SUBCASE("not installed at all: no delegate process; the model answers, the reply says why") {
    const char* old_path = std::getenv("PATH");
    std::string saved = old_path ? old_path : "";
    ::setenv("PATH", "/usr/bin:/bin", 1);  // weftd's PATH, without the test peers
    delegate_stack f("[delegation.routing_rules]\n\"^refactor\\\\b\" = \"flow\"\n");
    ::setenv("PATH", saved.c_str(), 1);
    f.script(json::array({{{"text", "Done by hand."}}}));
    auto b = f.s->bus_client();
    std::vector<std::string> deltas;
    auto text = reply_text(test::streamed_turn(*b, "main", test::web_turn("n1", "c1", "refactor the parser"), deltas));
    CHECK(text ==
          "[Claude Code was not used (Claude Code is not installed: weftd found no `claude` on its PATH (install it "
          "and run `weftctl reload`, or set [delegation] claude_path)), so the model answered directly.]\n\n"
          "Done by hand.");
    CHECK(f.s->log().find("tool-delegate-main") == std::string::npos);  // no such process was started
  }
  SUBCASE("a time limit stops the whole run; an API error; then the next message is answered") {
    delegate_stack f(delegation_of("timeout_ms = 4000\n[delegation.routing_rules]\n\"^refactor\\\\b\" = \"flow\"\n"));
    f.script(json::array({{{"delay_ms", 30000}, {"text", "too late"}}}));
    auto b = f.s->bus_client();
    std::vector<std::string> deltas;
    auto task = "refactor slowly please";
    auto text = reply_text(test::streamed_turn(*b, "main", test::web_turn("s1", "c1", task), deltas));
    CHECK(text.rfind("Claude Code could not finish this task: Claude Code did not finish within 4 s; it and everything "
                     "it started were stopped",
                     0) == 0);
    auto gone_by = std::chrono::steady_clock::now() + 1s;
    while (claude_process(task) > 0 && std::chrono::steady_clock::now() < gone_by) std::this_thread::sleep_for(20ms);
    CHECK(claude_process(task) < 0);

    f.script(json::array({{{"status", 400}, {"message", "prompt is too long"}}}));
    text = reply_text(test::streamed_turn(*b, "main", test::web_turn("s2", "c2", "refactor everything"), deltas));
    CAPTURE(text);
    CHECK(text.rfind("Claude Code could not finish this task: Claude Code failed", 0) == 0);
    CHECK(text.find("Prompt is too long") != std::string::npos);

    f.script(json::array({{{"text", "still here"}}}));
    CHECK(reply_text(test::streamed_turn(*b, "main", test::web_turn("s3", "c3", "hello"), deltas)) == "still here");
  }
}

TEST_CASE("delegation, the other way: Claude Code's tools in a weft agent (claude mcp serve); a weft tool called by "
          "claude -p through weft's MCP server, set up with the command weftctl mcp info prints") {
  auto claude = test::claude_path();
  delegate_stack f(fmt::format("[mcp]\nlisten = \"127.0.0.1:0\"\n\n"
                               "[tools.mcp_servers.claude-code]\ncommand = \"{}\"\nargs = [\"mcp\", \"serve\"]\n"
                               "cwd = \"@WS@\"\n",
                               claude));
  auto file = f.file.string();
  auto b = f.s->bus_client();
  // tool-mcp lists Claude Code's tools once `claude mcp serve` is up.
  std::vector<std::string> names;
  for (auto until = std::chrono::steady_clock::now() + 60s; std::chrono::steady_clock::now() < until;) {
    auto r = b->call("tool/mcp", tool::list_tools{}, {.timeout = 5s});
    names.clear();
    if (r)
      if (auto t = r->as<tool::tools>())
        for (auto& x : t->tools) names.push_back(x.name);
    if (std::find(names.begin(), names.end(), "claude-code__Read") != names.end()) break;
    std::this_thread::sleep_for(100ms);
  }
  REQUIRE_MESSAGE(std::find(names.begin(), names.end(), "claude-code__Read") != names.end(),
                  fmt::format("{}", fmt::join(names, ", ")));

  // A weft agent's turn uses Claude Code's Read, named claude-code__Read, as any MCP tool.
  f.script(json::array({{{"tool_calls", json::array({{{"name", "claude-code__Read"}, {"arguments", {{"file_path", file}}}}})}},
                        {{"text", "It returns 0."}}}));
  std::vector<std::string> deltas;
  auto r = test::streamed_turn(*b, "main", test::web_turn("b1", "c1", "what does parse return?"), deltas);
  CHECK(reply_text(r) == "It returns 0.");
  CHECK(r.tool_calls == 1);
  auto reqs = f.requests();
  REQUIRE(reqs.size() == 2);
  CHECK(offered(reqs[0]).count("claude-code__Read") == 1);
  CHECK(reqs[1]["body"].dump().find("int parse(void) { return 0; }") != std::string::npos);

  // The other way: Claude Code is told of weft's MCP server by the line weftctl mcp info
  // prints, and calls weft's read_file through it.
  auto info = f.s->weftctl({"mcp", "info"});
  REQUIRE(info.exit_code == 0);
  auto at = info.out.find("claude mcp add --transport http weft ");
  REQUIRE_MESSAGE(at != std::string::npos, info.out);
  auto line = info.out.substr(at, info.out.find('\n', at) - at);
  auto home = f.dir.path / "claude-home";
  fs::create_directories(home);
  auto bin_dir = fs::path(claude).parent_path().string();
  auto added = test::run({"/bin/sh", "-c",
                          fmt::format("cd '{}' && HOME='{}' PATH='{}':/usr/bin:/bin DISABLE_AUTOUPDATER=1 {}",
                                      f.repo.string(), home.string(), bin_dir, line)});
  REQUIRE_MESSAGE(added.exit_code == 0, (added.out + added.err));
  f.script(json::array({{{"tool_calls", json::array({{{"name", "mcp__weft__read_file"},
                                                      {"arguments", {{"path", "src/foo/parser.c"}}}}})}},
                        {{"text", "weft says it returns 0."}}}));
  delegate::claude_request req;
  req.exec = claude;
  req.task = "ask weft what parse returns";
  unique_fd repo_fd(::open(f.repo.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  req.dir_fd = repo_fd.get();
  req.env = delegate::claude_environment(home.string(), {"ANTHROPIC_BASE_URL=" + f.api.url(), "ANTHROPIC_API_KEY=" + f.key});
  req.allowed_tools = {"mcp__weft__read_file"};
  req.max_turns = 3;
  req.timeout = 120s;
  auto ran = delegate::run_claude(req, -1, [](const delegate::claude_step&) {});
  REQUIRE_MESSAGE(ran, (ran ? "" : ran.err().message));
  CHECK(ran->text == "weft says it returns 0.");
  CHECK_FALSE(ran->is_error);
  auto all = f.requests();
  CHECK(all.back()["body"].dump().find("int parse(void) { return 0; }") != std::string::npos);
}

TEST_CASE("delegation on Telegram: a progress message edited as Claude Code works, then the answer") {
  const std::string bot = "4242:delegate-test";
  test::fake_peer tg("fake_telegram.py", {"--token", bot});
  delegate_stack f(delegation_of("[delegation.routing_rules]\n\"^refactor\\\\b\" = \"flow\"\n") +
                   fmt::format("\n[channels.telegram]\ntoken = \"{}\"\napi_base = \"{}\"\npoll_timeout_s = 1\n"
                               "progress_after_ms = 300\n",
                               bot, tg.url()));
  auto file = f.file.string();
  // Slow enough at each step for the progress message to be sent, then edited.
  f.script(json::array(
      {{{"delay_ms", 800}, {"tool_calls", json::array({{{"name", "Read"}, {"arguments", {{"file_path", file}}}}})}},
       {{"delay_ms", 1500},
        {"tool_calls", json::array({{{"name", "Edit"},
                                     {"arguments", {{"file_path", file},
                                                    {"old_string", "return 0;"},
                                                    {"new_string", "return 7;"}}}}})}},
       {{"delay_ms", 1500}, {"text", "parse() returns 7 now."}}}));
  REQUIRE(tg.post("/_inject", json{{"user_id", 42}, {"chat_id", 42}, {"text", "refactor: make parse return 7"}}.dump())
              .status == 200);
  json sent;
  auto answered = [&] {
    sent = json::parse(tg.get("/_sent").body);
    for (auto& m : sent)
      if (m.value("text", "").find("— Claude Code") != std::string::npos) return true;
    return false;
  };
  for (auto until = std::chrono::steady_clock::now() + 120s; !answered() && std::chrono::steady_clock::now() < until;)
    std::this_thread::sleep_for(100ms);
  CAPTURE(sent.dump(1));
  REQUIRE(answered());
  CHECK(slurp(f.file) == "int parse(void) { return 7; }\n");
  // The progress message came first and was edited as the steps came; the answer is a
  // message of its own, threaded to the question.
  REQUIRE(sent.size() == 2);
  auto& progress = sent[0];
  auto& answer = sent[1];
  CHECK(progress["text"].get<std::string>().rfind("⏳ working…\n", 0) == 0);
  CHECK(progress.value("edits", 0) >= 1);
  CHECK(progress["text"].get<std::string>().find("▸ Edit: " + file) != std::string::npos);
  auto versions = progress.value("versions", json::array());
  REQUIRE_FALSE(versions.empty());
  CHECK(versions.front().get<std::string>().find("▸ Edit") == std::string::npos);  // an earlier state, without it
  CHECK(answer["text"].get<std::string>().rfind("parse() returns 7 now.", 0) == 0);
  CHECK(answer["reply_to"] != nullptr);
  CHECK(progress["t"].get<double>() < answer["t"].get<double>());
}

TEST_CASE("delegation with Claude Code's own login: its config directory, no credential from weft; not logged in is "
          "a clear answer") {
  delegate_stack f(delegation_of("auth = \"login\"\n[delegation.routing_rules]\n\"^refactor\\\\b\" = \"flow\"\n"));
  auto st = f.s->weftctl({"delegate", "status"});
  CAPTURE(st.out);
  CHECK(st.out.find("auth:    login") != std::string::npos);
  // network = "none" (the default): no way to Anthropic, and weftd's log says what to set.
  CHECK(st.out.find("network: none") != std::string::npos);
  auto b = f.s->bus_client();
  std::vector<std::string> deltas;
  auto text = reply_text(test::streamed_turn(*b, "main", test::web_turn("l1", "c1", "refactor the parser"), deltas));
  CAPTURE(text);
  CHECK(text.rfind("Claude Code could not finish this task: Claude Code failed", 0) == 0);
  CHECK(text.find("Not logged in") != std::string::npos);
  CHECK(f.claude_requests().empty());  // nothing reached an API: there was no credential to send
  CHECK(f.s->log().find("Claude Code cannot reach Anthropic; set [agents.main.tools] network = \"public\"") !=
        std::string::npos);
}

TEST_CASE("delegation: Claude Code and its commands may open no UNIX socket (the bus, weftd's control socket, "
          "another agent's sockets)") {
  delegate_stack f(delegation_of("[delegation.routing_rules]\n\"^refactor\\\\b\" = \"flow\"\n"));
  auto probe = fmt::format(
      "/usr/bin/python3 -c \"import socket\ns = socket.socket(socket.AF_INET)\nprint('inet ok')\n"
      "try:\n  u = socket.socket(socket.AF_UNIX)\n  u.connect('{}')\n  print('unix connected')\n"
      "except OSError as e:\n  print('unix refused:', e.strerror)\"",
      f.s->runtime() + "/bus");
  f.script(json::array(
      {{{"tool_calls", json::array({{{"name", "Bash"}, {"arguments", {{"command", probe}, {"description", "probe"}}}}})}},
       {{"text", "probed"}}}));
  auto b = f.s->bus_client();
  std::vector<std::string> deltas;
  auto text = reply_text(test::streamed_turn(*b, "main", test::web_turn("u1", "c1", "refactor: probe sockets"), deltas));
  CHECK(text.rfind("probed", 0) == 0);
  auto reqs = f.claude_requests();
  REQUIRE(reqs.size() == 2);
  // What the command printed: the tool_result Claude Code sent back to the model.
  std::string printed;
  for (auto& m : reqs[1]["body"]["messages"])
    if (m.value("role", "") == "user" && m["content"].is_array())
      for (auto& c : m["content"])
        if (c.value("type", "") == "tool_result") printed += c["content"].dump();
  CAPTURE(printed);
  CHECK(printed.find("inet ok") != std::string::npos);
  CHECK(printed.find("unix refused: Operation not permitted") != std::string::npos);
  CHECK(printed.find("unix connected") == std::string::npos);
}

TEST_CASE("delegation with a permission prompt: Claude Code asks on the chat before Bash; /allow runs the step, "
          "/deny and no answer refuse it") {
  delegate_stack f(delegation_of("ask = [\"Bash\"]\nask_timeout_ms = 3000\n"
                                 "[delegation.routing_rules]\n\"^refactor\\\\b\" = \"flow\"\n"));
  auto port = wait_web_port(*f.s);
  REQUIRE(port != 0);
  auto token = web_token(*f.s);
  auto auth = bearer(token);
  auto touch = [](const std::string& name) {
    return json::array(
        {{{"tool_calls",
           json::array({{{"name", "Bash"}, {"arguments", {{"command", "touch " + name}, {"description", "touch"}}}}})}},
         {{"text", "finished with " + name}}});
  };
  /// The tool_result Claude Code sent back after its Bash step, from the request that followed it.
  auto bash_result = [&] {
    std::string out;
    auto reqs = f.claude_requests();
    for (auto& m : reqs.back()["body"]["messages"])
      if (m.value("role", "") == "user" && m["content"].is_array())
        for (auto& c : m["content"])
          if (c.value("type", "") == "tool_result") out = c["content"].dump();
    return out;
  };
  struct {
    std::string session, file, answer, result;
    bool made;
  } cases[] = {{"p1", "allowed-1", "/allow", "", true},
               {"p2", "denied-1", "/deny", "Not allowed: denied by the person on the chat", false},
               {"p3", "late-1", "", "Not allowed: no answer within 3 s", false}};
  for (auto& c : cases) {
    CAPTURE(c.session);
    f.script(touch(c.file));
    sse_stream st(port, "/api/stream?session=" + c.session, auth[0]);
    REQUIRE(st.read_until("retry:"));
    REQUIRE(post_message(port, token, json{{"session", c.session}, {"text", "refactor: touch " + c.file}}.dump())
                .status == 202);
    REQUIRE_MESSAGE(st.read_until("❓ Claude Code asks to use Bash: touch " + c.file), st.data());
    if (!c.answer.empty()) {
      REQUIRE(post_message(port, token, json{{"session", c.session}, {"text", c.answer}}.dump()).status == 202);
      REQUIRE_MESSAGE(st.read_until(fmt::format("Passed on: {}.", c.answer.substr(1))), st.data());
    }
    REQUIRE_MESSAGE(st.read_until("finished with " + c.file), st.data());
    REQUIRE_MESSAGE(st.read_until("— Claude Code"), st.data());
    CHECK(fs::exists(f.ws / c.file) == c.made);
    auto r = bash_result();
    CAPTURE(r);
    if (!c.result.empty()) CHECK(r.find(c.result) != std::string::npos);
  }
  // Nothing is asked when nothing runs.
  auto idle = post_message(port, token, json{{"session", "p1"}, {"text", "/allow"}}.dump());
  CHECK(idle.status == 202);
}
