#include "services/tool-fs/fs_tools.hh"

#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include "tests/temp_dir.hh"

using namespace weft;
using namespace weft::tools;
namespace fs = std::filesystem;

namespace {

void put(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}
std::string get(const fs::path& p) {
  std::stringstream s;
  s << std::ifstream(p).rdbuf();
  return s.str();
}

bool is_denied(const result<tool::result>& r) { return !r && tool::is(r.err(), tool::error_code::denied); }

}  // namespace

TEST_CASE("read_file reads inside and refuses outside") {
  weft::test::temp_dir base{"weft-fs"};
  auto root = base.path / "ws";
  put(root / "a.txt", "one\ntwo\nthree\n");
  put(base.path / "secret.txt", "secret");
  fs::create_symlink(base.path / "secret.txt", root / "out-link");
  fs::create_symlink("a.txt", root / "in-link");
  auto ws = workspace::open(root.string(), "a");
  REQUIRE(ws);

  auto r = read_file(*ws, {{"path", "a.txt"}});
  REQUIRE(r);
  CHECK(r->content == "one\ntwo\nthree\n");
  r = read_file(*ws, {{"path", (root / "a.txt").string()}});
  REQUIRE(r);
  CHECK(r->content == "one\ntwo\nthree\n");
  r = read_file(*ws, {{"path", "in-link"}});
  REQUIRE(r);
  CHECK(r->content == "one\ntwo\nthree\n");
  r = read_file(*ws, {{"path", "a.txt"}, {"offset", 2}, {"limit", 1}});
  REQUIRE(r);
  CHECK(r->content == "two\n");

  for (std::string p : std::vector<std::string>{"../secret.txt", (base.path / "secret.txt").string(), "out-link", "sub/../../secret.txt",
                        "/etc/passwd"}) {
    CAPTURE(p);
    auto d = read_file(*ws, {{"path", p}});
    CHECK(is_denied(d));
    if (!d) CHECK(d.err().message == fmt::format("Failed to read '{}': outside the workspace of agent 'a'", p));
  }
  r = read_file(*ws, {{"path", "missing.txt"}});
  REQUIRE(r);
  CHECK(r->is_error);
  CHECK(r->content.find("No such file") != std::string::npos);
  auto bad = read_file(*ws, {{"path", 3}});
  CHECK((!bad && tool::is(bad.err(), tool::error_code::bad_arguments)));
}

TEST_CASE("read_file cuts at the cap and says so") {
  weft::test::temp_dir base{"weft-fs"};
  put(base.path / "big.txt", std::string(5000, 'x'));
  auto ws = workspace::open(base.path.string(), "a");
  REQUIRE(ws);
  fs_limits lim;
  lim.max_read_bytes = 1000;
  auto r = read_file(*ws, {{"path", "big.txt"}}, lim);
  REQUIRE(r);
  CHECK(r->truncated);
  CHECK(r->content.substr(0, 1000) == std::string(1000, 'x'));
  CHECK(r->content.find("truncated at 1000 bytes; the file has 5000 bytes") != std::string::npos);
}

TEST_CASE("write_file creates parents, replaces atomically and refuses outside") {
  weft::test::temp_dir base{"weft-fs"};
  auto root = base.path / "ws";
  fs::create_directories(root);
  fs::create_symlink(base.path, root / "up");
  auto ws = workspace::open(root.string(), "a");
  REQUIRE(ws);
  auto r = write_file(*ws, {{"path", "d/e/f.txt"}, {"content", "hi"}});
  REQUIRE(r);
  CHECK_FALSE(r->is_error);
  CHECK(get(root / "d/e/f.txt") == "hi");
  r = write_file(*ws, {{"path", "d/e/f.txt"}, {"content", "again"}});
  REQUIRE(r);
  CHECK(get(root / "d/e/f.txt") == "again");
  // No temporary files left behind.
  int n = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(root / "d/e")) ++n;
  CHECK(n == 1);
  CHECK(is_denied(write_file(*ws, {{"path", "../x.txt"}, {"content", "x"}})));
  CHECK(is_denied(write_file(*ws, {{"path", "up/x.txt"}, {"content", "x"}})));
  CHECK(is_denied(write_file(*ws, {{"path", "up/new/x.txt"}, {"content", "x"}})));
  CHECK_FALSE(fs::exists(base.path / "x.txt"));
  CHECK_FALSE(fs::exists(base.path / "new"));
}

TEST_CASE("write_file and edit_file keep an existing file's mode; a directory is not replaced") {
  weft::test::temp_dir base{"weft-fs"};
  put(base.path / "private.txt", "a");
  fs::permissions(base.path / "private.txt", fs::perms::owner_read | fs::perms::owner_write);
  fs::create_directories(base.path / "dir");
  auto ws = workspace::open(base.path.string(), "a");
  REQUIRE(ws);
  auto mode = [&] { return fs::status(base.path / "private.txt").permissions() & fs::perms::all; };
  REQUIRE_FALSE(write_file(*ws, {{"path", "private.txt"}, {"content", "b"}})->is_error);
  CHECK(mode() == (fs::perms::owner_read | fs::perms::owner_write));
  REQUIRE_FALSE(edit_file(*ws, {{"path", "private.txt"}, {"old_text", "b"}, {"new_text", "c"}})->is_error);
  CHECK(mode() == (fs::perms::owner_read | fs::perms::owner_write));
  CHECK(get(base.path / "private.txt") == "c");
  REQUIRE_FALSE(write_file(*ws, {{"path", "new.txt"}, {"content", "n"}})->is_error);
  CHECK((fs::status(base.path / "new.txt").permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read));
  auto d = write_file(*ws, {{"path", "dir"}, {"content", "x"}});
  REQUIRE(d);
  CHECK(d->is_error);
  CHECK(d->content == "Failed to write 'dir': it is a directory");
  CHECK(fs::is_directory(base.path / "dir"));
}

TEST_CASE("edit_file: exact, unique unless replace_all") {
  weft::test::temp_dir base{"weft-fs"};
  put(base.path / "f.txt", "a b a c\n");
  auto ws = workspace::open(base.path.string(), "a");
  REQUIRE(ws);
  auto r = edit_file(*ws, {{"path", "f.txt"}, {"old_text", "a"}, {"new_text", "X"}});
  REQUIRE(r);
  CHECK(r->is_error);
  CHECK(r->content.find("occurs 2 times") != std::string::npos);
  CHECK(get(base.path / "f.txt") == "a b a c\n");
  r = edit_file(*ws, {{"path", "f.txt"}, {"old_text", "zzz"}, {"new_text", "X"}});
  REQUIRE(r);
  CHECK(r->is_error);
  CHECK(r->content.find("not found") != std::string::npos);
  r = edit_file(*ws, {{"path", "f.txt"}, {"old_text", "b"}, {"new_text", "BB"}});
  REQUIRE(r);
  CHECK_FALSE(r->is_error);
  CHECK(get(base.path / "f.txt") == "a BB a c\n");
  r = edit_file(*ws, {{"path", "f.txt"}, {"old_text", "a"}, {"new_text", "Z"}, {"replace_all", true}});
  REQUIRE(r);
  CHECK_FALSE(r->is_error);
  CHECK(get(base.path / "f.txt") == "Z BB Z c\n");
}

TEST_CASE("list_dir: sorted, typed, capped") {
  weft::test::temp_dir base{"weft-fs"};
  put(base.path / "b.txt", "12345");
  put(base.path / "a/x", "");
  fs::create_symlink("b.txt", base.path / "c");
  auto ws = workspace::open(base.path.string(), "a");
  REQUIRE(ws);
  auto r = list_dir(*ws, json::object());
  REQUIRE(r);
  CHECK(r->content == "dir   a/\nfile  b.txt  (5 bytes)\nlink  c -> b.txt\n");
  fs_limits lim;
  lim.max_entries = 2;
  r = list_dir(*ws, json::object(), lim);
  REQUIRE(r);
  CHECK(r->truncated);
  CHECK(r->content == "dir   a/\nfile  b.txt  (5 bytes)\n[… 1 more entries not shown]\n");
  CHECK(is_denied(list_dir(*ws, {{"path", ".."}})));
}

TEST_CASE("the tools have JSON Schemas") {
  weft::test::temp_dir base{"weft-fs"};
  auto ws = workspace::open(base.path.string(), "a");
  REQUIRE(ws);
  auto defs = fs_tools(*ws);
  REQUIRE(defs.size() == 4);
  for (auto& d : defs) {
    auto schema = json::parse(d.spec.input_schema);
    CHECK(schema["type"] == "object");
  }
}
