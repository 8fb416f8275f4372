#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <weft/base/net_address.hh>

using namespace weft;

namespace {

sockaddr_storage addr(const char* text) {
  sockaddr_storage ss{};
  if (std::string_view(text).find(':') != std::string_view::npos) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    REQUIRE(::inet_pton(AF_INET6, text, &a->sin6_addr) == 1);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    REQUIRE(::inet_pton(AF_INET, text, &a->sin_addr) == 1);
  }
  return ss;
}

std::string reason(const char* text) {
  auto ss = addr(text);
  return net::forbidden_reason(reinterpret_cast<sockaddr*>(&ss));
}

}  // namespace

TEST_CASE("private, loopback and special addresses are refused; public ones are not") {
  for (const char* a : {"127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
                        "169.254.169.254", "100.64.0.1", "100.127.255.255", "0.0.0.0", "224.0.0.1", "239.1.1.1",
                        "255.255.255.255", "192.0.2.1", "198.51.100.7", "203.0.113.9", "198.18.0.2", "::1", "::",
                        "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
                        "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2002:c0a8:101::", "2001:db8::1"}) {
    CAPTURE(a);
    CHECK_FALSE(reason(a).empty());
  }
  for (const char* a : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "192.169.0.1", "2001:4860:4860::8888",
                        "::ffff:8.8.8.8", "2002:808:808::1"}) {
    CAPTURE(a);
    CHECK(reason(a).empty());
  }
  CHECK(reason("127.0.0.1") == "loopback");
  CHECK(reason("10.0.0.1") == "private (RFC 1918)");
  CHECK(reason("fd00::1") == "unique-local (fc00::/7)");
  CHECK(reason("2002:a00:1::") == "6to4 of private (RFC 1918)");
  sockaddr_storage unix_addr{};
  unix_addr.ss_family = AF_UNIX;
  CHECK(net::forbidden_reason(reinterpret_cast<sockaddr*>(&unix_addr)) == "not an internet address");
}

TEST_CASE("address blocks: parse, contain, cover; typos are refused") {
  auto p = net::parse_prefix("198.18.0.0/15");
  REQUIRE(p);
  CHECK(p->text() == "198.18.0.0/15");
  auto in = addr("198.19.255.1"), out = addr("198.20.0.1"), v6 = addr("::1");
  CHECK(p->contains(reinterpret_cast<sockaddr*>(&in)));
  CHECK_FALSE(p->contains(reinterpret_cast<sockaddr*>(&out)));
  CHECK_FALSE(p->contains(reinterpret_cast<sockaddr*>(&v6)));
  auto one = net::parse_prefix("198.18.0.2");
  REQUIRE(one);
  CHECK(one->bits == 32);
  CHECK(p->covers(*one));
  CHECK_FALSE(one->covers(*p));
  auto six = net::parse_prefix("2001:db8::/32");
  REQUIRE(six);
  auto doc = addr("2001:db8:1::5");
  CHECK(six->contains(reinterpret_cast<sockaddr*>(&doc)));
  CHECK_FALSE(six->covers(*one));

  auto host_bits = net::parse_prefix("10.0.0.1/8");
  REQUIRE_FALSE(host_bits);
  CHECK(host_bits.err().message == "Failed to parse address block '10.0.0.1/8': host bits are set; did you mean '10.0.0.0/8'?");
  for (const char* bad : {"", "example.com", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "::/129"}) {
    CAPTURE(bad);
    CHECK_FALSE(net::parse_prefix(bad));
  }
}
