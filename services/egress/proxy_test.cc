// The egress proxy in one process on real sockets: a UNIX socket for the agent, targets on
// 127.0.0.1 (allowed here by the test's own check; 127.0.0.2 plays a refused address).
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "services/egress/proxy.hh"
#include "services/egress/request.hh"
#include "tests/tcp_listener.hh"
#include "tests/temp_dir.hh"

using namespace weft;
using namespace std::chrono_literals;

namespace {

sockaddr_in v4(const char* ip, int port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(port));
  REQUIRE(::inet_pton(AF_INET, ip, &sa.sin_addr) == 1);
  return sa;
}

using listener = weft::test::tcp_listener;

/// Reads until `until` appears or the peer closes (blocking, 10 s at most per read).
std::string read_until(int fd, std::string_view until = {}) {
  std::string got;
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[4096];
  while (until.empty() || got.find(until) == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

void send_all(int fd, std::string_view s) { REQUIRE(::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size())); }

/// The proxy on its own loop thread, with the refusals it reported.
struct running {
  weft::test::temp_dir dir{"weft-egress-test"};
  std::string sock = dir.path.string() + "/a.sock";
  std::unique_ptr<event_loop> loop;
  std::unique_ptr<worker_pool> pool;
  std::unique_ptr<egress::proxy> px;
  std::thread th;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<egress::refusal> refused;

  std::string scoped_sock = dir.path.string() + "/scoped.sock";

  explicit running(egress::limits lim = {}, std::shared_ptr<const plugin::allowlist> list = nullptr) {
    auto l = event_loop::create();
    REQUIRE(l);
    loop = std::move(*l);
    pool = std::make_unique<worker_pool>(*loop, 2, lim.max_resolving);
    auto check = [](const sockaddr* a) -> std::string {
      return net::address_text(a) == "127.0.0.2" ? "refused for the test" : "";
    };
    px = std::make_unique<egress::proxy>(*loop, *pool, lim, check, [this](const egress::refusal& r) {
      std::lock_guard lock(mu);
      refused.push_back(r);
      cv.notify_all();
    });
    REQUIRE(px->listen("a", sock));
    if (list) REQUIRE(px->listen_scoped("a", "plugin:t", scoped_sock, list));
    th = std::thread([this] { loop->run(); });
  }
  ~running() {
    loop->post([this] { loop->quit(); });
    th.join();
    px.reset();
    pool->stop();
  }
  unique_fd client(const std::string& path = {}) {
    unique_fd c(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.empty() ? sock.c_str() : path.c_str());
    REQUIRE(::connect(c.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    return c;
  }
  /// Waits for the n-th refusal (an event, 10 s at most).
  egress::refusal refusal(std::size_t n = 1) {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, 10s, [&] { return refused.size() >= n; }));
    return refused[n - 1];
  }
};

}  // namespace

TEST_CASE("CONNECT to an allowed target: 200, then a tunnel both ways") {
  running p;
  listener target;
  std::thread echo([&] {
    unique_fd c(::accept4(target.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    auto got = read_until(c.get(), "ping");
    send_all(c.get(), "pong:" + got);
  });
  auto c = p.client();
  send_all(c.get(), fmt::format("CONNECT 127.0.0.1:{} HTTP/1.1\r\nHost: x\r\n\r\nping", target.port));
  auto got = read_until(c.get(), "pong:ping");
  echo.join();
  CHECK(got == "HTTP/1.1 200 Connection established\r\n\r\npong:ping");
  CHECK(p.refused.empty());
}

TEST_CASE("plain http: origin form, hop-by-hop headers dropped, the answer comes back") {
  running p;
  listener target;
  std::string seen;
  std::thread server([&] {
    unique_fd c(::accept4(target.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    seen = read_until(c.get(), "\r\n\r\n");
    send_all(c.get(), "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
  });
  auto c = p.client();
  send_all(c.get(), fmt::format("GET http://127.0.0.1:{}/x?y=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nProxy-Connection: keep-alive\r\n\r\n",
                                target.port));
  auto got = read_until(c.get());
  server.join();
  CHECK(seen == "GET /x?y=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  CHECK(got == "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
}

TEST_CASE("a refused target: 403 with the reason, one audit refusal, nothing reaches it") {
  running p;
  listener target("127.0.0.2");
  auto c = p.client();
  send_all(c.get(), fmt::format("CONNECT 127.0.0.2:{} HTTP/1.1\r\n\r\n", target.port));
  auto got = read_until(c.get());
  CHECK(got.find("HTTP/1.1 403 Forbidden\r\n") == 0);
  CHECK(got.find("X-Weft-Egress: refused") != std::string::npos);
  CHECK(got.find("weft egress: 127.0.0.2 is refused for the test\n") != std::string::npos);
  auto r = p.refusal();
  CHECK(r.agent == "a");
  CHECK(r.method == "CONNECT");
  CHECK(r.target == fmt::format("127.0.0.2:{}", target.port));
  CHECK(r.status == 403);
  CHECK(r.reason == "127.0.0.2 is refused for the test");
  CHECK_FALSE(target.pending());
  // The same for plain http.
  auto c2 = p.client();
  send_all(c2.get(), fmt::format("GET http://127.0.0.2:{}/ HTTP/1.1\r\n\r\n", target.port));
  CHECK(read_until(c2.get()).find("HTTP/1.1 403 Forbidden\r\n") == 0);
  CHECK(p.refusal(2).method == "GET");
  CHECK_FALSE(target.pending());
}

TEST_CASE("malformed requests, names that do not resolve and closed ports are answered") {
  running p;
  auto c = p.client();
  send_all(c.get(), "GET /relative HTTP/1.1\r\n\r\n");
  auto got = read_until(c.get());
  CHECK(got.find("HTTP/1.1 400 Bad Request\r\n") == 0);
  CHECK(got.find("is not an absolute http:// URL") != std::string::npos);
  CHECK(p.refusal().status == 400);

  auto d = p.client();
  send_all(d.get(), "CONNECT no-such-host.invalid:443 HTTP/1.1\r\n\r\n");
  got = read_until(d.get());
  CHECK(got.find("HTTP/1.1 502 Bad Gateway\r\n") == 0);
  CHECK(got.find("Failed to resolve 'no-such-host.invalid'") != std::string::npos);

  int closed_port;
  {
    listener l;
    closed_port = l.port;
  }
  auto e = p.client();
  send_all(e.get(), fmt::format("CONNECT 127.0.0.1:{} HTTP/1.1\r\n\r\n", closed_port));
  got = read_until(e.get());
  CHECK(got.find("HTTP/1.1 502 Bad Gateway\r\n") == 0);
  CHECK(got.find("Connection refused (127.0.0.1)") != std::string::npos);

  auto big = p.client();
  std::string head = "GET http://x/ HTTP/1.1\r\nA: " + std::string(egress::max_head_bytes, 'b');
  (void)::send(big.get(), head.data(), head.size(), MSG_NOSIGNAL);
  got = read_until(big.get());
  CHECK(got.find("HTTP/1.1 400 Bad Request\r\n") == 0);
  CHECK(got.find("longer than 16 KiB") != std::string::npos);
}

TEST_CASE("limits: connections per agent and in all, bytes per connection, head time") {
  SUBCASE("per agent") {
    running p({.max_connections_per_agent = 1});
    auto first = p.client();  // holds its slot: no head yet
    auto second = p.client();
    auto got = read_until(second.get());
    CHECK(got.find("HTTP/1.1 503 Service Unavailable\r\n") == 0);
    CHECK(got.find("the limit per agent") != std::string::npos);
    CHECK(p.refusal().status == 503);
    first.reset();
  }
  SUBCASE("in all") {
    running p({.max_connections = 1});
    auto first = p.client();
    auto second = p.client();
    CHECK(read_until(second.get()).find("the limit for all agents") != std::string::npos);
  }
  SUBCASE("bytes") {
    running p({.max_bytes = 1000});
    listener target;
    std::thread sink([&] {
      unique_fd c(::accept4(target.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
      read_until(c.get());
    });
    auto c = p.client();
    send_all(c.get(), fmt::format("CONNECT 127.0.0.1:{} HTTP/1.1\r\n\r\n", target.port));
    CHECK(read_until(c.get(), "\r\n\r\n").find(" 200 ") != std::string::npos);
    std::string chunk(4096, 'z');
    for (int i = 0; i < 4; ++i) (void)::send(c.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
    read_until(c.get());  // closed by the proxy
    sink.join();
    auto r = p.refusal();
    CHECK(r.reason == "more than 1000 bytes on one connection: closed");
  }
  SUBCASE("head time") {
    running p({.head_timeout = 50ms});
    auto c = p.client();
    send_all(c.get(), "CONNECT 127.0.0.1:1 HTTP/1.1\r\n");  // never finished
    auto got = read_until(c.get());
    CHECK(got.find("HTTP/1.1 408 Request Timeout\r\n") == 0);
  }
}

TEST_CASE("target_policy: loopback and private refused, this host's addresses refused, test blocks only in 198.18.0.0/15") {
  auto p = net::parse_prefix("198.18.0.2/32");
  REQUIRE(p);
  egress::target_policy policy({*p});
  auto lo = v4("127.0.0.1", 0), priv = v4("10.1.2.3", 0), pub = v4("8.8.8.8", 0), declared = v4("198.18.0.2", 0),
       undeclared = v4("198.18.0.3", 0);
  CHECK(policy.refusal(reinterpret_cast<sockaddr*>(&lo)) == "loopback");
  CHECK(policy.refusal(reinterpret_cast<sockaddr*>(&priv)) == "private (RFC 1918)");
  CHECK(policy.refusal(reinterpret_cast<sockaddr*>(&pub)) == "");
  CHECK(policy.refusal(reinterpret_cast<sockaddr*>(&undeclared)) == "benchmarking (198.18.0.0/15)");
  // Declared public, unless this host has it (then it is this host's, whatever a test says).
  bool own_declared = false;
  ifaddrs* ifs = nullptr;
  REQUIRE(::getifaddrs(&ifs) == 0);
  for (auto* i = ifs; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    auto text = net::address_text(i->ifa_addr);
    own_declared = own_declared || text == "198.18.0.2";
    if (text.rfind("127.", 0) == 0) continue;
    CAPTURE(text);
    CHECK(policy.refusal(i->ifa_addr) == (net::forbidden_reason(i->ifa_addr).empty() ? "an address of this host"
                                                                                       : net::forbidden_reason(i->ifa_addr)));
  }
  ::freeifaddrs(ifs);
  CHECK(policy.refusal(reinterpret_cast<sockaddr*>(&declared)) == (own_declared ? "an address of this host" : ""));

  for (const char* ok : {"198.18.0.2/32", "198.18.0.0/15", "198.19.255.0/24"}) {
    CAPTURE(ok);
    CHECK(egress::target_policy::allowed_test_block(*net::parse_prefix(ok)));
  }
  for (const char* no : {"127.0.0.1/32", "10.0.0.0/8", "198.16.0.0/14", "0.0.0.0/0", "::/0", "::1/128"}) {
    CAPTURE(no);
    CHECK_FALSE(egress::target_policy::allowed_test_block(*net::parse_prefix(no)));
  }
}

TEST_CASE("a scoped socket: only its list, by name and port before any lookup; a declared address passes") {
  listener target, other, own("127.0.0.2");
  auto list = std::make_shared<plugin::allowlist>();
  for (auto e : {fmt::format("127.0.0.1:{}", target.port), fmt::format("127.0.0.2:{}", own.port),
                 std::string("api.example.invalid")})
    list->hosts.push_back(*plugin::parse_host_rule(e));
  running p({}, list);
  // On the list: tunnelled.
  std::thread echo([&] {
    unique_fd c(::accept4(target.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    auto got = read_until(c.get(), "ping");
    send_all(c.get(), "pong");
  });
  {
    auto c = p.client(p.scoped_sock);
    send_all(c.get(), fmt::format("CONNECT 127.0.0.1:{} HTTP/1.1\r\n\r\nping", target.port));
    CHECK(read_until(c.get(), "pong") == "HTTP/1.1 200 Connection established\r\n\r\npong");
  }
  echo.join();
  // 127.0.0.2 plays an address of this host, refused for everyone: the list declares it.
  std::thread echo2([&] {
    unique_fd c(::accept4(own.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    send_all(c.get(), "hi");
  });
  {
    auto c = p.client(p.scoped_sock);
    send_all(c.get(), fmt::format("CONNECT 127.0.0.2:{} HTTP/1.1\r\n\r\n", own.port));
    CHECK(read_until(c.get(), "hi") == "HTTP/1.1 200 Connection established\r\n\r\nhi");
  }
  echo2.join();
  // Another port of a listed address, and a name not on the list (never looked up: the
  // reason is the list's, not a resolver's).
  {
    auto c = p.client(p.scoped_sock);
    send_all(c.get(), fmt::format("CONNECT 127.0.0.1:{} HTTP/1.1\r\n\r\n", other.port));
    auto got = read_until(c.get());
    CHECK(got.starts_with("HTTP/1.1 403 Forbidden\r\n"));
    CHECK(got.find(fmt::format("port {} of '127.0.0.1' is not on the network list", other.port)) != std::string::npos);
    auto r = p.refusal(1);
    CHECK(r.scope == "plugin:t");
    CHECK(r.status == 403);
  }
  {
    auto c = p.client(p.scoped_sock);
    send_all(c.get(), "GET http://leak-the-secret.evil.invalid/ HTTP/1.1\r\nHost: x\r\n\r\n");
    auto got = read_until(c.get());
    CHECK(got.find("X-Weft-Egress: refused") != std::string::npos);
    CHECK(got.find("'leak-the-secret.evil.invalid' is not on the network list") != std::string::npos);
    CHECK(p.refusal(2).reason == "'leak-the-secret.evil.invalid' is not on the network list");
  }
  // Listed, but it resolves to nothing here: the resolver's answer, 502.
  {
    auto c = p.client(p.scoped_sock);
    send_all(c.get(), "CONNECT api.example.invalid:443 HTTP/1.1\r\n\r\n");
    auto got = read_until(c.get());
    CHECK(got.starts_with("HTTP/1.1 502 "));
  }
  // The agent's own socket is not narrowed by the list, and 127.0.0.2 stays refused there.
  {
    auto c = p.client();
    send_all(c.get(), fmt::format("CONNECT 127.0.0.2:{} HTTP/1.1\r\n\r\n", own.port));
    CHECK(read_until(c.get()).starts_with("HTTP/1.1 403 Forbidden\r\n"));
  }
}
