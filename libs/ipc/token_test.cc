#include <doctest/doctest.h>

#include <unistd.h>

#include <weft/ipc/token.hh>

using namespace weft::ipc;

TEST_CASE("a token verifies only for its address and secret") {
  auto s = make_secret();
  auto t = make_token(s, "echo/1");
  CHECK(t.size() == 64);
  CHECK(verify_token(s, "echo/1", t));
  CHECK_FALSE(verify_token(s, "echo/2", t));
  CHECK_FALSE(verify_token(make_secret(), "echo/1", t));
  CHECK_FALSE(verify_token(s, "echo/1", t.substr(0, 63)));
  CHECK_FALSE(verify_token(s, "echo/1", std::string(64, 'z')));
  auto flipped = t;
  flipped[0] = flipped[0] == 'a' ? 'b' : 'a';
  CHECK_FALSE(verify_token(s, "echo/1", flipped));
}

TEST_CASE("secrets round-trip through hex and credentials through an fd") {
  auto s = make_secret();
  auto back = secret_from_hex(secret_to_hex(s));
  REQUIRE(back);
  CHECK(*back == s);
  CHECK_FALSE(secret_from_hex("abc"));
  int p[2];
  REQUIRE(pipe(p) == 0);
  std::string tok = "deadbeef\n";
  REQUIRE(write(p[1], tok.data(), tok.size()) == static_cast<ssize_t>(tok.size()));
  close(p[1]);
  auto r = read_credential_fd(p[0]);
  REQUIRE(r);
  CHECK(*r == "deadbeef");
}
