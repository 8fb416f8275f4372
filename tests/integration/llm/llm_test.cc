// weft-llm end to end: a real weftd, bus and weft-llm, and tests/fakes/fake_llm.py as the
// provider (both wire styles on one fake). Requests go over the bus as an admin client.
#include <doctest/doctest.h>

#include <curl/curl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>

#include "proto/llm_v1.hh"
#include "proto/supervisor_v1.hh"
#include "tests/integration/harness.hh"

using namespace weft;
using namespace std::chrono_literals;
namespace lv = weft::proto::llm_v1;
namespace sv = weft::proto::supervisor_v1;
using json = nlohmann::json;

namespace {

/// The fake provider as a child process; its port comes from the line it prints.
class fake_llm {
 public:
  explicit fake_llm(const std::string& key) {
    int out[2];
    REQUIRE(::pipe(out) == 0);
    _pid = ::fork();
    REQUIRE(_pid >= 0);
    if (_pid == 0) {
      ::dup2(out[1], 1);
      ::close(out[0]);
      ::close(out[1]);
      ::execlp("python3", "python3", FAKE_LLM_PY, "--port", "0", "--key", key.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    std::string line;
    pollfd p{out[0], POLLIN, 0};
    while (line.find('\n') == std::string::npos && ::poll(&p, 1, 10000) > 0) {
      char buf[256];
      auto n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    auto colon = line.rfind(':');
    REQUIRE_MESSAGE(colon != std::string::npos, "fake_llm did not start: '" << line << "'");
    port = std::stoi(line.substr(colon + 1));
  }
  ~fake_llm() {
    ::kill(_pid, SIGTERM);
    ::waitpid(_pid, nullptr, 0);
  }

  std::string http(const std::string& method, const std::string& path, const std::string& body = {}) {
    CURL* c = curl_easy_init();
    std::string out;
    auto url = "http://127.0.0.1:" + std::to_string(port) + path;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (method == "POST") {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, +[](char* p, std::size_t s, std::size_t n, void* u) {
      static_cast<std::string*>(u)->append(p, s * n);
      return s * n;
    });
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    auto rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    REQUIRE(rc == CURLE_OK);
    return out;
  }
  void reset() { http("POST", "/_reset"); }
  void script(const json& steps) { http("POST", "/_script", steps.dump()); }
  json requests() { return json::parse(http("GET", "/_requests")); }

  int port = 0;

 private:
  pid_t _pid = -1;
};

struct env {
  std::unique_ptr<fake_llm> fake;
  std::unique_ptr<test::stack> stack;
  std::unique_ptr<ipc::bus_client> bus;
};

std::string config_for(int port) {
  auto base = fmt::format("http://127.0.0.1:{}/v1", port);
  return fmt::format(R"(
[providers.oai]
style = "openai"
base_url = "{0}"
api_key = "${{WEFT_TEST_LLM_KEY}}"
model = "fake-gpt"
embedding_model = "fake-embed"

[providers.ant]
style = "anthropic"
base_url = "{0}"
api_key = "test-key"
model = "fake-claude"

[providers.wrongkey]
style = "anthropic"
base_url = "{0}"
api_key = "not-the-key"
model = "fake-claude"

[llm]
default_provider = "oai"
retries = 3
retry_min_wait_ms = 500
timeout_ms = 4000
max_concurrent = 8

[[llm.tiers]]
name = "pricey"
provider = "oai"
model = "pricey-model"
input_cost_per_mtok = 1000000.0
output_cost_per_mtok = 2000000.0

[agents.spender]
tier = "pricey"
budget_usd = 0.5
[agents.spender.tools]
families = []

[[llm.tiers]]
name = "claude"
provider = "ant"
model = "fake-claude"
input_cost_per_mtok = 1000.0
output_cost_per_mtok = 1000.0

[agents.coder]
budget_usd = 0.05
[agents.coder.tools]
families = []
[services.agent-coder]
exec = "/bin/true"
enabled = false

[services.llm]
exec = "{1}"
[services.agent-spender]
exec = "/bin/true"
enabled = false
[services.router]
exec = "/bin/true"
enabled = false
)",
                     base, test::build_path("services/llm/weft-llm"));
}

/// One stack and one fake for the whole file (starting weftd per case would cost seconds).
std::unique_ptr<env> g_env;

env& E() {
  if (!g_env) {
    auto x = std::make_unique<env>();
    x->fake = std::make_unique<fake_llm>("test-key");
    // The key reaches llm from weftd's environment (and only llm: config::secret_vars).
    ::setenv("WEFT_TEST_LLM_KEY", "test-key", 1);
    x->stack = test::stack::start(config_for(x->fake->port));  // weftd is READY once llm is
    x->bus = x->stack->bus_client();
    g_env = std::move(x);
  }
  // weftd sends WATCHDOG=1 to the harness every 200 ms with a blocking send; unread, the
  // datagrams fill the socket in ~10 s and weftd stalls. Read what has queued up.
  (void)g_env->stack->wait_notify("(never sent)", 5ms);
  return *g_env;
}

struct answer {
  std::vector<std::string> deltas;  // received before the reply
  std::optional<lv::completion> completion;
  std::optional<error> err;
};

/// Sends one Complete and waits for its reply, collecting Delta events on the way.
answer complete(ipc::bus_client& b, const lv::complete& c, std::chrono::seconds timeout = 20s) {
  auto id = b.send_request("llm", c);
  REQUIRE(id);
  answer a;
  auto deadline = mono_clock::now() + timeout;
  while (mono_clock::now() < deadline) {
    auto m = b.next(200ms);
    if (!m) continue;
    if (m->is(lv::delta::type_name)) {
      auto d = m->as<lv::delta>();
      REQUIRE(d);
      CHECK(d->stream_id == c.stream_id);
      a.deltas.push_back(d->text);
      continue;
    }
    if (m->env.id != *id || m->env.kind == proto::bus_v1::kind::event) continue;
    if (m->is_error()) a.err = m->to_error();
    else {
      auto r = m->as<lv::completion>();
      REQUIRE(r);
      a.completion = *r;
    }
    return a;
  }
  FAIL("no reply to Complete within the timeout");
  return a;
}

lv::complete ask(const std::string& model, const std::string& text, bool stream = false) {
  lv::complete c;
  c.agent = "main";
  c.model = model;
  c.system = "be brief";
  c.messages.push_back({lv::role::user, text});
  c.stream = stream;
  c.stream_id = stream ? "s-1" : "";
  return c;
}

const char* const styles[] = {"oai/fake-gpt", "ant/fake-claude"};

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (auto& x : v) s += x;
  return s;
}

}  // namespace

TEST_CASE("plain replies in both styles, with the key in the provider's header") {
  auto& e = E();
  for (auto model : styles) {
    INFO(model);
    e.fake->reset();
    auto a = complete(*e.bus, ask(model, "hello there"));
    REQUIRE_MESSAGE(a.completion, (a.err ? a.err->to_string() : ""));
    CHECK(a.completion->text == "You said: hello there");
    CHECK(a.completion->stop_reason == "stop");
    CHECK(a.completion->attempts == 1);
    CHECK(a.completion->usage.input_tokens > 0);
    CHECK(a.completion->usage.output_tokens > 0);
    CHECK(a.deltas.empty());
    auto reqs = e.fake->requests();
    REQUIRE(reqs.size() == 1);
    auto& h = reqs[0]["headers"];
    auto& body = reqs[0]["body"];
    if (std::string(model).starts_with("oai")) {
      CHECK(reqs[0]["path"] == "/v1/chat/completions");
      CHECK(h["authorization"] == "Bearer test-key");
      CHECK(body["messages"][0]["role"] == "system");
      CHECK(a.completion->provider == "oai");
    } else {
      CHECK(reqs[0]["path"] == "/v1/messages");
      CHECK(h["x-api-key"] == "test-key");
      CHECK(h["anthropic-version"] == "2023-06-01");
      CHECK(body["system"] == "be brief");
      CHECK(body["max_tokens"] == 4096);
      CHECK(a.completion->provider == "ant");
    }
  }
}

TEST_CASE("tool calls both ways, plain and streamed") {
  auto& e = E();
  for (auto model : styles)
    for (bool stream : {false, true}) {
      INFO(model, " stream=", stream);
      e.fake->reset();
      e.fake->script(json::array({{{"tool_calls", json::array({{{"name", "exec"}, {"arguments", {{"cmd", "ls"}}}}})}}}));
      auto c = ask(model, "list the files", stream);
      c.tools.push_back({"exec", "Run a command", R"({"type":"object","properties":{"cmd":{"type":"string"}}})"});
      auto a = complete(*e.bus, c);
      REQUIRE_MESSAGE(a.completion, (a.err ? a.err->to_string() : ""));
      CHECK(a.completion->stop_reason == "tool_calls");
      REQUIRE(a.completion->tool_calls.size() == 1);
      auto& call = a.completion->tool_calls[0];
      CHECK(call.name == "exec");
      CHECK(!call.id.empty());
      CHECK(json::parse(call.arguments) == json{{"cmd", "ls"}});
      auto reqs = e.fake->requests();
      REQUIRE(reqs.size() == 1);
      auto& tools = reqs[0]["body"]["tools"];
      REQUIRE(tools.size() == 1);
      if (std::string(model).starts_with("oai")) CHECK(tools[0]["function"]["name"] == "exec");
      else CHECK(tools[0]["input_schema"]["type"] == "object");

      // The result goes back in the provider's shape; the fake answers from it.
      c.messages.push_back({lv::role::assistant, "", a.completion->tool_calls});
      c.messages.push_back({lv::role::tool, "a.txt b.txt", {}, call.id});
      auto b = complete(*e.bus, c);
      REQUIRE_MESSAGE(b.completion, (b.err ? b.err->to_string() : ""));
      CHECK(b.completion->text == "Tool said: a.txt b.txt");
      auto msgs = e.fake->requests()[1]["body"]["messages"];
      if (std::string(model).starts_with("ant")) {
        auto& last = msgs.back();
        CHECK(last["role"] == "user");
        CHECK(last["content"][0]["type"] == "tool_result");
        CHECK(last["content"][0]["tool_use_id"] == call.id);
      } else {
        CHECK(msgs.back()["role"] == "tool");
        CHECK(msgs.back()["tool_call_id"] == call.id);
      }
    }
}

TEST_CASE("streaming: Delta events arrive before the Completion and add up to its text") {
  auto& e = E();
  for (auto model : styles) {
    INFO(model);
    e.fake->reset();
    auto a = complete(*e.bus, ask(model, "one two three four", true));
    REQUIRE_MESSAGE(a.completion, (a.err ? a.err->to_string() : ""));
    CHECK(a.completion->text == "You said: one two three four");
    CHECK(a.deltas.size() >= 4);
    CHECK(joined(a.deltas) == a.completion->text);
    CHECK(e.fake->requests()[0]["body"]["stream"] == true);
  }
}

TEST_CASE("429 with Retry-After: one retry, after the wait the provider asked for") {
  auto& e = E();
  for (auto model : styles) {
    INFO(model);
    e.fake->reset();
    e.fake->script(json::array({{{"status", 429}, {"headers", {{"Retry-After", "1"}}}}}));
    auto a = complete(*e.bus, ask(model, "again"));
    REQUIRE_MESSAGE(a.completion, (a.err ? a.err->to_string() : ""));
    CHECK(a.completion->attempts == 2);
    CHECK(a.completion->text == "You said: again");
    auto reqs = e.fake->requests();
    REQUIRE(reqs.size() == 2);
    double gap = reqs[1]["t"].get<double>() - reqs[0]["t"].get<double>();
    CHECK(gap >= 1.0);
  }
}

TEST_CASE("500 twice, then success") {
  auto& e = E();
  for (auto model : styles) {
    INFO(model);
    e.fake->reset();
    e.fake->script(json::array({{{"status", 500}}, {{"status", 500}}}));
    auto a = complete(*e.bus, ask(model, "x"));
    REQUIRE_MESSAGE(a.completion, (a.err ? a.err->to_string() : ""));
    CHECK(a.completion->attempts == 3);
    CHECK(e.fake->requests().size() == 3);
  }
}

TEST_CASE("500 four times: Upstream after exactly 4 attempts, with the provider's message") {
  auto& e = E();
  // Both styles at once (8 scripted failures) so the backoff waits overlap.
  e.fake->reset();
  json steps = json::array();
  for (int i = 0; i < 8; ++i) steps.push_back({{"status", 500}, {"message", "the fake is down"}});
  e.fake->script(steps);
  std::map<std::uint64_t, std::string> ids;
  for (auto model : styles) ids[*e.bus->send_request("llm", ask(model, "x"))] = model;
  int answered = 0;
  auto deadline = mono_clock::now() + 30s;
  while (answered < 2 && mono_clock::now() < deadline) {
    auto m = e.bus->next(200ms);
    if (!m || m->env.kind == proto::bus_v1::kind::event || !ids.count(m->env.id)) continue;
    ++answered;
    INFO(ids[m->env.id]);
    REQUIRE(m->is_error());
    auto err = m->to_error();
    CHECK(lv::is(err, lv::error_code::upstream));
    CHECK(err.message.find("HTTP 500 after 4 attempts") != std::string::npos);
    CHECK(err.message.find("the fake is down") != std::string::npos);
  }
  CHECK(answered == 2);
  CHECK(e.fake->requests().size() == 8);
}

TEST_CASE("a 401 is not retried") {
  auto& e = E();
  e.fake->reset();
  auto a = complete(*e.bus, ask("wrongkey/fake-claude", "x"));
  REQUIRE(a.err);
  CHECK(lv::is(*a.err, lv::error_code::upstream));
  CHECK(a.err->message.find("HTTP 401") != std::string::npos);
  CHECK(a.err->message.find("invalid x-api-key") != std::string::npos);
  CHECK(e.fake->requests().size() == 1);
}

TEST_CASE("malformed JSON is Malformed, not retried") {
  auto& e = E();
  for (auto model : styles)
    for (bool stream : {false, true}) {
      INFO(model, " stream=", stream);
      e.fake->reset();
      e.fake->script(json::array({{{"malformed", true}}}));
      auto a = complete(*e.bus, ask(model, "x", stream));
      REQUIRE(a.err);
      CHECK(lv::is(*a.err, lv::error_code::malformed));
      CHECK(e.fake->requests().size() == 1);
    }
}

TEST_CASE("a stream cut mid-way: Malformed once text went out, retried when nothing did") {
  auto& e = E();
  for (auto model : styles) {
    INFO(model);
    e.fake->reset();
    e.fake->script(json::array({{{"cut_stream_after", 4}}}));
    auto a = complete(*e.bus, ask(model, "one two three four five", true));
    REQUIRE(a.err);
    CHECK(lv::is(*a.err, lv::error_code::malformed));
    CHECK(!a.deltas.empty());
    CHECK(e.fake->requests().size() == 1);

    e.fake->reset();
    e.fake->script(json::array({{{"cut_stream_after", 1}}}));
    auto b = complete(*e.bus, ask(model, "one two", true));
    REQUIRE_MESSAGE(b.completion, (b.err ? b.err->to_string() : ""));
    CHECK(b.completion->attempts == 2);
    CHECK(joined(b.deltas) == "You said: one two");
  }
}

TEST_CASE("a provider slower than timeout_ms: Timeout, not retried") {
  auto& e = E();
  e.fake->reset();
  e.fake->script(json::array({{{"delay_ms", 4500}}}));
  auto a = complete(*e.bus, ask("oai/fake-gpt", "x"));
  REQUIRE(a.err);
  CHECK(lv::is(*a.err, lv::error_code::timeout));
  CHECK(e.fake->requests().size() == 1);
}

TEST_CASE("32 concurrent requests are all answered, each with its own text") {
  auto& e = E();
  e.fake->reset();
  std::map<std::uint64_t, std::string> sent;
  for (int i = 0; i < 32; ++i) {
    auto text = fmt::format("request {}", i);
    auto id = e.bus->send_request("llm", ask(styles[i % 2], text, i % 4 == 0));
    REQUIRE(id);
    sent[*id] = text;
  }
  std::size_t answered = 0;
  auto deadline = mono_clock::now() + 30s;
  while (answered < sent.size() && mono_clock::now() < deadline) {
    auto m = e.bus->next(200ms);
    if (!m || m->env.kind == proto::bus_v1::kind::event || !sent.count(m->env.id)) continue;
    ++answered;
    REQUIRE_MESSAGE(!m->is_error(), m->to_error().to_string());
    auto c = m->as<lv::completion>();
    REQUIRE(c);
    CHECK(c->text == "You said: " + sent[m->env.id]);
  }
  CHECK(answered == 32);
  CHECK(e.fake->requests().size() == 32);
}

TEST_CASE("budget: cost from the tier's prices; once spent, refused without a request") {
  auto& e = E();
  e.fake->reset();
  e.fake->script(json::array({{{"usage", {{"input", 1}, {"output", 1}}}}}));
  lv::complete c = ask("", "spend");
  c.agent = "spender";
  auto a = complete(*e.bus, c);
  REQUIRE_MESSAGE(a.completion, (a.err ? a.err->to_string() : ""));
  CHECK(a.completion->model == "pricey-model");
  CHECK(a.completion->usage.cost_usd == doctest::Approx(3.0));  // 1 token at $1 + 1 token at $2
  auto b = complete(*e.bus, c);
  REQUIRE(b.err);
  CHECK(lv::is(*b.err, lv::error_code::budget_exceeded));
  CHECK(b.err->message.find("'spender' spent $3.0000 of its $0.5000 budget") != std::string::npos);
  CHECK(e.fake->requests().size() == 1);
}

TEST_CASE("embeddings: vectors matched by index, as float32") {
  auto& e = E();
  e.fake->reset();
  auto r = e.bus->call("llm", lv::embed{"main", {"a", "bbb"}, ""});
  REQUIRE_MESSAGE(r, (r ? "" : r.err().to_string()));
  auto em = r->as<lv::embeddings>();
  REQUIRE(em);
  CHECK(em->dims == 3);
  REQUIRE(em->vectors.size() == 2);
  float v[3];
  REQUIRE(em->vectors[1].size() == sizeof v);
  std::memcpy(v, em->vectors[1].data(), sizeof v);  // the test host is little-endian (x86-64)
  CHECK(v[0] == 3.0f);
  CHECK(v[1] == 1.0f);
  CHECK(v[2] == 0.5f);
  CHECK(e.fake->requests()[0]["body"]["model"] == "fake-embed");
}

TEST_CASE("TERM while a streamed request is on the wire: llm finishes it before it exits") {
  auto& e = E();
  e.fake->reset();
  e.fake->script(json::array({{{"delay_ms", 1500}}}));
  auto ctl = e.stack->control();
  REQUIRE(ctl->request(sv::watch{}));  // watching before the TERM: the READY after it cannot slip past
  auto pid = e.stack->service_pid("llm");
  REQUIRE(pid > 0);
  auto c = ask("oai/fake-gpt", "finish me", true);
  auto before = e.stack->delivered(*e.bus, "llm");
  auto id = e.bus->send_request("llm", c);
  REQUIRE(id);
  REQUIRE(e.stack->wait_delivered(*e.bus, "llm", before + 1, 10s));
  REQUIRE(::kill(pid, SIGTERM) == 0);
  answer a;
  auto deadline = mono_clock::now() + 20s;
  while (!a.completion && !a.err && mono_clock::now() < deadline) {
    auto m = e.bus->next(200ms);
    if (!m) continue;
    if (m->is(lv::delta::type_name)) {
      if (auto d = m->as<lv::delta>()) a.deltas.push_back(d->text);
    } else if (m->env.id == *id && m->env.kind != proto::bus_v1::kind::event) {
      if (m->is_error()) a.err = m->to_error();
      else a.completion = *m->as<lv::completion>();
    }
  }
  REQUIRE_MESSAGE(a.completion, (a.err ? a.err->to_string() : "no reply"));
  CHECK(a.completion->text == "You said: finish me");
  CHECK(joined(a.deltas) == "You said: finish me");
  CHECK(e.fake->requests().size() == 1);
  // weftd starts it again; the cases after this one need it.
  REQUIRE_MESSAGE(e.stack->wait_state(*ctl, "llm", sv::state::ready, 1, 30s), "llm did not come back");
}

namespace {

struct unix_reply {
  long status = 0;
  std::string body;
};

/// One HTTP/1.1 request over a UNIX socket (how a delegated run reaches llm).
unix_reply over_socket(const std::string& socket, const std::string& target, const std::string& body,
                       const std::vector<std::string>& headers) {
  CURL* c = curl_easy_init();
  unix_reply r;
  auto url = "http://weft" + target;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_slist* h = nullptr;
  for (auto& x : headers) h = curl_slist_append(h, x.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, +[](char* p, std::size_t s, std::size_t n, void* u) {
    static_cast<std::string*>(u)->append(p, s * n);
    return s * n;
  });
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  auto rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  REQUIRE_MESSAGE(rc == CURLE_OK, curl_easy_strerror(rc));
  return r;
}

}  // namespace

TEST_CASE("delegated runs: an Anthropic-Messages endpoint on a socket, a run token instead of the key, cost counted") {
  auto& e = E();
  e.fake->reset();
  // A token for agent coder, asked for as the admin (ctl/*).
  auto t = e.bus->call("llm", lv::issue_run_token{"coder", 60000});
  REQUIRE_MESSAGE(t, (t ? "" : t.err().to_string()));
  auto tok = t->as<lv::run_token>();
  REQUIRE(tok);
  CHECK(tok->socket == e.stack->runtime() + "/llm/messages.sock");
  CHECK(tok->expires_in_ms == 60000);
  CHECK(tok->token.rfind("weft-run-", 0) == 0);
  auto unknown = e.bus->call("llm", lv::issue_run_token{"nobody", 0});
  REQUIRE_FALSE(unknown);
  CHECK(unknown.err().message == "there is no agent 'nobody' in [agents]");

  // Streamed, as Claude Code asks: the provider's SSE comes back as it was sent, the real key
  // went to the provider, the run's token did not.
  e.fake->script(json::array({{{"usage", {{"input", 10}, {"output", 5}}}}, {{"usage", {{"input", 10}, {"output", 5}}}}}));
  auto stream_body = json{{"model", "fake-claude"}, {"max_tokens", 100}, {"stream", true},
                          {"messages", json::array({{{"role", "user"}, {"content", "hello"}}})}}.dump();
  auto r = over_socket(tok->socket, "/v1/messages?beta=true", stream_body,
                       {"x-api-key: " + tok->token, "anthropic-version: 2023-06-01", "anthropic-beta: test-beta",
                        "content-type: application/json"});
  CHECK(r.status == 200);
  CHECK(r.body.find("event: message_start") != std::string::npos);
  CHECK(r.body.find("event: message_stop") != std::string::npos);
  CHECK(r.body.find("hello") != std::string::npos);
  CHECK(r.body.find("test-key") == std::string::npos);
  auto reqs = e.fake->requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0]["path"] == "/v1/messages?beta=true");
  CHECK(reqs[0]["headers"]["x-api-key"] == "test-key");
  CHECK(reqs[0]["headers"]["anthropic-beta"] == "test-beta");
  CHECK(reqs[0]["body"]["messages"][0]["content"] == "hello");

  // Not streamed, with a Bearer token; a provider error passes through as the provider said it.
  auto json_body = json{{"model", "fake-claude"}, {"max_tokens", 100},
                        {"messages", json::array({{{"role", "user"}, {"content", "plain"}}})}}.dump();
  r = over_socket(tok->socket, "/v1/messages", json_body, {"Authorization: Bearer " + tok->token});
  CHECK(r.status == 200);
  CHECK(json::parse(r.body)["content"][0]["text"] == "You said: plain");
  e.fake->script(json::array({{{"status", 400}, {"message", "prompt is too long"}}}));
  r = over_socket(tok->socket, "/v1/messages", json_body, {"x-api-key: " + tok->token});
  CHECK(r.status == 400);
  CHECK(r.body.find("prompt is too long") != std::string::npos);

  // Without a valid token nothing goes out.
  auto before = e.fake->requests().size();
  for (auto key : {std::string("x-api-key: test-key"), std::string("x-api-key: weft-run-0"), std::string()}) {
    r = over_socket(tok->socket, "/v1/messages", json_body, key.empty() ? std::vector<std::string>{} : std::vector{key});
    CHECK(r.status == 401);
    CHECK(json::parse(r.body)["error"]["type"] == "authentication_error");
  }
  r = over_socket(tok->socket, "/v1/complete", json_body, {"x-api-key: " + tok->token});
  CHECK(r.status == 404);
  CHECK(e.fake->requests().size() == before);

  // What the runs used is counted at the claude tier's price ($1000 per million tokens): 30
  // tokens so far ($0.03 of coder's $0.05 a day), then 100 more; the next run is refused
  // before it goes out.
  e.fake->script(json::array({{{"usage", {{"input", 100}, {"output", 0}}}}}));
  r = over_socket(tok->socket, "/v1/messages", json_body, {"x-api-key: " + tok->token});
  CHECK(r.status == 200);
  before = e.fake->requests().size();
  r = over_socket(tok->socket, "/v1/messages", json_body, {"x-api-key: " + tok->token});
  CHECK(r.status == 429);
  CAPTURE(r.body);
  CHECK(json::parse(r.body)["error"]["message"].get<std::string>().find("weft: ") == 0);
  CHECK(e.fake->requests().size() == before);
}

TEST_CASE("no provider configured: NotConfigured, one sentence") {
  g_env.reset();  // the shared stack is done with
  auto s = test::stack::start(fmt::format(R"(
[providers.nokey]
style = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "WEFT_TEST_NO_SUCH_KEY_SET"

[services.llm]
exec = "{}"
)",
                                          test::build_path("services/llm/weft-llm")));
  auto b = s->bus_client();
  auto a = complete(*b, ask("", "hello"));
  REQUIRE(a.err);
  CHECK(lv::is(*a.err, lv::error_code::not_configured));
  CHECK(a.err->message == fmt::format("No LLM provider is usable: [providers.nokey] in '{}' has no API key. Set "
                                      "api_key in that table, then run `weftctl reload` (no restart needed).",
                                      s->config_path()));
}
