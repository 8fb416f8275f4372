// Integration (issue 28 item 1, the agent's side): a callee SIGKILLed while it holds one of
// the agent's requests — llm during a Complete, the shell tool process during a Call, memory
// during a Search — is sent that request again once weftd has restarted it (the service
// runtime resends on Bus.v1.PeerChanged with a new instance), so the turn gets its real
// answer seconds after the callee is READY again instead of an error at the agent's own
// deadline (the llm's is minutes).
//
// Each case holds the request in the callee on purpose (the fake LLM delays its answer; the
// shell runs a command that waits; memory is frozen with SIGSTOP after the bus handed it the
// Search), kills the callee, waits for its READY after the restart through weftd's control
// socket, and only then bounds the wait: no reply may still be missing a short while after
// the callee is back. The bound never spans the whole test.
#include <csignal>
#include <filesystem>
#include <optional>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "proto/chat_v1.hh"
#include "proto/supervisor_v1.hh"
#include "tests/integration/agent/turn_util.hh"
#include "tests/integration/fake_peer.hh"
#include "tests/integration/harness.hh"
#include "tests/temp_dir.hh"

using namespace weft;
using namespace std::chrono_literals;
namespace chat = weft::proto::chat_v1;
namespace sv = weft::proto::supervisor_v1;
namespace fs = std::filesystem;
using json = nlohmann::json;
using weft::test::eventually;
using weft::test::make_turn;
using weft::test::requests;

namespace {

/// How long a reply may still be missing once the restarted callee is READY.
constexpr auto after_ready = 10s;

std::string missing_programs() {
  return test::missing_programs({"services/agent/weft-agent", "services/llm/weft-llm",
                                 "services/tool-shell/weft-tool-shell", "services/memory/weft-memory",
                                 "services/router/weft-router"});
}

/// The derived stack of one agent with the shell tool and memory; a killed service is
/// restarted at once. The llm's own deadline (timeout_ms 120 s, no retries) and the tool
/// timeout (60 s) are far beyond `after_ready`: only a resent request answers in time.
std::string config(const std::string& ws, const std::string& provider_url) {
  return fmt::format(
      "[supervisor]\nrestart_backoff_initial_ms = 50\nrestart_intensity = 100\n\n"
      "[providers.fake]\nstyle = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"fake-model\"\n\n"
      "[llm]\ndefault_provider = \"fake\"\nretries = 0\n\n"
      "[agents.main]\nworkspace = \"{ws}\"\nmax_iterations = 4\ntool_timeout_ms = 60000\n"
      "[agents.main.tools]\nallow = [\"exec\", \"memory_search\"]\nfamilies = [\"shell\"]\n",
      fmt::arg("url", provider_url), fmt::arg("ws", ws));
}

/// The reply text to request `id`, or what came instead ("" and a message when nothing did).
std::string reply_within(ipc::bus_client& b, std::uint64_t id, std::chrono::milliseconds bound) {
  auto until = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < until) {
    auto m = b.next(100ms);
    if (!m || m->env.id != id) continue;
    if (m->is_error()) return "error reply: " + m->to_error().to_string();
    auto r = m->as<chat::turn_result>();
    REQUIRE(r);
    REQUIRE(r->reply.parts.size() == 1);
    return r->reply.parts[0].text.value_or("");
  }
  return "";
}

/// SIGKILLs `service` and waits until weftd reports it READY again after the restart.
void kill_and_wait_ready(test::stack& st, const std::string& service, pid_t pid) {
  auto ctl = st.control();
  REQUIRE(ctl->request(sv::watch{}));  // watching before the kill: the READY change cannot slip past
  REQUIRE(pid > 0);
  REQUIRE(::kill(pid, SIGKILL) == 0);
  REQUIRE_MESSAGE(st.wait_state(*ctl, service, sv::state::ready, 1, 30s), service << " did not come back");
}

struct env {
  test::fake_peer llm{"fake_llm.py"};
  weft::test::temp_dir dir{"weft-agent-restart"};
  std::string ws = dir.path.string() + "/ws";
  std::unique_ptr<test::stack> st = test::stack::start(config(ws, llm.url()));
  std::unique_ptr<ipc::bus_client> b = st->bus_client();
};

}  // namespace

TEST_CASE("agent: llm SIGKILLed while it holds a Complete; the turn gets the real answer once llm is back") {
  auto missing = missing_programs();
  if (!missing.empty()) {
    MESSAGE("skipped: not built yet: " << missing);
    return;
  }
  env e;
  // The first Complete is held by the provider far longer than the test waits; the one the
  // restarted llm gets is answered.
  REQUIRE(e.llm.post("/_script", R"([{"text":"held, never delivered","delay_ms":120000},
                                     {"text":"the real answer"}])").status == 200);
  auto id = e.b->send_request("agent/main", make_turn("web:llm-1", "hello"));
  REQUIRE(id);
  REQUIRE(eventually([&] { return requests(e.llm).size() == 1; }));  // llm holds it now
  kill_and_wait_ready(*e.st, "llm", e.st->service_pid("llm"));
  CHECK(reply_within(*e.b, *id, after_ready) == "the real answer");
  CHECK(requests(e.llm).size() == 2);  // sent again once, by the restarted llm
}

TEST_CASE("agent: the shell tool process SIGKILLed mid-call; the call runs again and the turn completes") {
  auto missing = missing_programs();
  if (!missing.empty()) {
    MESSAGE("skipped: not built yet: " << missing);
    return;
  }
  env e;
  // The first run marks that it started and waits while the mark is there (a SIGKILLed
  // tool process leaves its command running: it ends when the test's directory goes); the
  // run the restarted process gets answers at once.
  REQUIRE(e.llm.post("/_script", R"([{"tool_calls":[{"name":"exec","arguments":{"command":
      "if [ -e held ]; then echo second run; else touch held; while [ -e held ]; do sleep 0.1; done; fi"}}]}])")
              .status == 200);
  auto id = e.b->send_request("agent/main", make_turn("web:tool-1", "run it"));
  REQUIRE(id);
  REQUIRE(eventually([&] { return fs::exists(e.ws + "/held"); }));  // the tool holds the call now
  kill_and_wait_ready(*e.st, "tool-shell-main", e.st->service_pid("tool-shell-main"));
  auto text = reply_within(*e.b, *id, after_ready);
  CHECK_MESSAGE(text.find("Tool said: ") == 0, text);
  CHECK_MESSAGE(text.find("second run") != std::string::npos, text);
}

TEST_CASE("agent: memory SIGKILLed while it holds a Search; memory_search gets its real result") {
  auto missing = missing_programs();
  if (!missing.empty()) {
    MESSAGE("skipped: not built yet: " << missing);
    return;
  }
  env e;
  // Frozen, memory keeps what the bus hands it unanswered until it is killed.
  auto pid = e.st->service_pid("memory");
  REQUIRE(pid > 0);
  REQUIRE(::kill(pid, SIGSTOP) == 0);
  auto before = e.st->delivered(*e.b, "memory");
  REQUIRE(e.llm.post("/_script", R"([{"tool_calls":[{"name":"memory_search","arguments":{"query":"apples"}}]}])")
              .status == 200);
  auto id = e.b->send_request("agent/main", make_turn("web:mem-1", "what about apples?"));
  REQUIRE(id);
  REQUIRE(e.st->wait_delivered(*e.b, "memory", before + 1, 20s));  // memory holds the Search now
  kill_and_wait_ready(*e.st, "memory", pid);
  auto text = reply_within(*e.b, *id, after_ready);
  CHECK_MESSAGE(text.find("Tool said: No memories found for 'apples'.") == 0, text);
}
