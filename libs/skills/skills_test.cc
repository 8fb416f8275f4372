// Unit tests of libs/skills: the frontmatter subset, the checks of a skill, discovery by
// precedence, the body on demand and the system prompt's block.
#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>

#include <weft/skills/skills.hh>

#include "tests/temp_dir.hh"

using namespace weft;
using namespace weft::skills;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

}  // namespace

TEST_CASE("frontmatter: scalars, quotes, lists, maps, block scalars") {
  auto fm = parse_frontmatter(R"(---
# a comment
name: pdf-tools
description: "Work with PDF files: \"extract\" text"
version: '1.2'
allowed-tools: read_file exec
variables: [path, "page count"]
tags:
  - a
  - 'b c'
metadata:
  author: someone
  homepage: https://example.com # comment
long: >
  folded
  text
---
# Body
Use {baseDir}/scripts.
)");
  REQUIRE(fm);
  CHECK(fm->fields["name"].scalar == "pdf-tools");
  CHECK(fm->fields["description"].scalar == "Work with PDF files: \"extract\" text");
  CHECK(fm->fields["version"].scalar == "1.2");
  CHECK(fm->fields["variables"].list == std::vector<std::string>{"path", "page count"});
  CHECK(fm->fields["tags"].list == std::vector<std::string>{"a", "b c"});
  CHECK(fm->fields["metadata"].map["homepage"] == "https://example.com");
  CHECK(fm->fields["long"].scalar == "folded text");
  CHECK(fm->body == "# Body\nUse {baseDir}/scripts.\n");
  auto s = make_skill(*fm, "/x/SKILL.md", "workspace");
  REQUIRE(s);
  CHECK(s->allowed_tools == std::vector<std::string>{"read_file", "exec"});
  CHECK(s->version == "1.2");
  CHECK(s->metadata["author"] == "someone");
  CHECK(s->metadata["long"] == "folded text");  // unknown keys are kept
}

TEST_CASE("frontmatter: malformed input is an error naming the line") {
  CHECK_FALSE(parse_frontmatter("name: x\n"));  // no opening ---
  CHECK_FALSE(parse_frontmatter("---\nname: x\n"));  // no closing ---
  auto e = parse_frontmatter("---\nname: x\njust words\n---\n");
  REQUIRE_FALSE(e);
  CHECK(e.err().message.find("line 3") != std::string::npos);
  CHECK_FALSE(parse_frontmatter("---\nname: \"open\n---\n"));
  CHECK_FALSE(parse_frontmatter("---\nname: a\nname: b\n---\n"));
  CHECK_FALSE(parse_frontmatter("---\nl: [a, b\n---\n"));
  auto no_desc = parse_frontmatter("---\nname: x\n---\n");
  REQUIRE(no_desc);
  CHECK_FALSE(make_skill(*no_desc, "p", "o"));
  auto bad_name = parse_frontmatter("---\nname: Bad--Name\ndescription: d\n---\n");
  REQUIRE(bad_name);
  CHECK_FALSE(make_skill(*bad_name, "p", "o"));
}

TEST_CASE("skills: workspace overrides shared overrides built-in; malformed skipped; body on demand") {
  weft::test::temp_dir d{"weft-skills-test"};
  write(d.path / "builtin/a/SKILL.md", "---\nname: a\ndescription: builtin a\n---\nA builtin\n");
  write(d.path / "builtin/b/SKILL.md", "---\nname: b\ndescription: builtin b\n---\nB builtin\n");
  write(d.path / "shared/b/SKILL.md", "---\nname: b\ndescription: shared b\n---\nB shared in {baseDir}\n");
  write(d.path / "ws/c/SKILL.md", "---\nname: c\ndescription: ws c\n---\nC\n");
  write(d.path / "ws/a/SKILL.md", "---\nname: a\ndescription: ws a\n---\nA ws\n");
  write(d.path / "ws/broken/SKILL.md", "no frontmatter\n");
  write(d.path / "ws/hidden/SKILL.md", "---\nname: hidden\ndescription: h\ndisable-model-invocation: true\n---\n");
  // A copy weftctl skill install is still writing: a hidden folder, not a skill.
  write(d.path / "ws/.c.install-Ab12Cd/SKILL.md", "---\nname: c\ndescription: half-copied c\n---\n");
  write(d.path / "ws/.dotted/SKILL.md", "---\nname: dotted\ndescription: d\n---\n");
  std::vector<std::string> warnings;
  auto skills = discover_skills({{(d.path / "builtin").string(), "built-in"},
                                 {(d.path / "shared").string(), "shared"},
                                 {(d.path / "ws").string(), "workspace"},
                                 {"", "none"}},
                                warnings);
  REQUIRE(skills.size() == 4);
  CHECK(skills[0].name == "a");
  CHECK(skills[0].description == "ws a");
  CHECK(skills[1].description == "shared b");
  CHECK(skills[2].origin == "workspace");
  CHECK(skills[2].description == "ws c");
  for (auto& s : skills) CHECK(s.name != "dotted");
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("broken/SKILL.md") != std::string::npos);
  auto body = load_skill_body(skills[1]);
  REQUIRE(body);
  CHECK(*body == "B shared in " + (d.path / "shared/b").string() + "\n");
  auto block = skills_prompt(skills);
  CHECK(block.find("<name>a</name><description>ws a</description>") != std::string::npos);
  CHECK(block.find("hidden") == std::string::npos);
  CHECK(block.find("load_skill") != std::string::npos);
  CHECK(skills_prompt({}).empty());
}
