#include <cstdlib>

#include <doctest/doctest.h>

#include "services/llm/policy.hh"

using namespace weft;
using namespace weft::llm;
using namespace std::chrono_literals;

namespace {
service::config two_providers() {
  service::config c;
  service::provider_settings a;
  a.name = "anthropic";
  a.style = service::api_style::anthropic;
  a.model = "claude-default";
  service::provider_settings o;
  o.name = "openai";
  o.model = "gpt-default";
  c.providers["anthropic"] = a;
  c.providers["openai"] = o;
  c.llm.tiers = {{"small", "openai", "gpt-mini", 1000, 0.1, 0.4, ""},
                 {"big", "anthropic", "", 200000, 3, 15, ""},
                 {"medium", "openai", "gpt-mid", 50000, 1, 2, ""},
                 {"medium-cheap", "openai", "gpt-cheap", 50000, 0.5, 2, ""}};
  return c;
}
lv::complete req(std::size_t chars = 10) {
  lv::complete c;
  c.agent = "main";
  c.messages.push_back({lv::role::user, std::string(chars, 'x')});
  return c;
}
}  // namespace

TEST_CASE("no enabled provider: NotConfigured names the file to edit and that weftctl reload applies it") {
  const char* saved = std::getenv("WEFT_HOME");
  std::string saved_home = saved ? saved : "";
  ::setenv("WEFT_HOME", "/srv/weft-home", 1);
  // The built-in default (no file): where to create one, so that the reload adopts it.
  service::config c;
  auto r = choose_route(c, req());
  REQUIRE(!r);
  CHECK(lv::is(r.err(), lv::error_code::not_configured));
  CHECK(r.err().message == not_configured_sentence(c));
  CHECK(r.err().message.find("without a config file: create '/srv/weft-home/clawft.toml'") != std::string::npos);
  CHECK(r.err().message.find("[agents.main]") != std::string::npos);  // a file replaces the whole default
  CHECK(r.err().message.find("then run `weftctl reload` (no restart needed).") != std::string::npos);
  // A file without providers: that file.
  c.source = "/etc/weft/clawft.toml";
  auto in_file = choose_route(c, req()).err().message;
  CHECK(in_file.find("add a [providers.<name>] table with its api_key to '/etc/weft/clawft.toml'") != std::string::npos);
  CHECK(in_file.find("`weftctl reload`") != std::string::npos);
  CHECK(in_file.find("create") == std::string::npos);
  // Providers whose key is missing: which ones, in which file.
  c = two_providers();
  c.source = "/home/a/.clawft/clawft.toml";
  c.providers["anthropic"].enabled = false;
  c.providers["openai"].enabled = false;
  auto keyless = choose_route(c, req()).err().message;
  CHECK(keyless ==
        "No LLM provider is usable: [providers.anthropic], [providers.openai] in '/home/a/.clawft/clawft.toml' have no "
        "API key. Set api_key in one of them, then run `weftctl reload` (no restart needed).");
  if (saved) ::setenv("WEFT_HOME", saved_home.c_str(), 1);
  else ::unsetenv("WEFT_HOME");
}

TEST_CASE("routing: explicit model, tier order, default provider") {
  auto c = two_providers();
  auto r = choose_route(c, req());
  REQUIRE(r);  // no default_tier: the first tier
  CHECK(r->tier == "small");
  CHECK(r->model == "gpt-mini");
  auto x = req();
  x.model = "anthropic/claude-x";
  r = choose_route(c, x);
  REQUIRE(r);
  CHECK(r->provider->name == "anthropic");
  CHECK(r->model == "claude-x");
  x.model = "some-model";  // bare: the default provider (first enabled by name)
  r = choose_route(c, x);
  REQUIRE(r);
  CHECK(r->provider->name == "anthropic");
  CHECK(r->model == "some-model");
  c.llm.default_provider = "openai";
  r = choose_route(c, x);
  CHECK(r->provider->name == "openai");
  x = req();
  x.tier = "big";
  r = choose_route(c, x);
  CHECK(r->model == "claude-default");  // tier without model: the provider's default
  c.agents["main"].tier = "medium";
  r = choose_route(c, req());
  CHECK(r->tier == "medium");
  c.agents["main"].tier = "";
  c.llm.default_tier = "big";
  CHECK(choose_route(c, req())->tier == "big");
  x.tier = "nope";
  CHECK(lv::is(choose_route(c, x).err(), lv::error_code::not_configured));
  c.llm.tiers.clear();
  c.llm.default_tier.clear();
  r = choose_route(c, req());
  CHECK(r->provider->name == "openai");
  CHECK(r->model == "gpt-default");
}

TEST_CASE("a prompt too big for its tier goes to the cheapest tier that fits") {
  auto c = two_providers();
  auto r = choose_route(c, req(4000 * 4 + 8));  // ~4000 tokens > small's 1000
  REQUIRE(r);
  CHECK(r->tier == "medium-cheap");
  r = choose_route(c, req(100000 * 4));  // only big fits
  CHECK(r->tier == "big");
  r = choose_route(c, req(300000 * 4));  // none fits: the largest
  CHECK(r->tier == "big");
  CHECK(cost_usd(*r, 1000000, 2000000) == doctest::Approx(3 + 30));
}

TEST_CASE("retry decisions") {
  service::llm_settings s;  // retries 3, min wait 500
  attempt_outcome o{attempt_result::http_error, 429};
  auto d = decide_retry(s, 1, o, 0);
  CHECK(d.retry);
  CHECK(d.wait == 500ms);
  o.retry_after = 2000ms;
  d = decide_retry(s, 1, o, 0.99);
  CHECK(d.retry);
  CHECK(d.wait >= 2000ms);
  CHECK(d.wait <= 2200ms);
  CHECK(decide_retry(s, 2, {attempt_result::http_error, 500}, 0).wait == 1000ms);  // backoff doubles
  CHECK(decide_retry(s, 3, {attempt_result::http_error, 529}, 0).retry);
  CHECK(!decide_retry(s, 4, {attempt_result::http_error, 503}, 0).retry);  // 3 retries = 4 attempts
  CHECK(!decide_retry(s, 1, {attempt_result::http_error, 400}, 0).retry);
  CHECK(!decide_retry(s, 1, {attempt_result::http_error, 401}, 0).retry);
  CHECK(decide_retry(s, 1, {attempt_result::connect_failed}, 0).retry);
  CHECK(!decide_retry(s, 1, {attempt_result::timeout}, 0).retry);
  CHECK(!decide_retry(s, 1, {attempt_result::malformed, 200}, 0).retry);
  attempt_outcome cut{attempt_result::cut_stream, 200};
  CHECK(decide_retry(s, 1, cut, 0).retry);
  cut.streamed_to_requester = true;
  CHECK(!decide_retry(s, 1, cut, 0).retry);
  attempt_outcome over{attempt_result::stream_error, 200};
  over.stream_error_retryable = true;
  CHECK(decide_retry(s, 1, over, 0).retry);

  CHECK(lv::is(final_error({attempt_result::http_error, 429}, 4, "p", "x"), lv::error_code::rate_limited));
  CHECK(lv::is(final_error({attempt_result::http_error, 500}, 4, "p", "x"), lv::error_code::upstream));
  CHECK(lv::is(final_error({attempt_result::http_error, 400}, 1, "p", "x"), lv::error_code::upstream));
  CHECK(lv::is(final_error({attempt_result::connect_failed}, 4, "p", "x"), lv::error_code::unavailable));
  CHECK(lv::is(final_error({attempt_result::timeout}, 1, "p", "x"), lv::error_code::timeout));
  CHECK(lv::is(final_error({attempt_result::cut_stream, 200}, 1, "p", "x"), lv::error_code::malformed));
  CHECK(final_error({attempt_result::http_error, 500}, 4, "p", "boom").message == "Provider 'p' answered HTTP 500 after 4 attempts: boom");
}

TEST_CASE("Retry-After: seconds or HTTP date") {
  auto now = *parse_rfc3339("2015-10-21T07:28:00Z");
  CHECK(parse_retry_after("1", now) == 1000ms);
  CHECK(parse_retry_after(" 2.5 ", now) == 2500ms);
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now) == 30000ms);
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now) == 0ms);
  CHECK(!parse_retry_after("soon", now));
  CHECK(!parse_retry_after("", now));
  CHECK(parse_retry_after("99999999", now) == 3600000ms);
}
