// Integration: the tool processes in a real stack (weftd, bus, weft-tool-fs, weft-tool-shell,
// weft-tool-web), called over the bus like an agent would: ListTools with real schemas;
// each tool works; paths that escape the workspace are Denied; exec's time limit kills the
// process group; output caps; a running command does not block the process's bus loop;
// web_fetch against a local site works with WEFT_WEB_ALLOW_PRIVATE=1 and is Denied without;
// web_search against fake SearXNG and Brave APIs (tests/fakes/fake_search.py).
#include <fcntl.h>
#include <sys/stat.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <tuple>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <weft/base/command.hh>

#include <weft/sandbox/sandbox.hh>

#include "proto/tool_v1.hh"
#include "tests/integration/fake_peer.hh"
#include "tests/integration/harness.hh"
#include "tests/integration/turn_client.hh"
#include "tests/temp_dir.hh"

using namespace weft;
using namespace std::chrono_literals;
namespace tool = weft::proto::tool_v1;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string tools_config(const std::string& ws) {
  return fmt::format(
      "[services.tool-fs-a]\nexec = \"{fs}\"\naddress = \"tool/fs/a\"\n"
      "env = {{ WEFT_AGENT = \"a\", WEFT_WORKSPACE = \"{ws}\" }}\n\n"
      "[services.tool-shell-a]\nexec = \"{shell}\"\naddress = \"tool/shell/a\"\n"
      "env = {{ WEFT_AGENT = \"a\", WEFT_WORKSPACE = \"{ws}\" }}\n\n"
      "[services.tool-web]\nexec = \"{web}\"\naddress = \"tool/web\"\n\n"
      "[services.tool-web-open]\nexec = \"{web}\"\naddress = \"tool/webopen\"\n"
      "env = {{ WEFT_WEB_ALLOW_PRIVATE = \"1\" }}\n",
      fmt::arg("ws", ws), fmt::arg("fs", test::build_path("services/tool-fs/weft-tool-fs")),
      fmt::arg("shell", test::build_path("services/tool-shell/weft-tool-shell")),
      fmt::arg("web", test::build_path("services/tool-web/weft-tool-web")));
}

ipc::call_options once(std::chrono::milliseconds t = 20s) {
  ipc::call_options o;
  o.timeout = t;
  o.attempt_timeout = t;
  o.retry = false;
  return o;
}

/// Calls <process>/<name> with JSON arguments; the Result or the error reply.
result<tool::result> call(ipc::bus_client& b, const std::string& process, const std::string& name, const json& args) {
  auto r = b.call(process + "/" + name, tool::call{name, args.dump(), "call-1", 0}, once());
  if (!r) return r.take_error();
  return r->as<tool::result>();
}

/// A config of agents (each `{id, workspace, families}`) that runs only their tool
/// processes: llm, the agents and the router are replaced by disabled services.
std::string tools_only(const std::vector<std::tuple<std::string, std::string, std::string>>& agents) {
  std::string out;
  for (auto& [id, ws, families] : agents)
    out += fmt::format("[agents.{0}]\nworkspace = \"{1}\"\n[agents.{0}.tools]\nfamilies = [{2}]\n\n"
                       "[services.agent-{0}]\nexec = \"/bin/true\"\naddress = \"agent/{0}\"\nenabled = false\n\n",
                       id, ws, families);
  return out + "[services.llm]\nexec = \"/bin/true\"\nenabled = false\n\n"
               "[services.router]\nexec = \"/bin/true\"\nenabled = false\n";
}

bool denied(const result<tool::result>& r) { return !r && tool::is(r.err(), tool::error_code::denied); }

std::string slurp(const std::string& p) {
  std::stringstream s;
  s << std::ifstream(p).rdbuf();
  return s.str();
}

/// Waits (on a pidfd, up to 10 s) until the process with this pid has ended; true if it has.
bool dead(pid_t pid) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return errno == ESRCH;
  pollfd p{fd, POLLIN, 0};
  bool ended = ::poll(&p, 1, 10000) == 1;
  ::close(fd);
  return ended;
}

}  // namespace

TEST_CASE("tools over the bus: fs, shell and web") {
  weft::test::temp_dir d{"weft-tools-it"};
  auto ws = d.path.string() + "/ws";
  fs::create_directories(ws);
  std::ofstream(d.path.string() + "/secret.txt") << "secret";
  fs::create_symlink(d.path.string() + "/secret.txt", ws + "/out-link");

  auto s = test::stack::start(tools_config(ws));
  REQUIRE(s);
  // weftd is READY only once every service reported READY, and a tool does so only once serving.
  auto b = s->bus_client();

  SUBCASE("ListTools answers real JSON Schemas") {
    std::map<std::string, std::vector<std::string>> expect = {
        {"tool/fs/a", {"edit_file", "list_dir", "read_file", "write_file"}},
        {"tool/shell/a", {"exec"}},
        {"tool/web", {"web_fetch"}}};
    for (auto& [addr, names] : expect) {
      auto r = b->call(addr, tool::list_tools{}, once());
      REQUIRE_MESSAGE(bool(r), (r ? "" : r.err().to_string()));
      auto t = r->as<tool::tools>();
      REQUIRE(t);
      std::vector<std::string> got;
      for (auto& spec : t->tools) {
        got.push_back(spec.name);
        auto schema = json::parse(spec.input_schema);
        CHECK(schema["type"] == "object");
        CHECK(schema["properties"].is_object());
        CHECK_FALSE(spec.description.empty());
      }
      CHECK(got == names);
    }
  }

  SUBCASE("fs: write, read, edit, list") {
    auto w = call(*b, "tool/fs/a", "write_file", {{"path", "notes/a.txt"}, {"content", "alpha beta\n"}});
    REQUIRE_MESSAGE(bool(w), (w ? "" : w.err().to_string()));
    CHECK_FALSE(w->is_error);
    CHECK(slurp(ws + "/notes/a.txt") == "alpha beta\n");
    auto e = call(*b, "tool/fs/a", "edit_file", {{"path", "notes/a.txt"}, {"old_text", "beta"}, {"new_text", "gamma"}});
    REQUIRE(e);
    CHECK_FALSE(e->is_error);
    auto r = call(*b, "tool/fs/a", "read_file", {{"path", ws + "/notes/a.txt"}});
    REQUIRE(r);
    CHECK(r->content == "alpha gamma\n");
    auto l = call(*b, "tool/fs/a", "list_dir", {{"path", "notes"}});
    REQUIRE(l);
    CHECK(l->content == "file  a.txt  (12 bytes)\n");
    auto missing = call(*b, "tool/fs/a", "read_file", {{"path", "nope.txt"}});
    REQUIRE(missing);
    CHECK(missing->is_error);
  }

  SUBCASE("fs: escapes are Denied") {
    for (std::string p : std::vector<std::string>{"../secret.txt", d.path.string() + "/secret.txt", "out-link", "notes/../../secret.txt"}) {
      CAPTURE(p);
      auto r = call(*b, "tool/fs/a", "read_file", {{"path", p}});
      REQUIRE(denied(r));
      CHECK(r.err().message == fmt::format("Failed to read '{}': outside the workspace of agent 'a'", p));
    }
    CHECK(denied(call(*b, "tool/fs/a", "write_file", {{"path", "../evil.txt"}, {"content", "x"}})));
    CHECK(denied(call(*b, "tool/fs/a", "list_dir", {{"path", "/"}})));
    CHECK_FALSE(fs::exists(d.path.string() + "/evil.txt"));
  }

  SUBCASE("protocol errors: wrong tool in the address, unknown tool, bad arguments") {
    auto r = b->call("tool/fs/a/write_file", tool::call{"read_file", R"({"path":"x"})", "", 0}, once());
    REQUIRE_FALSE(r);
    CHECK(tool::is(r.err(), tool::error_code::bad_arguments));
    r = b->call("tool/fs/a/delete_everything", tool::call{"delete_everything", "{}", "", 0}, once());
    REQUIRE_FALSE(r);
    CHECK(tool::is(r.err(), tool::error_code::no_such_tool));
    r = b->call("tool/fs/a/read_file", tool::call{"read_file", "not json", "", 0}, once());
    REQUIRE_FALSE(r);
    CHECK(tool::is(r.err(), tool::error_code::bad_arguments));
    auto m = call(*b, "tool/fs/a", "read_file", {{"offset", 3}});
    REQUIRE_FALSE(m);
    CHECK(tool::is(m.err(), tool::error_code::bad_arguments));
    CHECK(m.err().message.find("'path'") != std::string::npos);
  }

  SUBCASE("shell: exec, exit status, cwd escape") {
    auto r = call(*b, "tool/shell/a", "exec", {{"command", "echo hello; echo err >&2; exit 4"}});
    REQUIRE_MESSAGE(bool(r), (r ? "" : r.err().to_string()));
    CHECK(r->is_error);
    CHECK(r->content == "hello\nerr\n[exit status 4]");
    CHECK(denied(call(*b, "tool/shell/a", "exec", {{"command", "ls"}, {"cwd", "../"}})));
    // [services.*] cannot ask for a sandbox: this one is not confined (compare the [agents] case).
    auto out = call(*b, "tool/shell/a", "exec", {{"command", "cat " + d.path.string() + "/secret.txt"}});
    REQUIRE(out);
    CHECK(out->content == "secret\n[exit status 0]");
    CHECK(denied(call(*b, "tool/shell/a", "exec", {{"command", "ls"}, {"cwd", "/etc"}})));
  }

  SUBCASE("shell: the time limit kills the whole process group") {
    auto r = call(*b, "tool/shell/a", "exec",
                  {{"command", "sh -c 'trap \"\" TERM; exec sleep 60' & echo $! > bg.pid; sleep 60"}, {"timeout_ms", 300}});
    REQUIRE_MESSAGE(bool(r), (r ? "" : r.err().to_string()));
    CHECK(r->is_error);
    CHECK(r->content.find("[timed out after 300 ms") != std::string::npos);
    pid_t bg = 0;
    std::ifstream(ws + "/bg.pid") >> bg;
    REQUIRE(bg > 0);
    CHECK(dead(bg));
  }

  SUBCASE("shell: output is capped at 64 KiB") {
    auto r = call(*b, "tool/shell/a", "exec", {{"command", "head -c 200000 /dev/zero | tr '\\0' y"}});
    REQUIRE(r);
    CHECK(r->truncated);
    CHECK(r->content.substr(0, 65536) == std::string(65536, 'y'));
    CHECK(r->content.find("[… output cut at 65536 bytes]") != std::string::npos);
  }

  SUBCASE("shell: a running command does not block the bus loop") {
    REQUIRE(::mkfifo((ws + "/gate").c_str(), 0600) == 0);
    auto slow = b->send_request("tool/shell/a/exec",
                                tool::call{"exec", json{{"command", "read x < gate; echo got $x"}}.dump(), "slow", 0});
    REQUIRE(slow);
    // Answered while the first command is still waiting on the fifo.
    auto quick = call(*b, "tool/shell/a", "exec", {{"command", "echo quick"}});
    REQUIRE(quick);
    CHECK(quick->content == "quick\n[exit status 0]");
    auto ping = call(*b, "tool/fs/a", "list_dir", json::object());
    REQUIRE(ping);
    {
      std::ofstream gate(ws + "/gate");  // blocks until the command opened its end
      gate << "go\n";
    }
    std::optional<ipc::message> answer;
    while (!answer) {
      auto m = b->next(20s);
      REQUIRE(m);
      if (m->env.id == *slow) answer = std::move(m);
    }
    auto res = answer->as<tool::result>();
    REQUIRE(res);
    CHECK(res->content == "got go\n[exit status 0]");
  }

  SUBCASE("shell: TERM drains: a running command finishes and is answered") {
    REQUIRE(::mkfifo((ws + "/gate").c_str(), 0600) == 0);
    auto ctl = s->control();
    REQUIRE(ctl->request(proto::supervisor_v1::watch{}));
    auto slow = b->send_request("tool/shell/a/exec",
                                tool::call{"exec", json{{"command", "read x < gate; echo got $x"}}.dump(), "slow", 0});
    REQUIRE(slow);
    REQUIRE(s->wait_delivered(*b, "tool/shell/a", 1, 10s));
    std::thread stopper([&] { s->weftctl({"stop", "tool-shell-a"}); });
    // Once the tool said STOPPING it takes nothing new, but the command in hand goes on.
    bool stopping = s->wait_state(*ctl, "tool-shell-a", proto::supervisor_v1::state::stopping, 0, 10s);
    // O_RDWR never blocks on a fifo and keeps the line buffered until the command reads it,
    // whether or not it has opened its end yet; closed only once the answer is in.
    int gate = ::open((ws + "/gate").c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(gate >= 0);
    CHECK(::write(gate, "late\n", 5) == 5);
    std::optional<ipc::message> answer;
    while (!answer) {
      auto m = b->next(20s);
      if (!m) break;
      if (m->env.id == *slow) answer = std::move(m);
    }
    stopper.join();
    ::close(gate);
    CHECK(stopping);
    REQUIRE(answer);
    auto res = answer->as<tool::result>();
    REQUIRE(res);
    CHECK(res->content == "got late\n[exit status 0]");
  }

  SUBCASE("web: fetch from a local site with the override, Denied without") {
    test::fake_peer site("../integration/tools/web_site.py");
    auto url = site.url();
    auto r = call(*b, "tool/webopen", "web_fetch", {{"url", url + "/page.html"}});
    REQUIRE_MESSAGE(bool(r), (r ? "" : r.err().to_string()));
    CHECK_FALSE(r->is_error);
    CHECK(r->content.find("Status: 200\nContent-Type: text/html; charset=utf-8\n") == 0);
    CHECK(r->content.find("Hello & welcome") != std::string::npos);
    CHECK(r->content.find("Fetched through the bus.") != std::string::npos);
    CHECK(r->content.find("alert") == std::string::npos);

    r = call(*b, "tool/webopen", "web_fetch", {{"url", url + "/redirect"}});
    REQUIRE_MESSAGE(bool(r), (r ? "" : r.err().to_string()));
    CHECK(r->content.find("URL: " + url + "/page.html") != std::string::npos);

    r = call(*b, "tool/webopen", "web_fetch", {{"url", url + "/big"}});
    REQUIRE_MESSAGE(bool(r), (r ? "" : r.err().to_string()));
    CHECK(r->truncated);
    CHECK(r->content.find("[… body cut at 1048576 bytes]") != std::string::npos);
    CHECK(r->content.find("[… text cut at 262144 bytes]") != std::string::npos);
    r = call(*b, "tool/webopen", "web_fetch", {{"url", url + "/big"}, {"max_bytes", 100}});
    REQUIRE(r);
    CHECK(r->truncated);

    r = call(*b, "tool/webopen", "web_fetch", {{"url", url + "/loop"}});
    REQUIRE(r);
    CHECK(r->is_error);
    CHECK(r->content.find("redirect") != std::string::npos);

    r = call(*b, "tool/webopen", "web_fetch", {{"url", url + "/missing"}});
    REQUIRE(r);
    CHECK(r->is_error);
    CHECK(r->content.find("Status: 404") == 0);

    auto no = call(*b, "tool/web", "web_fetch", {{"url", url + "/page.html"}});
    REQUIRE(denied(no));
    CHECK(no.err().message.find("127.0.0.1 is loopback") != std::string::npos);
    CHECK(denied(call(*b, "tool/web", "web_fetch", {{"url", "http://localhost:" + std::to_string(site.port()) + "/"}})));
    CHECK(denied(call(*b, "tool/webopen", "web_fetch", {{"url", "file:///etc/passwd"}})));
  }
}

namespace {

/// web_search over the bus; the Result, or the error reply.
result<tool::result> search(ipc::bus_client& b, const std::string& process, const json& args) {
  return call(b, process, "web_search", args);
}

/// The API requests a fake_search.py received.
json search_requests(test::fake_peer& f) { return json::parse(f.get("/_requests").body); }

}  // namespace

TEST_CASE("web_search against a fake Brave: results capped, provider errors typed, the key only in tool-web") {
  const std::string key = "brave-key-5b1e9";
  test::fake_peer brave("fake_search.py", {"--key", key});
  weft::test::temp_dir d{"weft-search-it"};
  auto ws = d.path.string() + "/ws";
  fs::create_directories(ws);
  // Agent a's tool processes as weftd derives them (tool-fs-a, tool-web); the provider on
  // loopback is allowed by the config, as a self-hosted one would be.
  auto config = tools_only({{"a", ws, "\"fs\", \"web\""}}) +
                fmt::format("[tools.web_search]\nprovider = \"brave\"\nbase_url = \"{}\"\n"
                            "api_key = \"${{WEFT_TEST_SEARCH_KEY}}\"\nmax_results = 4\ntimeout_ms = 1000\n"
                            "allow_private = true\n",
                            brave.url());
  ::setenv("WEFT_TEST_SEARCH_KEY", key.c_str(), 1);
  auto s = test::stack::start(config);
  ::unsetenv("WEFT_TEST_SEARCH_KEY");
  REQUIRE(s);
  auto b = s->bus_client();

  auto list = b->call("tool/web", tool::list_tools{}, once());
  REQUIRE_MESSAGE(bool(list), (list ? "" : list.err().to_string()));
  auto t = list->as<tool::tools>();
  REQUIRE(t);
  REQUIRE(t->tools.size() == 2);
  CHECK(t->tools[1].name == "web_search");
  CHECK(json::parse(t->tools[1].input_schema)["properties"]["count"]["maximum"] == 4);

  // The fake has 30 results; max_results (4) caps them, and the request asked for 4.
  auto r = search(*b, "tool/web", {{"query", "weft zeromq"}});
  REQUIRE_MESSAGE(bool(r), (r ? "" : r.err().to_string()));
  CHECK_FALSE(r->is_error);
  CHECK(r->content.find("Results for 'weft zeromq' from brave:\n"
                        "1. Result 1 about weft zeromq — https://example.org/1\n"
                        "   Snippet 1: weft zeromq & more\n") == 0);
  CHECK(r->content.find("4. Result 4 about weft zeromq — https://example.org/4\n") != std::string::npos);
  CHECK(r->content.find("5. ") == std::string::npos);
  auto structured = json::parse(r->structured);
  CHECK(structured["results"].size() == 4);
  CHECK(structured["results"][0]["url"] == "https://example.org/1");
  auto q = search_requests(brave);
  REQUIRE(q.size() == 1);
  CHECK(q[0]["path"] == "/res/v1/web/search");
  CHECK(q[0]["query"]["q"] == "weft zeromq");
  CHECK(q[0]["query"]["count"] == "4");
  CHECK(q[0]["headers"]["X-Subscription-Token"] == key);

  r = search(*b, "tool/web", {{"query", "two"}, {"count", 2}});
  REQUIRE(r);
  CHECK(r->content.find("2. Result 2 about two") != std::string::npos);
  CHECK(r->content.find("3. ") == std::string::npos);

  // Bad input: BadArguments naming the field, and no request to the provider.
  auto bad = search(*b, "tool/web", {{"query", "q"}, {"count", 5}});
  REQUIRE_FALSE(bad);
  CHECK(tool::is(bad.err(), tool::error_code::bad_arguments));
  CHECK(bad.err().message == "argument 'count' must be 1 to 4, not 5");
  bad = search(*b, "tool/web", {{"query", " "}});
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message == "argument 'query' must not be empty");
  bad = search(*b, "tool/web", {{"count", 1}});
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message == "missing required argument 'query'");
  CHECK(search_requests(brave).size() == 2);

  // The provider's failures: typed errors saying what to check.
  REQUIRE(brave.post("/_script", R"([{"status":429},{"malformed":true},{"status":503},{"status":401},{"delay_ms":3000}])").status == 200);
  r = search(*b, "tool/web", {{"query", "q"}});
  REQUIRE_FALSE(r);
  CHECK(tool::is(r.err(), tool::error_code::failed));
  CHECK(r.err().message == "Failed to search with 'brave': HTTP 429: the provider's rate limit was reached; try again "
                           "later: 'Request rate limit exceeded for plan.'");
  r = search(*b, "tool/web", {{"query", "q"}});
  REQUIRE_FALSE(r);
  CHECK(tool::is(r.err(), tool::error_code::failed));
  CHECK(r.err().message == "Failed to search with 'brave': the answer is not JSON");
  r = search(*b, "tool/web", {{"query", "q"}});
  REQUIRE_FALSE(r);
  CHECK(r.err().message.find("Failed to search with 'brave': HTTP 503: the provider failed") == 0);
  r = search(*b, "tool/web", {{"query", "q"}});
  REQUIRE_FALSE(r);
  CHECK(tool::is(r.err(), tool::error_code::failed));
  CHECK(r.err().message == "Failed to search with 'brave': HTTP 401 (check [tools.web_search] api_key): 'scripted'");
  r = search(*b, "tool/web", {{"query", "q"}});
  REQUIRE_FALSE(r);
  CHECK(tool::is(r.err(), tool::error_code::timeout));
  CHECK(r.err().message ==
        "Failed to search with 'brave': no answer within 1000 ms (see [tools.web_search] timeout_ms)");

  // The key: in weftd (it read it) and tool-web (given it) — not in the agent's tool-fs-a,
  // the bus or anything else weft runs. (The fake has it on its command line.)
  pid_t web = s->service_pid("tool-web");
  CHECK(web > 0);
  CHECK(s->service_pid("tool-fs-a") > 0);
  int holders = 0;
  for (pid_t pid : test::processes_holding(key)) {
    if (pid == brave.pid()) continue;
    ++holders;
    CHECK_MESSAGE((pid == s->pid() || pid == web), "pid " << pid << " holds the search key");
  }
  CHECK(holders == 2);
}

TEST_CASE("web_search in an agent turn: the model gets the results; the key is in tool-web, not in the agent") {
  const std::string key = "brave-key-agent-77c3";
  test::fake_peer brave("fake_search.py", {"--key", key});
  test::fake_peer llm("fake_llm.py");
  auto config = fmt::format(
      "[providers.fake]\nstyle = \"openai\"\nbase_url = \"{llm}/v1\"\nmodel = \"fake-model\"\n\n"
      "[llm]\ndefault_provider = \"fake\"\nretries = 0\n\n[memory]\nenabled = false\n\n"
      "[agents.main]\nmax_iterations = 4\ntool_timeout_ms = 20000\n[agents.main.tools]\nfamilies = [\"web\"]\n\n"
      "[tools.web_search]\nprovider = \"brave\"\nbase_url = \"{brave}\"\napi_key = \"${{WEFT_TEST_SEARCH_KEY}}\"\n"
      "max_results = 3\nallow_private = true\n",
      fmt::arg("llm", llm.url()), fmt::arg("brave", brave.url()));
  ::setenv("WEFT_TEST_SEARCH_KEY", key.c_str(), 1);
  auto s = test::stack::start(config);
  ::unsetenv("WEFT_TEST_SEARCH_KEY");
  REQUIRE(s);
  json steps = json::array({{{"tool_calls", json::array({{{"name", "web_search"}, {"arguments", {{"query", "zeromq"}}}}})}},
                            {{"text", "Found it."}}});
  REQUIRE(llm.post("/_script", steps.dump()).status == 200);
  auto b = s->bus_client();
  std::vector<std::string> deltas;
  auto r = test::streamed_turn(*b, "main", test::web_turn("c1", "c1", "search for zeromq"), deltas);
  CHECK(r.tool_calls == 1);
  CHECK(r.reply.parts.at(0).text.value_or("") == "Found it.");
  // What the model got back: the results, capped at 3, and not the key.
  std::string to_model;
  for (auto& q : json::parse(llm.get("/_requests").body)) to_model += q["body"].dump();
  CHECK(to_model.find("Result 3 about zeromq") != std::string::npos);
  CHECK(to_model.find("Result 4 about zeromq") == std::string::npos);
  CHECK(to_model.find(key) == std::string::npos);
  // The agent's own process has no trace of the key; only weftd and tool-web do.
  pid_t agent = s->service_pid("agent-main"), web = s->service_pid("tool-web");
  REQUIRE(agent > 0);
  std::ifstream agent_env("/proc/" + std::to_string(agent) + "/environ");
  std::string agent_text((std::istreambuf_iterator<char>(agent_env)), {});
  CHECK(agent_text.find("WEFT_AGENT=main") != std::string::npos);  // read it, really
  CHECK(agent_text.find(key) == std::string::npos);
  CHECK(agent_text.find("WEFT_TEST_SEARCH_KEY") == std::string::npos);
  for (pid_t pid : test::processes_holding(key))
    if (pid != brave.pid()) CHECK_MESSAGE((pid == s->pid() || pid == web), "pid " << pid << " holds the search key");
}

TEST_CASE("web_search against a fake SearXNG: the default cap, no results, errors; loopback only when allowed") {
  test::fake_peer searx("fake_search.py");
  auto web = test::build_path("services/tool-web/weft-tool-web");
  auto config = fmt::format(
      "[tools.web_search]\nbase_url = \"{url}\"\n\n"
      "[services.tool-web]\nexec = \"{web}\"\naddress = \"tool/web\"\nenv = {{ WEFT_WEB_ALLOW_PRIVATE = \"1\" }}\n\n"
      "[services.tool-web-closed]\nexec = \"{web}\"\naddress = \"tool/webclosed\"\n",
      fmt::arg("url", searx.url()), fmt::arg("web", web));
  auto s = test::stack::start(config);
  REQUIRE(s);
  auto b = s->bus_client();

  // 30 results from the fake; the default max_results (5) keeps five. HTML is reduced.
  auto r = search(*b, "tool/web", {{"query", "weft & bus"}});
  REQUIRE_MESSAGE(bool(r), (r ? "" : r.err().to_string()));
  CHECK(r->content.find("Results for 'weft & bus' from searxng:\n1. Result 1 about weft & bus — https://example.org/1\n"
                        "   Snippet 1: weft & bus & more\n") == 0);
  CHECK(r->content.find("5. Result 5") != std::string::npos);
  CHECK(r->content.find("6. ") == std::string::npos);
  CHECK(json::parse(r->structured)["results"].size() == 5);
  auto q = search_requests(searx);
  REQUIRE(q.size() == 1);
  CHECK(q[0]["path"] == "/search");
  CHECK(q[0]["query"]["q"] == "weft & bus");
  CHECK(q[0]["query"]["format"] == "json");

  REQUIRE(searx.post("/_script", R"([{"results":0},{"status":500},{"malformed":true}])").status == 200);
  r = search(*b, "tool/web", {{"query", "nothing"}});
  REQUIRE(r);
  CHECK_FALSE(r->is_error);
  CHECK(r->content == "No results for 'nothing' from searxng.\n");
  r = search(*b, "tool/web", {{"query", "q"}});
  REQUIRE_FALSE(r);
  CHECK(tool::is(r.err(), tool::error_code::failed));
  CHECK(r.err().message == "Failed to search with 'searxng': HTTP 500: the provider failed; try again later: 'scripted 500'");
  r = search(*b, "tool/web", {{"query", "q"}});
  REQUIRE_FALSE(r);
  CHECK(r.err().message == "Failed to search with 'searxng': the answer is not JSON");

  // The same process without WEFT_WEB_ALLOW_PRIVATE (and no allow_private): Denied, nothing sent.
  auto before = search_requests(searx).size();
  r = search(*b, "tool/webclosed", {{"query", "q"}});
  REQUIRE(denied(r));
  CHECK(r.err().message.find("Failed to search with 'searxng': 127.0.0.1 is loopback") == 0);
  CHECK(search_requests(searx).size() == before);
}

TEST_CASE("tools derived from [agents.a] run sandboxed: exec cannot read outside the workspace") {
  if (sandbox::landlock_abi() == 0) {
    MESSAGE("Landlock is not available in this kernel: skipped");
    return;
  }
  weft::test::temp_dir d{"weft-tools-it"};
  auto ws = d.path.string() + "/ws";
  fs::create_directories(ws);
  fs::create_directories(d.path.string() + "/other");
  std::ofstream(ws + "/mine.txt") << "mine";
  std::ofstream(d.path.string() + "/other/theirs.txt") << "THEIR-SECRET";
  // Only the agent's tool processes: the other derived services are replaced by disabled ones.
  auto cfg = tools_only({{"a", ws, "\"fs\", \"shell\""}});
  auto s = test::stack::start(cfg);
  REQUIRE(s);
  auto b = s->bus_client();
  auto mine = call(*b, "tool/shell/a", "exec", {{"command", "cat mine.txt"}});
  REQUIRE_MESSAGE(bool(mine), (mine ? "" : mine.err().to_string()) << "\n" << s->log());
  CHECK_MESSAGE(mine->content == "mine\n[exit status 0]", s->log());
  auto theirs = call(*b, "tool/shell/a", "exec", {{"command", "cat " + d.path.string() + "/other/theirs.txt"}});
  REQUIRE(theirs);
  CHECK(theirs->is_error);
  CHECK(theirs->content.find("THEIR-SECRET") == std::string::npos);
  CHECK(theirs->content.find("Permission denied") != std::string::npos);
  // The tool's own check answers first for the fs tools.
  CHECK(denied(call(*b, "tool/fs/a", "read_file", {{"path", d.path.string() + "/other/theirs.txt"}})));
  auto w = call(*b, "tool/fs/a", "write_file", {{"path", "new.txt"}, {"content", "ok"}});
  REQUIRE(w);
  CHECK_FALSE(w->is_error);
  CHECK(slurp(ws + "/new.txt") == "ok");
  // seccomp: no namespaces from inside.
  auto ns = call(*b, "tool/shell/a", "exec", {{"command", "unshare -U true"}});
  REQUIRE(ns);
  CHECK(ns->is_error);
  CHECK(ns->content.find("Operation not permitted") != std::string::npos);
}

TEST_CASE("git tools derived from [agents.g] run sandboxed: a repository in the workspace, none outside it") {
  weft::test::temp_dir d{"weft-git-it"};
  auto ws = d.path.string() + "/ws", other = d.path.string() + "/other";
  fs::create_directories(ws + "/proj");
  fs::create_directories(other);
  auto git = [](const std::string& dir) { return "git -C '" + dir + "' -c user.name=t -c user.email=t@t "; };
  std::ofstream(ws + "/proj/a.txt") << "a\n";
  REQUIRE(std::system((git(ws + "/proj") + "init -q -b main && " + git(ws + "/proj") + "add -A && " + git(ws + "/proj") +
                       "commit -qm first")
                          .c_str()) == 0);
  REQUIRE(std::system(("git clone -q --bare '" + ws + "/proj' '" + other + "/theirs.git'").c_str()) == 0);
  auto cfg = tools_only({{"g", ws, "\"git\""}});
  auto s = test::stack::start(cfg);
  REQUIRE(s);
  auto b = s->bus_client();
  auto tools = b->call("tool/git/g", tool::list_tools{}, once());
  REQUIRE_MESSAGE(tools, (tools ? "" : tools.err().to_string()) << "\n" << s->log());
  CHECK(tools->as<tool::tools>()->tools.size() == 13);
  std::ofstream(ws + "/proj/b.txt") << "b\n";
  auto st = call(*b, "tool/git/g", "git_status", {{"repo", "proj"}});
  REQUIRE_MESSAGE(st, (st ? "" : st.err().to_string()) << "\n" << s->log());
  CHECK(st->content.find("untracked  proj/b.txt") == std::string::npos);  // paths are the repository's
  CHECK(st->content.find("b.txt") != std::string::npos);
  REQUIRE(call(*b, "tool/git/g", "git_add", {{"repo", "proj"}, {"paths", {"proj/b.txt"}}}));
  // No identity: the tool reads no ~/.gitconfig (not the user's, and closed by the sandbox).
  auto nobody = call(*b, "tool/git/g", "git_commit", {{"repo", "proj"}, {"message", "second"}});
  REQUIRE_FALSE(nobody);
  CHECK(nobody.err().message.find("Failed to find the commit author (set user.name and user.email in the repository") ==
        0);
  REQUIRE(std::system((git(ws + "/proj") + "config user.name t && " + git(ws + "/proj") + "config user.email t@t").c_str()) ==
          0);
  auto c = call(*b, "tool/git/g", "git_commit", {{"repo", "proj"}, {"message", "second"}});
  REQUIRE_MESSAGE(c, (c ? "" : c.err().to_string()));
  auto log = call(*b, "tool/git/g", "git_log", {{"repo", "proj"}});
  REQUIRE(log);
  CHECK(json::parse(log->structured)["commits"].size() == 2);
  // Another place on the disk: refused by the tool, and by Landlock underneath.
  CHECK(denied(call(*b, "tool/git/g", "git_clone", {{"url", other + "/theirs.git"}, {"path", "stolen"}})));
  CHECK(denied(call(*b, "tool/git/g", "git_status", {{"repo", "../other/theirs.git"}})));
  CHECK_FALSE(fs::exists(ws + "/stolen"));
}

TEST_CASE("agent A's git tools cannot read, clone from or push into agent B's workspace") {
  weft::test::temp_dir d{"weft-git-ab"};
  auto wa = d.path.string() + "/a", wb = d.path.string() + "/b";
  fs::create_directories(wa + "/mine");
  fs::create_directories(wb + "/secret");
  for (auto dir : {wa + "/mine", wb + "/secret"}) {
    auto g = "git -C '" + dir + "' -c user.name=t -c user.email=t@t ";
    std::ofstream(dir + "/f.txt") << "content of " << dir << "\n";
    REQUIRE(std::system((g + "init -q -b main && " + g + "add -A && " + g + "commit -qm c").c_str()) == 0);
  }
  REQUIRE(std::system(("git clone -q --bare '" + wb + "/secret' '" + wb + "/secret.git'").c_str()) == 0);
  // A's repository gets B's bare repository as a remote (as a model could try).
  REQUIRE(std::system(("git -C '" + wa + "/mine' remote add b '" + wb + "/secret.git'").c_str()) == 0);
  auto cfg = tools_only({{"a", wa, "\"git\""}, {"b", wb, "\"git\""}});
  auto s = test::stack::start(cfg);
  REQUIRE(s);
  auto b = s->bus_client();
  REQUIRE_MESSAGE(call(*b, "tool/git/a", "git_status", {{"repo", "mine"}}), s->log());
  CHECK(denied(call(*b, "tool/git/a", "git_log", {{"repo", wb + "/secret"}})));
  CHECK(denied(call(*b, "tool/git/a", "git_clone", {{"url", wb + "/secret.git"}, {"path", "stolen"}})));
  CHECK(denied(call(*b, "tool/git/a", "git_clone", {{"url", "file://" + wb + "/secret.git"}, {"path", "stolen"}})));
  CHECK(denied(call(*b, "tool/git/a", "git_fetch", {{"repo", "mine"}, {"remote", "b"}})));
  CHECK(denied(call(*b, "tool/git/a", "git_push", {{"repo", "mine"}, {"remote", "b"}})));
  CHECK_FALSE(fs::exists(wa + "/stolen"));
  // B's own process serves B: the same repository is B's to read.
  auto own = call(*b, "tool/git/b", "git_log", {{"repo", "secret"}});
  REQUIRE(own);
  CHECK(json::parse(own->structured)["commits"].size() == 1);
  // (That agent/a may not call tool/git/b at all is the bus's rule for every per-agent tool
  // process, tested in services/bus.)
}

TEST_CASE("cargo tools derived from [agents.c] run sandboxed: diagnostics of a crate in the workspace") {
  const char* path = std::getenv("PATH");
  if (!find_executable("cargo", path ? path : "")) {
    MESSAGE("cargo is not installed: skipped (tools/dev setup installs Debian's)");
    return;
  }
  weft::test::temp_dir d{"weft-cargo-it"};
  auto ws = d.path.string() + "/ws";
  fs::create_directories(ws + "/bad/src");
  std::ofstream(ws + "/bad/Cargo.toml") << "[package]\nname = \"bad\"\nversion = \"0.1.0\"\nedition = \"2021\"\n";
  std::ofstream(ws + "/bad/src/lib.rs") << "pub fn f() -> u8 {\n    \"no\"\n}\n";
  auto cfg = tools_only({{"c", ws, "\"cargo\""}});
  auto s = test::stack::start(cfg);
  REQUIRE(s);
  auto b = s->bus_client();
  auto r = b->call("tool/cargo/c/cargo_check", tool::call{"cargo_check", R"({"path":"bad"})", "c1", 0}, once(120s));
  REQUIRE_MESSAGE(r, (r ? "" : r.err().to_string()) << "\n" << s->log());
  auto res = r->as<tool::result>();
  REQUIRE(res);
  CAPTURE(res->content);
  auto st = json::parse(res->structured);
  CHECK(st["success"] == false);
  bool found = false;
  for (auto& diag : st["diagnostics"])
    found = found || (diag.value("code", "") == "E0308" && diag["file"] == "src/lib.rs" && diag["line"] == 2);
  CHECK_MESSAGE(found, s->log());
  CHECK(fs::exists(ws + "/.weft/cargo-home"));  // CARGO_HOME in the workspace
}

TEST_CASE("code tools derived from [agents.a] run sandboxed: tree-sitter and clangd on A's workspace, nothing of B's") {
  weft::test::temp_dir d{"weft-code-it"};
  auto wa = d.path.string() + "/a", wb = d.path.string() + "/b";
  fs::create_directories(wa);
  fs::create_directories(wb);
  fs::copy(fs::path(WEFT_SOURCE_ROOT) / "tests/fixtures/code/cpp", wa + "/cpp", fs::copy_options::recursive);
  std::ofstream(wb + "/secret.py") << "def secret_fn():\n    return 'B only'\n";
  fs::create_symlink(wb, wa + "/b-link");  // as a model could leave
  auto cfg = tools_only({{"a", wa, "\"code\""}, {"b", wb, "\"code\""}});
  auto s = test::stack::start(cfg);
  REQUIRE(s);
  auto b = s->bus_client();
  auto outline = call(*b, "tool/code/a", "code_outline", {{"path", "cpp/shapes.cc"}});
  REQUIRE_MESSAGE(outline, (outline ? "" : outline.err().to_string()) << "\n" << s->log());
  CHECK(json::parse(outline->structured)["symbols"].size() == 3);
  auto uses = call(*b, "tool/code/a", "code_usages", {{"symbol", "total_area"}});
  REQUIRE(uses);
  CHECK(json::parse(uses->structured)["usages"].size() == 3);
  // B's files: by absolute path, by .., through the link; and a search that would follow it.
  CHECK(denied(call(*b, "tool/code/a", "code_outline", {{"path", wb + "/secret.py"}})));
  CHECK(denied(call(*b, "tool/code/a", "code_outline", {{"path", "../b/secret.py"}})));
  CHECK(denied(call(*b, "tool/code/a", "code_outline", {{"path", "b-link/secret.py"}})));
  CHECK(denied(call(*b, "tool/code/a", "code_usages", {{"symbol", "secret_fn"}, {"path", "b-link"}})));
  auto all = call(*b, "tool/code/a", "code_usages", {{"symbol", "secret_fn"}});
  REQUIRE(all);
  CHECK(json::parse(all->structured)["usages"].empty());
  // B's own process serves B.
  auto own = call(*b, "tool/code/b", "code_usages", {{"symbol", "secret_fn"}});
  REQUIRE(own);
  CHECK(json::parse(own->structured)["usages"].size() == 1);

  // clangd, started by A's tool process inside its sandbox, answers about A's code.
  const char* path = std::getenv("PATH");
  if (!find_executable("clangd", path ? path : "")) {
    MESSAGE("clangd is not installed: its part skipped (tools/dev setup installs Debian's)");
    return;
  }
  auto r = b->call("tool/code/a/lsp_definition",
                   tool::call{"lsp_definition", json{{"path", "cpp/main.cc"}, {"line", 4}, {"column", 8}}.dump(), "l1", 0},
                   once(120s));
  REQUIRE_MESSAGE(r, (r ? "" : r.err().to_string()) << "\n" << s->log());
  auto res = r->as<tool::result>();
  REQUIRE(res);
  CAPTURE(res->content);
  CAPTURE(s->log());
  REQUIRE_FALSE(res->is_error);
  auto locs = json::parse(res->structured)["locations"];
  REQUIRE(locs.size() == 1);
  CHECK(locs[0]["path"] == "cpp/shapes.hh");
  CHECK(locs[0]["line"] == 11);
  // Its index and caches stay in A's workspace.
  CHECK(fs::exists(wa + "/.weft/lsp-home"));
}
