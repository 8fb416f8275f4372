#include "telegram.hh"

#include <doctest/doctest.h>

using namespace weft::chan::telegram;
using json = nlohmann::json;

namespace {
std::string repeat(std::string_view s, std::size_t n) {
  std::string o;
  for (std::size_t i = 0; i < n; ++i) o += s;
  return o;
}
}  // namespace

TEST_CASE("utf16_length counts UTF-16 code units, not bytes") {
  CHECK(utf16_length("abc") == 3);
  CHECK(utf16_length("é") == 1);          // 2 bytes
  CHECK(utf16_length("€") == 1);          // 3 bytes
  CHECK(utf16_length("😀") == 2);         // 4 bytes, a surrogate pair
  CHECK(utf16_length("\xff\xfe") == 2);   // invalid bytes count one each
}

TEST_CASE("split_text: exactly the limit is one part") {
  auto t = repeat("a", message_limit);
  auto parts = split_text(t);
  REQUIRE(parts.size() == 1);
  CHECK(parts[0] == t);
}

TEST_CASE("split_text: one over the limit without spaces is cut hard") {
  auto parts = split_text(repeat("a", message_limit + 1));
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].size() == message_limit);
  CHECK(parts[1] == "a");
}

TEST_CASE("split_text: multibyte text is measured in code units and never cut inside a character") {
  auto t = repeat("é", 5000);  // 10000 bytes, 5000 units
  auto parts = split_text(t);
  REQUIRE(parts.size() == 2);
  CHECK(utf16_length(parts[0]) == message_limit);
  CHECK(parts[0] + parts[1] == t);
  auto emoji = repeat("😀", 2049);  // 4098 units
  auto ep = split_text(emoji);
  REQUIRE(ep.size() == 2);
  CHECK(utf16_length(ep[0]) == 4096);
  CHECK(ep[1] == "😀");
  // An emoji straddling the limit moves whole into the next part.
  auto odd = "a" + repeat("😀", 2048);  // 4097 units; the last pair would end at 4097
  auto op = split_text(odd);
  REQUIRE(op.size() == 2);
  CHECK(utf16_length(op[0]) == 4095);
  CHECK(op[1] == "😀");
}

TEST_CASE("split_text prefers paragraph, then line, then word boundaries") {
  auto para = repeat("x", 3000) + "\n\n" + repeat("y", 3000);
  auto p = split_text(para);
  REQUIRE(p.size() == 2);
  CHECK(p[0] == repeat("x", 3000));
  CHECK(p[1] == repeat("y", 3000));
  auto lines = repeat("x", 3000) + "\n" + repeat("y", 2000) + "\n" + repeat("z", 100);
  auto l = split_text(lines);
  REQUIRE(l.size() == 2);
  CHECK(l[0] == repeat("x", 3000));
  CHECK(l[1] == repeat("y", 2000) + "\n" + repeat("z", 100));
  auto words = repeat("word ", 1000);  // 5000 units
  auto w = split_text(words);
  REQUIRE(w.size() == 2);
  CHECK(utf16_length(w[0]) <= message_limit);
  CHECK(w[0].back() == 'd');
  CHECK(w[0] + " " + w[1] == words);
  for (auto& part : split_text(repeat("ab ", 10000))) CHECK(utf16_length(part) <= message_limit);
}

TEST_CASE("split_text keeps everything in order and drops empty parts") {
  CHECK(split_text("").empty());
  CHECK(split_text("   \n\n  ").empty());
  std::string big;
  for (int i = 0; i < 3000; ++i) big += std::to_string(i) + " ";
  auto parts = split_text(big, 100);
  std::string joined;
  for (auto& p : parts) {
    CHECK(utf16_length(p) <= 100);
    joined += (joined.empty() ? "" : " ") + p;
  }
  CHECK(joined == big);
}

TEST_CASE("parse_update: a text message") {
  auto u = parse_update(json::parse(R"({"update_id":1001,"message":{"message_id":7,"from":{"id":42,"is_bot":false,
      "first_name":"Ann","username":"ann"},"chat":{"id":42,"type":"private"},"date":1700000000,"text":"hello"}})"));
  REQUIRE(u);
  CHECK(u->update_id == 1001);
  REQUIRE(u->message);
  auto& m = *u->message;
  CHECK(m.id == "telegram:1001");
  CHECK(m.channel == "telegram");
  CHECK(m.chat_id == "42");
  CHECK(m.sender == "42");
  CHECK(m.meta.at("user_id") == "42");
  CHECK(m.meta.at("chat_id") == "42");
  CHECK(m.meta.at("username") == "ann");
  CHECK(u->telegram_message_id == 7);
  REQUIRE(m.parts.size() == 1);
  CHECK(*m.parts[0].text == "hello");
  CHECK(weft::to_rfc3339(m.ts) == "2023-11-14T22:13:20.000Z");
}

TEST_CASE("parse_update: photo picks the largest size and keeps the caption") {
  auto u = parse_update(json::parse(R"({"update_id":5,"message":{"message_id":1,"from":{"id":-100},"chat":{"id":-100123,"type":"group"},
      "date":1,"photo":[{"file_id":"small","file_unique_id":"a","width":90,"height":90,"file_size":100},
      {"file_id":"big","file_unique_id":"b","width":800,"height":800,"file_size":50000}],"caption":"look"}})"));
  REQUIRE(u);
  REQUIRE(u->message);
  REQUIRE(u->media.size() == 1);
  CHECK(u->media[0].file_id == "big");
  CHECK(u->message->chat_id == "-100123");
  REQUIRE(u->message->parts.size() == 2);
  CHECK(u->message->parts[0].kind == weft::proto::chat_v1::part_kind::blob);
  CHECK(*u->message->parts[0].media_type == "image/jpeg");
  CHECK(*u->message->parts[1].text == "look");
}

TEST_CASE("parse_update: document keeps name and media type") {
  auto u = parse_update(json::parse(R"({"update_id":6,"message":{"message_id":2,"chat":{"id":1},"date":1,
      "document":{"file_id":"d1","file_name":"report.pdf","mime_type":"application/pdf","file_size":1234}}})"));
  REQUIRE(u);
  REQUIRE(u->media.size() == 1);
  CHECK(u->media[0].name == "report.pdf");
  CHECK(u->media[0].media_type == "application/pdf");
  CHECK(u->media[0].file_size == 1234);
}

TEST_CASE("parse_update: malformed and unhandled updates") {
  CHECK_FALSE(parse_update(json::parse(R"({"message":{}})")));
  CHECK_FALSE(parse_update(json::parse(R"([1,2])")));
  CHECK_FALSE(parse_update(json::parse(R"({"update_id":"x"})")));
  auto cb = parse_update(json::parse(R"({"update_id":9,"callback_query":{"id":"1"}})"));
  REQUIRE(cb);
  CHECK_FALSE(cb->message);
  auto nochat = parse_update(json::parse(R"({"update_id":10,"message":{"text":"hi"}})"));
  REQUIRE(nochat);
  CHECK_FALSE(nochat->message);
  auto sticker = parse_update(json::parse(R"({"update_id":11,"message":{"chat":{"id":1},"sticker":{}}})"));
  REQUIRE(sticker);
  CHECK_FALSE(sticker->message);
  auto wrong_types = parse_update(json::parse(R"({"update_id":12,"message":{"chat":{"id":1},"text":5,"photo":"x","document":[]}})"));
  REQUIRE(wrong_types);
  CHECK_FALSE(wrong_types->message);
}

TEST_CASE("classify Bot API answers") {
  auto ok = classify(200, R"({"ok":true,"result":{"message_id":3}})", "");
  CHECK(ok.kind == outcome_kind::ok);
  CHECK(ok.result["message_id"] == 3);
  auto limited = classify(429, R"({"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}})", "");
  CHECK(limited.kind == outcome_kind::retry_after);
  CHECK(limited.retry_after == 7);
  auto bad = classify(400, R"({"ok":false,"error_code":400,"description":"Bad Request: message is too long"})", "");
  CHECK(bad.kind == outcome_kind::permanent);
  CHECK(bad.description == "Bad Request: message is too long");
  CHECK(classify(502, "<html>bad gateway</html>", "").kind == outcome_kind::transient);
  CHECK(classify(0, "", "Couldn't connect to server").kind == outcome_kind::transient);
  CHECK(classify(401, R"({"ok":false,"error_code":401,"description":"Unauthorized"})", "").kind == outcome_kind::permanent);
  CHECK(classify(200, "not json", "").kind == outcome_kind::permanent);
}
