// `weftctl audit verify|show` run as a person would: on a chain the witness writer made,
// intact and then tampered with; exit codes and messages checked.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <weft/witness/writer.hh>

#include "tests/integration/harness.hh"
#include "tests/temp_dir.hh"

using namespace weft;
namespace fs = std::filesystem;

namespace {

std::string weftctl() { return test::build_path("tools/weftctl/weftctl"); }

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void spit(const fs::path& p, std::string_view data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

void make_chain(const fs::path& home, int records) {
  witness::writer_options o;
  o.segment_records = 10;
  o.checkpoint_records = 4;
  auto w = witness::writer::open(home / "audit", home / "keys" / "witness.key", o);
  REQUIRE_MESSAGE(w.has_value(), (w ? "" : w.err().to_string()));
  for (int i = 1; i <= records; ++i)
    REQUIRE((*w)->append(witness::entry{utc_time{std::chrono::seconds(1'790'000'000 + i)}, "agent/main", "tool_call",
                                        "tool/fs/main/read_file", fmt::format("call-{:03}", i)})
                .has_value());
}

}  // namespace

TEST_CASE("weftctl audit verify: intact chain exits 0, a tampered one 1 with the located problem") {
  test::temp_dir home{"weft-audit"};
  make_chain(home.path, 25);  // witness-000001..3.seg
  auto dir = (home.path / "audit").string();

  auto ok = test::run({weftctl(), "audit", "verify", "--dir", dir});
  INFO(ok.out, ok.err);
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.rfind("OK: 3 segments, 25 records (seq 1–25)", 0) == 0);

  // The default directory comes from $WEFT_HOME.
  ::setenv("WEFT_HOME", home.path.c_str(), 1);
  auto by_home = test::run({weftctl(), "audit", "verify"});
  ::unsetenv("WEFT_HOME");
  CHECK(by_home.exit_code == 0);
  CHECK(by_home.out == ok.out);

  auto js = test::run({weftctl(), "--json", "audit", "verify", "--dir", dir});
  REQUIRE(js.exit_code == 0);
  auto j = nlohmann::json::parse(js.out);
  CHECK(j["ok"] == true);
  CHECK(j["records"] == 25);
  CHECK(j["key_id"].get<std::string>().size() == 16);

  auto show = test::run({weftctl(), "audit", "show", "--last", "2", "--dir", dir});
  REQUIRE(show.exit_code == 0);
  CHECK(show.out.find("2026-09-21T14:13:4") != std::string::npos);  // RFC 3339, ms and Z
  CHECK(show.out.find(".000Z") != std::string::npos);
  CHECK(show.out.find("call-025") != std::string::npos);
  CHECK(show.out.find("call-023") == std::string::npos);

  // Edit one byte of record 4 of the second segment (seq 14).
  auto seg2 = home.path / "audit" / "witness-000002.seg";
  auto bytes = slurp(seg2);
  auto pos = bytes.find("call-014");
  REQUIRE(pos != std::string::npos);
  bytes[pos + 7] = '5';
  spit(seg2, bytes);
  auto bad = test::run({weftctl(), "audit", "verify", "--dir", dir});
  INFO(bad.out, bad.err);
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("segment witness-000002.seg, record 4 (seq 14): altered (hash mismatch)") != std::string::npos);

  auto badj = test::run({weftctl(), "audit", "verify", "--json", "--dir", dir});
  CHECK(badj.exit_code == 1);
  auto bj = nlohmann::json::parse(badj.out);
  CHECK(bj["problem"]["kind"] == "altered");
  CHECK(bj["problem"]["seq"] == 14);

  // A removed segment.
  bytes[pos + 7] = '4';
  spit(seg2, bytes);
  REQUIRE(test::run({weftctl(), "audit", "verify", "--dir", dir}).exit_code == 0);
  fs::remove(seg2);
  auto gone = test::run({weftctl(), "audit", "verify", "--dir", dir});
  CHECK(gone.exit_code == 1);
  CHECK(gone.err.find("segment witness-000002.seg missing") != std::string::npos);
}

TEST_CASE("weftctl audit: help, usage errors, a missing directory") {
  auto help = test::run({weftctl(), "audit", "verify", "--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("usage: weftctl audit") != std::string::npos);
  auto bad = test::run({weftctl(), "audit", "verify", "--frob"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("unknown argument '--frob'") != std::string::npos);
  test::temp_dir empty{"weft-audit-none"};
  auto none = test::run({weftctl(), "audit", "verify", "--dir", (empty.path / "nope").string()});
  CHECK(none.exit_code == 1);
  CHECK(none.err.find("Failed to list audit directory") != std::string::npos);
}
