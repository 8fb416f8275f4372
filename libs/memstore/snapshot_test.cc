// Snapshots: round trip, and refusal of every altered, truncated or foreign file.

#include <doctest/doctest.h>

#include <weft/memstore/snapshot.hh>

#include "test_util.hh"
#include "tests/temp_dir.hh"

using namespace weft::memstore;
using namespace weft::memstore::test;

namespace {

snapshot_meta write_sample(const std::filesystem::path& file, int n) {
  auto m = write_snapshot(file, {.agent = "main", .embedder = "openai/text-embedding-3-small"},
                          [&](snapshot_writer& w) -> weft::status {
                            for (int i = 0; i < n; ++i) {
                              if (auto r = w.add(make_entry(i)); !r) return r;
                              if (auto r = w.add_vector("m-" + std::to_string(i), make_vector(i, 16), "te3s"); !r) return r;
                            }
                            return {};
                          });
  REQUIRE_MESSAGE(m, (m ? "" : m.err().message));
  return *m;
}

}  // namespace

TEST_CASE("snapshot: entries and vectors round-trip one by one, bit-exact") {
  weft::test::temp_dir dir("memstore");
  auto file = dir.path / "main.wmem";
  auto written = write_sample(file, 20);
  CHECK(written.entries == 20);
  CHECK(written.vectors == 20);
  CHECK(written.dims == 16);
  CHECK(written.sha256.size() == 64);
  CHECK(written.bytes == std::filesystem::file_size(file));
  CHECK(!std::filesystem::exists(dir.path / "main.wmem.tmp"));

  auto meta = verify_snapshot(file);
  REQUIRE(meta);
  CHECK(meta->agent == "main");
  CHECK(meta->embedder == "openai/text-embedding-3-small");
  CHECK(meta->created == written.created);
  CHECK(meta->sha256 == written.sha256);
  collector c;
  REQUIRE(read_snapshot(file, c));
  REQUIRE(c.entries.size() == 20);
  REQUIRE(c.vectors.size() == 20);
  for (int i = 0; i < 20; ++i) {
    CHECK(c.entries[i] == make_entry(i));  // kinds 1..3: notes, messages, summaries
    CHECK(c.vectors[i].id == "m-" + std::to_string(i));
    CHECK(bit_equal(c.vectors[i].v, make_vector(i, 16)));
  }
}

TEST_CASE("snapshot: a flipped byte anywhere is refused, and nothing is delivered") {
  weft::test::temp_dir dir("memstore");
  auto file = dir.path / "main.wmem";
  write_sample(file, 3);
  auto good = slurp(file);
  auto altered = dir.path / "x.wmem";
  for (std::size_t at = 0; at < good.size(); ++at) {
    CAPTURE(at);
    auto d = good;
    d[at] = static_cast<char>(d[at] ^ 0x01);
    spit(altered, d);
    collector c;
    auto r = read_snapshot(altered, c);
    REQUIRE(!r);
    CHECK(c.events.empty());
    CHECK(r.err().message.starts_with("Failed to import snapshot '" + altered.string() + "': "));
    CHECK((r.err().code == errc::corrupt || r.err().code == errc::version));
  }
  // A flip in a record names it; a flip in the trailer hash reads "checksum mismatch".
  auto d = good;
  d[good.size() - 10] ^= 1;
  spit(altered, d);
  CHECK(verify_snapshot(altered).err().message.find("checksum mismatch (file altered or truncated at byte") !=
        std::string::npos);
}

TEST_CASE("snapshot: every truncation is refused") {
  weft::test::temp_dir dir("memstore");
  auto file = dir.path / "main.wmem";
  write_sample(file, 3);
  auto good = slurp(file);
  auto cut = dir.path / "cut.wmem";
  for (std::size_t len = 0; len < good.size(); ++len) {
    CAPTURE(len);
    spit(cut, good.substr(0, len));
    auto r = verify_snapshot(cut);
    REQUIRE(!r);
    CHECK(r.err().code == errc::corrupt);
  }
  spit(cut, good.substr(0, good.size() - 1));
  CHECK(verify_snapshot(cut).err().message.find("truncated at byte " + std::to_string(good.size() - 1)) !=
        std::string::npos);
}

TEST_CASE("snapshot: bad magic and a newer version are named as such") {
  weft::test::temp_dir dir("memstore");
  auto file = dir.path / "main.wmem";
  write_sample(file, 1);
  auto good = slurp(file);
  auto d = good;
  d[0] = 'X';
  spit(file, d);
  CHECK(verify_snapshot(file).err().message.find("not a memory snapshot") != std::string::npos);
  d = good;
  d[4] = 2;
  spit(file, d);
  auto r = verify_snapshot(file);
  CHECK(r.err().code == errc::version);
  CHECK(r.err().message.find("format version 2 is newer than this build supports (1)") != std::string::npos);
  spit(file, "");
  CHECK(!verify_snapshot(file));
  CHECK(verify_snapshot(dir.path / "absent.wmem").err().code == errc::io);
}

TEST_CASE("snapshot: a vector of the wrong size and an unfinished writer leave no file") {
  weft::test::temp_dir dir("memstore");
  auto file = dir.path / "main.wmem";
  {
    auto w = snapshot_writer::create(file, {.agent = "main"});
    REQUIRE(w);
    REQUIRE((*w)->add_vector("a", make_vector(1, 4), "m"));
    CHECK((*w)->add_vector("b", make_vector(1, 5), "m").err().code == errc::invalid);
  }
  CHECK(!std::filesystem::exists(file));
  CHECK(!std::filesystem::exists(dir.path / "main.wmem.tmp"));
}
