#include <doctest/doctest.h>

#include "proto/bus_v1.hh"
#include "proto/chat_v1.hh"

using namespace weft;
namespace bus = weft::proto::bus_v1;
namespace chat = weft::proto::chat_v1;

TEST_CASE("unknown keys are ignored, missing required fields are typed errors") {
  wire::writer w;
  w.map(3);
  w.key("address"); w.str("echo/1");
  w.key("token"); w.str("ff");
  w.key("future_field"); w.u64(7);
  auto h = wire::decode<bus::hello>(w.view());
  REQUIRE(h);
  CHECK(h->address == "echo/1");
  CHECK(h->features.empty());  // default

  wire::writer m;
  m.map(1);
  m.key("address"); m.str("echo/1");
  auto bad = wire::decode<bus::hello>(m.view());
  REQUIRE_FALSE(bad);
  CHECK(bad.err().code == wire::codec_errc::missing);
  CHECK(bad.err().message == "Hello: missing required field 'token'");
}

TEST_CASE("wrong types and unknown enum values are rejected with the field path") {
  wire::writer w;
  w.map(2);
  w.key("address"); w.u64(5);
  w.key("token"); w.str("x");
  auto r = wire::decode<bus::hello>(w.view());
  REQUIRE_FALSE(r);
  CHECK(r.err().code == wire::codec_errc::wrong_type);
  CHECK(r.err().message == "Hello.address: expected string, got int");

  auto env = bus::test_envelope();
  auto bytes = wire::encode(env);
  // kind is the second key; its value byte follows "kind" (0xa4 'k' 'i' 'n' 'd').
  auto pos = bytes.find("\xa4kind");
  REQUIRE(pos != std::string::npos);
  bytes[pos + 5] = 0x63;  // 99: not a Kind
  auto e = wire::decode<bus::envelope>(bytes);
  REQUIRE_FALSE(e);
  CHECK(e.err().code == wire::codec_errc::bad_value);
}

TEST_CASE("garbage, truncation, trailing bytes and huge counts are errors, not crashes") {
  auto good = wire::encode(chat::test_message());
  for (size_t n = 0; n < good.size(); ++n) {
    auto r = wire::decode<chat::message>(std::string_view(good).substr(0, n));
    CHECK_FALSE(r);
  }
  CHECK_FALSE(wire::decode<chat::message>(good + "x"));
  // An array header claiming 2^32-1 elements in 6 bytes must not allocate 4 G objects.
  std::string huge("\xdd\xff\xff\xff\xff\x00", 6);
  auto r = wire::decode<chat::message>(huge);
  REQUIRE_FALSE(r);
  // Deep nesting is capped.
  std::string deep(100, '\x91');
  deep += '\xc0';
  auto d = wire::parse(deep);
  REQUIRE_FALSE(d);
  CHECK(d.err().code == wire::codec_errc::too_large);
}

TEST_CASE("timestamps keep nanoseconds and accept all three msgpack forms") {
  utc_time t(std::chrono::nanoseconds(1'764'000'000'123'456'789LL));
  wire::writer w;
  w.time(t);
  auto doc = wire::parse(w.view());
  REQUIRE(doc);
  utc_time back;
  REQUIRE(wire::read(doc->root(), "t", back));
  CHECK(back == t);
  // timestamp 32: fixext4, type -1, seconds
  std::string ts32("\xd6\xff\x00\x00\x00\x3c", 6);
  auto d32 = wire::parse(ts32);
  REQUIRE(d32);
  REQUIRE(wire::read(d32->root(), "t", back));
  CHECK(back.time_since_epoch().count() == 60'000'000'000LL);
}

TEST_CASE("chat parts carry text, binary and structured data") {
  auto m = chat::test_message();
  auto r = wire::decode<chat::message>(wire::encode(m));
  REQUIRE(r);
  CHECK(*r == m);
  REQUIRE(r->parts.size() == 2);
  auto doc = wire::parse(r->parts[1].value->encoded);
  REQUIRE(doc);
  CHECK(wire::to_json(doc->root()) == R"({"lat":52.5,"lon":13.4})");
  auto p = chat::test_part();
  CHECK(p.data->size() == 8);
}

TEST_CASE("JSON converts to msgpack and back") {
  auto b = wire::from_json(R"({"text":"hi","n":-3,"ok":true,"list":[1,2.5,null]})");
  REQUIRE(b);
  auto doc = wire::parse(*b);
  REQUIRE(doc);
  CHECK(wire::to_json(doc->root()) == R"({"list":[1,2.5,null],"n":-3,"ok":true,"text":"hi"})");
  auto bad = wire::from_json("{nope");
  REQUIRE_FALSE(bad);
  CHECK(bad.err().code == wire::codec_errc::malformed);
}

TEST_CASE("f64 values are always encoded as float 64, integral ones too") {
  weft::wire::writer w;
  w.f64(0.0);
  w.f64(3.0);
  w.f64(-0.5);
  CHECK(w.view() == std::string_view("\xcb\x00\x00\x00\x00\x00\x00\x00\x00"
                                     "\xcb\x40\x08\x00\x00\x00\x00\x00\x00"
                                     "\xcb\xbf\xe0\x00\x00\x00\x00\x00\x00", 27));
}
