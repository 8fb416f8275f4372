// Unit tests of the witness chain: round trips across segments, crash recovery, and each
// kind of tampering detected and located exactly.
#include <doctest/doctest.h>

#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include <weft/witness/verify.hh>
#include <weft/witness/writer.hh>

#include "tests/temp_dir.hh"

using namespace weft;
using namespace weft::witness;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void spit(const fs::path& p, std::string_view data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// The format as docs/audit.md describes it, read independently of the library.
constexpr std::size_t header_size = 80;
struct frame_at {
  std::size_t offset, size;
  std::uint8_t type;
};
std::uint32_t be32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(s[at + i]);
  return v;
}
std::vector<frame_at> frames_of(const std::string& file) {
  std::vector<frame_at> out;
  for (std::size_t off = header_size; off + 5 <= file.size();) {
    auto len = be32(file, off);
    out.push_back({off, 4 + std::size_t{len}, static_cast<std::uint8_t>(file[off + 4])});
    off += 4 + len;
  }
  return out;
}
std::vector<frame_at> records_of(const std::string& file) {
  std::vector<frame_at> out;
  for (auto& f : frames_of(file))
    if (f.type == 1) out.push_back(f);
  return out;
}

entry make_entry(std::uint64_t i) {
  return entry{utc_time{std::chrono::milliseconds(1'790'000'000'000 + static_cast<std::int64_t>(i))},
               "agent/main", "tool_call", fmt::format("tool/fs/main/read_file#{}", i),
               fmt::format("detail-{:04}-payload", i)};
}

writer_options small_options() {
  writer_options o;
  o.segment_records = 20;
  o.checkpoint_records = 5;
  o.checkpoint_interval = std::chrono::milliseconds(0);
  return o;
}

struct chain {
  weft::test::temp_dir home{"weft-witness"};
  fs::path audit() const { return home.path / "audit"; }
  fs::path key() const { return home.path / "keys" / "witness.key"; }
  fs::path pub() const { return audit() / "witness.pub"; }
  fs::path seg(std::uint64_t n) const { return audit() / segment_name(n); }

  void write(std::uint64_t count, writer_options o = small_options()) {
    auto w = writer::open(audit(), key(), o);
    REQUIRE_MESSAGE(w.has_value(), (w ? "" : w.err().to_string()));
    for (std::uint64_t i = 1; i <= count; ++i) REQUIRE((*w)->append(make_entry(i)).has_value());
  }
  report check() const {
    auto r = verify(audit(), pub());
    REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.err().to_string()));
    return *r;
  }
};

void expect_problem(const report& r, problem_kind kind, const std::string& segment, std::uint64_t record,
                    std::uint64_t seq, std::string_view detail_part) {
  REQUIRE_MESSAGE(r.first_problem.has_value(), r.to_string());
  auto& p = *r.first_problem;
  INFO(p.to_string());
  CHECK(p.kind == kind);
  CHECK(p.segment == segment);
  CHECK(p.record == record);
  CHECK(p.seq == seq);
  CHECK(p.detail.find(detail_part) != std::string::npos);
}

}  // namespace

TEST_CASE("append and verify across several segments") {
  chain c;
  c.write(50);  // 20 + 20 + 10
  CHECK(fs::exists(c.seg(1)));
  CHECK(fs::exists(c.seg(3)));
  CHECK_FALSE(fs::exists(c.seg(4)));
  auto r = c.check();
  INFO(r.to_string());
  CHECK(r.ok());
  CHECK(r.segments == 3);
  CHECK(r.records == 50);
  CHECK(r.first_seq == 1);
  CHECK(r.last_seq == 50);
  CHECK(r.unsigned_tail == 0);  // the writer signs what is left when it closes
  CHECK(r.signatures >= 12);   // 4 checkpoints + seal per full segment, 2 in the last
  CHECK(r.to_string().rfind("OK: 3 segments, 50 records", 0) == 0);

  auto recs = read_records(c.audit(), 3);
  REQUIRE(recs.has_value());
  REQUIRE(recs->size() == 3);
  CHECK((*recs)[0].seq == 48);
  CHECK((*recs)[2].seq == 50);
  auto e = make_entry(50);
  CHECK((*recs)[2] == record{50, e.time, e.actor, e.kind, e.subject, e.detail});
  CHECK(read_records(c.audit())->size() == 50);

  struct stat st{};
  REQUIRE(::stat(c.key().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(st.st_size == 64);
  REQUIRE(::stat(c.key().parent_path().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  CHECK(slurp(c.pub()).rfind("weft-witness-ed25519 ", 0) == 0);
}

TEST_CASE("reopening continues the chain; stats count") {
  chain c;
  c.write(7);
  auto w = writer::open(c.audit(), c.key(), small_options());
  REQUIRE(w.has_value());
  CHECK_FALSE((*w)->recovery().key_generated);
  CHECK((*w)->stats().last_seq == 7);
  auto seq = (*w)->append(entry{{}, "router", "route", "agent/main", "telegram:42"});
  REQUIRE(seq.has_value());
  CHECK(*seq == 8);
  auto st = (*w)->stats();
  CHECK(st.segment == 1);
  CHECK(st.segment_records == 8);
  CHECK(st.appended == 1);
  CHECK(st.key_id.size() == 16);
  REQUIRE((*w)->sync().has_value());
  w->reset();
  auto r = c.check();
  CHECK(r.ok());
  CHECK(r.records == 8);
  auto recs = read_records(c.audit(), 1);
  REQUIRE(recs->size() == 1);
  CHECK(recs->front().time != utc_time{});  // stamped at append
}

TEST_CASE("a crash leaves an unsigned tail, reported as such, and a torn record cut on reopen") {
  chain c;
  auto o = small_options();
  o.checkpoint_records = 100;
  o.checkpoint_interval = std::chrono::hours(1);
  {
    auto w = writer::open(c.audit(), c.key(), o);
    REQUIRE(w.has_value());
    for (int i = 1; i <= 6; ++i) REQUIRE((*w)->append(make_entry(i)).has_value());
    (void)w->release();  // a crash: no destructor, so no closing checkpoint
  }
  auto r = c.check();
  INFO(r.to_string());
  CHECK(r.ok());
  CHECK(r.unsigned_tail == 6);
  CHECK(r.to_string().find("unsigned tail: 6 records") != std::string::npos);

  // A write interrupted half-way: the first 30 bytes of another record frame.
  auto file = slurp(c.seg(1));
  auto last = records_of(file).back();
  auto torn = file + file.substr(last.offset, 30);
  spit(c.seg(1), torn);
  r = c.check();
  CHECK(r.ok());
  REQUIRE(r.notes.size() == 1);
  CHECK(r.notes[0].find("torn tail of 30 bytes after record 6") != std::string::npos);

  auto w = writer::open(c.audit(), c.key(), o);
  REQUIRE_MESSAGE(w.has_value(), (w ? "" : w.err().to_string()));
  CHECK((*w)->recovery().torn_bytes == 30);
  CHECK((*w)->recovery().checkpoint_written);  // what survived is signed at once
  CHECK((*w)->stats().unsigned_records == 0);
  CHECK(*(*w)->append(make_entry(7)) == 7);
  w->reset();
  r = c.check();
  CHECK(r.ok());
  CHECK(r.records == 7);
  CHECK(r.notes.empty());
}

TEST_CASE("a damaged last record after the last signature is cut as torn; zeros too") {
  chain c;
  auto o = small_options();
  o.checkpoint_records = 100;
  o.checkpoint_interval = std::chrono::hours(1);
  {
    auto w = writer::open(c.audit(), c.key(), o);
    REQUIRE(w.has_value());
    for (int i = 1; i <= 4; ++i) REQUIRE((*w)->append(make_entry(i)).has_value());
    (void)w->release();
  }
  auto file = slurp(c.seg(1));
  auto last = records_of(file).back();
  file[last.offset + last.size - 3] ^= 0x20;  // garbage in the last record's detail
  spit(c.seg(1), file + std::string(50, '\0'));
  auto w = writer::open(c.audit(), c.key(), o);
  REQUIRE_MESSAGE(w.has_value(), (w ? "" : w.err().to_string()));
  CHECK((*w)->recovery().torn_records == 1);
  CHECK((*w)->recovery().torn_bytes == last.size + 50);
  CHECK((*w)->stats().last_seq == 3);
  CHECK(*(*w)->append(make_entry(4)) == 4);
  w->reset();
  CHECK(c.check().ok());
}

TEST_CASE("damage before the last signature is not cut away: open refuses") {
  chain c;
  c.write(12);
  auto file = slurp(c.seg(1));
  auto rec = records_of(file)[2];
  file[rec.offset + rec.size - 2] ^= 1;
  spit(c.seg(1), file);
  auto w = writer::open(c.audit(), c.key(), small_options());
  REQUIRE_FALSE(w.has_value());
  CHECK(w.err().message.find("record 3 is damaged") != std::string::npos);
  CHECK(slurp(c.seg(1)) == file);  // nothing cut
}

TEST_CASE("tampering is detected and located") {
  chain base;
  base.write(50);  // segments of 20, 20, 10; checkpoints every 5
  REQUIRE(base.check().ok());
  chain c;
  fs::copy(base.home.path, c.home.path, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  auto s2 = slurp(c.seg(2));
  auto recs = records_of(s2);
  REQUIRE(recs.size() == 20);

  SUBCASE("edit one byte of a record's detail") {
    auto pos = s2.find("detail-0027-payload");
    REQUIRE(pos != std::string::npos);
    s2[pos + 9] = '9';
    spit(c.seg(2), s2);
    expect_problem(c.check(), problem_kind::altered, "witness-000002.seg", 7, 27, "hash mismatch");
    CHECK(c.check().first_problem->to_string() ==
          "segment witness-000002.seg, record 7 (seq 27): altered (hash mismatch)");
  }
  SUBCASE("edit a record and recompute its hash (no key needed for that)") {
    auto r7 = recs[6];
    auto pos = s2.find("detail-0027-payload");
    s2[pos + 9] = '9';
    auto body = s2.substr(r7.offset + 5);
    std::string enc = s2.substr(r7.offset + 5 + 64, r7.size - 5 - 64);
    unsigned char h[32];
    std::string in = s2.substr(r7.offset + 5, 32) + enc;
    crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(in.data()), in.size());
    s2.replace(r7.offset + 5 + 32, 32, reinterpret_cast<const char*>(h), 32);
    spit(c.seg(2), s2);
    expect_problem(c.check(), problem_kind::altered, "witness-000002.seg", 7, 27, "recomputed");
  }
  SUBCASE("delete a record") {
    s2.erase(recs[6].offset, recs[6].size);
    spit(c.seg(2), s2);
    auto r = c.check();
    expect_problem(r, problem_kind::removed, "witness-000002.seg", 7, 28, "seq 27 missing; chain broken");
    CHECK(r.records == 26);
  }
  SUBCASE("delete the record just before a checkpoint") {
    // Record 10 (seq 30) is followed by the checkpoint that signs records 6–10.
    REQUIRE(frames_of(s2)[11].type == 2);
    s2.erase(recs[9].offset, recs[9].size);
    spit(c.seg(2), s2);
    expect_problem(c.check(), problem_kind::removed, "witness-000002.seg", 9, 29, "seq 30 missing");
  }
  SUBCASE("swap two records") {
    auto a = s2.substr(recs[6].offset, recs[6].size);
    auto b = s2.substr(recs[7].offset, recs[7].size);
    s2.replace(recs[6].offset, a.size() + b.size(), b + a);
    spit(c.seg(2), s2);
    expect_problem(c.check(), problem_kind::reordered, "witness-000002.seg", 7, 28, "seq 28 before 27");
  }
  SUBCASE("duplicate a record") {
    s2.insert(recs[8].offset, s2.substr(recs[7].offset, recs[7].size));
    spit(c.seg(2), s2);
    expect_problem(c.check(), problem_kind::duplicated, "witness-000002.seg", 9, 28, "seq 28 appears twice");
  }
  SUBCASE("remove a whole segment") {
    fs::remove(c.seg(2));
    auto r = c.check();
    REQUIRE(r.first_problem.has_value());
    CHECK(r.first_problem->kind == problem_kind::missing_segment);
    CHECK(r.first_problem->to_string() == "segment witness-000002.seg missing");
    CHECK(r.records == 20);
  }
  SUBCASE("change a signature") {
    auto fr = frames_of(s2);
    auto cp = std::find_if(fr.begin(), fr.end(), [](auto& f) { return f.type == 2; });
    REQUIRE(cp != fr.end());
    s2[cp->offset + cp->size - 10] ^= 0x01;
    spit(c.seg(2), s2);
    auto r = c.check();
    expect_problem(r, problem_kind::bad_signature, "witness-000002.seg", 0, 0, "checkpoint after record 5");
    CHECK(r.first_problem->to_string().rfind("segment witness-000002.seg: bad signature", 0) == 0);
  }
  SUBCASE("change the seal's signature") {
    auto fr = frames_of(s2);
    REQUIRE(fr.back().type == 3);
    s2[fr.back().offset + fr.back().size - 1] ^= 0x80;
    spit(c.seg(2), s2);
    expect_problem(c.check(), problem_kind::bad_signature, "witness-000002.seg", 0, 0, "seal");
  }
  SUBCASE("remove the seal") {
    auto fr = frames_of(s2);
    s2.erase(fr.back().offset);
    spit(c.seg(2), s2);
    expect_problem(c.check(), problem_kind::chain_broken, "witness-000002.seg", 0, 0, "the seal was removed");
  }
  SUBCASE("replace the public key") {
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(pk, sk);
    std::string text = "weft-witness-ed25519 ";
    for (auto b : pk) text += fmt::format("{:02x}", b);
    spit(c.pub(), text + "\n");
    expect_problem(c.check(), problem_kind::bad_signature, "witness-000001.seg", 0, 0, "public key was replaced");
  }
  SUBCASE("truncate the open segment's signed part") {
    auto s3 = slurp(c.seg(3));
    auto r3 = records_of(s3);
    spit(c.seg(3), s3.substr(0, r3[7].offset));  // keeps records 1–7; the checkpoint after 5
    auto r = c.check();
    CHECK(r.ok());  // cutting the end of the chain is only visible against a head kept elsewhere
    CHECK(r.last_seq == 47);
    CHECK(r.unsigned_tail == 2);
  }
}

TEST_CASE("key files: wrong permissions, wrong size, mismatched public key") {
  chain c;
  c.write(1);
  SUBCASE("readable by others") {
    REQUIRE(::chmod(c.key().c_str(), 0644) == 0);
    auto w = writer::open(c.audit(), c.key());
    REQUIRE_FALSE(w.has_value());
    CHECK(w.err().message.find("mode 0644") != std::string::npos);
  }
  SUBCASE("wrong size") {
    spit(c.key(), "short");
    REQUIRE(::chmod(c.key().c_str(), 0600) == 0);
    auto w = writer::open(c.audit(), c.key());
    REQUIRE_FALSE(w.has_value());
    CHECK(w.err().message.find("5 bytes, expected 64") != std::string::npos);
  }
  SUBCASE("public key of another key") {
    auto other = c.home.path / "other.key";
    weft::test::temp_dir elsewhere{"weft-witness-other"};
    REQUIRE(writer::open(elsewhere.path / "audit", elsewhere.path / "k").has_value());
    fs::copy_file(elsewhere.path / "audit" / "witness.pub", c.pub(), fs::copy_options::overwrite_existing);
    auto w = writer::open(c.audit(), c.key());
    REQUIRE_FALSE(w.has_value());
    CHECK(w.err().message.find("does not match the signing key") != std::string::npos);
    // …and a chain opened with another key is refused too.
    auto w2 = writer::open(c.audit(), elsewhere.path / "k");
    REQUIRE_FALSE(w2.has_value());
  }
  SUBCASE("malformed public key file") {
    spit(c.pub(), "hello\n");
    auto r = verify(c.audit(), c.pub());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.err().message.find("expected one line") != std::string::npos);
  }
}

TEST_CASE("limits: an oversized record is refused and the chain stays whole") {
  chain c;
  auto w = writer::open(c.audit(), c.key(), small_options());
  REQUIRE(w.has_value());
  REQUIRE((*w)->append(make_entry(1)).has_value());
  auto big = make_entry(2);
  big.detail.assign(70'000, 'x');
  auto r = (*w)->append(big);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.err().message.find("exceeds the limit") != std::string::npos);
  CHECK(*(*w)->append(make_entry(2)) == 2);
  w->reset();
  CHECK(c.check().records == 2);
}

TEST_CASE("an empty directory verifies as an empty chain; a missing one is an error") {
  weft::test::temp_dir d{"weft-witness-empty"};
  fs::create_directories(d.path / "audit");
  {
    auto w = writer::open(d.path / "audit2", d.path / "keys" / "witness.key");
    REQUIRE(w.has_value());
    fs::copy_file(d.path / "audit2" / "witness.pub", d.path / "audit" / "witness.pub");
  }
  auto r = verify(d.path / "audit", d.path / "audit" / "witness.pub");
  REQUIRE(r.has_value());
  CHECK(r->ok());
  CHECK(r->records == 0);
  CHECK_FALSE(verify(d.path / "nowhere", d.path / "audit" / "witness.pub").has_value());
}

TEST_CASE("every single-bit flip anywhere in a sealed segment is detected in that segment") {
  chain c;
  auto o = small_options();
  o.segment_records = 4;
  o.checkpoint_records = 2;
  c.write(6, o);  // witness-000001.seg sealed with 4 records, witness-000002.seg open
  REQUIRE(c.check().ok());
  auto original = slurp(c.seg(1));
  for (std::size_t i = 0; i < original.size(); ++i) {
    auto bytes = original;
    bytes[i] ^= static_cast<char>(1u << (i % 8));
    spit(c.seg(1), bytes);
    auto r = c.check();
    INFO("byte ", i, " of ", original.size(), ": ", r.to_string());
    REQUIRE(r.first_problem.has_value());
    CHECK(r.first_problem->segment == "witness-000001.seg");
  }
  spit(c.seg(1), original);
  CHECK(c.check().ok());
}

TEST_CASE("every single-bit flip in the open segment is detected, except in its final frame (a torn write)") {
  chain c;
  auto o = small_options();
  o.checkpoint_records = 3;
  c.write(5, o);  // one open segment: a checkpoint after 3 and the closing one after 5
  auto original = slurp(c.seg(1));
  auto last = frames_of(original).back();
  REQUIRE(last.type == 2);
  for (std::size_t i = 0; i < original.size(); ++i) {
    auto bytes = original;
    bytes[i] ^= static_cast<char>(1u << (i % 8));
    spit(c.seg(1), bytes);
    auto r = c.check();
    INFO("byte ", i, " of ", original.size(), ": ", r.to_string());
    if (i < last.offset) {
      REQUIRE(r.first_problem.has_value());
    } else if (r.ok()) {
      // Losing the closing signature only turns signed records back into the unsigned tail.
      CHECK(r.unsigned_tail == 2);
      CHECK(r.notes.size() == 1);
    }
  }
}
