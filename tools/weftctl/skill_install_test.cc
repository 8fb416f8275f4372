// The copy of `weftctl skill install` on crafted folders, without weft running: what is
// copied (files, modes, links inside), what refuses the install and leaves nothing behind
// (links out, FIFOs, limits, a bad SKILL.md), replacing and removing, and the content hash.
#include "skill_install.hh"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <doctest/doctest.h>

#include "tests/temp_dir.hh"

using namespace weft;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& text, fs::perms mode = fs::perms::owner_read | fs::perms::owner_write) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
  fs::permissions(p, mode);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string skill_md(const std::string& name) {
  return "---\nname: " + name + "\ndescription: a test skill\n---\n# " + name + "\n";
}

/// The entries of `dir` (names only), hidden ones included.
std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("skill install copy: files, executable bits and inner links copied; staged hidden; hash of what was copied") {
  test::temp_dir t{"weft-skill-install"};
  auto src = t.path / "src";
  write(src / "SKILL.md", skill_md("notes"));
  write(src / "scripts/run.sh", "#!/bin/sh\necho hi\n", fs::perms::owner_all);
  write(src / "references/a.md", "alpha\n");
  fs::create_directory_symlink("references", src / "refs");  // inside: copied as a link
  fs::create_symlink("../references/a.md", src / "scripts/a.md");

  auto sk = ctl::read_skill_folder(src.string());
  REQUIRE_MESSAGE(sk, (sk ? "" : sk.err().message));
  CHECK(sk->name == "notes");

  auto dir = t.path / "home/skills";  // created by the install
  auto staged = ctl::stage_skill(src.string(), dir.string(), "notes");
  REQUIRE_MESSAGE(staged, (staged ? "" : staged.err().message));
  CHECK(staged->target == (dir / "notes").string());
  CHECK(fs::path(staged->path).filename().string().rfind(".notes.install-", 0) == 0);
  CHECK(staged->files == 3);
  CHECK(staged->hash.rfind("sha256:", 0) == 0);
  CHECK(staged->hash.size() == 7 + 64);
  // Same content, same hash, wherever it is.
  auto src_hash = ctl::tree_hash(src.string());
  REQUIRE(src_hash);
  CHECK(*src_hash == staged->hash);

  auto replaced = ctl::commit_staged(*staged, /*replace=*/false);
  REQUIRE_MESSAGE(replaced, (replaced ? "" : replaced.err().message));
  CHECK_FALSE(*replaced);
  CHECK(entries(dir) == std::vector<std::string>{"notes"});  // no staging folder left
  auto in = dir / "notes";
  CHECK(slurp(in / "SKILL.md") == skill_md("notes"));
  CHECK(slurp(in / "scripts/run.sh") == "#!/bin/sh\necho hi\n");
  struct stat st {};
  REQUIRE(::stat((in / "scripts/run.sh").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0755);
  REQUIRE(::stat((in / "references/a.md").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0644);
  CHECK(fs::is_symlink(in / "refs"));
  CHECK(fs::read_symlink(in / "refs") == "references");
  CHECK(fs::read_symlink(in / "scripts/a.md") == "../references/a.md");
  CHECK(*ctl::tree_hash(in.string()) == staged->hash);

  // A change anywhere changes the hash: content, a name, an executable bit.
  write(src / "references/a.md", "alpha!\n");
  CHECK(*ctl::tree_hash(src.string()) != staged->hash);
  write(src / "references/a.md", "alpha\n");
  CHECK(*ctl::tree_hash(src.string()) == staged->hash);
  fs::permissions(src / "references/a.md", fs::perms::owner_exec, fs::perm_options::add);
  CHECK(*ctl::tree_hash(src.string()) != staged->hash);
}

TEST_CASE("skill install copy: the same name is replaced only when asked; remove deletes it and only it") {
  test::temp_dir t{"weft-skill-install"};
  auto dir = t.path / "skills";
  write(t.path / "v1/SKILL.md", skill_md("notes"));
  write(t.path / "v1/old.txt", "old\n");
  write(t.path / "v2/SKILL.md", skill_md("notes"));
  write(t.path / "v2/new.txt", "new\n");
  auto first = ctl::stage_skill((t.path / "v1").string(), dir.string(), "notes");
  REQUIRE(first);
  REQUIRE(ctl::commit_staged(*first, false));

  auto second = ctl::stage_skill((t.path / "v2").string(), dir.string(), "notes");
  REQUIRE(second);
  auto refused = ctl::commit_staged(*second, /*replace=*/false);
  REQUIRE_FALSE(refused);
  CHECK(refused.err().message.find("is already installed") != std::string::npos);
  CHECK(fs::exists(dir / "notes/old.txt"));  // untouched
  auto replaced = ctl::commit_staged(*second, /*replace=*/true);
  REQUIRE_MESSAGE(replaced, (replaced ? "" : replaced.err().message));
  CHECK(*replaced);
  CHECK(fs::exists(dir / "notes/new.txt"));
  CHECK_FALSE(fs::exists(dir / "notes/old.txt"));
  CHECK(entries(dir) == std::vector<std::string>{"notes"});  // the old copy is gone

  // Remove does not follow links out of the skill: their targets survive.
  write(t.path / "outside/keep.txt", "keep\n");
  fs::create_directory_symlink(t.path / "outside", dir / "notes/link");
  REQUIRE(ctl::remove_skill_folder((dir / "notes").string()));
  CHECK(entries(dir).empty());
  CHECK(slurp(t.path / "outside/keep.txt") == "keep\n");
}

TEST_CASE("skill install copy: links out, special files, limits and bad SKILL.md refuse it and leave nothing") {
  test::temp_dir t{"weft-skill-install"};
  auto dir = t.path / "skills";
  fs::create_directories(dir);
  auto refused = [&](const fs::path& src, const std::string& why, const ctl::install_limits& lim = {}) {
    auto s = ctl::stage_skill(src.string(), dir.string(), "x", lim);
    INFO(src.string());
    REQUIRE_FALSE(s);
    CHECK_MESSAGE(s.err().message.find(why) != std::string::npos, s.err().message);
    CHECK(entries(dir).empty());  // the half-made copy was removed
  };

  write(t.path / "abs/SKILL.md", skill_md("x"));
  fs::create_symlink("/etc/passwd", t.path / "abs/passwd");
  refused(t.path / "abs", "'passwd' is a symlink to '/etc/passwd', outside the skill folder");

  write(t.path / "up/SKILL.md", skill_md("x"));
  fs::create_directories(t.path / "up/docs");
  fs::create_symlink("../../abs", t.path / "up/docs/escape");
  refused(t.path / "up", "'docs/escape' is a symlink to '../../abs', outside the skill folder");

  write(t.path / "fifo/SKILL.md", skill_md("x"));
  REQUIRE(::mkfifo((t.path / "fifo/pipe").c_str(), 0600) == 0);
  refused(t.path / "fifo", "'pipe' is a FIFO, socket or device");

  write(t.path / "many/SKILL.md", skill_md("x"));
  for (int i = 0; i < 5; ++i) write(t.path / "many" / ("f" + std::to_string(i)), "x");
  refused(t.path / "many", "more than 4 files and directories", ctl::install_limits{.max_entries = 4});
  refused(t.path / "many", "more than 10 bytes", ctl::install_limits{.max_bytes = 10});
  write(t.path / "deep/SKILL.md", skill_md("x"));
  write(t.path / "deep/a/b/c/d.txt", "d");
  refused(t.path / "deep", "'a/b/c' is nested deeper than 2 directories", ctl::install_limits{.max_depth = 2});

  // The destination inside the source would copy itself forever.
  write(t.path / "self/SKILL.md", skill_md("x"));
  auto inner = ctl::stage_skill((t.path / "self").string(), (t.path / "self/skills").string(), "x");
  REQUIRE_FALSE(inner);
  CHECK(inner.err().message.find("is inside the folder being installed") != std::string::npos);

  // Names that would escape the skills directory are never used.
  for (std::string bad : {"", ".", "..", "../x", "a/b", ".hidden", "-x", "UPPER"}) {
    CHECK_FALSE(ctl::installable_name(bad));
    CHECK_FALSE(ctl::stage_skill((t.path / "self").string(), dir.string(), bad));
  }
  CHECK(ctl::installable_name("weather-pro"));
  CHECK(entries(dir).empty());

  // What is not a skill folder is refused before anything is copied.
  write(t.path / "nofm/SKILL.md", "# no frontmatter\n");
  auto nofm = ctl::read_skill_folder((t.path / "nofm").string());
  REQUIRE_FALSE(nofm);
  CHECK(nofm.err().message.find("its SKILL.md:") != std::string::npos);
  write(t.path / "badname/SKILL.md", "---\nname: ../../etc\ndescription: d\n---\n");
  auto badname = ctl::read_skill_folder((t.path / "badname").string());
  REQUIRE_FALSE(badname);
  CHECK(badname.err().message.find("must be 1–64 of a-z") != std::string::npos);
  fs::create_directories(t.path / "empty");
  auto empty = ctl::read_skill_folder((t.path / "empty").string());
  REQUIRE_FALSE(empty);
  CHECK(empty.err().message.find("has no SKILL.md") != std::string::npos);
  write(t.path / "real.md", skill_md("x"));
  fs::create_directories(t.path / "linked");
  fs::create_symlink(t.path / "real.md", t.path / "linked/SKILL.md");
  auto linked = ctl::read_skill_folder((t.path / "linked").string());
  REQUIRE_FALSE(linked);
  CHECK(linked.err().message.find("SKILL.md is a symlink") != std::string::npos);
}
