#include <weft/http/sse.hh>

#include <doctest/doctest.h>

#include <vector>

using namespace weft::http;

namespace {
std::vector<sse_event> parse_all(sse_parser& p, std::string_view text, std::size_t step) {
  std::vector<sse_event> got;
  for (std::size_t i = 0; i < text.size(); i += step) {
    p.feed(text.substr(i, step));
    while (auto e = p.next()) got.push_back(std::move(*e));
  }
  return got;
}
}  // namespace

TEST_CASE("sse_frame frames data so no text can end the event early") {
  CHECK(sse_frame("delta", "hel") == "event: delta\ndata: hel\n\n");
  CHECK(sse_frame("message", "a\nb\r\nc\rd", 7) == "id: 7\nevent: message\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
  CHECK(sse_frame("", "x\n\n") == "data: x\ndata: \ndata: \n\n");
  CHECK(sse_frame("ev\nil", "") == "event: evil\ndata: \n\n");
  CHECK(sse_comment("ping\n") == ": ping \n\n");
}

TEST_CASE("sse_parser reads back what sse_frame writes, whatever the text") {
  for (std::string text : {"plain", "two\nlines", "cr\ronly", "crlf\r\nend\r\n", "", "\n\n", "data: inside"}) {
    CAPTURE(text);
    sse_parser p;
    auto got = parse_all(p, sse_frame("ev", text, 9), 3);
    REQUIRE(got.size() == 1);
    CHECK(got[0].event == "ev");
    CHECK(got[0].id == "9");
    // Every line end of the text comes back as '\n'.
    std::string want;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
      want += text[i] == '\r' ? '\n' : text[i];
    }
    CHECK(got[0].data == want);
  }
}

TEST_CASE("sse_parser: fields, comments, multi-line data, CRLF, any chunking") {
  std::string text = "event: a\r\ndata: 1\r\ndata:2\r\n\r\n: comment\n\nid: 7\ndata: x\n\nevent: lonely\n\n";
  for (std::size_t step : {1u, 2u, 3u, 7u, 100u}) {
    sse_parser p;
    auto got = parse_all(p, text, step);
    REQUIRE(got.size() == 2);
    CHECK(got[0].event == "a");
    CHECK(got[0].data == "1\n2");
    CHECK(got[0].id == "");
    CHECK(got[1].event == "message");
    CHECK(got[1].data == "x");
    CHECK(got[1].id == "7");
    CHECK(p.last_event_id() == "7");
  }
}

TEST_CASE("sse_parser: an MCP server's stream — priming event with empty data, retry, ids") {
  sse_parser p;
  std::string stream =
      "id: 7c2\r\ndata: \r\nretry: 3000\r\n\r\n"  // the SDK's priming event: empty data
      ": keep-alive\n\n"
      "event: message\nid: 8\ndata: {\"jsonrpc\":\"2.0\",\n"
      "data: \"id\":1,\"result\":{}}\n\n"
      "data:{\"a\":1}\n\n";
  auto got = parse_all(p, stream, 1);
  REQUIRE(got.size() == 3);
  CHECK(got[0].data == "");
  CHECK(got[0].id == "7c2");
  CHECK(got[0].retry_ms == 3000u);
  CHECK(got[1].event == "message");
  CHECK(got[1].id == "8");
  CHECK(got[1].data == "{\"jsonrpc\":\"2.0\",\n\"id\":1,\"result\":{}}");
  CHECK_FALSE(got[1].retry_ms);
  CHECK(got[2].data == "{\"a\":1}");
  CHECK(got[2].id == "8");  // the last id stays until the stream sets another
  CHECK(p.last_event_id() == "8");
  CHECK(p.retry_ms() == 3000u);
  // An unfinished event is not dispatched.
  p.feed("data: partial\n");
  CHECK_FALSE(p.next());
  p.feed("\n");
  CHECK(p.next()->data == "partial");
}

TEST_CASE("sse_parser: what the format ignores") {
  constexpr char raw[] =
      "\xEF\xBB\xBF"            // a BOM before the first line
      "data: one\n\n"
      "event: no-data\n\n"       // no data field: nothing dispatched
      "retry: 12x\nretry: -1\n"  // not digits: ignored
      "id: a\0b\n"               // an id with NUL: ignored
      "unknown: field\ndata\n\n";  // a field without a colon has an empty value
  sse_parser p;
  auto got = parse_all(p, std::string_view(raw, sizeof raw - 1), 100);
  REQUIRE(got.size() == 2);
  CHECK(got[0].data == "one");
  CHECK(got[0].event == "message");
  CHECK(got[1].data == "");
  CHECK(got[1].event == "message");
  CHECK(got[1].id == "");
  CHECK_FALSE(p.retry_ms());
}

TEST_CASE("sse_parser: limits — a long line, an event whose data never ends") {
  sse_parser small(16);
  CHECK_FALSE(small.feed("data: " + std::string(100, 'x')));
  CHECK(small.failed());
  CHECK_FALSE(small.next());
  CHECK_FALSE(small.feed("\n\ndata: x\n\n"));  // a failed stream stays failed
  CHECK_FALSE(small.next());

  sse_parser p(64);
  for (int i = 0; i < 1000 && !p.failed(); ++i) p.feed("data: xxxxxxxxxx\n");  // no blank line, ever
  CHECK(p.failed());
  CHECK_FALSE(p.next());
  // Within the limit, many data lines make one event.
  sse_parser ok(64);
  for (int i = 0; i < 4; ++i) ok.feed("data: xxxxxxxxxx\n");
  ok.feed("\n");
  CHECK_FALSE(ok.failed());
  auto e = ok.next();
  REQUIRE(e);
  CHECK(e->data.size() == 4 * 10 + 3);
}
