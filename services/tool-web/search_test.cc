#include "services/tool-web/search.hh"

#include <doctest/doctest.h>

#include <algorithm>

using namespace weft;
using namespace weft::tools;

// Against real HTTP (the fake SearXNG and Brave of tests/fakes/fake_search.py, a real
// tool-web process): tests/integration/tools/tools_test.cc.

namespace {

struct ctx_holder {
  tool::call call;
  std::unique_ptr<cancel_signal> cancel;
  ctx_holder() {
    auto c = cancel_signal::create();
    REQUIRE(c);
    cancel = std::move(*c);
  }
  call_context ctx() const { return cancel->context(call); }
};

std::string bad_arguments(const result<tool::result>& r) {
  REQUIRE_FALSE(r);
  CHECK(tool::is(r.err(), tool::error_code::bad_arguments));
  return r.err().message;
}

}  // namespace

TEST_CASE("parse_results reads each provider's shape, keeps only web links and caps") {
  // SearXNG: results[].{title, url, content}; more results than asked for are dropped.
  auto s = parse_results(search_provider::searxng, R"({"query":"q","results":[
      {"title":"One &amp; <b>two</b>","url":"https://a.example/1","content":"first\nsnippet","engine":"x"},
      {"title":"Bad","url":"javascript:void","content":"x"},
      {"title":"Three","url":"http://c.example/3","content":""},
      {"title":"Four","url":"https://d.example/4","content":"d"}]})",
                         "", 2);
  REQUIRE(s);
  REQUIRE(s->size() == 2);
  CHECK((*s)[0].title == "One & two");
  CHECK((*s)[0].url == "https://a.example/1");
  CHECK((*s)[0].snippet == "first snippet");
  CHECK((*s)[1].url == "http://c.example/3");  // the javascript: link is not a result

  // Brave: web.results[].{title, url, description}; no "web" at all is no results.
  auto b = parse_results(search_provider::brave,
                         R"({"type":"search","web":{"type":"search","results":[
      {"title":"B","url":"https://b.example/","description":"with <strong>bold</strong> words"}]}})",
                         "", 5);
  REQUIRE(b);
  REQUIRE(b->size() == 1);
  CHECK((*b)[0].snippet == "with bold words");
  auto none = parse_results(search_provider::brave, R"({"type":"search","query":{"original":"zzz"}})", "", 5);
  REQUIRE(none);
  CHECK(none->empty());

  // Tavily: results[].{title, url, content}.
  auto t = parse_results(search_provider::tavily, R"({"results":[{"title":"T","url":"https://t.example/","content":"c"}]})",
                         "", 5);
  REQUIRE(t);
  CHECK((*t)[0].snippet == "c");

  // Generic JSON: the list at results_path, common field names.
  auto j = parse_results(search_provider::json, R"({"data":{"items":[{"name":"N","link":"https://n.example/","description":"d"}]}})",
                         "/data/items", 5);
  REQUIRE(j);
  REQUIRE(j->size() == 1);
  CHECK((*j)[0].title == "N");
  CHECK((*j)[0].url == "https://n.example/");
  CHECK((*j)[0].snippet == "d");

  // Long fields are cut (not inside a UTF-8 character) and marked.
  search_caps caps;
  caps.snippet_bytes = 10;
  auto cut = parse_results(search_provider::searxng,
                           R"({"results":[{"title":"x","url":"https://x.example/","content":"ééééééééé"}]})", "", 5, caps);
  REQUIRE(cut);
  CHECK((*cut)[0].snippet == "ééééé…");
}

TEST_CASE("parse_results: a body that is not the provider's shape is an error saying what is wrong") {
  auto r = parse_results(search_provider::searxng, "<html>not json</html>", "", 5);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::malformed);
  CHECK(r.err().message == "the answer is not JSON");
  r = parse_results(search_provider::searxng, R"({"answers":[]})", "", 5);
  REQUIRE_FALSE(r);
  CHECK(r.err().message == "the answer has no 'results' list");
  r = parse_results(search_provider::brave, R"({"web":{"results":"nope"}})", "", 5);
  REQUIRE_FALSE(r);
  CHECK(r.err().message == "the answer's 'web' has no 'results' list");
  r = parse_results(search_provider::json, R"({"data":[]})", "/items", 5);
  REQUIRE_FALSE(r);
  CHECK(r.err().message == "the answer has no list at '/items'");
  r = parse_results(search_provider::tavily, "[1,2]", "", 5);
  REQUIRE_FALSE(r);
  CHECK(r.err().message == "the answer is not a JSON object");
}

TEST_CASE("search_request: each provider's URL, method and key header") {
  search_settings s;
  s.base_url = "http://127.0.0.1:8888";
  auto r = search_request(s, "weft & zmq", 3);
  CHECK(r.method == "GET");
  CHECK(r.url == "http://127.0.0.1:8888/search?q=weft%20%26%20zmq&format=json");
  s.provider = search_provider::brave;
  s.base_url = "https://api.search.brave.com";
  s.api_key = "bk";
  r = search_request(s, "q", 7);
  CHECK(r.url == "https://api.search.brave.com/res/v1/web/search?q=q&count=7");
  CHECK(std::find(r.headers.begin(), r.headers.end(), "X-Subscription-Token: bk") != r.headers.end());
  s.provider = search_provider::tavily;
  s.base_url = "https://api.tavily.com";
  r = search_request(s, "q", 4);
  CHECK(r.method == "POST");
  CHECK(r.url == "https://api.tavily.com/search");
  CHECK(json::parse(r.body) == json{{"query", "q"}, {"max_results", 4}});
  CHECK(std::find(r.headers.begin(), r.headers.end(), "Authorization: Bearer bk") != r.headers.end());
  s.provider = search_provider::json;
  s.base_url = "https://s.example/api?q={query}&n={count}";
  r = search_request(s, "a/b", 2);
  CHECK(r.url == "https://s.example/api?q=a%2Fb&n=2");
}

TEST_CASE("web_search: bad input is BadArguments naming the field, before any request") {
  ctx_holder h;
  search_settings s;
  s.base_url = "http://127.0.0.1:1";  // nothing is sent: every call below fails first
  s.max_results = 5;
  CHECK(bad_arguments(web_search(json::object(), h.ctx(), s)) == "missing required argument 'query'");
  CHECK(bad_arguments(web_search({{"query", 3}}, h.ctx(), s)) == "argument 'query' must be a string");
  CHECK(bad_arguments(web_search({{"query", "  \t "}}, h.ctx(), s)) == "argument 'query' must not be empty");
  CHECK(bad_arguments(web_search({{"query", std::string(401, 'a')}}, h.ctx(), s)) ==
        "argument 'query' is 401 bytes long; at most 400");
  CHECK(bad_arguments(web_search({{"query", "a\nb"}}, h.ctx(), s)) == "argument 'query' must be one line of text");
  CHECK(bad_arguments(web_search({{"query", "q"}, {"count", 0}}, h.ctx(), s)) == "argument 'count' must be 1 to 5, not 0");
  CHECK(bad_arguments(web_search({{"query", "q"}, {"count", 6}}, h.ctx(), s)) == "argument 'count' must be 1 to 5, not 6");
  CHECK(bad_arguments(web_search({{"query", "q"}, {"count", -1}}, h.ctx(), s)) ==
        "argument 'count' must be a non-negative integer");
}

TEST_CASE("web_search: a provider at a loopback address is Denied unless allowed") {
  ctx_holder h;
  search_settings s;
  s.base_url = "http://127.0.0.1:1";
  auto r = web_search({{"query", "q"}}, h.ctx(), s);
  REQUIRE_FALSE(r);
  CHECK(tool::is(r.err(), tool::error_code::denied));
  CHECK(r.err().message.find("Failed to search with 'searxng': 127.0.0.1 is loopback") == 0);
  CHECK(r.err().message.find("allow_private") != std::string::npos);
  // Allowed, the request is made: nothing listens on port 1, so it fails to connect.
  s.allow_private = true;
  r = web_search({{"query", "q"}}, h.ctx(), s);
  REQUIRE_FALSE(r);
  CHECK(tool::is(r.err(), tool::error_code::failed));
  CHECK(r.err().message.find("check [tools.web_search] base_url") != std::string::npos);
}
