// The forge tools against tests/fakes/fake_forge.py speaking GitHub's, Gitea's and GitLab's
// REST APIs: a pull request opened, listed, commented on and read on each, with the token
// in each API's header and the PR's URL in the result; a wrong token, an unknown forge and a
// bad repository name are typed errors.
#include <doctest/doctest.h>

#include <curl/curl.h>

#include "services/tool-forge/forge.hh"
#include "tests/integration/fake_peer.hh"

using namespace weft;
namespace forge = weft::tools::forge;
namespace tool = weft::proto::tool_v1;
using json = nlohmann::json;

namespace {

std::map<std::string, forge::forge> forges_at(const test::fake_peer& f, const std::string& token) {
  auto base = f.url();
  return {{"gh", {"gh", forge::kind::github, base + "/github", token}},
          {"tea", {"tea", forge::kind::gitea, base + "/gitea/api/v1", token}},
          {"lab", {"lab", forge::kind::gitlab, base + "/gitlab/api/v4", token}}};
}

json structured(const result<tool::result>& r) {
  REQUIRE_MESSAGE(r, (r ? "" : r.err().message));
  return json::parse(r->structured);
}

}  // namespace

TEST_CASE("pull requests on GitHub, Gitea and GitLab: open, list, comment, status") {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  test::fake_peer fake("fake_forge.py", {"--token", "t0k3n"});
  auto forges = forges_at(fake, "t0k3n");
  for (auto name : {"gh", "tea", "lab"}) {
    CAPTURE(name);
    json where{{"forge", name}, {"repo", "acme/widget"}};
    auto open = where;
    open.update({{"head", "fix-readme"}, {"base", "main"}, {"title", "Fix the README"}, {"body", "by weft"}});
    auto pr = structured(forge::pr_open(forges, open));
    CHECK(pr["number"] == 1);
    CHECK(pr["url"].get<std::string>().find("acme/widget") != std::string::npos);
    CHECK(pr["head"] == "fix-readme");
    CHECK(pr["base"] == "main");
    auto list = structured(forge::pr_list(forges, where));
    REQUIRE(list["pull_requests"].size() == 1);
    CHECK(list["pull_requests"][0]["title"] == "Fix the README");
    auto comment = where;
    comment.update({{"number", 1}, {"body", "tests pass"}});
    CHECK(structured(forge::pr_comment(forges, comment))["number"] == 1);
    auto status = where;
    status["number"] = 1;
    auto s = structured(forge::pr_status(forges, status));
    CHECK(s["merged"] == false);
    CHECK(s["mergeable"] == true);
  }
  // What the fake received: each API's path and token header.
  auto reqs = json::parse(fake.get("/_requests").body);
  bool gh = false, tea = false, lab = false;
  for (auto& r : reqs) {
    auto path = r["path"].get<std::string>();
    auto& h = r["headers"];
    if (path == "/github/repos/acme/widget/pulls" && r["method"] == "POST")
      gh = h.value("authorization", "") == "Bearer t0k3n" && r["body"]["head"] == "fix-readme";
    if (path == "/gitea/api/v1/repos/acme/widget/pulls" && r["method"] == "POST")
      tea = h.value("authorization", "") == "token t0k3n";
    if (path == "/gitlab/api/v4/projects/acme%2Fwidget/merge_requests" && r["method"] == "POST")
      lab = h.value("private-token", "") == "t0k3n" && r["body"]["source_branch"] == "fix-readme";
  }
  CHECK(gh);
  CHECK(tea);
  CHECK(lab);
  // The token is never in a result.
  for (auto& [n, f] : forges) {
    auto r = forge::pr_list(forges, {{"forge", n}, {"repo", "acme/widget"}});
    REQUIRE(r);
    CHECK(r->content.find("t0k3n") == std::string::npos);
    CHECK(r->structured.find("t0k3n") == std::string::npos);
  }
}

TEST_CASE("forge errors: a wrong token, an unknown forge, a missing repository, a bad name, the forge down") {
  test::fake_peer fake("fake_forge.py", {"--token", "right"});
  auto wrong = forges_at(fake, "wrong");
  auto r = forge::pr_list(wrong, {{"forge", "gh"}, {"repo", "acme/widget"}});
  REQUIRE_FALSE(r);
  CHECK(tool::is(r.err(), tool::error_code::denied));
  CHECK(r.err().message ==
        "Failed to list pull requests on forge 'gh': HTTP 401: Bad credentials (check [tools.forges.gh] token)");
  auto forges = forges_at(fake, "right");
  auto unknown = forge::pr_list(forges, {{"forge", "bitbucket"}, {"repo", "a/b"}});
  REQUIRE_FALSE(unknown);
  CHECK(unknown.err().message == "there is no forge 'bitbucket'; configured: gh, lab, tea");
  auto missing = forge::pr_open(forges, {{"forge", "tea"}, {"repo", "acme/missing"}, {"head", "x"}, {"base", "main"},
                                         {"title", "t"}});
  REQUIRE_FALSE(missing);
  CHECK(tool::is(missing.err(), tool::error_code::bad_arguments));
  CHECK(missing.err().message.find("HTTP 404") != std::string::npos);
  for (auto bad : {"noslash", "../etc/passwd", "a/b/c", "a b/c"}) {
    CAPTURE(bad);
    auto b = forge::pr_list(forges, {{"forge", "gh"}, {"repo", bad}});
    REQUIRE_FALSE(b);
    CHECK(tool::is(b.err(), tool::error_code::bad_arguments));
  }
  std::map<std::string, forge::forge> down = {{"gh", {"gh", forge::kind::github, "http://127.0.0.1:9", "x"}}};
  auto d = forge::pr_list(down, {{"forge", "gh"}, {"repo", "a/b"}});
  REQUIRE_FALSE(d);
  CHECK(d.err().message.find("Failed to reach forge 'gh' at http://127.0.0.1:9") == 0);
}

TEST_CASE("git credentials: which forge covers a remote, and who may have its token") {
  std::map<std::string, forge::forge> forges = {
      {"gh", {"gh", forge::kind::github, "https://api.github.com", "gh-token"}},
      {"tea", {"tea", forge::kind::gitea, "https://git.example.org/api/v1", "tea-token"}},
      {"lab", {"lab", forge::kind::gitlab, "https://gitlab.com/api/v4", ""}},
      {"own", {"own", forge::kind::gitea, "https://git.example.org/api/v1", "own-token", std::chrono::seconds(30),
               {"https://git.example.org/team/"}, "bot"}}};
  CHECK(forge::git_prefixes(forges.at("gh")) == std::vector<std::string>{"https://github.com/"});
  CHECK(forge::git_prefixes(forges.at("tea")) == std::vector<std::string>{"https://git.example.org/"});
  CHECK(forge::git_prefixes(forges.at("lab")) == std::vector<std::string>{"https://gitlab.com/"});
  std::set<std::string> agents = {"a"};
  auto get = [&](const std::string& url, const std::string& caller) {
    return forge::git_credential(forges, agents, json{{"url", url}}, caller);
  };
  auto gh = structured(get("https://github.com/acme/widget.git", "tool/git/a"));
  CHECK(gh["username"] == "x-access-token");
  CHECK(gh["password"] == "gh-token");
  // The longest prefix wins: the team's own forge, with its user name.
  auto own = structured(get("https://git.example.org/team/x.git", "tool/git/a"));
  CHECK(own["forge"] == "own");
  CHECK(own["username"] == "bot");
  CHECK(structured(get("https://git.example.org/other/x.git", "tool/git/a"))["forge"] == "tea");
  // The token is in the structured part only, never in the text.
  auto r = get("https://github.com/acme/widget.git", "tool/git/a");
  REQUIRE(r);
  CHECK(r->content.find("gh-token") == std::string::npos);
  // Refusals.
  for (auto caller : {"agent/a", "tool/shell/a", "tool/git", "tool/git/a/x", "", "tool/git/b"}) {
    CAPTURE(caller);
    auto d = get("https://github.com/acme/widget.git", caller);
    REQUIRE_FALSE(d);
    CHECK(tool::is(d.err(), tool::error_code::denied));
  }
  // Same-looking hosts, user information, another port or a path beside the prefix are not it.
  CHECK(structured(get("https://git.example.org/teamx/x.git", "tool/git/a"))["forge"] == "tea");
  CHECK(structured(get("https://GitHub.com/acme/w.git", "tool/git/a"))["forge"] == "gh");
  for (auto url : {"https://github.com.evil.example/x.git", "https://github.com:8443/x.git",
                   "http://github.com/x.git", "https://evilgithub.com/x.git"}) {
    CAPTURE(url);
    auto r2 = get(url, "tool/git/a");
    REQUIRE_FALSE(r2);
    CHECK(r2.err().message.find("No forge of [tools.forges] covers") != std::string::npos);
  }
  for (auto url : {"https://github.com@evil.example/x.git", "https://x:y@github.com/x.git"}) {
    CAPTURE(url);
    auto r2 = get(url, "tool/git/a");
    REQUIRE_FALSE(r2);
    CHECK(tool::is(r2.err(), tool::error_code::bad_arguments));
  }
  // Only GitHub's API host is not where its git is.
  CHECK(forge::git_prefixes({"x", forge::kind::gitea, "https://api.example.com/v1", "t"}) ==
        std::vector<std::string>{"https://api.example.com/"});
  CHECK(forge::git_prefixes({"x", forge::kind::gitea, "http://127.0.0.1:3000/api/v1", "t"}) ==
        std::vector<std::string>{"http://127.0.0.1:3000/"});
  auto nobody = get("https://elsewhere.example/x.git", "tool/git/a");
  REQUIRE_FALSE(nobody);
  CHECK(nobody.err().message.find("No forge of [tools.forges] covers") != std::string::npos);
  auto no_token = get("https://gitlab.com/g/p.git", "tool/git/a");
  REQUIRE_FALSE(no_token);
  CHECK(no_token.err().message.find("has no token") != std::string::npos);
  auto ssh = get("git@github.com:acme/widget.git", "tool/git/a");
  REQUIRE_FALSE(ssh);
  CHECK(tool::is(ssh.err(), tool::error_code::bad_arguments));
}
