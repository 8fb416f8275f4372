// The server on a real event loop and real sockets on 127.0.0.1, driven from this thread:
// each test turns the loop until what it waits for happened.
#include <weft/http/server.hh>

#include <doctest/doctest.h>

#include <optional>
#include <vector>

#include "test_util.hh"

using namespace weft;
using namespace weft::http;
using namespace std::chrono_literals;
using http::test::pump_until;
using http::test::raw_peer;

namespace {

struct fixture {
  std::unique_ptr<event_loop> loop = std::move(*event_loop::create());
  std::unique_ptr<server> srv;
  std::vector<std::pair<server::conn_id, request>> requests;
  std::vector<server::conn_id> closed;

  explicit fixture(server_options o = {}) {
    auto s = server::listen(*loop, {"127.0.0.1", 0}, o, "http-test");
    REQUIRE(s);
    srv = std::move(*s);
    srv->on_request = [this](server::conn_id c, const request& r) { requests.emplace_back(c, r); };
    srv->on_close = [this](server::conn_id c) { closed.push_back(c); };
  }
  template <class F>
  bool until(F f) {
    return pump_until(*loop, f);
  }
};

}  // namespace

TEST_CASE("server: a request, an answer later, keep-alive, pipelining in order") {
  fixture f;
  raw_peer p(f.srv->port());
  p.send("GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n");
  REQUIRE(f.until([&] { return f.requests.size() == 1; }));
  CHECK(f.requests[0].second.path == "/a");
  CHECK(f.requests[0].second.query.at("x") == "1");
  // Answered later, on the same kept-alive connection.
  f.loop->run_once(0ms);
  CHECK_FALSE(p.has("HTTP/1.1"));
  CHECK(f.srv->respond(f.requests[0].first, 200, "text/plain", "one"));
  CHECK_FALSE(f.srv->respond(f.requests[0].first, 200, "text/plain", "twice"));  // not waiting any more
  REQUIRE(f.until([&] { return p.has("\r\n\r\none"); }));
  // Two pipelined requests: the second waits until the first is answered.
  p.send("POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /c HTTP/1.1\r\n\r\n");
  REQUIRE(f.until([&] { return f.requests.size() == 2; }));
  f.loop->run_once(0ms);
  CHECK(f.requests.size() == 2);
  CHECK(f.requests[1].second.body == "abc");
  f.srv->respond(f.requests[1].first, 202, "text/plain", "two");
  REQUIRE(f.until([&] { return f.requests.size() == 3; }));
  CHECK(f.requests[2].second.path == "/c");
  f.srv->respond(f.requests[2].first, 200, "text/plain", "three");
  REQUIRE(f.until([&] { return p.has("three"); }));
  CHECK(p.got().find("two") < p.got().find("three"));
  CHECK(f.srv->accepted() == 1);
  CHECK(f.srv->connections() == 1);
}

TEST_CASE("server: Connection: close ends the connection after the answer; a waiting peer that leaves is reported") {
  fixture f;
  raw_peer p(f.srv->port());
  p.send("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
  REQUIRE(f.until([&] { return f.requests.size() == 1; }));
  f.srv->respond(f.requests[0].first, 200, "text/plain", "bye");
  REQUIRE(f.until([&] { return p.is_closed(); }));
  CHECK(p.got().find("Connection: close") != std::string::npos);
  CHECK(f.closed.empty());  // answered, not gone while waiting

  std::optional<raw_peer> q(std::in_place, f.srv->port());
  q->send("GET /wait HTTP/1.1\r\n\r\n");
  REQUIRE(f.until([&] { return f.requests.size() == 2; }));
  auto c = f.requests[1].first;
  q.reset();
  REQUIRE(f.until([&] { return f.closed.size() == 1; }));
  CHECK(f.closed[0] == c);
  CHECK_FALSE(f.srv->alive(c));
  CHECK_FALSE(f.srv->respond(c, 200, "text/plain", "late"));
}

TEST_CASE("server: a stream carries writes until close") {
  fixture f;
  raw_peer p(f.srv->port());
  p.send("GET /events HTTP/1.1\r\n\r\n");
  REQUIRE(f.until([&] { return f.requests.size() == 1; }));
  auto c = f.requests[0].first;
  REQUIRE(f.srv->start_stream(c, "text/event-stream"));
  CHECK(f.srv->write(c, "data: 1\n\n"));
  CHECK(f.srv->write(c, "data: 2\n\n"));
  REQUIRE(f.until([&] { return p.has("data: 2\n\n"); }));
  CHECK(p.got().find("Content-Type: text/event-stream") != std::string::npos);
  CHECK(p.got().find("Content-Length") == std::string::npos);
  f.srv->close(c);
  REQUIRE(f.until([&] { return p.is_closed(); }));
  CHECK_FALSE(f.srv->write(c, "data: 3\n\n"));
}

TEST_CASE("server limits: connections beyond max_connections get 503 and are closed") {
  server_options o;
  o.max_connections = 2;
  fixture f(o);
  raw_peer a(f.srv->port()), b(f.srv->port());
  REQUIRE(f.until([&] { return f.srv->connections() == 2; }));
  raw_peer c(f.srv->port());
  REQUIRE(f.until([&] { return c.is_closed(); }));
  CHECK(c.got().rfind("HTTP/1.1 503", 0) == 0);
  CHECK(f.srv->connections() == 2);
  CHECK(f.srv->accepted() == 2);
}

TEST_CASE("server limits: header section, header count and body size") {
  server_options o;
  o.lim.max_header_bytes = 256;
  o.lim.max_headers = 4;
  o.lim.max_body_bytes = 100;
  fixture f(o);
  struct k {
    std::string raw;
    const char* status;
  } cases[] = {
      {"GET / HTTP/1.1\r\nX: " + std::string(300, 'a'), "HTTP/1.1 431"},  // refused before the head ends
      {"GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\ne: 5\r\n\r\n", "HTTP/1.1 431"},
      {"POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", "HTTP/1.1 413"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.1 501"},
      {"GET / HTTP/2.0\r\n\r\n", "HTTP/1.1 505"},
  };
  for (auto& kc : cases) {
    CAPTURE(kc.raw);
    raw_peer p(f.srv->port());
    p.send(kc.raw);
    REQUIRE(f.until([&] { return p.is_closed(); }));
    CHECK(p.got().rfind(kc.status, 0) == 0);
  }
  CHECK(f.requests.empty());
  CHECK(f.srv->connections() == 0);
}

TEST_CASE("server limits: a reader that falls max_output_bytes behind is closed") {
  server_options o;
  o.max_output_bytes = 64 * 1024;
  fixture f(o);
  raw_peer p(f.srv->port(), /*rcvbuf=*/4096);
  p.send("GET /events HTTP/1.1\r\n\r\n");
  REQUIRE(f.until([&] { return f.requests.size() == 1; }));
  auto c = f.requests[0].first;
  REQUIRE(f.srv->start_stream(c, "text/event-stream"));
  std::string chunk(16 * 1024, 'x');
  // The peer never reads: once the kernel's buffers are full, queued bytes pass the limit.
  int writes = 0;
  while (f.srv->write(c, chunk)) REQUIRE(++writes < 100000);
  CHECK_FALSE(f.srv->alive(c));
  CHECK(f.closed == std::vector<server::conn_id>{c});
}

TEST_CASE("server limits: request_timeout answers 408; idle_timeout closes a silent connection") {
  server_options o;
  o.request_timeout = 50ms;
  o.idle_timeout = 50ms;
  fixture f(o);
  raw_peer slow(f.srv->port());
  slow.send("GET / HTTP/1.1\r\nHost:");  // and nothing more
  raw_peer idle(f.srv->port());
  REQUIRE(f.until([&] { return slow.is_closed() && idle.is_closed(); }));
  CHECK(slow.got().rfind("HTTP/1.1 408", 0) == 0);
  CHECK(idle.got().empty());
  // A connection waiting for its answer has no deadline here.
  raw_peer waiting(f.srv->port());
  waiting.send("GET / HTTP/1.1\r\n\r\n");
  REQUIRE(f.until([&] { return f.requests.size() == 1; }));
  CHECK(f.loop->timers() == 0);  // no deadline armed for it
  CHECK_FALSE(waiting.is_closed());
  CHECK(f.srv->respond(f.requests[0].first, 200, "text/plain", "ok"));
  // After the answer, the idle deadline applies again.
  REQUIRE(f.until([&] { return waiting.is_closed(); }));
  CHECK(waiting.got().find("\r\n\r\nok") != std::string::npos);
}

TEST_CASE("server: listening on an address in use is its own error") {
  auto loop = std::move(*event_loop::create());
  auto a = server::listen(*loop, {"127.0.0.1", 0}, {}, "http-test");
  REQUIRE(a);
  auto b = server::listen(*loop, {"127.0.0.1", (*a)->port()}, {}, "http-test");
  REQUIRE_FALSE(b);
  CHECK(b.err().code == errc::address_in_use);
  CHECK(b.err().message == fmt::format("Failed to listen on 127.0.0.1:{}: address in use", (*a)->port()));
  auto c = server::listen(*loop, {"not-an-ip", 0}, {}, "http-test");
  REQUIRE_FALSE(c);
  CHECK(c.err().code == errc::invalid_argument);
}

TEST_CASE("server: destroyed with connections open, it leaves nothing on the loop") {
  auto loop = std::move(*event_loop::create());
  auto s = server::listen(*loop, {"127.0.0.1", 0}, {}, "http-test");
  REQUIRE(s);
  raw_peer p((*s)->port());
  REQUIRE(pump_until(*loop, [&] { return (*s)->connections() == 1; }));
  CHECK(loop->timers() == 1);  // the idle deadline
  s->reset();
  CHECK(loop->timers() == 0);
  REQUIRE(pump_until(*loop, [&] { return p.is_closed(); }));
}
