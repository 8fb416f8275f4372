#include <doctest/doctest.h>

#include <weft/mcp/jsonrpc.hh>
#include <weft/mcp/version.hh>

using namespace weft::mcp;

namespace {
std::string code_of(std::string_view text, const limits& lim = {}) {
  auto m = parse(text, lim);
  REQUIRE_FALSE(m);
  return m.err().code;
}
}  // namespace

TEST_CASE("jsonrpc: malformed JSON is a parse error, answered with id null") {
  for (auto bad : {"", "{", "{\"jsonrpc\":\"2.0\",", "nope", "{\"a\":1}}", "\xff\xfe"}) {
    auto m = parse(bad);
    REQUIRE_FALSE(m);
    CHECK(m.err().domain == domain);
    CHECK(m.err().code == "ParseError");
    auto reply = nlohmann::json::parse(serialize(refusal(m.err())));
    CHECK(reply["id"].is_null());
    CHECK(reply["error"]["code"] == code::parse_error);
  }
}

TEST_CASE("jsonrpc: not a JSON-RPC 2.0 message is an invalid request") {
  CHECK(code_of(R"({"jsonrpc":"1.0","id":1,"method":"ping"})") == "InvalidRequest");
  CHECK(code_of(R"({"id":1,"method":"ping"})") == "InvalidRequest");
  CHECK(code_of(R"({"jsonrpc":2.0,"id":1,"method":"ping"})") == "InvalidRequest");
  CHECK(code_of(R"({"jsonrpc":"2.0","id":1})") == "InvalidRequest");
  CHECK(code_of(R"({"jsonrpc":"2.0","id":1,"method":""})") == "InvalidRequest");
  CHECK(code_of(R"({"jsonrpc":"2.0","id":1,"method":7})") == "InvalidRequest");
  CHECK(code_of(R"({"jsonrpc":"2.0","id":1,"method":"x","params":"s"})") == "InvalidRequest");
  CHECK(code_of(R"({"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}})") == "InvalidRequest");
  CHECK(code_of(R"({"jsonrpc":"2.0","id":1,"error":{"code":"x","message":"m"}})") == "InvalidRequest");
  CHECK(code_of(R"("just a string")") == "InvalidRequest");
  auto batch = parse(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])");
  REQUIRE_FALSE(batch);
  CHECK(batch.err().message.find("batches") != std::string::npos);
  CHECK(code_number(batch.err()) == code::invalid_request);
}

TEST_CASE("jsonrpc: ids of every kind") {
  auto num = parse(R"({"jsonrpc":"2.0","id":42,"method":"ping"})");
  REQUIRE(num);
  CHECK(std::get<request>(*num).id == request_id{std::int64_t{42}});
  auto neg = parse(R"({"jsonrpc":"2.0","id":-7,"method":"ping"})");
  REQUIRE(neg);
  CHECK(std::get<request>(*neg).id == request_id{std::int64_t{-7}});
  auto str = parse(R"({"jsonrpc":"2.0","id":"server-discover-probe-1","method":"ping"})");
  REQUIRE(str);
  CHECK(std::get<request>(*str).id == request_id{std::string("server-discover-probe-1")});
  auto big = parse(R"({"jsonrpc":"2.0","id":9223372036854775807,"method":"ping"})");
  REQUIRE(big);
  CHECK(std::get<request>(*big).id == request_id{INT64_MAX});
  for (auto bad : {"null", "1.5", "true", "{}", "[1]", "18446744073709551615"})
    CHECK(code_of(std::string(R"({"jsonrpc":"2.0","method":"ping","id":)") + bad + "}") == "InvalidRequest");
  // Without an id it is a notification; an error response may have id null.
  auto n = parse(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  REQUIRE(n);
  CHECK(std::holds_alternative<notification>(*n));
  auto e = parse(R"({"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"Bad Request: Server not initialized"}})");
  REQUIRE(e);
  CHECK_FALSE(std::get<error_response>(*e).id);
  CHECK(std::get<error_response>(*e).error.code == code::server_error);
}

TEST_CASE("jsonrpc: an oversized message is refused before parsing") {
  limits lim{.max_message_bytes = 64};
  std::string big = R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":")" + std::string(100, 'x') + "\"}}";
  auto m = parse(big, lim);
  REQUIRE_FALSE(m);
  CHECK(m.err().code == "InvalidRequest");
  CHECK(m.err().message.find("exceed the limit of 64 bytes") != std::string::npos);
  // Even garbage that large is refused as too large, not parsed.
  CHECK(parse(std::string(65, '{'), lim).err().message.find("limit") != std::string::npos);
  CHECK(parse(R"({"jsonrpc":"2.0","id":1,"method":"ping"})", lim));
}

TEST_CASE("jsonrpc: deep nesting is refused before parsing") {
  auto nested = [](std::size_t n) {
    return R"({"jsonrpc":"2.0","id":1,"method":"x","params":{"a":)" + std::string(n, '[') + std::string(n, ']') + "}}";
  };
  CHECK(parse(nested(126)));  // 126 arrays + params + the message object = 128
  auto deep = parse(nested(127));
  REQUIRE_FALSE(deep);
  CHECK(deep.err().message.find("nested deeper than 128 levels") != std::string::npos);
  auto huge = parse(nested(1'000'000));  // would overflow the stack when copied or printed
  REQUIRE_FALSE(huge);
  CHECK(huge.err().code == "InvalidRequest");
  // Brackets inside strings (also after escaped quotes) do not count.
  std::string in_string = R"({"jsonrpc":"2.0","id":1,"method":"x","params":{"s":"\"\\)" + std::string(500, '[') + "\"}}";
  CHECK(parse(in_string));
}

TEST_CASE("jsonrpc: serialize round-trips and never emits a raw newline") {
  message msgs[] = {
      request{std::int64_t{3}, "tools/call", {{"name", "echo"}, {"arguments", {{"message", "a\nb\r\n\x01"}}}}},
      request{std::string("s-1"), "ping", nullptr},
      notification{"notifications/tools/list_changed", nullptr},
      response{std::int64_t{3}, {{"content", nlohmann::json::array()}}},
      error_response{std::nullopt, {code::parse_error, "bad\nthing", nullptr}},
      error_response{std::string("x"), {code::unsupported_version, "v", {{"supported", {"2026-07-28"}}}}},
  };
  for (auto& m : msgs) {
    auto text = serialize(m);
    CHECK(text.find('\n') == std::string::npos);
    auto back = parse(text);
    REQUIRE(back);
    CHECK(serialize(*back) == text);
  }
  // Invalid UTF-8 in a string is replaced, not thrown.
  auto text = serialize(notification{"x", {{"s", "\xff"}}});
  CHECK(parse(text));
  CHECK(serialize(request{std::int64_t{1}, "ping", nullptr}) == R"({"id":1,"jsonrpc":"2.0","method":"ping"})");
}

TEST_CASE("jsonrpc: error codes and names") {
  CHECK(code_name(code::method_not_found) == "MethodNotFound");
  CHECK(code_name(-32099) == "-32099");
  auto e = from_error_object({code::invalid_params, "Tool nope not found", nullptr}, "call 'nope'");
  CHECK(e.message == "Failed to call 'nope': Tool nope not found (code -32602)");
  CHECK(code_number(e) == code::invalid_params);
  CHECK(code_number(from_error_object({-32099, "x", nullptr}, "x")) == -32099);
  CHECK(code_number(weft::fail(weft::errc::io, "disk")) == code::internal_error);
  CHECK(to_error_object(weft::fail(weft::errc::io, "disk")).message == "weft.Io: disk");
}

TEST_CASE("version: negotiation on both sides") {
  CHECK(negotiate("2025-11-25") == "2025-11-25");
  CHECK(negotiate("2025-06-18") == "2025-06-18");
  CHECK(negotiate("2025-03-26") == "2025-03-26");
  CHECK(negotiate("2024-11-05") == "2024-11-05");
  CHECK(negotiate("2024-10-07") == "2024-10-07");
  CHECK(negotiate("2099-01-01") == latest_legacy_version);  // observed server-memory behaviour
  CHECK(negotiate("") == latest_legacy_version);
  CHECK(negotiate("2026-07-28") == latest_legacy_version);  // not a legacy revision
  CHECK(check_server_version("2024-11-05"));
  auto bad = check_server_version("1999-01-01");
  REQUIRE_FALSE(bad);
  CHECK(bad.err().code == "UnsupportedProtocolVersion");
  CHECK(bad.err().message.find("'1999-01-01'") != std::string::npos);
  CHECK_FALSE(check_server_version("2026-07-28"));
}

TEST_CASE("version: era detection from the opening request") {
  auto req = [](std::string_view text) { return std::get<request>(*parse(text)); };
  CHECK(detect_era(req(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}})")) == era::legacy);
  CHECK(detect_era(req(R"({"jsonrpc":"2.0","id":1,"method":"server/discover"})")) == era::modern);
  CHECK(detect_era(req(
            R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}})")) ==
        era::modern);
  CHECK_FALSE(detect_era(req(R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"progressToken":1}}})")));
  CHECK_FALSE(detect_era(req(R"({"jsonrpc":"2.0","id":1,"method":"ping"})")));
  CHECK(to_string(era::modern) == "modern");
}

TEST_CASE("version: header values (Mcp-Name) encode what HTTP cannot carry as it is") {
  CHECK(encode_header_value("fs__read_file") == "fs__read_file");
  CHECK(encode_header_value("a\tb") == "a\tb");
  CHECK(encode_header_value("héllo") == "=?base64?aMOpbGxv?=");
  CHECK(encode_header_value(" x") == "=?base64?IHg=?=");
  CHECK(encode_header_value("a\tb\n") == "=?base64?YQliCg==?=");
  CHECK(encode_header_value("") == "=?base64?" "?=");  // split: "??=" would read as a trigraph
  CHECK(encode_header_value("=?base64?x?=") == "=?base64?PT9iYXNlNjQ/eD89?=");  // would read as encoded
  for (std::string v : std::initializer_list<std::string>{"fs__read_file", "héllo", " x", "a\tb\n", "", "=?base64?x?=", "hi", std::string("\0\xff", 2)})
    CHECK(decode_header_value(encode_header_value(v)) == v);
  CHECK(decode_header_value("plain") == "plain");
  CHECK_FALSE(decode_header_value("=?base64?abc?="));   // not a multiple of 4
  CHECK_FALSE(decode_header_value("=?base64?aGl=?="));  // bits beyond the last byte: not canonical
  CHECK_FALSE(decode_header_value("=?base64?a=Gk?="));  // padding inside
  CHECK_FALSE(decode_header_value("=?base64?aG!k?="));
}
