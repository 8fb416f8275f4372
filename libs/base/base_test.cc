#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <unistd.h>

#include <weft/base/base64.hh>
#include <weft/base/fd.hh>
#include <weft/base/io.hh>
#include <weft/base/log.hh>
#include <weft/base/result.hh>
#include <weft/base/time.hh>

#include "tests/temp_dir.hh"

using namespace weft;

TEST_CASE("rfc3339 formats UTC with milliseconds and Z") {
  utc_time t(std::chrono::nanoseconds(1'764'000'000'123'456'789LL));
  CHECK(to_rfc3339(t) == "2025-11-24T16:00:00.123Z");
  CHECK(to_rfc3339(utc_time{}) == "1970-01-01T00:00:00.000Z");
  // Before the epoch rounds towards the past, not towards zero.
  CHECK(to_rfc3339(utc_time(std::chrono::milliseconds(-1))) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("rfc3339 parses Z and offsets and round-trips") {
  auto t = parse_rfc3339("2025-11-24T16:00:00.123Z");
  REQUIRE(t);
  CHECK(to_rfc3339(*t) == "2025-11-24T16:00:00.123Z");
  auto o = parse_rfc3339("2025-11-24T18:00:00.123+02:00");
  REQUIRE(o);
  CHECK(*o == *t);
  auto n = parse_rfc3339("2025-11-24T16:00:00.123456789Z");
  REQUIRE(n);
  CHECK(n->time_since_epoch().count() % 1'000'000'000 == 123'456'789);
}

TEST_CASE("rfc3339 rejects malformed text with a typed error") {
  for (auto s : {"", "2025-11-24", "2025-11-24T16:00:00", "2025-13-24T16:00:00Z",
                 "2025-11-24T16:00:00.Z", "2025-11-24T16:00:00Zjunk", "abcd-11-24T16:00:00Z"}) {
    auto r = parse_rfc3339(s);
    CHECK_FALSE(r);
    if (!r) CHECK(r.err().code == errc::malformed);
  }
}

TEST_CASE("result carries a value or a typed error") {
  result<int> ok = 3;
  CHECK(ok);
  CHECK(*ok == 3);
  result<int> bad = fail(errc::timeout, "no reply from '{}' within {} ms", "echo/1", 500);
  CHECK_FALSE(bad);
  CHECK(bad.err().to_string() == "weft.Timeout: no reply from 'echo/1' within 500 ms");
  status s;
  CHECK(s);
}

TEST_CASE("log levels configure per logger and reject bad specs") {
  auto& a = log::get("test.alpha");
  CHECK(log::configure("warning,test=debug"));
  CHECK(a.threshold() == log::level::debug);
  CHECK(log::get("other").threshold() == log::level::warning);
  CHECK_FALSE(log::configure("loud"));
  CHECK(a.threshold() == log::level::debug);  // unchanged by the rejected spec
  CHECK(log::configure("info"));
  CHECK(a.threshold() == log::level::info);
}

TEST_CASE("write_file_atomic replaces a file whole, with the mode asked for; to_hex") {
  weft::test::temp_dir d{"weft-base-io"};
  auto file = d.path / "f.txt";
  REQUIRE(weft::write_file_atomic(file, "one", 0640));
  REQUIRE(weft::write_file_atomic(file, "two", 0640));
  std::ifstream in(file);
  std::string got((std::istreambuf_iterator<char>(in)), {});
  CHECK(got == "two");
  CHECK(!std::filesystem::exists(d.path / "f.txt.tmp"));
  CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write | std::filesystem::perms::group_read));
  auto missing = weft::write_file_atomic(d.path / "no" / "such" / "f", "x");
  REQUIRE_FALSE(missing);
  CHECK(missing.err().message.find("Failed to create '") == 0);
  CHECK(weft::to_hex(std::string_view("\x00\x7f\xff", 3)) == "007fff");
  CHECK(weft::sync_dir(d.path / "absent").err().message.find("Failed to open directory") == 0);
}

TEST_CASE("write_all writes every byte, or says why not") {
  int p[2];
  REQUIRE(::pipe(p) == 0);
  weft::unique_fd in(p[0]), out(p[1]);
  std::string big(200000, 'x');  // more than a pipe holds: the reader drains it meanwhile
  std::string got;
  std::thread reader([&] {
    auto r = weft::read_to_end(in.get(), big.size());
    REQUIRE(r);
    got = std::move(*r);
  });
  CHECK(weft::write_all(out.get(), big));
  out.reset();
  reader.join();
  CHECK(got == big);
  auto bad = weft::write_all(-1, "x");
  REQUIRE_FALSE(bad);
  CHECK(bad.err().code == errc::io);
}

TEST_CASE("write_file_atomic_at replaces an entry of an open directory, never writing through what was there") {
  weft::test::temp_dir d{"weft-base-io"};
  auto slurp = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  };
  unique_fd dir(::open(d.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(dir);
  REQUIRE(write_file_atomic_at(dir.get(), "f.txt", "one", 0640));
  REQUIRE(write_file_atomic_at(dir.get(), "f.txt", "two", 0640));
  CHECK(slurp(d.path / "f.txt") == "two");
  CHECK((std::filesystem::status(d.path / "f.txt").permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write | std::filesystem::perms::group_read));
  CHECK(std::distance(std::filesystem::directory_iterator(d.path), {}) == 1);  // no temporary file left
  // A symlink in the name's place is replaced, not written through.
  std::ofstream(d.path / "target") << "keep";
  std::filesystem::create_symlink("target", d.path / "link");
  REQUIRE(write_file_atomic_at(dir.get(), "link", "new"));
  CHECK_FALSE(std::filesystem::is_symlink(d.path / "link"));
  CHECK(slurp(d.path / "link") == "new");
  CHECK(slurp(d.path / "target") == "keep");
  CHECK(write_file_atomic_at(dir.get(), "a/b", "x").err().code == errc::invalid_argument);
  // The directory is synced after the rename: a descriptor that cannot be synced (O_PATH)
  // fails at that step, once the file is in place.
  unique_fd path_only(::open(d.path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  auto unsynced = write_file_atomic_at(path_only.get(), "g.txt", "x");
  REQUIRE_FALSE(unsynced);
  CHECK(unsynced.err().message.find("sync the directory: ") == 0);
  CHECK(slurp(d.path / "g.txt") == "x");
}

TEST_CASE("atomic_file: written in pieces, invisible until commit, nothing left when dropped") {
  weft::test::temp_dir d{"weft-base-io"};
  auto file = d.path / "snapshot";
  std::ofstream(file) << "old";
  auto count = [&] { return std::distance(std::filesystem::directory_iterator(d.path), {}); };
  {
    auto f = weft::atomic_file::create(file, 0600);
    REQUIRE(f);
    REQUIRE(f->write("ne"));
    REQUIRE(f->write("w"));
    std::ifstream in(file);
    CHECK(std::string((std::istreambuf_iterator<char>(in)), {}) == "old");  // not yet
    CHECK(count() == 2);                                                     // the temporary file beside it
  }
  CHECK(count() == 1);  // dropped uncommitted: nothing left, the old content stands
  auto f = weft::atomic_file::create(file, 0600);
  REQUIRE(f);
  REQUIRE(f->write("new"));
  REQUIRE(f->commit());
  std::ifstream in(file);
  CHECK(std::string((std::istreambuf_iterator<char>(in)), {}) == "new");
  CHECK(count() == 1);
  CHECK_FALSE(f->write("more"));  // committed: no more writes
}

#include <vector>

#include <weft/base/line_buffer.hh>

TEST_CASE("line_buffer: lines as they complete, the rest kept, an endless line dropped") {
  weft::line_buffer b(8);
  std::vector<std::string> got;
  auto take = [&](std::string_view l) { got.emplace_back(l); };
  CHECK(b.feed("one\ntw", take));
  CHECK(b.feed("o\n\nthr", take));
  CHECK(got == std::vector<std::string>{"one", "two", ""});
  b.finish(take);
  CHECK(got.back() == "thr");
  CHECK_FALSE(b.feed("123456789", take));  // over 8 bytes without a newline: dropped
  CHECK(b.feed("x\n", take));
  CHECK(got.back() == "x");
}

TEST_CASE("base64 and base64url: RFC 4648's vectors, both alphabets read, bad text refused") {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},          {"f", "Zg=="},         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},   {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (auto [plain, coded] : vectors) {
    CHECK(weft::base64_encode(plain) == coded);
    auto back = weft::base64_decode(coded);
    REQUIRE(back);
    CHECK(*back == plain);
  }
  std::string bytes("\xfb\xff\xfe\x00\x10", 5);
  CHECK(weft::base64_encode(bytes) == "+//+ABA=");
  CHECK(weft::base64_encode(bytes, weft::base64_alphabet::url, false) == "-__-ABA");
  CHECK(weft::base64_decode("-__-ABA").value() == bytes);
  CHECK(weft::base64_decode("+//+\r\nABA=").value() == bytes);
  CHECK_FALSE(weft::base64_decode("Zm9v!"));
  CHECK_FALSE(weft::base64_decode("Zg==Zg"));  // padding in the middle
  CHECK_FALSE(weft::base64_decode("Zm9vY"));   // a lone last character
}
