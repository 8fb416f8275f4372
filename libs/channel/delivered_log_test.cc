#include <weft/channel/delivered_log.hh>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>
#include "tests/temp_dir.hh"

using namespace weft::chan;
namespace fs = std::filesystem;

namespace {
std::size_t lines(const fs::path& f) {
  std::ifstream in(f);
  std::size_t n = 0;
  std::string l;
  while (std::getline(in, l)) ++n;
  return n;
}
}  // namespace

TEST_CASE("delivered ids and progress survive a reopen") {
  weft::test::temp_dir d{"weft-dl"};
  auto path = (d.path / "x" / "delivered").string();
  {
    auto log = delivered_log::open(path);
    REQUIRE(log);
    CHECK_FALSE((*log)->delivered("a"));
    REQUIRE((*log)->mark_progress("b\tweird\nid", 2));
    REQUIRE((*log)->mark_delivered("a", "99"));
  }
  auto log = delivered_log::open(path);
  REQUIRE(log);
  CHECK((*log)->delivered("a").value() == "99");
  CHECK((*log)->progress("b\tweird\nid") == 2);
  CHECK((*log)->progress("a") == 0);
}

TEST_CASE("a torn last line is ignored and does not corrupt the next") {
  weft::test::temp_dir d{"weft-dl"};
  auto path = (d.path / "delivered").string();
  {
    std::ofstream f(path);
    f << "D\tgood\t1\nD\ttorn\t2";
  }
  {
    auto log = delivered_log::open(path);
    REQUIRE(log);
    CHECK((*log)->delivered("good"));
    CHECK_FALSE((*log)->delivered("torn"));
    REQUIRE((*log)->mark_delivered("next", "3"));
  }
  auto log = delivered_log::open(path);
  REQUIRE(log);
  CHECK((*log)->delivered("next").value() == "3");
}

TEST_CASE("the log is bounded and compacted") {
  weft::test::temp_dir d{"weft-dl"};
  auto path = (d.path / "delivered").string();
  auto log = delivered_log::open(path, 10);
  REQUIRE(log);
  for (int i = 0; i < 100; ++i) REQUIRE((*log)->mark_delivered("id" + std::to_string(i), "u"));
  CHECK((*log)->size() == 10);
  CHECK_FALSE((*log)->delivered("id0"));
  CHECK((*log)->delivered("id99"));
  CHECK(lines(path) <= 2 * 10 + 16);
  auto again = delivered_log::open(path, 10);
  REQUIRE(again);
  CHECK((*again)->delivered("id99"));
  CHECK_FALSE((*again)->delivered("id50"));
}

TEST_CASE("escape_field round-trips") {
  for (std::string s : {"", "plain", "a%b", "tab\there", "nl\nx\r", "%0A"}) CHECK(unescape_field(escape_field(s)) == s);
}
