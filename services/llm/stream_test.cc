#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "services/llm/stream.hh"

using namespace weft;
using namespace weft::llm;

namespace {
const char* openai_stream =
    "data: {\"model\":\"gpt\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
    ": keep-alive\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo \\u00e9\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"b\",\"arguments\":\"\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"a\",\"arguments\":\"{\\\"x\\\":\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"{}\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"1}\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":4}}\n\n"
    "data: [DONE]\n\n";

const char* anthropic_stream =
    "event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude\",\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\r\n\r\n"
    "event: ping\ndata: {\"type\":\"ping\"}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi \"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"there\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"exec\",\"input\":{}}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"cmd\\\":\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"ls\\\"}\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":6}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

/// Feeds `text` in pieces of `step` bytes; returns pieces of text and the result.
std::pair<std::string, result<lv::completion>> run(service::api_style s, std::string_view text, std::size_t step) {
  stream_decoder d(s);
  std::string pieces;
  for (std::size_t i = 0; i < text.size(); i += step) {
    auto st = d.feed(text.substr(i, step), [&](std::string_view t) { pieces += std::string(t) + "|"; });
    if (!st) return {pieces, st.take_error()};
  }
  return {pieces, d.finish()};
}
}  // namespace

TEST_CASE("openai stream: text pieces, interleaved tool-call fragments by index, usage, [DONE]") {
  for (std::size_t step : {1u, 5u, 64u, 100000u}) {
    auto [pieces, c] = run(service::api_style::openai, openai_stream, step);
    REQUIRE(c);
    CHECK(pieces == "Hel|lo \xc3\xa9|");
    CHECK(c->text == "Hello \xc3\xa9");
    CHECK(c->model == "gpt");
    REQUIRE(c->tool_calls.size() == 2);
    CHECK(c->tool_calls[0] == lv::tool_call{"call_1", "a", "{\"x\":1}"});
    CHECK(c->tool_calls[1] == lv::tool_call{"call_2", "b", "{}"});
    CHECK(c->stop_reason == "tool_calls");
    CHECK(c->usage.input_tokens == 12);
    CHECK(c->usage.output_tokens == 4);
  }
}

TEST_CASE("anthropic stream: blocks, input_json_delta, ping, message_delta usage") {
  for (std::size_t step : {1u, 3u, 50u, 100000u}) {
    auto [pieces, c] = run(service::api_style::anthropic, anthropic_stream, step);
    REQUIRE(c);
    CHECK(pieces == "Hi |there|");
    CHECK(c->text == "Hi there");
    REQUIRE(c->tool_calls.size() == 1);
    CHECK(c->tool_calls[0] == lv::tool_call{"toolu_1", "exec", "{\"cmd\":\"ls\"}"});
    CHECK(c->stop_reason == "tool_calls");
    CHECK(c->usage.input_tokens == 9);
    CHECK(c->usage.output_tokens == 6);
  }
}

TEST_CASE("a stream cut before its end marker is Malformed") {
  std::string o = openai_stream;
  auto cut = run(service::api_style::openai, o.substr(0, o.find("data: [DONE]")), 10);
  REQUIRE(!cut.second);
  CHECK(lv::is(cut.second.err(), lv::error_code::malformed));
  CHECK(cut.first == "Hel|lo \xc3\xa9|");
  std::string a = anthropic_stream;
  auto cut2 = run(service::api_style::anthropic, a.substr(0, a.size() / 2), 10);
  REQUIRE(!cut2.second);
  CHECK(lv::is(cut2.second.err(), lv::error_code::malformed));
}

TEST_CASE("mid-stream error events are typed; garbage is Malformed") {
  auto over = run(service::api_style::anthropic,
                  "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\n"
                  "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
                  4);
  REQUIRE(!over.second);
  CHECK(lv::is(over.second.err(), lv::error_code::rate_limited));
  CHECK(over.second.err().message.find("Overloaded") != std::string::npos);
  auto api = run(service::api_style::openai, "data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}\n\n", 3);
  REQUIRE(!api.second);
  CHECK(lv::is(api.second.err(), lv::error_code::upstream));
  auto bad = run(service::api_style::openai, "data: {not json\n\n", 3);
  REQUIRE(!bad.second);
  CHECK(lv::is(bad.second.err(), lv::error_code::malformed));
  auto badjson = run(service::api_style::anthropic,
                     "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"n\"}}\n\n"
                     "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{oops\"}}\n\n"
                     "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
                     7);
  REQUIRE(!badjson.second);
  CHECK(lv::is(badjson.second.err(), lv::error_code::malformed));
}
