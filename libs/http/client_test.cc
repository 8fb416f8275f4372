// The HTTP client on the event loop against libs/http's own server on 127.0.0.1, both on
// one loop in this thread.
#include <weft/http/client.hh>
#include <weft/http/server.hh>
#include <weft/http/sse.hh>

#include <doctest/doctest.h>

#include <cstdlib>
#include <optional>
#include <vector>

#include "test_util.hh"

using namespace weft;
using namespace weft::http;
using namespace std::chrono_literals;
using http::test::pump_until;

namespace {

struct fixture {
  std::unique_ptr<event_loop> loop = std::move(*event_loop::create());
  std::unique_ptr<server> srv;
  std::unique_ptr<client> cli;
  std::vector<std::pair<server::conn_id, request>> requests;
  std::vector<server::conn_id> closed;
  /// Answers every request at once unless a test replaces it.
  std::function<void(server::conn_id, const request&)> answer = [this](server::conn_id c, const request& r) {
    srv->respond(c, 200, "text/plain", r.method + " " + r.target + " " + r.body, {{"X-Echo", r.header("x-in")}});
  };

  explicit fixture(client_options o = {}) {
    auto s = server::listen(*loop, {"127.0.0.1", 0}, {}, "http-test");
    REQUIRE(s);
    srv = std::move(*s);
    srv->on_request = [this](server::conn_id c, const request& r) {
      requests.emplace_back(c, r);
      if (answer) answer(c, r);
    };
    srv->on_close = [this](server::conn_id c) { closed.push_back(c); };
    auto c = client::create(*loop, o);
    REQUIRE(c);
    cli = std::move(*c);
  }
  std::string url(const std::string& path) const { return fmt::format("http://127.0.0.1:{}{}", srv->port(), path); }
  template <class F>
  bool until(F f) {
    return pump_until(*loop, f);
  }
};

/// Collects what a transfer's handlers saw.
struct seen {
  int heads = 0, dones = 0;
  long head_status = 0;
  std::string streamed;
  client_response resp;
  client::handlers handlers(bool keep_going = true) {
    return {[this](const client_response& r) {
              ++heads;
              head_status = r.status;
            },
            [this, keep_going](std::string_view b) {
              streamed += b;
              return keep_going;
            },
            [this](client_response r) {
              ++dones;
              resp = std::move(r);
            }};
  }
};

}  // namespace

TEST_CASE("client: GET and POST, head before done, done exactly once, never inside start()") {
  fixture f;
  seen a, b;
  f.cli->start({.method = "GET", .url = f.url("/x?q=1"), .headers = {"X-In: hello"}}, a.handlers());
  f.cli->start({.method = "POST", .url = f.url("/post"), .headers = {"Content-Type: text/plain"}, .body = "payload"},
               b.handlers());
  CHECK(a.dones + b.dones == 0);
  CHECK(f.cli->active() == 2);
  REQUIRE(f.until([&] { return a.dones && b.dones; }));
  CHECK(a.heads == 1);
  CHECK(a.head_status == 200);
  CHECK(a.resp.ok());
  CHECK(a.resp.status == 200);
  CHECK(a.resp.body == "GET /x?q=1 ");
  CHECK(a.resp.headers.at("x-echo") == "hello");
  CHECK(b.resp.body == "POST /post payload");
  CHECK(f.cli->active() == 0);
  // Nothing more arrives later.
  for (int i = 0; i < 5; ++i) f.loop->run_once(1ms);
  CHECK(a.dones == 1);
  CHECK(b.dones == 1);
}

TEST_CASE("client: a kept-alive connection is reused for the next request") {
  fixture f;
  seen a;
  f.cli->start({.url = f.url("/1")}, a.handlers());
  REQUIRE(f.until([&] { return a.dones == 1; }));
  CHECK_FALSE(a.resp.reused);
  seen b;
  f.cli->start({.method = "DELETE", .url = f.url("/2")}, b.handlers());
  REQUIRE(f.until([&] { return b.dones == 1; }));
  CHECK(b.resp.reused);
  CHECK(b.resp.body == "DELETE /2 ");
  CHECK(f.srv->accepted() == 1);
}

TEST_CASE("client: a streamed body arrives in pieces as it is written; on_body false ends it") {
  fixture f;
  std::vector<server::conn_id> streams;
  f.answer = [&](server::conn_id c, const request&) {
    f.srv->start_stream(c, "text/event-stream");
    streams.push_back(c);
  };
  seen s;
  sse_parser parser;
  std::vector<std::string> events;
  auto h = s.handlers();
  h.on_body = [&](std::string_view bytes) {
    parser.feed(bytes);
    while (auto e = parser.next()) events.push_back(e->data);
    return events.size() < 3;
  };
  f.cli->start({.url = f.url("/events"), .stream = true}, std::move(h));
  REQUIRE(f.until([&] { return !streams.empty() && s.heads == 1; }));
  for (int i = 1; i <= 3; ++i) {
    f.srv->write(streams[0], sse_frame("message", std::to_string(i)));
    REQUIRE(f.until([&] { return events.size() == static_cast<std::size_t>(i) || s.dones; }));
  }
  REQUIRE(f.until([&] { return s.dones == 1; }));
  CHECK(events == std::vector<std::string>{"1", "2", "3"});
  CHECK(s.resp.aborted);
  CHECK_FALSE(s.resp.ok());
  CHECK(s.resp.body.empty());
  CHECK(s.resp.body_started);
  // The server sees its stream's reader go.
  REQUIRE(f.until([&] { return f.closed.size() == 1; }));
}

TEST_CASE("client: a non-2xx answer to a streaming request is collected, not streamed") {
  fixture f;
  f.answer = [&](server::conn_id c, const request&) { f.srv->respond(c, 429, "application/json", R"({"e":1})"); };
  seen s;
  f.cli->start({.method = "POST", .url = f.url("/x"), .stream = true}, s.handlers());
  REQUIRE(f.until([&] { return s.dones == 1; }));
  CHECK(s.resp.status == 429);
  CHECK(s.resp.body == R"({"e":1})");
  CHECK(s.streamed.empty());
  CHECK_FALSE(s.resp.body_started);
}

TEST_CASE("client limits: max_body ends a transfer whose body is too large") {
  client_options o;
  o.max_body = 1000;
  fixture f(o);
  f.answer = [&](server::conn_id c, const request&) { f.srv->respond(c, 200, "text/plain", std::string(5000, 'x')); };
  seen s;
  f.cli->start({.url = f.url("/big")}, s.handlers());
  REQUIRE(f.until([&] { return s.dones == 1; }));
  CHECK(s.resp.too_large);
  CHECK_FALSE(s.resp.ok());
  CHECK(s.resp.body.size() <= 1000);
  // A per-request limit overrides the client's.
  seen t;
  f.cli->start({.url = f.url("/big"), .max_body = 10000}, t.handlers());
  REQUIRE(f.until([&] { return t.dones == 1; }));
  CHECK(t.resp.ok());
  CHECK(t.resp.body.size() == 5000);
}

TEST_CASE("client limits: a server that never answers times out; done once") {
  fixture f;
  f.answer = nullptr;  // requests are kept, never answered
  seen s;
  f.cli->start({.url = f.url("/never"), .timeout = 100ms}, s.handlers());
  REQUIRE(f.until([&] { return s.dones == 1; }));
  CHECK(s.resp.timed_out);
  CHECK_FALSE(s.resp.ok());
  CHECK(s.heads == 0);
  CHECK(s.resp.status == 0);
  CHECK_FALSE(s.resp.error.empty());
  CHECK(f.requests.size() == 1);
}

TEST_CASE("client: a refused connection and a bad URL end with an error, never inside start()") {
  fixture f;
  auto port = f.srv->port();
  f.srv.reset();  // nothing listens there now
  seen a, b;
  f.cli->start({.url = fmt::format("http://127.0.0.1:{}/", port)}, a.handlers());
  f.cli->start({.url = "ftp://127.0.0.1/x"}, b.handlers());
  CHECK(a.dones + b.dones == 0);
  REQUIRE(f.until([&] { return a.dones && b.dones; }));
  CHECK_FALSE(a.resp.ok());
  CHECK_FALSE(a.resp.error.empty());
  CHECK_FALSE(b.resp.ok());
}

namespace {
/// Sets an environment variable for one scope (unset: empty value), then puts back what was there.
class scoped_env {
 public:
  scoped_env(const char* name, const std::string& value) : _name(name) {
    if (const char* old = std::getenv(name)) _old = old;
    if (value.empty()) ::unsetenv(name);
    else ::setenv(name, value.c_str(), 1);
  }
  ~scoped_env() {
    if (_old) ::setenv(_name, _old->c_str(), 1);
    else ::unsetenv(_name);
  }

 private:
  const char* _name;
  std::optional<std::string> _old;
};
}  // namespace

TEST_CASE("client: a proxy from the environment is used for other hosts, never for loopback or no_proxy hosts") {
  // The fixture's server plays the proxy: it refuses the absolute-form target a proxied
  // request carries with 400. 127.0.0.2, where nothing listens, plays a remote host.
  fixture f;
  scoped_env proxy("http_proxy", fmt::format("http://127.0.0.1:{}", f.srv->port()));
  scoped_env no1("no_proxy", ""), no2("NO_PROXY", "");
  auto remote = fmt::format("http://127.0.0.2:{}/x", f.srv->port());
  {
    auto c = client::create(*f.loop);
    REQUIRE(c);
    seen a, b;
    (*c)->start({.url = remote}, a.handlers());
    (*c)->start({.url = f.url("/direct")}, b.handlers());
    REQUIRE(f.until([&] { return a.dones && b.dones; }));
    CHECK(a.resp.status == 400);  // the proxy answered
    CHECK(b.resp.status == 200);  // loopback went straight to the server
    CHECK(b.resp.body == "GET /direct ");
  }
  {
    scoped_env no("no_proxy", "127.0.0.2");
    auto c = client::create(*f.loop);
    REQUIRE(c);
    seen a;
    auto proxied = f.srv->accepted();
    (*c)->start({.url = remote}, a.handlers());
    REQUIRE(f.until([&] { return a.dones == 1; }));
    CHECK_FALSE(a.resp.ok());  // straight to 127.0.0.2, where nothing listens
    CHECK(a.resp.status == 0);
    CHECK(f.srv->accepted() == proxied);
  }
}

TEST_CASE("client: cancel() ends a transfer silently, also from inside its own on_body") {
  fixture f;
  std::vector<server::conn_id> streams;
  f.answer = [&](server::conn_id c, const request& r) {
    if (r.path == "/quick") return (void)f.srv->respond(c, 200, "text/plain", "q");
    f.srv->start_stream(c, "text/plain");
    streams.push_back(c);
  };
  seen a;
  auto id = f.cli->start({.url = f.url("/slow"), .stream = true}, a.handlers());
  REQUIRE(f.until([&] { return streams.size() == 1; }));
  f.cli->cancel(id);
  f.cli->cancel(id);  // twice is nothing
  REQUIRE(f.until([&] { return f.closed.size() == 1; }));
  CHECK(a.dones == 0);
  CHECK(f.cli->active() == 0);

  // From inside on_body, which also starts another transfer.
  seen b, c;
  client::id bid = 0;
  auto h = b.handlers();
  h.on_body = [&](std::string_view) {
    f.cli->cancel(bid);
    f.cli->start({.url = f.url("/quick")}, c.handlers());
    return true;
  };
  bid = f.cli->start({.url = f.url("/slow2"), .stream = true}, std::move(h));
  REQUIRE(f.until([&] { return streams.size() == 2; }));
  f.srv->write(streams[1], "x");
  REQUIRE(f.until([&] { return c.dones == 1; }));
  CHECK(c.resp.body == "q");
  REQUIRE(f.until([&] { return f.closed.size() == 2; }));
  CHECK(b.dones == 0);
}

TEST_CASE("client: many transfers at once, each done once; destroying the client ends the rest") {
  fixture f;
  std::vector<seen> s(40);
  for (std::size_t i = 0; i < s.size(); ++i)
    f.cli->start({.method = "POST", .url = f.url(fmt::format("/{}", i)), .body = std::to_string(i)}, s[i].handlers());
  REQUIRE(f.until([&] {
    for (auto& x : s)
      if (!x.dones) return false;
    return true;
  }));
  for (std::size_t i = 0; i < s.size(); ++i) {
    CHECK(s[i].dones == 1);
    CHECK(s[i].resp.body == fmt::format("POST /{} {}", i, i));
  }
  f.answer = nullptr;
  seen late;
  f.cli->start({.url = f.url("/hang")}, late.handlers());
  REQUIRE(f.until([&] { return f.requests.size() == s.size() + 1; }));
  f.cli.reset();
  REQUIRE(f.until([&] { return f.closed.size() == 1; }));
  CHECK(late.dones == 0);
}
