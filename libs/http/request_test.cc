#include <weft/http/request.hh>
#include <weft/http/response.hh>
#include <weft/http/server.hh>

#include <doctest/doctest.h>

using namespace weft::http;

TEST_CASE("parse_request: a complete POST with body and query") {
  std::string raw =
      "POST /api/messages?a=1&b=x%20y+z HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
      "Content-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n";
  auto r = parse_request(raw);
  REQUIRE(r.status == parse_status::complete);
  CHECK(r.req.method == "POST");
  CHECK(r.req.path == "/api/messages");
  CHECK(r.req.query.at("a") == "1");
  CHECK(r.req.query.at("b") == "x y z");
  CHECK(r.req.header("content-type") == "application/json");
  CHECK(r.req.body == "hello");
  CHECK(r.req.keep_alive);
  // The pipelined second request is left for the next parse.
  auto next = parse_request(std::string_view(raw).substr(r.consumed));
  REQUIRE(next.status == parse_status::complete);
  CHECK(next.req.method == "GET");
}

TEST_CASE("parse_request: incomplete input waits") {
  CHECK(parse_request("GET / HTTP/1.1\r\nHost: x\r\n").status == parse_status::incomplete);
  CHECK(parse_request("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc").status == parse_status::incomplete);
  CHECK(parse_request("").status == parse_status::incomplete);
}

TEST_CASE("parse_request: malformed input is refused with the right status") {
  struct c {
    const char* raw;
    int status;
  } cases[] = {
      {"GET\r\n\r\n", 400},
      {"GET / HTTP/1.1 extra\r\n\r\n", 400},
      {"GET / HTTP/2.0\r\n\r\n", 505},
      {"GET / FTP/1.0\r\n\r\n", 400},
      {"GET relative HTTP/1.1\r\n\r\n", 400},
      {"G(T / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\n: empty-name\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nBad Name: v\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 99999999999999\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n", 413},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
      {"GET /%zz HTTP/1.1\r\n\r\n", 400},
      {"GET /?q=%4 HTTP/1.1\r\n\r\n", 400},
  };
  for (auto& k : cases) {
    CAPTURE(k.raw);
    auto r = parse_request(k.raw);
    CHECK(r.status == parse_status::bad);
    CHECK(r.http_status == k.status);
  }
}

TEST_CASE("parse_request: header limits apply before the end of headers arrives") {
  limits lim;
  lim.max_header_bytes = 100;
  std::string huge = "GET / HTTP/1.1\r\nX: " + std::string(200, 'a');
  auto r = parse_request(huge, lim);
  CHECK(r.status == parse_status::bad);
  CHECK(r.http_status == 431);
  lim.max_header_bytes = 16384;
  lim.max_headers = 3;
  auto many = parse_request("GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\n\r\n", lim);
  CHECK(many.http_status == 431);
}

TEST_CASE("parse_request: Connection and HTTP/1.0 decide keep-alive") {
  CHECK_FALSE(parse_request("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").req.keep_alive);
  CHECK_FALSE(parse_request("GET / HTTP/1.0\r\n\r\n").req.keep_alive);
  CHECK(parse_request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").req.keep_alive);
}

TEST_CASE("format_response carries length and connection") {
  auto r = format_response(202, "application/json", "{}", true);
  CHECK(r.rfind("HTTP/1.1 202 Accepted\r\n", 0) == 0);
  CHECK(r.find("Content-Length: 2\r\n") != std::string::npos);
  CHECK(r.find("Connection: keep-alive\r\n") != std::string::npos);
  CHECK(r.substr(r.size() - 6) == "\r\n\r\n{}");
}

TEST_CASE("listen addresses and loopback") {
  auto a = parse_listen("127.0.0.1:0");
  REQUIRE(a);
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 0);
  CHECK(parse_listen("localhost:8780")->host == "127.0.0.1");
  CHECK(parse_listen("[::1]:80")->host == "::1");
  CHECK_FALSE(parse_listen("nohost"));
  CHECK_FALSE(parse_listen("h:99999"));
  CHECK_FALSE(parse_listen("h:"));
  CHECK(is_loopback("127.0.0.1"));
  CHECK(is_loopback("127.5.0.1"));
  CHECK(is_loopback("::1"));
  CHECK_FALSE(is_loopback("0.0.0.0"));
  CHECK_FALSE(is_loopback("192.0.2.1"));
}

TEST_CASE("equal_secret") {
  CHECK(equal_secret("abc", "abc"));
  CHECK_FALSE(equal_secret("abc", "abd"));
  CHECK_FALSE(equal_secret("abc", "ab"));
  CHECK_FALSE(equal_secret("", "a"));
  CHECK(equal_secret("", ""));
}

TEST_CASE("url_decode and url_encode") {
  CHECK(url_decode("a%20b+c", true) == "a b c");
  CHECK(url_decode("a%20b+c", false) == "a b+c");
  CHECK_FALSE(url_decode("%g0", false));
  CHECK_FALSE(url_decode("%2", false));
  CHECK(url_encode("a b/ü~") == "a%20b%2F%C3%BC~");
  CHECK(url_decode(url_encode("?token=x&y=\x01"), false) == "?token=x&y=\x01");
}

TEST_CASE("cookie_value finds one cookie among several") {
  CHECK(cookie_value("a=1; weft_token=abc; b=2", "weft_token") == "abc");
  CHECK(cookie_value("weft_token=\"q\"", "weft_token") == "q");
  CHECK(cookie_value("xweft_token=1;weft_token =2", "weft_token") == "2");
  CHECK_FALSE(cookie_value("a=1; b", "weft_token"));
  CHECK_FALSE(cookie_value("", "weft_token"));
  CHECK(cookie_value("weft_token=", "weft_token") == "");
}
