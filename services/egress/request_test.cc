#include <doctest/doctest.h>

#include <vector>

#include "services/egress/request.hh"

using namespace weft;
using namespace weft::egress;

TEST_CASE("CONNECT host:port is a tunnel; IPv6 hosts in brackets") {
  auto r = parse_request("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
  REQUIRE(r);
  CHECK(r->tunnel);
  CHECK(r->method == "CONNECT");
  CHECK(r->host == "example.com");
  CHECK(r->port == 443);
  CHECK(r->target() == "example.com:443");
  auto six = parse_request("CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n\r\n");
  REQUIRE(six);
  CHECK(six->host == "2001:db8::1");
  CHECK(six->target() == "[2001:db8::1]:8443");
}

TEST_CASE("an absolute http:// request is rewritten to origin form, one per connection") {
  auto r = parse_request(
      "POST http://api.example.com:8080/v1/x?q=1#frag HTTP/1.1\r\nHost: api.example.com:8080\r\n"
      "Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic eA==\r\nConnection: keep-alive\r\n"
      "Content-Length: 3\r\nX-Thing:  spaced  \r\n\r\n");
  REQUIRE(r);
  CHECK_FALSE(r->tunnel);
  CHECK(r->host == "api.example.com");
  CHECK(r->port == 8080);
  CHECK(r->head ==
        "POST /v1/x?q=1 HTTP/1.1\r\nHost: api.example.com:8080\r\nContent-Length: 3\r\nX-Thing: spaced\r\n"
        "Connection: close\r\n\r\n");
  auto bare = parse_request("GET http://example.com HTTP/1.0\r\n\r\n");
  REQUIRE(bare);
  CHECK(bare->port == 80);
  CHECK(bare->head == "GET / HTTP/1.0\r\nHost: example.com\r\nConnection: close\r\n\r\n");
}

TEST_CASE("malformed heads are refused with a reason") {
  struct bad_case {
    const char* head;
    const char* reason;
  };
  for (auto& c : std::vector<bad_case>{
           {"GET https://example.com/ HTTP/1.1\r\n\r\n", "must be tunnelled with CONNECT"},
           {"GET /local HTTP/1.1\r\nHost: x\r\n\r\n", "is not an absolute http:// URL"},
           {"CONNECT example.com HTTP/1.1\r\n\r\n", "a missing or malformed port"},
           {"CONNECT example.com:0 HTTP/1.1\r\n\r\n", "a port outside 1-65535"},
           {"CONNECT example.com:70000 HTTP/1.1\r\n\r\n", "a port outside 1-65535"},
           {"CONNECT exa mple.com:80 HTTP/1.1\r\n\r\n", "a malformed request target"},
           {"CONNECT HTTP/1.1\r\n\r\n", "not 'METHOD target HTTP/1.1'"},
           {"CONNECT ex\xc3\xa4mple.com:80 HTTP/1.1\r\n\r\n", "characters a host name cannot have"},
           {"CONNECT [::1:80 HTTP/1.1\r\n\r\n", "closing ']'"},
           {"GET http://user:pw@example.com/ HTTP/1.1\r\n\r\n", "user information"},
           {"GET http://example.com/ HTTP/2\r\n\r\n", "only HTTP/1.0 and HTTP/1.1"},
           {"GET http://example.com/ HTTP/1.1\r\n folded\r\n\r\n", "a folded header line"},
           {"GET http://example.com/ HTTP/1.1\r\nno colon\r\n\r\n", "without 'name:'"},
           {"GET http://example.com/ HTTP/1.1\r\nA\nB: c\r\n\r\n", "a bare CR, LF or NUL"},
           {"GET http://example.com/ HTTP/1.1\r\n", "incomplete"},
           {"\r\n\r\n", "no request line"},
       }) {
    CAPTURE(c.head);
    auto r = parse_request(c.head);
    REQUIRE_FALSE(r);
    CHECK(r.err().message.find("Failed to read the proxy request: ") == 0);
    CHECK(r.err().message.find(c.reason) != std::string::npos);
  }
  CHECK_FALSE(parse_request("CONNECT " + std::string(300, 'a') + ":443 HTTP/1.1\r\n\r\n"));
  CHECK_FALSE(parse_request("GET http://x/ HTTP/1.1\r\nA: " + std::string(max_head_bytes, 'b') + "\r\n\r\n"));
}

TEST_CASE("head_end finds the blank line") {
  CHECK(head_end("GET http://x/ HTTP/1.1\r\nHost: x\r\n") == std::string::npos);
  std::string_view h = "CONNECT a:1 HTTP/1.1\r\n\r\nrest";
  CHECK(h.substr(head_end(h)) == "rest");
}
