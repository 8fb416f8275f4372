// A reload restarts only the services whose own part of the config changed; the others
// keep their process (and so their sessions and in-flight work). The whole derived stack
// runs: llm, memory, agents and their tools, router, both channels and tool-mcp.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <set>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "proto/mcp_v1.hh"
#include "tests/integration/fake_peer.hh"
#include "tests/integration/harness.hh"

using namespace weft;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace sv = weft::proto::supervisor_v1;
namespace mv = weft::proto::mcp_v1;

namespace {

const std::string server_script = std::string(WEFT_SOURCE_ROOT) + "/tests/integration/tool_mcp/test_server.py";

std::string config(const test::fake_peer& tg, const std::string& token, const std::string& extra) {
  return fmt::format(R"({extra_first}[supervisor]
restart_backoff_initial_ms = 50

[providers.one]
style = "openai"
base_url = "http://127.0.0.1:9/v1"
model = "m"

[llm]
default_provider = "one"

[agents.main]

[agents.helper]
tools = {{ families = ["fs"] }}

[channels.telegram]
token = "{token}"
api_base = "{api}"
poll_timeout_s = 1

[channels.web]
listen = "127.0.0.1:0"

[tools.mcp_servers.a]
command = "python3"
args = ["{script}"]

# Whether `claude` is on the PATH of the machine running the test must not matter.
[delegation]
claude_enabled = false
{extra}
)",
                     fmt::arg("extra_first", extra.rfind("[providers", 0) == 0 ? extra : ""), fmt::arg("token", token),
                     fmt::arg("api", tg.url()), fmt::arg("script", server_script),
                     fmt::arg("extra", extra.rfind("[providers", 0) == 0 ? "" : extra));
}

std::map<std::string, pid_t> pids(test::stack& s) {
  auto r = s.control()->request(sv::status{});
  REQUIRE(r);
  std::map<std::string, pid_t> out;
  auto st = r->as<sv::status_reply>();
  REQUIRE(st);
  for (auto& i : st->services) out[i.name] = static_cast<pid_t>(i.pid);
  return out;
}

/// Rewrites the config, reloads, and waits until every service is ready again; returns what
/// weftd said it restarted and started.
json reload(test::stack& s, const std::string& text) {
  {
    std::ofstream f(s.config_path());
    f << text;
  }
  auto c = s.control();
  REQUIRE(c->request(sv::watch{}));
  auto r = s.weftctl({"reload", "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto j = json::parse(r.out);
  // Each restarted or started service announces its new READY.
  std::set<std::string> waiting;
  for (auto key : {"restarted", "started"})
    for (auto& n : j[key]) waiting.insert(n.get<std::string>());
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!waiting.empty() && std::chrono::steady_clock::now() < deadline) {
    auto ch = c->next_change(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
    if (ch && ch->state == sv::state::ready) waiting.erase(ch->name);
  }
  CHECK_MESSAGE(waiting.empty(), "not ready again: ", fmt::format("{}", fmt::join(waiting, ", ")));
  return j;
}

std::set<std::string> names(const json& a) {
  std::set<std::string> out;
  for (auto& n : a) out.insert(n.get<std::string>());
  return out;
}

/// The services whose pid changed (restarted) between two snapshots, of those in both.
std::set<std::string> new_pids(const std::map<std::string, pid_t>& before, const std::map<std::string, pid_t>& after) {
  std::set<std::string> out;
  for (auto& [name, pid] : before)
    if (after.count(name) && after.at(name) != pid) out.insert(name);
  return out;
}

}  // namespace

TEST_CASE("each kind of config change restarts only the services that read it") {
  auto missing = test::missing_programs({"services/llm/weft-llm", "services/agent/weft-agent", "services/router/weft-router",
                                         "services/chan-telegram/weft-chan-telegram", "services/chan-web/weft-chan-web",
                                         "services/tool-mcp/weft-tool-mcp", "services/tool-fs/weft-tool-fs",
                                         "services/tool-shell/weft-tool-shell", "services/tool-web/weft-tool-web"});
  REQUIRE_MESSAGE(missing.empty(), "not built: ", missing);
  test::fake_peer tg("fake_telegram.py", {"--token", "1:a"});
  auto s = test::stack::start(config(tg, "1:a", ""));
  auto before = pids(*s);
  REQUIRE(before.count("tool-mcp"));
  REQUIRE(before.count("memory"));

  SUBCASE("a provider added: only llm restarts") {
    auto j = reload(*s, config(tg, "1:a", "[providers.two]\nbase_url = \"http://127.0.0.1:8/v1\"\nmodel = \"n\"\n\n"));
    CHECK(names(j["restarted"]) == std::set<std::string>{"llm"});
    CHECK(new_pids(before, pids(*s)) == std::set<std::string>{"llm"});
  }
  SUBCASE("an agent added: it and its tools start; router and memory (which read the agent list) and the bus "
          "(which checks the new agent's tool calls) restart") {
    auto j = reload(*s, config(tg, "1:a", "[agents.third]\n"));
    CHECK(names(j["started"]) == std::set<std::string>{"agent-third", "tool-fs-third", "tool-shell-third"});
    CHECK(names(j["restarted"]) == std::set<std::string>{"bus", "memory", "router"});
    CHECK(new_pids(before, pids(*s)) == std::set<std::string>{"bus", "memory", "router"});
  }
  SUBCASE("the channel token changed: only that channel restarts") {
    test::fake_peer tg2("fake_telegram.py", {"--token", "1:b"});  // the new bot (a new token is a new bot)
    auto j = reload(*s, config(tg2, "1:b", ""));
    CHECK(names(j["restarted"]) == std::set<std::string>{"chan-telegram"});
    CHECK(new_pids(before, pids(*s)) == std::set<std::string>{"chan-telegram"});
  }
  SUBCASE("[tools.web_search] added: only tool-web restarts") {
    REQUIRE(before.count("tool-web"));
    auto j = reload(*s, config(tg, "1:a", "[tools.web_search]\nbase_url = \"http://127.0.0.1:9\"\n"));
    CHECK(names(j["restarted"]) == std::set<std::string>{"tool-web"});
    CHECK(new_pids(before, pids(*s)) == std::set<std::string>{"tool-web"});
  }
  SUBCASE("an MCP server added: tool-mcp is told (SIGHUP), keeps its pid and connects the server") {
    auto j = reload(*s, config(tg, "1:a", "[tools.mcp_servers.b]\ncommand = \"python3\"\nargs = [\"" + server_script +
                                              "\"]\n"));
    CHECK(j["restarted"].empty());
    CHECK(new_pids(before, pids(*s)).empty());
    auto b = s->bus_client();
    bool connected = false;
    for (int i = 0; i < 200 && !connected; ++i) {  // until tool-mcp has read the new config
      auto r = b->call("tool/mcp", mv::list_servers{}, {.timeout = 10s, .attempt_timeout = 2s});
      REQUIRE(r);
      auto list = r->as<mv::servers>();
      REQUIRE(list);
      for (auto& server : list->servers) connected = connected || (server.name == "b" && server.state == "ready");
      if (!connected) (void)b->next(50ms);
    }
    CHECK(connected);
  }
}
