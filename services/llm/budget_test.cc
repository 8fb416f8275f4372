#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "proto/llm_v1.hh"
#include "services/llm/budget.hh"

using namespace weft;
using namespace weft::llm;
namespace lv = weft::proto::llm_v1;

TEST_CASE("spend ledger: refuses at the budget, persists across restarts, resets each UTC day") {
  auto dir = std::filesystem::temp_directory_path() / ("weft-llm-budget-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto path = (dir / "llm" / "spend.json").string();
  auto day1 = *parse_rfc3339("2026-11-24T23:59:00Z");
  auto day2 = *parse_rfc3339("2026-11-25T00:00:01Z");
  {
    spend_ledger l(path);
    REQUIRE(l.load());
    CHECK(l.check("main", 0.01, day1));
    REQUIRE(l.add("main", 0.006, day1));
    CHECK(l.check("main", 0.01, day1));
    REQUIRE(l.add("main", 0.006, day1));
    auto s = l.check("main", 0.01, day1);
    REQUIRE(!s);
    CHECK(lv::is(s.err(), lv::error_code::budget_exceeded));
    CHECK(s.err().message.find("$0.0120 of its $0.0100") != std::string::npos);
    CHECK(l.check("other", 0.01, day1));
    CHECK(l.check("main", 0, day1));  // 0: unlimited
    auto perms = std::filesystem::status(path).permissions();
    CHECK((perms & std::filesystem::perms::all) == (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
    CHECK(!std::filesystem::exists(path + ".tmp"));
  }
  {
    spend_ledger l(path);
    REQUIRE(l.load());
    CHECK(l.spent("main", day1) == doctest::Approx(0.012));
    CHECK(!l.check("main", 0.01, day1));
    CHECK(l.check("main", 0.01, day2));
    CHECK(l.spent("main", day2) == 0);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("spend ledger: a file that cannot be written is an error naming it, and the spend is still counted") {
  auto dir = std::filesystem::temp_directory_path() / ("weft-llm-budget-bad-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // The ledger's directory is a regular file: nothing can be created beneath it.
  { std::ofstream(dir / "llm") << "not a directory"; }
  auto path = (dir / "llm" / "spend.json").string();
  auto now = *parse_rfc3339("2026-11-24T12:00:00Z");
  spend_ledger l(path);
  auto s = l.add("main", 0.5, now);
  REQUIRE(!s);
  CHECK(s.err().is(errc::domain, errc::io));
  CHECK(s.err().message.find("Failed to write spend ledger '" + path + "'") == 0);
  CHECK(l.spent("main", now) == doctest::Approx(0.5));
  std::filesystem::remove_all(dir);
}
