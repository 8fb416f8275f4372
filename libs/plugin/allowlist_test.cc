// Unit tests of the network allowlist (libs/plugin allowlist.cc): entries as written in a
// manifest, and allowed() against a table of hosts, ports and resolved addresses.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <weft/plugin/allowlist.hh>

using namespace weft;
using namespace weft::plugin;

namespace {

sockaddr_storage addr(const std::string& text) {
  sockaddr_storage ss{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) ss.ss_family = AF_INET;
  else if (::inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) ss.ss_family = AF_INET6;
  else FAIL("not an address: " << text);
  return ss;
}

allowlist list_of(std::vector<std::string> hosts, std::vector<std::string> blocks = {}) {
  allowlist l;
  for (auto& h : hosts) {
    auto r = parse_host_rule(h);
    REQUIRE_MESSAGE(r, h);
    l.hosts.push_back(*r);
  }
  for (auto& b : blocks) {
    auto p = net::parse_prefix(b);
    REQUIRE(p);
    l.allow_private.push_back(*p);
  }
  return l;
}

}  // namespace

TEST_CASE("allowlist: host entries as written") {
  struct row {
    const char* text;
    host_rule::kind k;
    const char* host;
    std::vector<std::uint16_t> ports;
    const char* back;
  };
  const row good[] = {
      {"api.example.com", host_rule::kind::name, "api.example.com", {80, 443}, "api.example.com"},
      {"API.Example.COM.", host_rule::kind::name, "api.example.com", {80, 443}, "api.example.com"},
      {"*.example.org:8443", host_rule::kind::wildcard, "example.org", {8443}, "*.example.org:8443"},
      {"example.net:443,80", host_rule::kind::name, "example.net", {80, 443}, "example.net"},
      {"bücher.example", host_rule::kind::name, "xn--bcher-kva.example", {80, 443}, "xn--bcher-kva.example"},
      {"192.168.1.20:8080", host_rule::kind::address, "192.168.1.20", {8080}, "192.168.1.20:8080"},
      {"[2001:DB8::1]:443", host_rule::kind::address, "2001:db8::1", {443}, "[2001:db8::1]:443"},
      {"[::1]", host_rule::kind::address, "::1", {80, 443}, "[::1]"},
  };
  for (auto& g : good) {
    CAPTURE(g.text);
    auto r = parse_host_rule(g.text);
    REQUIRE(r);
    CHECK(r->k == g.k);
    CHECK(r->host == g.host);
    CHECK(r->ports == g.ports);
    CHECK(r->text() == g.back);
  }
  struct bad_row {
    const char* text;
    const char* reason;
  };
  const bad_row bad[] = {
      {"", "it is empty"},
      {"*", "'*' alone would allow every host"},
      {"api.*.example.com", "'*' may only be the whole leftmost label"},
      {"*example.com", "'*' may only be the whole leftmost label"},
      {"**.example.com", "'*' may only be the whole leftmost label"},
      {"*.com", "a wildcard needs at least two labels after it"},
      {"*.10.0.0.1", "a wildcard goes before a name, not an address"},
      {"https://api.example.com/", "without a scheme or a path"},
      {"2001:db8::1", "write an IPv6 address in brackets"},
      {"example.com:0", "'0' is not a port from 1 to 65535"},
      {"example.com:65536", "'65536' is not a port from 1 to 65535"},
      {"example.com:", "':' without a port"},
      {"example.com:http", "'http' is not a port"},
      {"exa mple.com", "spaces or control characters"},
      {"127.1", "four decimal numbers"},
      {"0x7f000001", "four decimal numbers"},
      {"example..com", "an empty label"},
      {"-bad.example.com", "may not start or end with '-'"},
      {"ex!ample.com", "only letters, digits"},
      {"[::1", "'[' without ']'"},
      {"[::1]x", "only ':port' may follow ']'"},
  };
  for (auto& b : bad) {
    CAPTURE(b.text);
    auto r = parse_host_rule(b.text);
    REQUIRE_FALSE(r);
    CHECK(r.err().message.find(b.reason) != std::string::npos);
    CHECK(r.err().message.rfind(fmt::format("'{}' is not a valid network entry: ", b.text), 0) == 0);
  }
}

TEST_CASE("allowlist: allowed() against a table of cases") {
  auto list = list_of({"api.example.com", "*.cdn.example.org:443", "svc.example.net:8443", "xn--bcher-kva.example",
                       "192.168.1.20:8080", "[fd00::5]:9000", "169.254.169.254:80", "lan.example.com"},
                      {"10.20.0.0/16"});
  const auto pub4 = addr("93.184.216.34"), pub6 = addr("2606:2800:220:1:248:1893:25c8:1946");
  struct row {
    const char* target;
    std::uint16_t port;
    std::vector<sockaddr_storage> resolved;
    bool ok;
    const char* reason;  // a part of the refusal
  };
  const std::vector<row> rows = {
      // Names, case, trailing dots, IDN.
      {"api.example.com", 443, {pub4}, true, ""},
      {"https://api.example.com/v1?q=1", 0, {pub4, pub6}, true, ""},
      {"http://API.EXAMPLE.COM./x", 0, {pub4}, true, ""},
      {"https://user:pw@api.example.com:443/", 0, {pub4}, true, ""},
      {"https://bücher.example/", 0, {pub4}, true, ""},
      {"https://BÜCHER.example/", 0, {pub4}, true, ""},
      {"https://xn--bcher-kva.example./", 0, {pub4}, true, ""},
      {"example.com", 443, {pub4}, false, "'example.com' is not on the network list"},
      {"api.example.com.evil.test", 443, {pub4}, false, "not on the network list"},
      {"evilapi.example.com", 443, {pub4}, false, "not on the network list"},
      {"api.example.com..", 443, {pub4}, false, "an empty label"},
      // Ports: 80 and 443 by default, else as listed.
      {"api.example.com", 8080, {pub4}, false, "port 8080 of 'api.example.com' is not on the network list (allowed: 80, 443)"},
      {"http://api.example.com:8443/", 0, {pub4}, false, "port 8443"},
      {"svc.example.net", 8443, {pub4}, true, ""},
      {"https://svc.example.net/", 0, {pub4}, false, "port 443 of 'svc.example.net'"},
      {"api.example.com", 0, {pub4}, false, "no port given"},
      {"ftp://api.example.com/", 0, {pub4}, false, "not an http or https URL"},
      // The host is what follows the user info, before the path; ambiguous URLs are refused.
      {"http://evil.example#@api.example.com/", 0, {pub4}, false, "'evil.example' is not on the network list"},
      {"http://evil.example?@api.example.com/", 0, {pub4}, false, "'evil.example' is not on the network list"},
      {"http://api.example.com@evil.example/", 0, {pub4}, false, "'evil.example' is not on the network list"},
      {"http://evil.example\\@api.example.com/", 0, {pub4}, false, "has a backslash"},
      // Wildcards: subdomains at any depth, never the name itself.
      {"img.cdn.example.org", 443, {pub4}, true, ""},
      {"a.b.cdn.example.org", 443, {pub4}, true, ""},
      {"cdn.example.org", 443, {pub4}, false, "not on the network list"},
      {"xcdn.example.org", 443, {pub4}, false, "not on the network list"},
      {"img.cdn.example.org", 80, {pub4}, false, "port 80"},
      // A name must come with the addresses it will be connected to, each public.
      {"api.example.com", 443, {}, false, "no resolved address"},
      {"api.example.com", 443, {addr("127.0.0.1")}, false, "resolves to 127.0.0.1, which is loopback"},
      {"api.example.com", 443, {pub4, addr("127.0.0.1")}, false, "loopback"},
      {"api.example.com", 443, {addr("::1")}, false, "loopback"},
      {"api.example.com", 443, {addr("::ffff:127.0.0.1")}, false, "loopback"},
      {"api.example.com", 443, {addr("10.0.0.5")}, false, "private (RFC 1918)"},
      {"api.example.com", 443, {addr("172.16.3.4")}, false, "private (RFC 1918)"},
      {"api.example.com", 443, {addr("fd12:3456::1")}, false, "unique-local"},
      {"api.example.com", 443, {addr("169.254.10.1")}, false, "link-local"},
      {"api.example.com", 443, {addr("fe80::1")}, false, "link-local"},
      {"api.example.com", 443, {addr("100.64.0.1")}, false, "CGNAT"},
      {"api.example.com", 443, {addr("0.0.0.0")}, false, "this network"},
      {"api.example.com", 443, {addr("169.254.169.254")}, false, "cloud metadata address"},
      {"api.example.com", 443, {addr("::ffff:169.254.169.254")}, false, "cloud metadata address"},
      {"api.example.com", 443, {addr("fd00:ec2::254")}, false, "cloud metadata address"},
      // Private addresses declared by a block.
      {"lan.example.com", 443, {addr("10.20.1.2")}, true, ""},
      {"lan.example.com", 443, {addr("::ffff:10.20.1.2")}, true, ""},
      {"lan.example.com", 443, {addr("10.21.1.2")}, false, "private (RFC 1918), not declared"},
      // IP literals: only those listed; a listed one may be private.
      {"192.168.1.20", 8080, {}, true, ""},
      {"http://192.168.1.20:8080/", 0, {addr("192.168.1.20")}, true, ""},
      {"192.168.1.20", 80, {}, false, "port 80 of '192.168.1.20'"},
      {"192.168.1.21", 8080, {}, false, "'192.168.1.21' is not on the network list"},
      {"http://[fd00::5]:9000/", 0, {}, true, ""},
      {"[FD00:0::5]", 9000, {}, true, ""},
      {"127.0.0.1", 80, {}, false, "not on the network list"},
      {"http://127.1/", 0, {}, false, "four decimal numbers"},
      {"http://2130706433/", 0, {}, false, "four decimal numbers"},
      {"http://[::1]/", 0, {}, false, "'::1' is not on the network list"},
      {"93.184.216.34", 443, {}, false, "not on the network list"},
      // The metadata address: only when named exactly.
      {"http://169.254.169.254/latest/meta-data/", 0, {}, true, ""},
      {"169.254.169.254", 443, {}, false, "port 443"},
  };
  for (auto& r : rows) {
    CAPTURE(r.target);
    CAPTURE(r.port);
    auto v = allowed(list, r.target, r.port, r.resolved);
    CHECK(v.allowed == r.ok);
    if (!r.ok) CHECK_MESSAGE(v.reason.find(r.reason) != std::string::npos, v.reason);
    else CHECK(v.reason.empty());
  }
}

TEST_CASE("allowlist: a metadata address is not unlocked by a wider block, only by an exact one") {
  auto wide = list_of({"meta.example.com"}, {"169.254.0.0/16"});
  CHECK_FALSE(allowed(wide, "meta.example.com", 80, std::vector{addr("169.254.169.254")}));
  CHECK(allowed(wide, "meta.example.com", 80, std::vector{addr("169.254.1.1")}));  // link-local, declared
  auto exact = list_of({"meta.example.com"}, {"169.254.169.254/32"});
  CHECK(allowed(exact, "meta.example.com", 80, std::vector{addr("169.254.169.254")}));
}

TEST_CASE("allowlist: an empty list allows nothing") {
  allowlist none;
  auto v = allowed(none, "https://example.com/", 0, std::vector{addr("93.184.216.34")});
  CHECK_FALSE(v);
  CHECK(v.reason == "'example.com' is not on the network list");
}

TEST_CASE("allowlist: normalize_host") {
  CHECK(*normalize_host("WWW.Example.COM.") == "www.example.com");
  CHECK(*normalize_host("[2001:DB8:0:0::1]") == "2001:db8::1");
  CHECK(*normalize_host("Bücher.Example") == "xn--bcher-kva.example");
  CHECK_FALSE(normalize_host(std::string(254, 'a')));
  CHECK_FALSE(normalize_host(std::string(64, 'a') + ".com"));
  CHECK(normalize_host(std::string(63, 'a') + ".com"));
  CHECK_FALSE(normalize_host("a.b.c.1"));
  CHECK_FALSE(normalize_host("."));
  CHECK_FALSE(normalize_host("exa\x01mple.com"));
}

TEST_CASE("allowlist: listed() checks name and port before any lookup; declares() names literals and blocks") {
  auto l = list_of({"api.example.com", "*.cdn.example.org:8443", "127.0.0.1:8080"}, {"10.20.0.0/16"});
  CHECK(listed(l, "https://api.example.com/v1", 0));
  CHECK(listed(l, "API.Example.com.", 443));
  CHECK(listed(l, "img.cdn.example.org", 8443));
  CHECK(listed(l, "127.0.0.1", 8080));
  auto v = listed(l, "evil.example", 443);
  CHECK(!v);
  CHECK(v.reason == "'evil.example' is not on the network list");
  v = listed(l, "api.example.com", 8443);
  CHECK(!v);
  CHECK(v.reason.find("port 8443 of 'api.example.com' is not on the network list") != std::string::npos);
  CHECK(!listed(l, "cdn.example.org", 8443));  // the wildcard does not cover the name itself
  CHECK(!listed(l, "127.0.0.1", 80));

  auto a = addr("127.0.0.1");
  CHECK(declares(l, reinterpret_cast<const sockaddr*>(&a)));
  a = addr("10.20.3.4");
  CHECK(declares(l, reinterpret_cast<const sockaddr*>(&a)));
  a = addr("127.0.0.2");
  CHECK(!declares(l, reinterpret_cast<const sockaddr*>(&a)));
  a = addr("::ffff:127.0.0.1");  // the mapped form is the same address
  CHECK(declares(l, reinterpret_cast<const sockaddr*>(&a)));
  a = addr("93.184.216.34");
  CHECK(!declares(l, reinterpret_cast<const sockaddr*>(&a)));
}
