// Segment files: framing, sealing, torn tails, corruption.

#include <doctest/doctest.h>

#include <weft/memstore/rvf.hh>
#include <weft/wire/codec.hh>

#include "test_util.hh"
#include "tests/temp_dir.hh"

namespace rvf = weft::memstore::rvf;
using namespace weft::memstore::test;
using weft::memstore::errc::corrupt;

namespace {

// Segment payloads are msgpack maps: {"x": s}.
std::string map(const std::string& s) {
  weft::wire::writer w;
  w.map(1);
  w.key("x"), w.str(s);
  return w.str();
}

std::vector<std::pair<std::uint64_t, std::string>> all(const rvf::segment& s, std::vector<std::string>* bad = nullptr) {
  std::vector<std::pair<std::uint64_t, std::string>> out;
  auto r = s.for_each([&](std::uint64_t off, std::string_view p) -> weft::status {
    out.emplace_back(off, std::string(p));
    return {};
  }, [&](const weft::error& e) { if (bad) bad->push_back(e.message); });
  REQUIRE(r);
  return out;
}

}  // namespace

TEST_CASE("crc32c matches the Castagnoli check value, in one piece or chained") {
  CHECK(rvf::crc32c("123456789") == 0xE3069283u);
  CHECK(rvf::crc32c("56789", rvf::crc32c("1234")) == 0xE3069283u);
  std::string big(1000, 'x');
  CHECK(rvf::crc32c(big) == rvf::crc32c(big.substr(3), rvf::crc32c(big.substr(0, 3))));
}

TEST_CASE("segment: append, read, seal, reopen through the footer") {
  weft::test::temp_dir dir("memstore");
  auto file = dir.path / "seg-00000001.rvf";
  auto s = rvf::segment::create(file, {.ns = "main", .created = weft::utc_now()}, 1024);
  REQUIRE(s);
  std::vector<std::uint64_t> offs;
  for (int i = 0; i < 10; ++i) {
    auto off = s->append(map("record " + std::to_string(i)));
    REQUIRE(off);
    offs.push_back(*off);
  }
  CHECK(s->append(map(std::string(1025, 'x'))).err().code == weft::memstore::errc::too_large);
  CHECK(s->append("").err().code == weft::memstore::errc::too_large);
  CHECK(s->append("not a map").err().code == weft::memstore::errc::invalid);
  CHECK(*s->read(offs[3]) == map("record 3"));
  CHECK(s->read(offs[3] + 1).err().code == corrupt);
  REQUIRE(s->seal());
  CHECK(s->sealed());
  CHECK(!s->append(map("more")));

  auto r = rvf::segment::open(file, {.max_record_bytes = 1024});
  REQUIRE(r);
  CHECK(r->sealed());
  CHECK(r->head().ns == "main");
  CHECK(r->records() == 10);
  auto recs = all(*r);
  REQUIRE(recs.size() == 10);
  for (int i = 0; i < 10; ++i) CHECK(recs[i] == std::pair{offs[i], map("record " + std::to_string(i))});
}

TEST_CASE("segment: a flipped byte is refused, later records still served (sealed and unsealed)") {
  for (bool sealed : {false, true}) {
    CAPTURE(sealed);
    weft::test::temp_dir dir("memstore");
    auto file = dir.path / "seg-00000001.rvf";
    std::vector<std::uint64_t> offs;
    {
      auto s = rvf::segment::create(file, {.ns = "main"}, 1 << 20);
      REQUIRE(s);
      for (int i = 0; i < 5; ++i) offs.push_back(*s->append(map(std::string(50, static_cast<char>('a' + i)))));
      if (sealed) REQUIRE(s->seal());
    }
    flip(file, offs[2] + 20);  // inside record 2's payload
    auto r = rvf::segment::open(file, {.max_record_bytes = 1 << 20, .writable = !sealed});
    REQUIRE(r);
    std::vector<std::string> bad;
    auto recs = all(*r, &bad);
    REQUIRE(recs.size() == 4);
    CHECK(recs[2].first == offs[3]);
    REQUIRE(bad.size() == 1);
    CHECK(bad[0].find("checksum mismatch") != std::string::npos);
    CHECK(bad[0].find(fmt::format("at byte {}", offs[2])) != std::string::npos);
    auto one = r->read(offs[2]);
    REQUIRE(!one);
    CHECK(one.err().code == corrupt);
    if (!sealed) {
      CHECK(r->dropped_tail_bytes() == 0);  // corruption inside the file is never cut off
      CHECK(r->append(map("after")));
    }
  }
}

TEST_CASE("segment: a torn tail is cut back to the last whole record") {
  weft::test::temp_dir dir("memstore");
  auto file = dir.path / "seg-00000001.rvf";
  std::uint64_t whole = 0;
  {
    auto s = rvf::segment::create(file, {.ns = "main"}, 1 << 20);
    REQUIRE(s);
    REQUIRE(s->append(map("one")));
    REQUIRE(s->append(map("two")));
    whole = s->end();
    REQUIRE(s->append(map(std::string(100, 'z'))));
  }
  std::filesystem::resize_file(file, whole + 50);
  auto r = rvf::segment::open(file, {.max_record_bytes = 1 << 20, .writable = true});
  REQUIRE(r);
  CHECK(r->records() == 2);
  CHECK(r->end() == whole);
  CHECK(r->dropped_tail_bytes() == 50);
  CHECK(std::filesystem::file_size(file) == whole);
  CHECK(*r->append(map("three")) == whole);
}

TEST_CASE("segment: a huge length field is corruption, not an allocation") {
  weft::test::temp_dir dir("memstore");
  auto file = dir.path / "seg-00000001.rvf";
  std::uint64_t at = 0;
  {
    auto s = rvf::segment::create(file, {.ns = "main"}, 1 << 20);
    REQUIRE(s);
    REQUIRE(s->append(map("one")));
    at = s->end();
    REQUIRE(s->append(map("two")));
  }
  auto d = slurp(file);
  d[at] = d[at + 1] = d[at + 2] = d[at + 3] = '\xff';  // length 4 GiB - 1
  spit(file, d);
  auto r = rvf::segment::open(file, {.max_record_bytes = 1 << 20});
  REQUIRE(r);
  CHECK(r->records() == 1);
  auto bad = r->read(at);
  REQUIRE(!bad);
  CHECK(bad.err().code == corrupt);
  CHECK(r->dropped_tail_bytes() > 0);  // read-only: reported, not cut
}

TEST_CASE("segment: bad magic, newer version and a damaged header are refused") {
  weft::test::temp_dir dir("memstore");
  auto file = dir.path / "seg-00000001.rvf";
  REQUIRE(rvf::segment::create(file, {.ns = "main"}, 1024));
  auto good = slurp(file);
  auto refused = [&](std::string data) {
    spit(file, data);
    auto r = rvf::segment::open(file, {});
    REQUIRE(!r);
    return r.err();
  };
  auto d = good;
  d[0] = 'X';
  CHECK(refused(d).message.find("bad magic") != std::string::npos);
  d = good;
  d[4] = 9;
  auto e = refused(d);
  CHECK(e.code == weft::memstore::errc::version);
  CHECK(e.message.find("format version 9 is newer") != std::string::npos);
  d = good;
  d[d.size() - 2] ^= 1;
  CHECK(refused(d).message.find("header checksum") != std::string::npos);
  CHECK(refused(good.substr(0, 10)).message.find("too short") != std::string::npos);
}
