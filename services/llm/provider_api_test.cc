#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "services/llm/provider_api.hh"

using namespace weft;
using namespace weft::llm;
using json = nlohmann::json;

namespace {
service::provider_settings prov(service::api_style s) {
  // Built by move-assignment: GCC 12 at -O3 warns falsely (-Wrestrict) on operator=(const char*).
  service::provider_settings p;
  p.name = std::string(s == service::api_style::anthropic ? "anthropic" : "openai");
  p.style = s;
  p.base_url = std::string("http://127.0.0.1:1/v1/");
  p.api_key = std::string("sekrit");
  p.model = std::string("m");
  return p;
}
lv::complete tool_conversation() {
  lv::complete c;
  c.agent = "main";
  c.system = "be brief";
  c.messages.push_back({lv::role::user, "list files"});
  lv::turn a{lv::role::assistant, "", {{"call_1", "exec", "{\"cmd\":\"ls\"}"}, {"call_2", "read", "{\"p\":1}"}}};
  c.messages.push_back(a);
  c.messages.push_back({lv::role::tool, "a b", {}, "call_1"});
  c.messages.push_back({lv::role::tool, "denied", {}, "call_2", true});
  c.tools.push_back({"exec", "run", "{\"type\":\"object\"}"});
  return c;
}
bool has_header(const http_request& r, std::string_view h) {
  for (auto& x : r.headers)
    if (x == h) return true;
  return false;
}
}  // namespace

TEST_CASE("openai request: system first, tool calls and results, tools, stream options, bearer") {
  auto r = build_complete_request(prov(service::api_style::openai), "gpt", tool_conversation(), true);
  REQUIRE(r);
  CHECK(r->method == "POST");
  CHECK(r->stream);
  CHECK(r->url == "http://127.0.0.1:1/v1/chat/completions");
  CHECK(has_header(*r, "Authorization: Bearer sekrit"));
  auto j = json::parse(r->body);
  CHECK(j["model"] == "gpt");
  CHECK(j["stream"] == true);
  CHECK(j["stream_options"]["include_usage"] == true);
  auto& m = j["messages"];
  REQUIRE(m.size() == 5);
  CHECK(m[0] == json{{"role", "system"}, {"content", "be brief"}});
  CHECK(m[2]["content"].is_null());
  CHECK(m[2]["tool_calls"][0]["function"]["arguments"] == "{\"cmd\":\"ls\"}");
  CHECK(m[2]["tool_calls"][1]["id"] == "call_2");
  CHECK(m[3] == json{{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "a b"}});
  CHECK(j["tools"][0]["function"]["parameters"]["type"] == "object");
  CHECK(!j.contains("max_tokens"));
}

TEST_CASE("azure: api-key header and api-version query") {
  auto p = prov(service::api_style::openai);
  p.api_version = "2024-06-01";
  auto r = build_complete_request(p, "gpt", tool_conversation(), false);
  REQUIRE(r);
  CHECK(r->url == "http://127.0.0.1:1/v1/chat/completions?api-version=2024-06-01");
  CHECK(has_header(*r, "api-key: sekrit"));
  CHECK(r->body.find("\"stream\"") == std::string::npos);
}

TEST_CASE("anthropic request: system apart, tool results of one turn in one user message") {
  auto c = tool_conversation();
  c.messages.push_back({lv::role::user, "and now?"});
  auto r = build_complete_request(prov(service::api_style::anthropic), "claude", c, false);
  REQUIRE(r);
  CHECK(r->url == "http://127.0.0.1:1/v1/messages");
  CHECK(has_header(*r, "x-api-key: sekrit"));
  CHECK(has_header(*r, "anthropic-version: 2023-06-01"));
  auto j = json::parse(r->body);
  CHECK(j["system"] == "be brief");
  CHECK(j["max_tokens"] == 4096);
  auto& m = j["messages"];
  REQUIRE(m.size() == 3);
  CHECK(m[1]["role"] == "assistant");
  REQUIRE(m[1]["content"].size() == 2);
  CHECK(m[1]["content"][0] == json{{"type", "tool_use"}, {"id", "call_1"}, {"name", "exec"}, {"input", {{"cmd", "ls"}}}});
  CHECK(m[2]["role"] == "user");
  REQUIRE(m[2]["content"].size() == 3);
  CHECK(m[2]["content"][0]["type"] == "tool_result");
  CHECK(m[2]["content"][0]["tool_use_id"] == "call_1");
  CHECK(!m[2]["content"][0].contains("is_error"));
  CHECK(m[2]["content"][1]["is_error"] == true);
  CHECK(m[2]["content"][2] == json{{"type", "text"}, {"text", "and now?"}});
  CHECK(j["tools"][0] == json{{"name", "exec"}, {"description", "run"}, {"input_schema", {{"type", "object"}}}});
}

TEST_CASE("bad requests are BadRequest, not crashes") {
  lv::complete empty;
  CHECK(lv::is(build_complete_request(prov(service::api_style::openai), "m", empty, false).err(), lv::error_code::bad_request));
  auto c = tool_conversation();
  c.tools[0].input_schema = "{not json";
  CHECK(lv::is(build_complete_request(prov(service::api_style::anthropic), "m", c, false).err(), lv::error_code::bad_request));
  c = tool_conversation();
  c.messages[1].tool_calls[0].arguments = "[1,2]";
  CHECK(lv::is(build_complete_request(prov(service::api_style::anthropic), "m", c, false).err(), lv::error_code::bad_request));
}

TEST_CASE("openai response: text, tool calls, usage, stop reason") {
  auto c = parse_complete_response(service::api_style::openai, R"({"model":"gpt-x","choices":[{"index":0,
    "message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
    "function":{"name":"get_x","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}],
    "usage":{"prompt_tokens":10,"completion_tokens":5}})");
  REQUIRE(c);
  CHECK(c->text == "");
  CHECK(c->model == "gpt-x");
  REQUIRE(c->tool_calls.size() == 1);
  CHECK(c->tool_calls[0] == lv::tool_call{"call_1", "get_x", "{\"a\":1}"});
  CHECK(c->stop_reason == "tool_calls");
  CHECK(c->usage.input_tokens == 10);
  CHECK(c->usage.output_tokens == 5);
}

TEST_CASE("anthropic response: text and tool_use blocks") {
  auto c = parse_complete_response(service::api_style::anthropic, R"({"model":"claude","content":[
    {"type":"text","text":"let me look"},{"type":"tool_use","id":"toolu_1","name":"get_x","input":{"a":1}}],
    "stop_reason":"tool_use","usage":{"input_tokens":7,"output_tokens":3}})");
  REQUIRE(c);
  CHECK(c->text == "let me look");
  REQUIRE(c->tool_calls.size() == 1);
  CHECK(c->tool_calls[0].id == "toolu_1");
  CHECK(json::parse(c->tool_calls[0].arguments) == json{{"a", 1}});
  CHECK(c->stop_reason == "tool_calls");
  CHECK(c->usage.input_tokens == 7);
}

TEST_CASE("malformed responses are Malformed") {
  for (auto s : {service::api_style::openai, service::api_style::anthropic})
    for (auto body : {"", "{", "[]", "{\"choices\":[]}", "{\"content\":3}", "null", "{\"choices\":[{\"message\":1}]}"}) {
      auto c = parse_complete_response(s, body);
      REQUIRE(!c);
      CHECK(lv::is(c.err(), lv::error_code::malformed));
    }
}

TEST_CASE("error bodies give the provider's message") {
  CHECK(error_message(R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})") == "Overloaded");
  CHECK(error_type(R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})") == "overloaded_error");
  CHECK(error_message(R"({"error":{"message":"Rate limit reached"}})") == "Rate limit reached");
  CHECK(error_message("<html>\nBad gateway</html>") == "<html> Bad gateway</html>");
  CHECK(error_message("") == "(empty body)");
}

TEST_CASE("embeddings: request, index matching, float32 little-endian") {
  auto r = build_embed_request(prov(service::api_style::openai), "e", {"a", "b"});
  REQUIRE(r);
  CHECK(r->method == "POST");
  CHECK(!r->stream);
  CHECK(r->url == "http://127.0.0.1:1/v1/embeddings");
  CHECK(json::parse(r->body)["input"] == json{"a", "b"});
  CHECK(lv::is(build_embed_request(prov(service::api_style::anthropic), "e", {"a"}).err(), lv::error_code::not_configured));
  CHECK(lv::is(build_embed_request(prov(service::api_style::openai), "e", std::vector<std::string>(257, "x")).err(),
               lv::error_code::bad_request));
  auto e = parse_embed_response(R"({"model":"e","data":[{"index":1,"embedding":[2.0,0]},{"index":0,"embedding":[1.0,-2]}]})", 2);
  REQUIRE(e);
  CHECK(e->dims == 2);
  REQUIRE(e->vectors.size() == 2);
  CHECK(e->vectors[0] == wire::bytes{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0});
  CHECK(e->vectors[1] == wire::bytes{0, 0, 0, 0x40, 0, 0, 0, 0});
  CHECK(!parse_embed_response(R"({"data":[{"index":0,"embedding":[1]}]})", 2));
  CHECK(!parse_embed_response(R"({"data":[{"index":0,"embedding":[1]},{"index":1,"embedding":[1,2]}]})", 2));
}
