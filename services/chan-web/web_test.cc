#include "web_channel.hh"

#include <set>

#include <doctest/doctest.h>

using namespace weft::chan::web;
namespace chat = weft::proto::chat_v1;

TEST_CASE("session ids") {
  CHECK(valid_session("cli:ann"));
  CHECK(valid_session("3f2a-9c.x_y"));
  CHECK_FALSE(valid_session(""));
  CHECK_FALSE(valid_session(std::string(129, 'a')));
  CHECK_FALSE(valid_session("a b"));
  CHECK_FALSE(valid_session("a\nb"));
  CHECK_FALSE(valid_session("../x/y"));
}

TEST_CASE("uuids are v4 and distinct") {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto u = new_uuid();
    CHECK(u.size() == 36);
    CHECK(u[14] == '4');
    CHECK(std::string("89ab").find(u[19]) != std::string::npos);
    seen.insert(u);
  }
  CHECK(seen.size() == 100);
}

TEST_CASE("message events join text parts and list attachments") {
  chat::message m;
  m.id = "web:1:r";
  m.reply_to = "web:1";
  chat::part a, b, c;
  a.kind = chat::part_kind::text;
  a.text = "hello";
  b.kind = chat::part_kind::blob;
  b.name = "dot.png";
  b.media_type = "image/png";
  b.data = weft::wire::bytes{1, 2, 3};
  c.kind = chat::part_kind::text;
  c.text = "world";
  m.parts = {a, b, c};
  auto j = message_event(m);
  CHECK(j["text"] == "hello\nworld");
  CHECK(j["reply_to"] == "web:1");
  REQUIRE(j["attachments"].size() == 1);
  CHECK(j["attachments"][0]["name"] == "dot.png");
  CHECK(j["attachments"][0]["size"] == 3);
}

TEST_CASE("the login cookie is named per port") {
  CHECK(cookie_name(8780) == "weft_web_8780");
  CHECK(cookie_name(1) != cookie_name(2));
}
