#include "services/tool-web/fetch.hh"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

using namespace weft;
using namespace weft::tools;

namespace {

std::string reason(const char* text) {
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
  return forbidden_reason(reinterpret_cast<sockaddr*>(&ss));
}

}  // namespace

TEST_CASE("private, loopback and special addresses are refused; public ones are not") {
  for (const char* a : {"127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
                        "169.254.169.254", "100.64.0.1", "100.127.255.255", "0.0.0.0", "224.0.0.1", "239.1.1.1",
                        "255.255.255.255", "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1",
                        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe"}) {
    CAPTURE(a);
    CHECK_FALSE(reason(a).empty());
  }
  for (const char* a : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "192.169.0.1", "2001:4860:4860::8888",
                        "::ffff:8.8.8.8"}) {
    CAPTURE(a);
    CHECK(reason(a).empty());
  }
  CHECK(reason("127.0.0.1") == "loopback");
  CHECK(reason("10.0.0.1") == "private (RFC 1918)");
}

TEST_CASE("html_to_text keeps the text") {
  CHECK(html_to_text("<html><head><title>T</title><style>p{color:red}</style>"
                     "<script>var x = '<p>';</script></head><body><h1>Hello &amp; welcome</h1>"
                     "<p>One <b>two</b>&nbsp;three &#233;</p><!-- hidden --><ul><li>a</li><li>b</li></ul></body></html>") ==
        "T\n\nHello & welcome\n\nOne two three \xc3\xa9\n\na\n\nb");
  CHECK(html_to_text("plain") == "plain");
  CHECK(html_to_text("<p>unclosed <scr") == "unclosed");
}

TEST_CASE("web_fetch refuses other schemes, malformed URLs and loopback before any request") {
  tool::call call;
  auto cancel = cancel_signal::create();
  REQUIRE(cancel);
  auto ctx = (*cancel)->context(call);
  auto r = web_fetch({{"url", "file:///etc/passwd"}}, ctx);
  CHECK((!r && tool::is(r.err(), tool::error_code::denied)));
  r = web_fetch({{"url", "not a url"}}, ctx);
  CHECK((!r && tool::is(r.err(), tool::error_code::bad_arguments)));
  r = web_fetch({{"url", "http://127.0.0.1:1/"}}, ctx);
  REQUIRE_FALSE(r);
  CHECK(tool::is(r.err(), tool::error_code::denied));
  CHECK(r.err().message.find("127.0.0.1 is loopback") != std::string::npos);
  r = web_fetch({{"url", "http://localhost:1/"}}, ctx);  // by name: refused after DNS
  CHECK((!r && tool::is(r.err(), tool::error_code::denied)));
}
