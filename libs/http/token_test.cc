#include <weft/http/token.hh>

#include <sys/stat.h>

#include <fstream>

#include <doctest/doctest.h>

#include "tests/temp_dir.hh"

using namespace weft;

TEST_CASE("ensure_token creates a 0600 token once and reads it back; random_hex is random") {
  test::temp_dir dir("weft-http-token");
  auto file = (dir.path / "sub" / "token").string();
  auto a = http::ensure_token(file);
  REQUIRE(a);
  CHECK(a->size() == 64);
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat((dir.path / "sub").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  auto b = http::ensure_token(file);
  REQUIRE(b);
  CHECK(*b == *a);
  // A token someone wrote there is used as it is.
  std::ofstream(file) << "chosen\n";
  CHECK(*http::ensure_token(file) == "chosen");
  CHECK(http::random_hex(16).size() == 32);
  CHECK(http::random_hex(16) != http::random_hex(16));
}
