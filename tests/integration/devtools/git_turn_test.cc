// The git tools in an agent turn: a scripted model (tests/fakes/fake_llm.py) has agent main
// clone a bare repository of its workspace, branch, write a file, commit and push — through
// the real agent, bus and sandboxed weft-tool-git — and the bare remote has the commit.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "proto/chat_v1.hh"
#include "tests/integration/fake_peer.hh"
#include "tests/integration/harness.hh"
#include "tests/integration/turn_client.hh"
#include "tests/shell_out.hh"
#include "tests/temp_dir.hh"

using namespace weft;
using weft::test::lines;
using weft::test::sh;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace fs = std::filesystem;
namespace chat = weft::proto::chat_v1;

namespace {


json call(const std::string& name, json args) { return {{"tool_calls", json::array({{{"name", name}, {"arguments", args}}})}}; }

/// A workspace with a repository `seed` (one commit) and its bare clone `origin.git`.
void seed_origin(const fs::path& ws) {
  fs::create_directories(ws / "seed");
  auto seed = "git -C '" + (ws / "seed").string() + "' -c user.name=s -c user.email=s@s ";
  std::ofstream(ws / "seed" / "README") << "seed\n";
  sh(seed + "init -q -b main && " + seed + "add -A && " + seed + "commit -qm seed");
  sh("git clone -q --bare '" + (ws / "seed").string() + "' '" + (ws / "origin.git").string() + "'");
}

/// Agent main on the fake model with the given tool families, its commits by "weft main".
std::string turn_config(const test::fake_peer& llm, const fs::path& ws, const std::string& families,
                        const std::string& more = {}) {
  return fmt::format(
      "[providers.fake]\nstyle = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"fake-model\"\n\n"
      "[llm]\ndefault_provider = \"fake\"\nretries = 0\n\n[memory]\nenabled = false\n\n"
      "[agents.main]\nworkspace = \"{ws}\"\nmax_iterations = 12\ntool_timeout_ms = 20000\n"
      "[agents.main.tools]\nfamilies = [{families}]\n\n"
      "[tools.git]\nauthor = \"weft main <main@weft.example>\"\n\n{more}",
      fmt::arg("url", llm.url()), fmt::arg("ws", ws.string()), fmt::arg("families", families), fmt::arg("more", more));
}


/// The model's steps that clone origin.git, branch, fix the README, commit and push.
json fix_and_push() {
  return json::array({call("git_clone", {{"url", "origin.git"}, {"path", "work"}}),
                      call("git_branch", {{"repo", "work"}, {"action", "create"}, {"name", "fix-readme"}}),
                      call("git_branch", {{"repo", "work"}, {"action", "switch"}, {"name", "fix-readme"}}),
                      call("write_file", {{"path", "work/README"}, {"content", "seed, fixed\n"}}),
                      call("git_add", {{"repo", "work"}, {"paths", {"work/README"}}}),
                      call("git_commit", {{"repo", "work"}, {"message", "Fix the README"}}),
                      call("git_push", {{"repo", "work"}})});
}

}  // namespace

TEST_CASE("git in an agent turn: clone, branch, edit, commit, push to a bare repository in the workspace") {
  test::fake_peer llm("fake_llm.py");
  weft::test::temp_dir d{"weft-git-turn"};
  auto ws = d.path / "ws";
  seed_origin(ws);
  auto s = test::stack::start(turn_config(llm, ws, "\"fs\", \"git\""));
  REQUIRE(s);
  auto steps = fix_and_push();
  steps.push_back({{"text", "Pushed fix-readme."}});
  REQUIRE(llm.post("/_script", steps.dump()).status == 200);
  auto b = s->bus_client();
  std::vector<std::string> deltas;
  auto r = test::streamed_turn(*b, "main", test::web_turn("g1", "g1", "fix the README on a branch and push it"), deltas);
  CHECK(r.tool_calls == 7);
  CHECK(r.reply.parts.at(0).text.value_or("") == "Pushed fix-readme.");
  auto origin = "git -C '" + (ws / "origin.git").string() + "' ";
  CHECK(sh(origin + "log -1 --format=%s fix-readme") == "Fix the README\n");
  CHECK(sh(origin + "show fix-readme:README") == "seed, fixed\n");
  CHECK(sh(origin + "log -1 --format='%an <%ae>' fix-readme") == "weft main <main@weft.example>\n");
}

TEST_CASE("pull requests in an agent turn: pushed, then opened on a fake GitHub and a fake Gitea; the token only in "
          "tool-forge") {
  test::fake_peer llm("fake_llm.py");
  const std::string token = "forge-secret-4711";
  test::fake_peer forge("fake_forge.py", {"--token", token});
  weft::test::temp_dir d{"weft-pr-turn"};
  auto ws = d.path / "ws";
  seed_origin(ws);
  auto config = turn_config(
      llm, ws, "\"fs\", \"git\", \"forge\"",
      fmt::format("[tools.forges.gh]\nkind = \"github\"\napi = \"{0}/github\"\ntoken = \"${{WEFT_TEST_FORGE_TOKEN}}\"\n\n"
                  "[tools.forges.tea]\nkind = \"gitea\"\napi = \"{0}/gitea/api/v1\"\ntoken = \"${{WEFT_TEST_FORGE_TOKEN}}\"\n",
                  forge.url()));
  ::setenv("WEFT_TEST_FORGE_TOKEN", token.c_str(), 1);
  auto s = test::stack::start(config);
  ::unsetenv("WEFT_TEST_FORGE_TOKEN");
  REQUIRE(s);
  json pr{{"repo", "acme/widget"}, {"head", "fix-readme"}, {"base", "main"}, {"title", "Fix the README"}};
  auto on = [&](const std::string& f) {
    auto a = pr;
    a["forge"] = f;
    return call("pr_open", a);
  };
  auto steps = fix_and_push();
  for (auto f : {"gh", "tea"}) steps.push_back(on(f));
  steps.push_back({{"text", "Opened the pull requests."}});
  REQUIRE(llm.post("/_script", steps.dump()).status == 200);
  auto b = s->bus_client();
  std::vector<std::string> deltas;
  auto r = test::streamed_turn(*b, "main", test::web_turn("p1", "p1", "fix the README and open pull requests"), deltas);
  CHECK(r.tool_calls == 9);
  CHECK(r.reply.parts.at(0).text.value_or("") == "Opened the pull requests.");
  CHECK(sh("git -C '" + (ws / "origin.git").string() + "' log -1 --format=%s fix-readme") == "Fix the README\n");
  // The forges got the right calls with the token; the model got each PR's URL back.
  auto calls = json::parse(forge.get("/_requests").body);
  int opened = 0;
  for (auto& c : calls)
    if (c["method"] == "POST" && c["body"].value("head", "") == "fix-readme" && c["body"].value("base", "") == "main")
      ++opened;
  CHECK(opened == 2);
  std::string to_model;
  for (auto& q : json::parse(llm.get("/_requests").body)) to_model += q["body"].dump();
  CHECK(to_model.find(fmt::format("{}/github-web/acme/widget/pull/1", forge.url())) != std::string::npos);
  CHECK(to_model.find(fmt::format("{}/gitea-web/acme/widget/pull/1", forge.url())) != std::string::npos);
  CHECK(to_model.find(token) == std::string::npos);
  // Who holds the token: weftd (given it) and tool-forge (given it by weftd), nobody else.
  std::vector<pid_t> holders;
  for (auto& e : fs::directory_iterator("/proc")) {
    auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream env(e.path() / "environ"), cmd(e.path() / "cmdline");
    std::string text((std::istreambuf_iterator<char>(env)), {});
    text += std::string((std::istreambuf_iterator<char>(cmd)), {});
    auto pid = static_cast<pid_t>(std::stoi(name));
    if (text.find(token) != std::string::npos && pid != forge.pid()) holders.push_back(pid);
  }
  std::sort(holders.begin(), holders.end());
  std::vector<pid_t> expected = {s->pid(), s->service_pid("tool-forge")};
  std::sort(expected.begin(), expected.end());
  CHECK(holders == expected);
}
