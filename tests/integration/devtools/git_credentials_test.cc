// Credentials for git remotes, per call: an agent's git tool process clones from and pushes
// to an https-style remote that demands them (tests/fakes/fake_forge.py serving real
// `git http-backend` behind HTTP Basic auth), getting a forge's token from tool-forge over
// the bus for each operation. The token never enters the git tool's environment or
// arguments; an agent without the forge family, and anyone but a git tool process, is
// refused it.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "proto/tool_v1.hh"

#include "tests/integration/fake_peer.hh"
#include "tests/integration/harness.hh"
#include "tests/shell_out.hh"
#include "tests/temp_dir.hh"

using namespace weft;
namespace tool = weft::proto::tool_v1;
using json = nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

result<tool::result> call(ipc::bus_client& b, const std::string& process, const std::string& name, const json& args) {
  auto r = b.call(process + "/" + name, tool::call{name, args.dump(), "c", 0},
                  ipc::call_options{.timeout = std::chrono::seconds(60)});
  if (!r) return r.take_error();
  return r->as<tool::result>();
}

/// The git tool process of agent `id`, as a service of the test's own: the same program on
/// the host's network (the sandboxed one has a network namespace of its own, from which a
/// server on the host's loopback cannot be reached).
std::string git_service(const std::string& id, const std::string& ws) {
  return fmt::format("[services.tool-git-{0}]\nexec = \"{1}/services/tool-git/weft-tool-git\"\naddress = \"tool/git/{0}\"\n"
                     "env = {{ WEFT_WORKSPACE = \"{2}\", WEFT_AGENT = \"{0}\", WEFT_GIT_AUTHOR = \"weft {0} <{0}@weft.example>\" }}\n\n",
                     id, WEFT_BUILD_ROOT, ws);
}

}  // namespace

TEST_CASE("git over http(s) with a forge's token, per call: clone and push; refused to others") {
  weft::test::temp_dir d{"weft-git-cred"};
  auto root = d.path / "hosted";
  fs::create_directories(root);
  // The hosted repository: one commit on main.
  auto seed = (d.path / "seed").string();
  REQUIRE(test::sh("git init -q -b main '" + seed + "' && echo one > '" + seed + "/one.txt' && git -C '" + seed +
                   "' add -A && git -C '" + seed + "' -c user.name=s -c user.email=s@s commit -qm first && git clone -q "
                   "--bare '" + seed + "' '" + (root / "widget.git").string() + "' && echo ok") == "ok\n");
  const std::string token = "git-secret-0815";
  test::fake_peer forge("fake_forge.py", {"--token", token, "--git-root", root.string()});
  auto wa = (d.path / "a").string(), wb = (d.path / "b").string();
  fs::create_directories(wa);
  fs::create_directories(wb);
  auto config = fmt::format(
      "[agents.a]\nworkspace = \"{wa}\"\n[agents.a.tools]\nfamilies = [\"git\", \"forge\"]\n\n"
      "[agents.b]\nworkspace = \"{wb}\"\n[agents.b.tools]\nfamilies = [\"git\"]\n\n"
      "[services.agent-a]\nexec = \"/bin/true\"\naddress = \"agent/a\"\nenabled = false\n\n"
      "[services.agent-b]\nexec = \"/bin/true\"\naddress = \"agent/b\"\nenabled = false\n\n"
      "[services.llm]\nexec = \"/bin/true\"\nenabled = false\n\n"
      "[services.router]\nexec = \"/bin/true\"\nenabled = false\n\n"
      "[tools.forges.tea]\nkind = \"gitea\"\napi = \"{url}/gitea/api/v1\"\ngit = [\"{url}/git/\"]\n"
      "token = \"${{WEFT_TEST_GIT_TOKEN}}\"\n\n{ga}{gb}",
      fmt::arg("wa", wa), fmt::arg("wb", wb), fmt::arg("url", forge.url()), fmt::arg("ga", git_service("a", wa)),
      fmt::arg("gb", git_service("b", wb)));
  ::setenv("WEFT_TEST_GIT_TOKEN", token.c_str(), 1);
  auto s = test::stack::start(config);
  ::unsetenv("WEFT_TEST_GIT_TOKEN");
  REQUIRE(s);
  auto b = s->bus_client();
  auto remote = forge.url() + "/git/widget.git";

  auto cloned = call(*b, "tool/git/a", "git_clone", {{"url", remote}, {"path", "widget"}});
  REQUIRE_MESSAGE(cloned, (cloned ? "" : cloned.err().to_string()) << "\n" << s->log());
  CAPTURE(cloned->content);
  REQUIRE_FALSE(cloned->is_error);
  CHECK(fs::exists(wa + "/widget/one.txt"));
  std::ofstream(wa + "/widget/README.md") << "# widget\n";
  auto added = call(*b, "tool/git/a", "git_add", {{"repo", "widget"}, {"paths", json::array({"widget/README.md"})}});
  REQUIRE_MESSAGE(added, (added ? "" : added.err().to_string()));
  auto committed = call(*b, "tool/git/a", "git_commit", {{"repo", "widget"}, {"message", "Add a README"}});
  REQUIRE_MESSAGE(committed, (committed ? "" : committed.err().to_string()));
  REQUIRE_FALSE(committed->is_error);
  auto pushed = call(*b, "tool/git/a", "git_push", {{"repo", "widget"}, {"branch", "main"}});
  REQUIRE_MESSAGE(pushed, (pushed ? "" : pushed.err().to_string()));
  CAPTURE(pushed->content);
  REQUIRE_FALSE(pushed->is_error);
  CHECK(test::sh("git -C '" + (root / "widget.git").string() + "' log -1 --format=%s main") == "Add a README\n");

  // The remote asked, and got the token with Gitea's user name, on each operation.
  int asked = 0, authed = 0;
  for (auto& r : json::parse(forge.get("/_requests").body)) {
    if (!r.value("git", false)) continue;
    if (r["auth_ok"] == true) {
      ++authed;
      CHECK(r["user"] == "oauth2");
    } else {
      ++asked;
    }
  }
  CHECK(asked >= 2);   // the clone's and the push's first request
  CHECK(authed >= 3);  // clone (refs, pack), push (refs, pack)

  // Agent b's git tools: b does not list the forge family.
  auto refused = call(*b, "tool/git/b", "git_clone", {{"url", remote}, {"path", "widget"}});
  REQUIRE_FALSE(refused);
  CHECK(tool::is(refused.err(), tool::error_code::failed));
  CHECK_MESSAGE(refused.err().message.find("agent 'b' does not list the forge family") != std::string::npos,
                refused.err().message);
  CHECK_FALSE(fs::exists(wb + "/widget/.git/HEAD"));
  // Anyone but a git tool process (this test's client) is Denied by tool-forge.
  auto direct = call(*b, "tool/forge", "git_credential", {{"url", remote}});
  REQUIRE_FALSE(direct);
  CHECK(tool::is(direct.err(), tool::error_code::denied));
  // The hidden tool is not among those listed.
  auto listed = b->call("tool/forge", tool::list_tools{}, ipc::call_options{.timeout = std::chrono::seconds(10)});
  REQUIRE(listed);
  auto tools = listed->as<tool::tools>();
  REQUIRE(tools);
  for (auto& t : tools->tools) CHECK(t.name != "git_credential");

  // The token is in weftd (which read it) and tool-forge (given it), in neither git tool.
  for (auto name : {"tool-git-a", "tool-git-b"}) {
    auto pid = s->service_pid(name);
    REQUIRE(pid > 0);
    std::ifstream env(fmt::format("/proc/{}/environ", pid)), cmd(fmt::format("/proc/{}/cmdline", pid));
    std::string text((std::istreambuf_iterator<char>(env)), {});
    text += std::string((std::istreambuf_iterator<char>(cmd)), {});
    CHECK_MESSAGE(text.find(token) == std::string::npos, name);
  }
  // Nor in the clone's configuration (libgit2 was given it for the call only).
  std::ifstream cfg(wa + "/widget/.git/config");
  std::string cfg_text((std::istreambuf_iterator<char>(cfg)), {});
  CHECK(cfg_text.find(token) == std::string::npos);
}
