#include "services/tool-web/fetch.hh"

#include <doctest/doctest.h>

#include <unistd.h>

using namespace weft;
using namespace weft::tools;

// The address rule itself is tested with libs/base (net_address_test.cc).

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
