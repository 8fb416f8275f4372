// The channels against the real stack: weftd, bus, router, agent, llm (with
// tests/fakes/fake_llm.py) and weft-chan-telegram (with tests/fakes/fake_telegram.py) or
// weft-chan-web. Replies are also sent straight to the channel (Chat.v1.Deliver from an
// admin client) to check splitting, idempotency, 429 and 400 handling in isolation.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "proto/bus_v1.hh"
#include "proto/chat_v1.hh"
#include "tests/integration/fake_peer.hh"
#include "tests/integration/harness.hh"
#include "tests/integration/web_client.hh"
#include "tests/tcp_listener.hh"

using namespace weft;
using namespace weft::test::web;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace chat = weft::proto::chat_v1;

namespace {

constexpr const char* bot_token = "4242:chan-test";

std::string base_config(const test::fake_peer& llm, const std::string& channels) {
  return fmt::format(R"([supervisor]
restart_backoff_initial_ms = 50

[providers.fake]
style = "openai"
base_url = "{}/v1"
model = "fake-model"

[llm]
default_provider = "fake"

[agents.main]
[agents.main.tools]
families = []

{}
)",
                     llm.url(), channels);
}

std::string telegram_section(const test::fake_peer& tg, const std::string& extra = {}) {
  return fmt::format("[channels.telegram]\ntoken = \"{}\"\napi_base = \"{}\"\npoll_timeout_s = 1\n{}\n", bot_token,
                     tg.url(), extra);
}

json get_json(test::fake_peer& p, const std::string& path) {
  auto r = p.get(path);
  REQUIRE(r.status == 200);
  return json::parse(r.body);
}

/// Messages the bot sent to `chat` (a number as the fake records it, or a string).
json sent_to(test::fake_peer& tg, long chat) {
  json out = json::array();
  for (auto& m : get_json(tg, "/_sent"))
    if (m.contains("chat_id") && (m["chat_id"] == chat || m["chat_id"] == std::to_string(chat))) out.push_back(m);
  return out;
}

json wait_sent_to(test::fake_peer& tg, long chat, std::size_t n, std::chrono::seconds timeout = 60s) {
  auto until = std::chrono::steady_clock::now() + timeout;
  json s;
  while (std::chrono::steady_clock::now() < until) {
    s = sent_to(tg, chat);
    if (s.size() >= n) return s;
    std::this_thread::sleep_for(50ms);
  }
  return s;
}

chat::deliver text_reply(const std::string& outbox, long chat_id, const std::string& text) {
  chat::deliver d;
  d.outbox_id = outbox;
  d.message.id = outbox;
  d.message.channel = "telegram";
  d.message.chat_id = std::to_string(chat_id);
  d.message.sender = "main";
  d.message.ts = utc_now();
  chat::part p;
  p.kind = chat::part_kind::text;
  p.text = text;
  d.message.parts.push_back(p);
  return d;
}

result<ipc::message> deliver(ipc::bus_client& b, const std::string& to, const chat::deliver& d) {
  ipc::call_options o;
  o.timeout = 30s;
  o.attempt_timeout = 30s;
  o.retry = false;
  return b.call(to, d, o);
}

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string repeat(const std::string& s, int n) {
  std::string o;
  for (int i = 0; i < n; ++i) o += s;
  return o;
}

}  // namespace

TEST_CASE("telegram, polling: a message gets its reply; long replies split; Deliver is idempotent; 429 and 400") {
  test::fake_peer llm("fake_llm.py");
  test::fake_peer tg("fake_telegram.py", {"--token", bot_token});
  auto s = test::stack::start(base_config(llm, telegram_section(tg)));
  REQUIRE(s);

  // A message through the whole stack; the reply answers the original message.
  auto r = tg.post("/_inject", json{{"user_id", 42}, {"chat_id", 42}, {"text", "hello there"}}.dump());
  REQUIRE(r.status == 200);
  auto injected = json::parse(r.body);
  auto got = wait_sent_to(tg, 42, 1);
  REQUIRE(got.size() >= 1);
  CHECK(got[0]["text"].get<std::string>().find("hello there") != std::string::npos);
  CHECK(got[0]["reply_to"] == injected["message_id"]);

  auto b = s->bus_client();
  // More than 4096 characters: two messages, in order, and nothing lost.
  std::string long_text = repeat("word ", 700) + "\n\n" + repeat("é", 3000);
  auto a1 = deliver(*b, "chan/telegram", text_reply("test:long", 77, long_text));
  REQUIRE(a1);
  auto d1 = a1->as<chat::delivered>();
  REQUIRE(d1);
  CHECK(d1->outbox_id == "test:long");
  auto parts = sent_to(tg, 77);
  REQUIRE(parts.size() == 2);
  CHECK(parts[0]["text"] == repeat("word ", 700));
  CHECK(parts[1]["text"] == repeat("é", 3000));
  CHECK(d1->upstream_id == std::to_string(parts[1]["message_id"].get<long>()));

  // The router resends a Deliver it has no answer to: answered, nothing sent again.
  auto a2 = deliver(*b, "chan/telegram", text_reply("test:long", 77, long_text));
  REQUIRE(a2);
  CHECK(a2->as<chat::delivered>()->upstream_id == d1->upstream_id);
  CHECK(sent_to(tg, 77).size() == 2);

  // 429 with retry_after: the same request again after the wait, delivered once.
  auto calls_before = get_json(tg, "/_calls").value("sendMessage", 0);
  REQUIRE(tg.post("/_fail", R"({"method":"sendMessage","count":1,"status":429,"retry_after":1})").status == 200);
  auto a3 = deliver(*b, "chan/telegram", text_reply("test:429", 78, "after the flood"));
  REQUIRE(a3);
  CHECK(get_json(tg, "/_calls").value("sendMessage", 0) == calls_before + 2);
  REQUIRE(sent_to(tg, 78).size() == 1);
  CHECK(sent_to(tg, 78)[0]["text"] == "after the flood");

  // 500: retried with backoff.
  REQUIRE(tg.post("/_fail", R"({"method":"sendMessage","count":2,"status":500})").status == 200);
  REQUIRE(deliver(*b, "chan/telegram", text_reply("test:500", 79, "eventually")));
  CHECK(sent_to(tg, 79).size() == 1);

  // 400: given up at once with a typed error, so the router does not retry forever.
  REQUIRE(tg.post("/_fail", R"({"method":"sendMessage","count":1,"status":400})").status == 200);
  auto a4 = deliver(*b, "chan/telegram", text_reply("test:400", 80, "never"));
  REQUIRE_FALSE(a4);
  CHECK(a4.err().domain == "io.weft.Chat.v1");
  CHECK(a4.err().code == "Unsupported");
  CHECK(sent_to(tg, 80).empty());

  // A blob part becomes a multipart upload.
  auto photo = text_reply("test:photo", 81, "caption-less");
  photo.message.parts.clear();
  chat::part img;
  img.kind = chat::part_kind::blob;
  img.media_type = "image/png";
  img.name = "dot.png";
  img.data = wire::bytes{0x89, 'P', 'N', 'G', 0, 1, 2};
  photo.message.parts.push_back(img);
  REQUIRE(deliver(*b, "chan/telegram", photo));
  auto ph = sent_to(tg, 81);
  REQUIRE(ph.size() == 1);
  CHECK(ph[0]["method"] == "sendPhoto");
  CHECK(ph[0]["file_name"] == "dot.png");
  CHECK(ph[0]["size"] == 7);

  // An incoming photo is fetched with getFile and passed on; the agent answers.
  REQUIRE(tg.post("/_inject", json{{"user_id", 43}, {"chat_id", 43}, {"photo", "iVBORw0KGgo="}, {"caption", "see"}}.dump())
              .status == 200);
  auto ph_reply = wait_sent_to(tg, 43, 1);
  CHECK(ph_reply.size() == 1);
  CHECK(get_json(tg, "/_calls").value("getFile", 0) >= 1);
}

TEST_CASE("telegram: the offset survives a restart of the channel; no update is handled twice") {
  test::fake_peer llm("fake_llm.py");
  test::fake_peer tg("fake_telegram.py", {"--token", bot_token});
  auto s = test::stack::start(base_config(llm, telegram_section(tg)));
  REQUIRE(s);
  REQUIRE(tg.post("/_inject", json{{"user_id", 50}, {"text", "one"}}.dump()).status == 200);
  REQUIRE(wait_sent_to(tg, 50, 1).size() == 1);
  auto r = s->weftctl({"restart", "chan-telegram"});
  REQUIRE(r.exit_code == 0);
  REQUIRE(tg.post("/_inject", json{{"user_id", 50}, {"text", "two"}}.dump()).status == 200);
  auto got = wait_sent_to(tg, 50, 2);
  REQUIRE(got.size() == 2);
  CHECK(got[1]["text"].get<std::string>().find("two") != std::string::npos);
  // Both updates (ids 1000 and 1001 in the fake) acknowledged: the offset file says 1002.
  auto offset_file = s->dir() + "/home/channels/telegram/offset";
  long offset = 0;
  for (auto until = std::chrono::steady_clock::now() + 30s; offset != 1002 && std::chrono::steady_clock::now() < until;) {
    std::ifstream in(offset_file);
    if (!(in >> offset)) offset = 0;
    if (offset != 1002) std::this_thread::sleep_for(20ms);
  }
  CHECK(offset == 1002);
  CHECK(sent_to(tg, 50).size() == 2);  // the first update was not handled again after the restart
}

TEST_CASE("telegram: replies still thread to their messages when the channel is killed before they go out") {
  test::fake_peer llm("fake_llm.py");
  test::fake_peer tg("fake_telegram.py", {"--token", bot_token});
  auto s = test::stack::start(base_config(llm, telegram_section(tg)));
  REQUIRE(s);
  // Each chat's first sendMessage is told to wait 10 minutes: the replies are in the
  // channel's hands, and not sent, when it dies.
  const std::vector<long> chats = {301, 302, 303, 304};
  REQUIRE(tg.post("/_fail", json{{"method", "sendMessage"}, {"count", chats.size()}, {"status", 429},
                                 {"retry_after", 600}}.dump())
              .status == 200);
  std::map<long, json> injected;
  for (auto chat : chats) {
    auto r = tg.post("/_inject", json{{"user_id", chat}, {"chat_id", chat}, {"text", fmt::format("hi {}", chat)}}.dump());
    REQUIRE(r.status == 200);
    injected[chat] = json::parse(r.body)["message_id"];
  }
  auto until = std::chrono::steady_clock::now() + 60s;
  while (get_json(tg, "/_calls").value("sendMessage", 0) < static_cast<int>(chats.size()) &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(50ms);
  REQUIRE(get_json(tg, "/_calls").value("sendMessage", 0) == static_cast<int>(chats.size()));
  for (auto chat : chats) REQUIRE(sent_to(tg, chat).empty());

  auto pid = s->service_pid("chan-telegram");
  REQUIRE(pid > 0);
  REQUIRE(::kill(pid, SIGKILL) == 0);
  // weftd restarts it; the router sends the replies again; each threads to its message.
  for (auto chat : chats) {
    CAPTURE(chat);
    auto got = wait_sent_to(tg, chat, 1);
    REQUIRE(got.size() == 1);
    CHECK(got[0]["text"].get<std::string>().find(fmt::format("hi {}", chat)) != std::string::npos);
    CHECK(got[0]["reply_to"] == injected[chat]);
  }
  CHECK(s->service_pid("chan-telegram") != pid);
}

TEST_CASE("telegram, webhook: updates are acknowledged only after the router accepted them; the secret is checked") {
  test::fake_peer llm("fake_llm.py");
  test::fake_peer tg("fake_telegram.py", {"--token", bot_token});
  auto port = free_port();
  auto s = test::stack::start(base_config(
      llm, telegram_section(tg, fmt::format("mode = \"webhook\"\nwebhook_listen = \"127.0.0.1:{}\"\n"
                                            "webhook_url = \"http://127.0.0.1:{}/tg\"\nwebhook_secret = \"s3cret\"\n",
                                            port, port))));
  REQUIRE(s);
  // setWebhook is called once the channel runs.
  auto until = std::chrono::steady_clock::now() + 30s;
  bool hooked = false;
  while (!hooked && std::chrono::steady_clock::now() < until) {
    for (auto& m : get_json(tg, "/_sent")) hooked = hooked || m.value("method", "") == "setWebhook";
    if (!hooked) std::this_thread::sleep_for(50ms);
  }
  REQUIRE(hooked);
  auto wrong = test::http(port, "POST", "/tg", R"({"update_id":1,"message":{"chat":{"id":1},"text":"x"}})");
  CHECK(wrong.status == 401);
  REQUIRE(tg.post("/_inject", json{{"user_id", 60}, {"text", "via webhook"}}.dump()).status == 200);
  auto got = wait_sent_to(tg, 60, 1);
  REQUIRE(got.size() == 1);
  CHECK(got[0]["text"].get<std::string>().find("via webhook") != std::string::npos);
  bool acked = false;
  for (auto& m : get_json(tg, "/_sent")) acked = acked || m.value("method", "") == "_webhook_ok";
  CHECK(acked);
}

TEST_CASE("web: page, health, a message with a streamed reply over SSE, replies kept while no browser is there") {
  test::fake_peer llm("fake_llm.py");
  auto s = test::stack::start(base_config(llm, "[channels.web]\nlisten = \"127.0.0.1:0\"\n"));
  REQUIRE(s);
  auto port = wait_web_port(*s);
  REQUIRE(port != 0);
  auto token = web_token(*s);
  REQUIRE(token.size() == 64);
  auto auth = bearer(token);
  auto page = test::http(port, "GET", "/");
  CHECK(page.status == 200);
  CHECK(page.body.find("<title>weft chat</title>") != std::string::npos);
  CHECK(test::http(port, "GET", "/api/health").status == 200);
  CHECK(test::http(port, "GET", "/nope").status == 404);
  CHECK(post_message(port, token, "not json").status == 400);
  CHECK(post_message(port, token, R"({"session":"bad session","text":"x"})").status == 400);
  CHECK(test::http(port, "GET", "/api/stream", "", "application/json", auth).status == 400);

  sse_stream st(port, "/api/stream?session=s1", auth[0]);
  REQUIRE(st.read_until("retry:"));
  auto posted = post_message(port, token, R"({"session":"s1","text":"stream me please"})");
  REQUIRE(posted.status == 202);
  auto id = json::parse(posted.body)["id"].get<std::string>();
  CHECK(id.rfind("web:", 0) == 0);
  REQUIRE(st.read_until("event: message"));
  auto at_delta = st.data().find("event: delta");
  auto at_message = st.data().find("event: message");
  CHECK(at_delta != std::string::npos);
  CHECK(at_delta < at_message);
  CHECK(st.data().find("stream me please", at_message) != std::string::npos);
  CHECK(st.data().find(id, at_message) != std::string::npos);

  // No browser for s2: the reply is kept and handed to the next stream.
  auto b = s->bus_client();
  auto d = text_reply("test:kept", 0, "kept for later");
  d.message.channel = "web";
  d.message.chat_id = "s2";
  auto a = deliver(*b, "chan/web", d);
  REQUIRE(a);
  CHECK(a->as<chat::delivered>()->outbox_id == "test:kept");
  REQUIRE(deliver(*b, "chan/web", d));  // repeated: answered, not kept twice
  sse_stream later(port, "/api/stream?session=s2", auth[0]);
  REQUIRE(later.read_until("kept for later"));
  later.read_until("never-there", 1s);  // whatever else the stream brings within a second
  auto first = later.data().find("kept for later");
  CHECK(later.data().find("kept for later", first + 1) == std::string::npos);
}

TEST_CASE("web: the API needs the token even on loopback; the printed URL logs a browser in with a cookie; "
          "the sender is the token's identity") {
  test::fake_peer llm("fake_llm.py");
  auto s = test::stack::start(base_config(llm, "[channels.web]\nlisten = \"127.0.0.1:0\"\n"));
  REQUIRE(s);
  auto port = wait_web_port(*s);
  REQUIRE(port != 0);
  auto token = web_token(*s);
  REQUIRE(token.size() == 64);
  struct stat st {};
  REQUIRE(::stat((s->dir() + "/home/channels/web/token").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // The URL weft prints carries the token.
  CHECK(s->log().find(fmt::format("weft web chat: http://127.0.0.1:{}/?token={}", port, token)) != std::string::npos);

  auto msg = R"({"session":"s","text":"x"})";
  CHECK(test::http(port, "POST", "/api/messages", msg).status == 401);
  CHECK(test::http(port, "GET", "/api/stream?session=s").status == 401);
  CHECK(post_message(port, "wrong", msg).status == 401);
  CHECK(test::http(port, "POST", "/api/messages?token=" + token, msg).status == 401);  // not in a URL: a header
  CHECK(post_message(port, token, msg).status == 202);
  CHECK(test::http(port, "GET", "/").status == 200);  // the page itself holds nothing secret

  // A browser opening the printed URL gets the token as a cookie scripts cannot read, and the
  // URL without it.
  CHECK(test::http(port, "GET", "/?token=wrong").status == 401);
  auto login = test::http(port, "GET", "/?session=abc&token=" + token);
  REQUIRE(login.status == 303);
  CHECK(login.header("Location") == "/?session=abc");
  auto cookie = login.header("Set-Cookie");
  auto name = fmt::format("weft_web_{}", port);
  CHECK(cookie.rfind(name + "=" + token + ";", 0) == 0);
  CHECK(cookie.find("HttpOnly") != std::string::npos);
  CHECK(cookie.find("SameSite=Strict") != std::string::npos);
  std::vector<std::string> with_cookie = {"Cookie: other=1; " + name + "=" + token};
  CHECK(test::http(port, "POST", "/api/messages", msg, "application/json", with_cookie).status == 202);
  CHECK(test::http(port, "GET", "/api/stream", "", "application/json", with_cookie).status == 400);  // no session
  auto same_origin = with_cookie;
  same_origin.push_back(fmt::format("Origin: http://127.0.0.1:{}", port));
  CHECK(test::http(port, "POST", "/api/messages", msg, "application/json", same_origin).status == 202);
  // Another page on this host (same site, another port) cannot use the browser's cookie.
  auto other_origin = with_cookie;
  other_origin.push_back("Origin: http://127.0.0.1:1");
  CHECK(test::http(port, "POST", "/api/messages", msg, "application/json", other_origin).status == 403);
  CHECK(test::http(port, "POST", "/api/messages", msg, "application/json", {"Cookie: " + name + "=wrong"}).status ==
        401);

  // Who sent a message is the token's identity: a body naming another user is refused.
  auto as_admin = post_message(port, token, R"({"session":"s","text":"x","user":"admin"})");
  CHECK(as_admin.status == 400);
  CHECK(as_admin.body.find("'user' is not accepted") != std::string::npos);
  CHECK(post_message(port, token, R"({"session":"s","text":"x","user":"web"})").status == 202);

  // A restart keeps the token (a browser's cookie stays good).
  REQUIRE(s->weftctl({"restart", "chan-web"}).exit_code == 0);
  CHECK(web_token(*s) == token);
}

TEST_CASE("web: a configured auth_token is the token") {
  test::fake_peer llm("fake_llm.py");
  auto s = test::stack::start(base_config(llm, "[channels.web]\nlisten = \"127.0.0.1:0\"\nauth_token = \"tok\"\n"));
  REQUIRE(s);
  auto port = wait_web_port(*s);
  REQUIRE(port != 0);
  CHECK(post_message(port, "tok", R"({"session":"s","text":"x"})").status == 202);
  CHECK(post_message(port, "wrong", R"({"session":"s","text":"x"})").status == 401);
  CHECK(test::http(port, "GET", "/?token=tok").status == 303);
  CHECK(s->log().find("?token=tok") == std::string::npos);  // a configured secret is not printed
}

TEST_CASE("web: a listen address in use is a distinct failure with a fix hint, exit 1") {
  test::fake_peer llm("fake_llm.py");
  test::tcp_listener held;  // another program holds the port
  auto port = held.port;
  auto s = test::stack::start(base_config(llm, fmt::format("[channels.web]\nlisten = \"127.0.0.1:{}\"\n", port)));
  REQUIRE(s);  // READY: every service is ready or failed for good
  auto log = s->log();
  CHECK(log.find(fmt::format("Failed to listen on 127.0.0.1:{}: address in use (another weft or program holds it; "
                             "set [channels.web] listen to another port)",
                             port)) != std::string::npos);
  CHECK(log.find("'chan-web' exited with status 1") != std::string::npos);
}

TEST_CASE("weftctl chat: one turn with streamed text; a missing agent is named") {
  test::fake_peer llm("fake_llm.py");
  auto s = test::stack::start(base_config(llm, ""));
  REQUIRE(s);
  auto r = s->weftctl({"chat", "-m", "ping from the cli"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("ping from the cli") != std::string::npos);
  auto missing = s->weftctl({"chat", "--agent", "ghost", "-m", "hi"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("Failed to reach agent 'ghost': no such agent (is it configured in [agents]?)") !=
        std::string::npos);
}
