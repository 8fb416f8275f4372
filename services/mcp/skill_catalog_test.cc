// An agent's skills as MCP resources, prompts and completions, and what a refresh finds
// changed on disk (services/mcp/skill_catalog.hh). Real folders in a temp dir.
#include <fcntl.h>
#include <sys/stat.h>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <weft/mcp/jsonrpc.hh>

#include "services/mcp/skill_catalog.hh"
#include "tests/temp_dir.hh"

using namespace weft;
using namespace weft::mcpsrv;
namespace fs = std::filesystem;

namespace {

void write_skill(const fs::path& dir, const std::string& name, const std::string& extra, const std::string& body) {
  fs::create_directories(dir / name);
  std::ofstream(dir / name / "SKILL.md") << "---\nname: " << name << "\ndescription: The " << name << " skill\n"
                                         << extra << "---\n" << body;
}

/// Moves a file's mtime far from now, so a rewrite within the same clock tick still differs.
void age(const fs::path& file) {
  struct timespec times[2] = {{1000, 0}, {1000, 0}};
  REQUIRE(::utimensat(AT_FDCWD, file.c_str(), times, 0) == 0);
}

json complete(const skill_catalog& c, const std::string& ref, const std::string& arg, const std::string& value) {
  auto params = json::parse(ref);
  auto r = c.complete(json{{"ref", params}, {"argument", {{"name", arg}, {"value", value}}}});
  REQUIRE(r);
  return (*r)["completion"];
}

}  // namespace

TEST_CASE("skill_catalog: resources, the template, prompts and reading, by precedence") {
  test::temp_dir d;
  auto shared = d.path / "shared", own = d.path / "own";
  write_skill(shared, "review", "argument-hint: add [file] | remove [file] | list\n", "Review {baseDir}.\n");
  write_skill(shared, "deploy", "", "Deploy.\n");
  write_skill(own, "deploy", "user-invocable: false\n", "My deploy.\n");  // overrides the shared one
  skill_catalog c({{shared.string(), "shared"}, {own.string(), "workspace"}});
  std::vector<std::string> warnings;
  CHECK_FALSE(c.refresh(warnings).any());  // the first look reports nothing
  CHECK(warnings.empty());

  auto res = c.list_resources()["resources"];
  REQUIRE(res.size() == 2);
  CHECK(res[0] == json::parse(R"({"uri":"weft://skills/deploy","name":"deploy","description":"The deploy skill",
      "mimeType":"text/markdown"})"));
  CHECK(c.resource_templates()["resourceTemplates"][0]["uriTemplate"] == "weft://skills/{name}");
  auto read = c.read_resource("weft://skills/deploy");
  REQUIRE(read);
  CHECK((*read)["contents"][0]["text"].get<std::string>().find("My deploy.") != std::string::npos);
  auto missing = c.read_resource("weft://skills/nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.err().code == "ResourceNotFound");
  CHECK(mcp::to_error_object(missing.err()).code == mcp::code::resource_not_found);
  CHECK_FALSE(c.read_resource("file:///etc/passwd"));

  auto prompts = c.list_prompts()["prompts"];
  REQUIRE(prompts.size() == 1);  // deploy is not user-invocable any more
  CHECK(prompts[0]["name"] == "review");
  CHECK(prompts[0]["arguments"][0]["description"] == "add [file] | remove [file] | list");
  auto p = c.get_prompt("review", json{{"request", "the parser"}});
  REQUIRE(p);
  auto text = (*p)["messages"][0]["content"]["text"].get<std::string>();
  CHECK(text.find("Review " + (shared / "review").string()) != std::string::npos);
  CHECK(text.find("the parser") != std::string::npos);
  CHECK(c.get_prompt("deploy", json::object()).err().code == "InvalidParams");
  CHECK(c.get_prompt("review", json{{"request", 1}}).err().code == "InvalidParams");
}

TEST_CASE("skill_catalog: completions of a prompt's request and of the template's name") {
  test::temp_dir d;
  write_skill(d.path, "review", "argument-hint: add [file] | Remove [file] | list all | <anything>\n", "x");
  write_skill(d.path, "release", "", "x");
  write_skill(d.path, "deploy", "", "x");
  skill_catalog c({{d.path.string(), "shared"}});
  std::vector<std::string> w;
  c.refresh(w);
  const std::string prompt = R"({"type":"ref/prompt","name":"review"})";
  CHECK(complete(c, prompt, "request", "")["values"] == json::array({"add", "Remove", "list all"}));
  CHECK(complete(c, prompt, "request", "r")["values"] == json::array({"Remove"}));
  CHECK(complete(c, prompt, "request", "LI")["values"] == json::array({"list all"}));
  CHECK(complete(c, prompt, "other", "")["values"] == json::array());
  CHECK(complete(c, R"({"type":"ref/prompt","name":"deploy"})", "request", "")["values"] == json::array());
  auto names = complete(c, R"({"type":"ref/resource","uri":"weft://skills/{name}"})", "name", "re");
  CHECK(names["values"] == json::array({"release", "review"}));
  CHECK(names["total"] == 2);
  CHECK(names["hasMore"] == false);
  auto unknown = c.complete(json{{"ref", {{"type", "ref/prompt"}, {"name", "nope"}}}, {"argument", {{"name", "request"}, {"value", ""}}}});
  REQUIRE_FALSE(unknown);
  CHECK(unknown.err().code == "InvalidParams");
  CHECK_FALSE(c.complete(json{{"ref", {{"type", "ref/resource"}, {"uri", "file:///{x}"}}},
                              {"argument", {{"name", "x"}, {"value", ""}}}}));
}

TEST_CASE("skill_catalog: refresh finds skills that changed, came and went; malformed ones are warned of once") {
  test::temp_dir d;
  write_skill(d.path, "alpha", "", "one\n");
  write_skill(d.path, "beta", "", "two\n");
  skill_catalog c({{d.path.string(), "shared"}});
  std::vector<std::string> w;
  c.refresh(w);
  CHECK_FALSE(c.refresh(w).any());  // nothing happened

  // An edit: that skill is updated; the lists stay as they were.
  age(d.path / "alpha" / "SKILL.md");
  auto edit = c.refresh(w);
  CHECK_FALSE(edit.lists);
  CHECK(edit.updated == std::vector<std::string>{"weft://skills/alpha"});
  write_skill(d.path, "alpha", "", "one, longer now\n");
  CHECK(c.refresh(w).updated == std::vector<std::string>{"weft://skills/alpha"});

  // A new skill and a removed one: both lists change, both URIs are updated.
  write_skill(d.path, "gamma", "", "three\n");
  fs::remove_all(d.path / "beta");
  auto moved = c.refresh(w);
  CHECK(moved.lists);
  CHECK(moved.updated == std::vector<std::string>{"weft://skills/beta", "weft://skills/gamma"});
  CHECK(c.list_resources()["resources"].size() == 2);

  // A malformed skill: skipped, one warning however often the folders are looked at.
  fs::create_directories(d.path / "broken");
  std::ofstream(d.path / "broken" / "SKILL.md") << "---\nname: Broken Name\ndescription: x\n---\n";
  w.clear();
  CHECK_FALSE(c.refresh(w).any());
  CHECK(w.size() == 1);
  CHECK(w[0].find("broken") != std::string::npos);
  c.refresh(w);
  CHECK(w.size() == 1);
}
