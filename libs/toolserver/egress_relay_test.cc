// The relay out of a tool's network namespace. It listens on the fixed 127.0.0.1:3128, so
// the test runs in a network namespace of its own (root only; skipped otherwise).
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <weft/toolserver/egress_relay.hh>

#include "tests/temp_dir.hh"

using namespace weft;
using namespace std::chrono_literals;

namespace {

/// A network namespace of its own for this test process, its loopback up (as a tool's is).
bool own_netns() {
  static const bool ok = [] {
    if (::geteuid() != 0 || ::unshare(CLONE_NEWNET) != 0) return false;
    unique_fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq ifr{};
    std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return false;
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    return ::ioctl(s.get(), SIOCSIFFLAGS, &ifr) == 0;
  }();
  return ok;
}

unique_fd connect_relay() {
  unique_fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(tools::egress_relay::port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = ::connect(c.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  REQUIRE((rc == 0 || errno == EINPROGRESS));
  return c;
}

/// Runs the loop until `fd` has `until` (or EOF); what arrived.
std::string read_until(event_loop& loop, int fd, std::string_view until) {
  std::string got;
  for (int pass = 0; pass < 500 && got.find(until) == std::string::npos; ++pass) {
    loop.run_once(10ms);
    char buf[1024];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) break;
    if (n > 0) got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

}  // namespace

TEST_CASE("egress_relay: joins 127.0.0.1:3128 to the egress socket; its limit and a missing egress are answered") {
  if (!own_netns()) {
    MESSAGE("not root: no network namespace of its own for the fixed port; skipped");
    return;
  }
  auto loop = event_loop::create();
  REQUIRE(loop);
  weft::test::temp_dir d{"weft-relay-test"};
  auto path = d.path.string() + "/a.sock";

  SUBCASE("no egress listening: 502 with the reason") {
    auto r = tools::egress_relay::start(**loop, path);
    REQUIRE(r);
    auto c = connect_relay();
    auto got = read_until(**loop, c.get(), "\n");
    CHECK(got.find("HTTP/1.1 502 Bad Gateway\r\n") == 0);
    CHECK(got.find("Failed to reach the egress proxy at '" + path + "'") != std::string::npos);
  }
  SUBCASE("relayed both ways; the second connection over the limit of one is refused") {
    unique_fd egress(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
    REQUIRE(::bind(egress.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    REQUIRE(::listen(egress.get(), 4) == 0);
    auto r = tools::egress_relay::start(**loop, path, {.max_connections = 1});
    REQUIRE(r);
    auto c = connect_relay();
    unique_fd up;
    for (int pass = 0; pass < 500 && !up; ++pass) {
      (*loop)->run_once(10ms);
      up = unique_fd(::accept4(egress.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    }
    REQUIRE(up);
    REQUIRE(::send(c.get(), "CONNECT x:1 HTTP/1.1\r\n\r\n", 24, MSG_NOSIGNAL) == 24);
    CHECK(read_until(**loop, up.get(), "\r\n\r\n") == "CONNECT x:1 HTTP/1.1\r\n\r\n");
    REQUIRE(::send(up.get(), "HTTP/1.1 403 X\r\n\r\n", 18, MSG_NOSIGNAL) == 18);
    CHECK(read_until(**loop, c.get(), "\r\n\r\n") == "HTTP/1.1 403 X\r\n\r\n");
    CHECK((*r)->connections() == 1);

    auto second = connect_relay();
    auto got = read_until(**loop, second.get(), "\n");
    CHECK(got.find("HTTP/1.1 502 Bad Gateway\r\n") == 0);
    CHECK(got.find("too many connections at once from this tool (1)") != std::string::npos);
  }
  CHECK(tools::proxy_environment("http://127.0.0.1:3128") ==
        std::vector<std::string>{"http_proxy=http://127.0.0.1:3128", "https_proxy=http://127.0.0.1:3128",
                                 "all_proxy=http://127.0.0.1:3128", "HTTP_PROXY=http://127.0.0.1:3128",
                                 "HTTPS_PROXY=http://127.0.0.1:3128", "ALL_PROXY=http://127.0.0.1:3128",
                                 "no_proxy=localhost,127.0.0.1,::1", "NO_PROXY=localhost,127.0.0.1,::1"});
}
