// The token store: sealed on disk (the refresh token's bytes are not in the file), read
// back after a "restart", a flipped byte or another key refused whole, keys from a systemd
// credential or a 0600 key file (one others can read is refused), memory-only accounts
// forgotten after their TTL; grants given with weftctl sealed beside the accounts.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "services/oauth2/store.hh"
#include "services/tool-code/test_util.hh"
#include "tests/temp_dir.hh"

using namespace weft;
using namespace weft::oauth2;
namespace fs = std::filesystem;

namespace {

accounts two() {
  accounts a;
  a["work"] = {"work", "google", {"https://www.googleapis.com/auth/calendar"}, "1//refresh-SECRET-work-0123456789", false, 1, 2, ""};
  a["home"] = {"home", "microsoft", {"Mail.Read"}, "M.R3_refresh-SECRET-home", true, 3, 4, "refresh refused: x"};
  return a;
}

store_key key_of(unsigned char fill) {
  store_key k;
  k.fill(fill);
  return k;
}

}  // namespace

TEST_CASE("sealed on disk, read back, no refresh token in the file") {
  weft::test::temp_dir d{"weft-oauth2-store"};
  auto path = (d.path / "tokens.sealed").string();
  auto s = token_store::open_file(path, key_of(7), "test key");
  REQUIRE(s);
  CHECK(s->load().empty());
  REQUIRE(s->save(two()));
  auto bytes = weft::test::slurp(path);
  CHECK(bytes.find("SECRET") == std::string::npos);
  CHECK(bytes.find("refresh") == std::string::npos);
  CHECK(bytes.find("work") == std::string::npos);
  CHECK((fs::status(path).permissions() & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none);
  // A new process with the same key reads what was saved.
  auto again = token_store::open_file(path, key_of(7), "test key");
  REQUIRE(again);
  CHECK(again->load() == two());
  CHECK(again->describe().find(path) != std::string::npos);
}

TEST_CASE("a flipped byte, a cut file and another key are refused whole") {
  weft::test::temp_dir d{"weft-oauth2-store"};
  auto path = (d.path / "tokens.sealed").string();
  REQUIRE(token_store::open_file(path, key_of(7), "k")->save(two()));
  auto good = weft::test::slurp(path);
  auto wrong = token_store::open_file(path, key_of(8), "k");
  REQUIRE_FALSE(wrong);
  CHECK(wrong.err().message.find("damaged or sealed with another key") != std::string::npos);
  for (std::size_t at : {std::size_t{3}, std::size_t{12}, good.size() / 2, good.size() - 1}) {
    CAPTURE(at);
    auto bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x01);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bad;
    auto r = token_store::open_file(path, key_of(7), "k");
    REQUIRE_FALSE(r);
    CHECK(r.err().message.find("nothing was read") != std::string::npos);
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << good.substr(0, 30);
  CHECK_FALSE(token_store::open_file(path, key_of(7), "k"));
  CHECK_FALSE(unseal("not a store", key_of(7), "x"));
}

TEST_CASE("keys: a systemd credential, a key file made 0600, one others can read refused") {
  weft::test::temp_dir d{"weft-oauth2-key"};
  auto creds = d.path / "creds";
  fs::create_directories(creds);
  std::ofstream(creds / "oauth2.key") << std::string(64, 'a') << "\n";  // hex
  std::string where;
  auto k = load_key(creds.string(), (d.path / "unused.key").string(), &where);
  REQUIRE(k);
  CHECK(where.find("systemd credential") == 0);
  CHECK((*k)[0] == 0xaa);
  CHECK_FALSE(fs::exists(d.path / "unused.key"));
  std::ofstream(creds / "oauth2.key", std::ios::trunc) << "short";
  CHECK_FALSE(load_key(creds.string(), "", nullptr));

  auto file = (d.path / "oauth2" / "store.key").string();
  auto made = load_key("", file, &where);
  REQUIRE(made);
  CHECK(where.find("(created)") != std::string::npos);
  CHECK((fs::status(file).permissions() & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none);
  auto same = load_key("", file, &where);
  REQUIRE(same);
  CHECK(*same == *made);
  ::chmod(file.c_str(), 0644);
  auto open = load_key("", file, nullptr);
  REQUIRE_FALSE(open);
  CHECK(open.err().message.find("others may read it (mode 0644)") != std::string::npos);
}

TEST_CASE("memory only: nothing on disk, accounts forgotten after the TTL") {
  auto s = token_store::memory(std::chrono::seconds(60));
  CHECK_FALSE(s.persistent());
  auto a = two();
  auto now = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  a["work"].created_ms = now;                  // fresh
  a["home"].created_ms = now - 61'000;         // older than the TTL
  REQUIRE(s.save(a));
  auto kept = s.load();
  CHECK(kept.size() == 1);
  CHECK(kept.count("work") == 1);
  CHECK(s.describe().find("memory only") == 0);
}

TEST_CASE("grants given with weftctl: sealed beside the accounts, read back, each kept when the other is saved") {
  weft::test::temp_dir d{"weft-oauth2-grants"};
  auto path = (d.path / "tokens.sealed").string();
  auto s = token_store::open_file(path, key_of(7), "k");
  REQUIRE(s);
  CHECK(s->grants().empty());
  REQUIRE(s->save(two()));
  grant_map g;
  g["main"]["work"] = {"calendar", "gmail.readonly"};
  REQUIRE(s->save_grants(g));
  CHECK(weft::test::slurp(path).find("gmail") == std::string::npos);
  auto again = token_store::open_file(path, key_of(7), "k");
  REQUIRE(again);
  CHECK(again->grants() == g);
  CHECK(again->load() == two());
  // Saving the accounts keeps the grants.
  auto fewer = two();
  fewer.erase("home");
  REQUIRE(again->save(fewer));
  auto third = token_store::open_file(path, key_of(7), "k");
  REQUIRE(third);
  CHECK(third->grants() == g);
  CHECK(third->load() == fewer);
}

TEST_CASE("keys: the keyring step comes after the systemd credential and before the key file") {
  weft::test::temp_dir d{"weft-oauth2-keyring-order"};
  auto file = (d.path / "store.key").string();
  int asked = 0;
  bool told_exists = true;
  keyring_source from_keyring = [&](bool exists, std::string* where) -> result<std::optional<store_key>> {
    ++asked;
    told_exists = exists;
    if (where) *where = "desktop keyring";
    return std::optional<store_key>(key_of(5));
  };
  std::string where;
  auto k = load_key("", file, &where, from_keyring);
  REQUIRE(k);
  CHECK(*k == key_of(5));
  CHECK(where == "desktop keyring");
  CHECK_FALSE(told_exists);
  CHECK_FALSE(fs::exists(file));  // no key file made beside it
  // A systemd credential comes first: the keyring is not asked.
  auto creds = d.path / "creds";
  fs::create_directories(creds);
  std::ofstream(creds / "oauth2.key") << std::string(64, 'b');
  REQUIRE(load_key(creds.string(), file, &where, from_keyring));
  CHECK(asked == 1);
  // A keyring with nothing: the key file, made; the next time the keyring hears it exists.
  keyring_source empty = [&](bool exists, std::string*) -> result<std::optional<store_key>> {
    told_exists = exists;
    return std::optional<store_key>();
  };
  auto made = load_key("", file, &where, empty);
  REQUIRE(made);
  CHECK(where.find("key file") == 0);
  REQUIRE(load_key("", file, &where, empty));
  CHECK(told_exists);
  // Its error stops the search.
  keyring_source broken = [](bool, std::string*) -> result<std::optional<store_key>> {
    return fail(errc::config, "Failed to use the key in the desktop keyring: not 64 hex digits");
  };
  auto bad = load_key("", file, &where, broken);
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message.find("desktop keyring") != std::string::npos);
  // A key file that cannot be made: unavailable (the broker then keeps tokens in memory).
  auto nowhere = load_key("", "/proc/weft-no-such-dir/store.key", &where);
  REQUIRE_FALSE(nowhere);
  CHECK(nowhere.err().is(errc::domain, errc::unavailable));
}
