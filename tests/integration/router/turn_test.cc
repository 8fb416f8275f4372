// A real agent turn end to end: fake Telegram (tests/fakes/fake_telegram.py) → chan-telegram
// → router → agents → llm → fake LLM provider (tests/fakes/fake_llm.py) → tools → back to
// Telegram. Every process is the real program under a real weftd.
#include <doctest/doctest.h>

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <weft/service/paths.hh>

#include "proto/bus_v1.hh"
#include "proto/supervisor_v1.hh"
#include "tests/integration/fake_peer.hh"
#include "tests/integration/harness.hh"

using namespace weft;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace fs = std::filesystem;
namespace sv = weft::proto::supervisor_v1;

namespace {

constexpr const char* bot_token = "4242:test-token";

std::string config(const test::fake_peer& llm, const test::fake_peer& tg, const std::string& agents) {
  return fmt::format(R"([supervisor]
restart_backoff_initial_ms = 50
restart_intensity = 50

[providers.fake]
style = "openai"
base_url = "{}/v1"
model = "fake-model"

[llm]
default_provider = "fake"

[channels.telegram]
token = "{}"
api_base = "{}"
poll_timeout_s = 1

{}
)",
                     llm.url(), bot_token, tg.url(), agents);
}

void inject(test::fake_peer& tg, long user, const std::string& text) {
  auto r = tg.post("/_inject", json{{"user_id", user}, {"chat_id", user}, {"text", text}}.dump());
  REQUIRE(r.status == 200);
}

json sent(test::fake_peer& tg) {
  auto r = tg.get("/_sent");
  REQUIRE(r.status == 200);
  return json::parse(r.body);
}

/// Waits until the bot sent at least `n` messages; returns them.
json wait_sent(test::fake_peer& tg, std::size_t n, std::chrono::seconds timeout = 60s) {
  auto until = std::chrono::steady_clock::now() + timeout;
  json s;
  while (std::chrono::steady_clock::now() < until) {
    s = sent(tg);
    if (s.size() >= n) return s;
    std::this_thread::sleep_for(100ms);
  }
  return s;
}

std::string text_to(const json& s, long chat) {
  std::string out;
  for (auto& m : s)
    if (m.value("chat_id", json()).dump() == std::to_string(chat) ||
        m.value("chat_id", json()).dump() == "\"" + std::to_string(chat) + "\"")
      out += m.value("text", "") + "\n";
  return out;
}

std::string read_all(const fs::path& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::string sessions_text(const std::string& home, const std::string& agent) {
  std::string out;
  auto dir = fs::path(home) / "agents" / agent / "sessions";
  if (!fs::exists(dir)) return out;
  for (auto& e : fs::directory_iterator(dir)) out += read_all(e.path());
  return out;
}


/// Polls `ready` until it holds or `timeout` passes (the fakes and the journal are read, not
/// waited on: each check is a condition, never a guess at how long something takes).
template <class Pred>
bool eventually(Pred ready, std::chrono::seconds timeout = 60s) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (ready()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return ready();
}

/// Whether process `pid` has a child now (a shell tool running a command).
bool has_children(pid_t pid) {
  std::error_code ec;
  for (auto& t : fs::directory_iterator(fmt::format("/proc/{}/task", pid), ec)) {
    std::ifstream f(t.path() / "children");
    std::string kids;
    if (std::getline(f, kids) && !kids.empty()) return true;
  }
  return false;
}

/// The ids of the router's journal's inbound records, in the order it accepted them.
std::vector<std::string> accepted_ids(const std::string& home) {
  std::vector<std::string> ids;
  std::ifstream f(fs::path(home) / "router" / "journal");
  for (std::string line; std::getline(f, line);) {
    auto j = json::parse(line, nullptr, false);
    if (j.is_object() && j.value("t", "") == "in") ids.push_back(j.value("id", ""));
  }
  return ids;
}

/// "order-<n>" as it appears in a question or a reply ("You said: order-3"), else empty.
std::string tag(const std::string& text) {
  static const std::regex re("order-[0-9]+");
  std::smatch m;
  return std::regex_search(text, m, re) ? m.str() : std::string();
}

/// The last user text of each chat request the fake model got, in the order it got them.
std::vector<std::string> asked(test::fake_peer& llm) {
  std::vector<std::string> out;
  auto r = llm.get("/_requests");
  REQUIRE(r.status == 200);
  for (auto& q : json::parse(r.body)) {
    if (q.value("path", "").find("chat/completions") == std::string::npos || !q["body"].is_object()) continue;
    std::string said;
    for (auto& m : q["body"].value("messages", json::array())) {
      if (m.value("role", "") != "user") continue;
      said.clear();
      if (m["content"].is_string()) said = m["content"].get<std::string>();
      else if (m["content"].is_array())
        for (auto& b : m["content"])
          if (b.is_object() && b.value("type", "") == "text") said += b.value("text", "");
    }
    out.push_back(said);
  }
  return out;
}
}  // namespace

TEST_CASE("three agents on one gateway: users routed by Telegram id; sessions and workspaces isolated") {
  test::fake_peer llm("fake_llm.py");
  test::fake_peer tg("fake_telegram.py", {"--token", bot_token});
  auto s = test::stack::start(config(llm, tg, R"(
[agents.work-agent]
[agents.personal-agent]
[agents.main]

[[agent_routes]]
channel = "telegram"
match = { user_id = 111 }
agent = "work-agent"

[[agent_routes]]
channel = "telegram"
match = { user_id = "222" }
agent = "personal-agent"
)"));
  REQUIRE(s);
  auto home = s->dir() + "/home";

  inject(tg, 111, "hello from A");
  inject(tg, 222, "hello from B");
  auto out = wait_sent(tg, 2);
  REQUIRE_MESSAGE(out.size() >= 2, s->log());
  CHECK(text_to(out, 111).find("You said: hello from A") != std::string::npos);
  CHECK(text_to(out, 222).find("You said: hello from B") != std::string::npos);
  CHECK(text_to(out, 111).find("hello from B") == std::string::npos);

  // Each agent has its own workspace and its own session files.
  for (auto a : {"work-agent", "personal-agent", "main"})
    for (auto f : {"SOUL.md", "IDENTITY.md", "AGENTS.md", "USER.md"}) CHECK_MESSAGE(fs::exists(fs::path(home) / "agents" / a / f), a, "/", f);
  auto work = sessions_text(home, "work-agent"), personal = sessions_text(home, "personal-agent");
  CHECK(work.find("hello from A") != std::string::npos);
  CHECK(work.find("hello from B") == std::string::npos);
  CHECK(personal.find("hello from B") != std::string::npos);
  CHECK(personal.find("hello from A") == std::string::npos);
  CHECK(sessions_text(home, "main").empty());

  // weftctl route explain gives the same decision, and why.
  auto ex = s->weftctl({"route", "explain", "--channel", "telegram", "--user-id", "111"});
  CHECK(ex.exit_code == 0);
  CHECK(ex.out.find("work-agent") != std::string::npos);
  CHECK(ex.out.find("user_id = 111") != std::string::npos);
  ex = s->weftctl({"route", "explain", "--channel", "telegram", "--user-id", "999"});
  CHECK(ex.out.find("main") != std::string::npos);
  CHECK(ex.out.find("default agent") != std::string::npos);

  // A's agent tries to read B's agent's files: by path escape, by absolute path, by shell.
  auto secret = fs::path(home) / "agents" / "personal-agent" / "SOUL.md";
  { std::ofstream(secret) << "SECRET-OF-B\n"; }
  auto before = sent(tg).size();
  inject(tg, 111, R"(call_tool:read_file {"path":"../personal-agent/SOUL.md"})");
  inject(tg, 111, "call_tool:read_file " + json{{"path", secret.string()}}.dump());
  inject(tg, 111, "call_tool:exec " + json{{"command", "cat " + secret.string()}}.dump());
  out = wait_sent(tg, before + 3);
  REQUIRE_MESSAGE(out.size() >= before + 3, s->log());
  std::string replies;
  for (std::size_t i = before; i < out.size(); ++i) replies += out[i].value("text", "") + "\n";
  MESSAGE("replies to the escape attempts:\n", replies);
  CHECK(replies.find("SECRET-OF-B") == std::string::npos);
  CHECK(replies.find("Tool said:") != std::string::npos);
  // The llm saw the tools' refusals as error results.
  auto reqs = llm.get("/_requests").body;
  CHECK(reqs.find("outside the workspace") != std::string::npos);
}

TEST_CASE("tools.allow = [\"read_file\"]: the model asks for exec, the bus denies it and publishes an audit event") {
  test::fake_peer llm("fake_llm.py");
  test::fake_peer tg("fake_telegram.py", {"--token", bot_token});
  auto s = test::stack::start(config(llm, tg, R"(
[agents.main]
[agents.main.tools]
allow = ["read_file"]
)"));
  REQUIRE(s);
  auto events = ipc::event_subscriber::connect(s->ctx(), service::events_endpoint(s->runtime()),
                                               {std::string(proto::bus_v1::access_denied::type_name)});
  REQUIRE(events);
  inject(tg, 333, R"(call_tool:exec {"command":"echo pwned > owned.txt"})");
  auto out = wait_sent(tg, 1);
  REQUIRE_MESSAGE(out.size() >= 1, s->log());
  auto reply = out[0].value("text", "");
  MESSAGE("reply: ", reply);
  CHECK(reply.find("agents.main.tools.allow") != std::string::npos);
  CHECK_FALSE(fs::exists(fs::path(s->dir()) / "home" / "agents" / "main" / "owned.txt"));
  bool audited = false;
  for (int i = 0; i < 50 && !audited; ++i)
    if (auto ev = (*events)->next(100ms)) {
      auto d = ev->second.as<proto::bus_v1::access_denied>();
      audited = d && d->from == "agent/main" && d->to == "tool/shell/main/exec";
    }
  CHECK(audited);
  // read_file is allowed and works.
  inject(tg, 333, R"(call_tool:read_file {"path":"SOUL.md"})");
  out = wait_sent(tg, 2);
  REQUIRE(out.size() >= 2);
  CHECK(out[1].value("text", "").find("Tool said:") != std::string::npos);
}

TEST_CASE("kill -9 of router, agent, llm, chan-telegram and bus during 200 messages: exactly one reply each") {
  test::fake_peer llm("fake_llm.py");
  test::fake_peer tg("fake_telegram.py", {"--token", bot_token});
  auto s = test::stack::start(config(llm, tg, "[agents.main]\n"));
  REQUIRE(s);
  auto c = s->control();
  REQUIRE(c->request(sv::watch{}));
  const int total = 200;
  const char* victims[] = {"router", "agent-main", "llm", "chan-telegram", "bus"};
  double channel_killed = 0;  // CLOCK_MONOTONIC seconds, the fake's clock too
  double channel_back = 0;    // when the restarted chan-telegram was ready again
  int next = 0;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < total / 5; ++i, ++next) inject(tg, 1000 + next % 7, fmt::format("m{}", next));
    // Let some of the round be in flight, then kill.
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    auto pid = s->service_pid(victims[round]);
    REQUIRE_MESSAGE(pid > 0, victims[round]);
    REQUIRE(::kill(pid, SIGKILL) == 0);
    if (std::string(victims[round]) == "chan-telegram")
      channel_killed = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    REQUIRE_MESSAGE(s->wait_state(*c, victims[round], sv::state::ready, 1, 30s), victims[round], "\n", s->log());
    if (std::string(victims[round]) == "chan-telegram")
      channel_back = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  auto out = wait_sent(tg, total, 120s);
  std::this_thread::sleep_for(3s);  // room for a late duplicate to show up
  out = sent(tg);
  std::map<std::string, std::vector<double>> sends;  // reply text -> when the fake got each copy
  for (auto& m : out) sends[m.value("text", "")].push_back(m.value("t", 0.0));
  int missing = 0, duplicated = 0, in_doubt = 0;
  for (int i = 0; i < total; ++i) {
    auto& t = sends[fmt::format("You said: m{}", i)];
    if (t.empty()) ++missing;
    if (t.size() < 2) continue;
    // The one case no channel can decide: Telegram has no idempotency key, so a sendMessage
    // in flight when chan-telegram died (Telegram got it, the answer was lost with the
    // process) is sent again after the restart. Only such a pair is excused — the first
    // copy from the old process (the fake may read a request sent just before the kill a
    // moment after it, but before the new process is up), the second after the kill — and
    // at most one per channel worker.
    std::sort(t.begin(), t.end());
    if (t.size() == 2 && t[0] < channel_back && t[1] > channel_killed) ++in_doubt;
    else ++duplicated;
  }
  MESSAGE("sent ", out.size(), " messages; missing ", missing, ", duplicated ", duplicated,
          ", resent after the channel's kill while in flight ", in_doubt);
  if (missing || duplicated) MESSAGE(s->log());
  CHECK(missing == 0);
  CHECK(duplicated == 0);
  CHECK(in_doubt <= 4);  // chan-telegram sends on 4 workers
  CHECK(out.size() == static_cast<std::size_t>(total + in_doubt));
}

namespace {

/// Twelve messages in one chat wait behind a slow first answer; `victims` are SIGKILLed;
/// the model must be asked, and the chat answered, in the order the router accepted them.
void one_chat_in_order(const std::vector<std::string>& victims) {
  test::fake_peer llm("fake_llm.py");
  test::fake_peer tg("fake_telegram.py", {"--token", bot_token});
  auto s = test::stack::start(config(llm, tg, "[agents.main]\n"));
  REQUIRE(s);
  auto home = s->dir() + "/home";
  auto c = s->control();
  REQUIRE(c->request(sv::watch{}));
  // The model holds its first answer until long after the agent is killed, so the other
  // eleven messages are accepted and wait behind it.
  REQUIRE(llm.post("/_script", R"([{"delay_ms": 20000}])").status == 200);
  const int total = 12;
  const long chat = 4242;
  std::map<std::string, std::string> text_of;  // message id -> its text
  for (int i = 0; i < total; ++i) {
    auto text = fmt::format("order-{}", i);
    auto r = tg.post("/_inject", json{{"user_id", chat}, {"chat_id", chat}, {"text", text}}.dump());
    REQUIRE(r.status == 200);
    text_of[fmt::format("telegram:{}", json::parse(r.body).value("update_id", 0))] = text;
  }
  REQUIRE_MESSAGE(eventually([&] { return accepted_ids(home).size() == total && !asked(llm).empty(); }), s->log());
  auto order = accepted_ids(home);  // acceptance order
  std::map<std::string, int> rank;  // text -> its place in acceptance order
  for (int i = 0; i < total; ++i) {
    REQUIRE(text_of.count(order[i]));
    rank[text_of[order[i]]] = i;
  }
  for (auto& v : victims) {
    auto pid = s->service_pid(v);
    REQUIRE_MESSAGE(pid > 0, v);
    REQUIRE(::kill(pid, SIGKILL) == 0);
  }
  // Both restarts are watched at once: a change is read only once.
  std::set<std::string> down(victims.begin(), victims.end());
  auto until = std::chrono::steady_clock::now() + 30s;
  while (!down.empty() && std::chrono::steady_clock::now() < until) {
    auto ch = c->next_change(std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()));
    if (!ch) break;
    if (ch->state == sv::state::ready && ch->restarts >= 1) down.erase(ch->name);
  }
  REQUIRE_MESSAGE(down.empty(), s->log());
  auto out = wait_sent(tg, total, 60s);
  REQUIRE_MESSAGE(out.size() >= static_cast<std::size_t>(total), s->log());

  // The model was asked in acceptance order: a question may be asked again (the one in
  // flight when the agent died), never one that was accepted before a question already asked.
  std::vector<int> asked_ranks;
  for (auto& q : asked(llm))
    if (auto t = tag(q); rank.count(t)) asked_ranks.push_back(rank[t]);
  MESSAGE("model asked (acceptance ranks): ", fmt::format("{}", fmt::join(asked_ranks, ", ")));
  CHECK(std::is_sorted(asked_ranks.begin(), asked_ranks.end()));
  CHECK(std::set<int>(asked_ranks.begin(), asked_ranks.end()).size() == static_cast<std::size_t>(total));
  // The replies arrived in acceptance order, one each.
  std::vector<int> replied;
  for (auto& m : out) {
    if (auto t = tag(m.value("text", "")); rank.count(t)) replied.push_back(rank[t]);
  }
  MESSAGE("replies delivered (acceptance ranks): ", fmt::format("{}", fmt::join(replied, ", ")));
  std::vector<int> expected(total);
  for (int i = 0; i < total; ++i) expected[i] = i;
  CHECK(replied == expected);
}

}  // namespace

TEST_CASE("twelve messages queued in one chat, the agent killed mid-turn: asked and answered in acceptance order") {
  // The agent alone: the router resends what the dead agent held. The router with it: the
  // restarted router rebuilds each session's order from its journal.
  std::vector<std::vector<std::string>> cases = {{"agent-main"}, {"router", "agent-main"}};
  for (auto& victims : cases) {
    auto killed = fmt::format("{}", fmt::join(victims, " + "));
    CAPTURE(killed);
    one_chat_in_order(victims);
  }
}

TEST_CASE("SIGKILL of llm three times, of memory and of the shell tool mid-call during 300 messages: one real answer each, "
          "none missing a few seconds after every service is ready again") {
  // Every model answer takes 150 ms, so requests are in flight at each kill.
  test::fake_peer llm("fake_llm.py", {"--delay-ms", "150"});
  test::fake_peer tg("fake_telegram.py", {"--token", bot_token});
  auto s = test::stack::start(config(llm, tg, "[agents.main]\n"));
  REQUIRE(s);
  auto c = s->control();
  REQUIRE(c->request(sv::watch{}));
  const int total = 300;
  // Every 10th message runs a shell command (the tool process is busy when it is killed),
  // every 15th searches memory (memory holds requests when it is killed).
  auto text_of = [](int i) {
    if (i % 10 == 3) return fmt::format(R"(call_tool:exec {{"command":"sleep 0.4; echo shell-{}."}})", i);
    if (i % 15 == 7) return fmt::format(R"(call_tool:memory_search {{"query":"mq{}"}})", i);
    return fmt::format("m{}", i);
  };
  // What each message's one real answer looks like ("Sorry …" is an error reply, not one).
  auto answered = [](const std::string& reply, int i) {
    if (i % 10 == 3) return reply.rfind("Tool said:", 0) == 0 && reply.find(fmt::format("shell-{}.", i)) != std::string::npos;
    if (i % 15 == 7) return reply.rfind("Tool said:", 0) == 0 && reply.find(fmt::format("'mq{}'", i)) != std::string::npos;
    return reply == fmt::format("You said: m{}", i);
  };
  const char* victims[] = {"llm", "memory", "tool-shell-main", "llm", "llm"};
  int next = 0;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < total / 5; ++i, ++next) inject(tg, 2000 + next % 7, text_of(next));
    // Kill once the round is being worked on: the model has been asked at least once more.
    auto asked_before = asked(llm).size();
    REQUIRE(eventually([&] { return asked(llm).size() > asked_before; }, 30s));
    auto pid = s->service_pid(victims[round]);
    if (std::string(victims[round]) == "tool-shell-main")  // mid-call: a command of it is running
      REQUIRE(eventually([&] { return has_children(pid); }, 30s));
    REQUIRE_MESSAGE(pid > 0, victims[round]);
    REQUIRE(::kill(pid, SIGKILL) == 0);
    REQUIRE_MESSAGE(s->wait_state(*c, victims[round], sv::state::ready, round < 3 ? 1 : round - 1, 30s),
                    victims[round], "\n", s->log());
  }
  // Every service is ready again now. A request that died with its callee is sent again to
  // the new process at once, so the backlog drains at the stack's own pace; what is still
  // missing after this grace (an order of magnitude above that pace here, two orders below
  // the 493 s a lost request used to wait) was lost.
  auto out = wait_sent(tg, total, 30s);
  std::this_thread::sleep_for(2s);  // room for a late duplicate to show up
  out = sent(tg);
  std::map<int, std::vector<std::string>> replies;  // message -> the replies to its chat that answer it
  for (auto& m : out) {
    auto text = m.value("text", "");
    for (int i = 0; i < total; ++i)
      if (answered(text, i)) {
        replies[i].push_back(text);
        break;
      }
  }
  int missing = 0, duplicated = 0, errors = 0;
  for (auto& m : out)
    if (m.value("text", "").rfind("Sorry", 0) == 0) ++errors;
  for (int i = 0; i < total; ++i) {
    if (replies[i].empty()) ++missing;
    if (replies[i].size() > 1) ++duplicated;
  }
  MESSAGE("sent ", out.size(), " messages; missing ", missing, ", duplicated ", duplicated, ", error replies ", errors);
  if (missing || duplicated || errors) MESSAGE(s->log());
  CHECK(missing == 0);
  CHECK(duplicated == 0);
  CHECK(errors == 0);
  CHECK(out.size() == static_cast<std::size_t>(total));
}
