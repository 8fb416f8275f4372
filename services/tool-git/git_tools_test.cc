// The git tools against the git CLI on the same real repositories: status, log, diff, show
// and blame give what `git` gives (parsed, compared field by field); branch, add and commit
// leave the repository as `git` then sees it; bad input is a typed error.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "services/tool-git/git_tools.hh"
#include "tests/shell_out.hh"
#include "tests/temp_dir.hh"

using namespace weft;
using weft::test::lines;
using weft::test::sh;
namespace git = weft::tools::git;
namespace tool = weft::proto::tool_v1;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {



/// A workspace holding repository `proj` with three commits by two authors, then a change
/// staged, a change not staged and an untracked file.
struct fixture {
  weft::test::temp_dir dir{"weft-git-tools"};
  fs::path ws = dir.path / "ws", repo = ws / "proj";
  tools::workspace w = *tools::workspace::open(ws.string(), "a");
  std::string g = "git -C '" + repo.string() + "' -c core.pager=cat ";

  void write(const std::string& rel, const std::string& text) { std::ofstream(repo / rel) << text; }
  void commit_as(const std::string& who, const std::string& msg) {
    sh(g + "add -A && " + g + fmt::format("-c user.name='{0}' -c user.email='{0}@example.org' commit -qm '{1}'", who, msg));
  }
  fixture() {
    git::init();
    fs::create_directories(repo / "src");
    sh(g + "init -q -b main");
    write("src/a.c", "int a(void) {\n  return 1;\n}\n");
    write("README", "hello\n");
    commit_as("ann", "first");
    write("src/a.c", "int a(void) {\n  return 2;\n}\n");
    write("src/b.c", "int b;\n");
    commit_as("bob", "second: b and a change");
    write("README", "hello\nworld\n");
    commit_as("ann", "third touches README");
    write("src/b.c", "int b = 3;\n");
    sh(g + "add src/b.c");
    write("README", "hello\nthere\nworld\n");
    write("notes.txt", "new\n");
  }
  json structured(const result<tool::result>& r) {
    REQUIRE_MESSAGE(r, (r ? "" : r.err().message));
    return json::parse(r->structured);
  }
  json repo_args(json extra = json::object()) {
    extra["repo"] = "proj";
    return extra;
  }
};

}  // namespace

TEST_CASE("git_status is git status --porcelain") {
  fixture f;
  auto s = f.structured(git::status(f.w, f.repo_args()));
  CHECK(s["branch"] == "main");
  std::map<std::string, std::pair<std::string, std::string>> ours;
  for (auto& e : s["entries"]) ours[e["path"]] = {e["staged"], e["unstaged"]};
  std::map<char, std::string> staged = {{'M', "modified"}, {'A', "added"}, {'D', "deleted"}, {' ', ""}, {'?', ""}};
  std::map<char, std::string> unstaged = {{'M', "modified"}, {'D', "deleted"}, {' ', ""}, {'?', "untracked"}};
  std::map<std::string, std::pair<std::string, std::string>> theirs;
  for (auto& l : lines(sh(f.g + "status --porcelain=v1 -uall"))) theirs[l.substr(3)] = {staged[l[0]], unstaged[l[1]]};
  CHECK(ours == theirs);
  CHECK(ours.size() == 3);
}

TEST_CASE("git_log is git log: all, by author, by message, by path, from a revision") {
  fixture f;
  auto check = [&](json args, const std::string& git_args) {
    auto s = f.structured(git::log(f.w, f.repo_args(args)));
    std::vector<std::string> ours, theirs = lines(f.g.size() ? sh(f.g + "log --format='%H %an %s' " + git_args) : "");
    for (auto& c : s["commits"])
      ours.push_back(fmt::format("{} {} {}", c["id"].get<std::string>(), c["author"].get<std::string>(),
                                 c["summary"].get<std::string>()));
    CAPTURE(git_args);
    CAPTURE(fmt::format("{}", fmt::join(ours, "\n")));
    CAPTURE(fmt::format("{}", fmt::join(theirs, "\n")));
    CHECK(ours == theirs);
  };
  check(json::object(), "");
  check({{"author", "bob"}}, "--author=bob");
  check({{"grep", "README"}}, "--grep=README");
  check({{"path", "proj/src/a.c"}}, "-- src/a.c");
  check({{"rev", "HEAD~1"}, {"max_count", 1}}, "-1 HEAD~1");
  auto bad = git::log(f.w, f.repo_args({{"rev", "no-such-rev"}}));
  REQUIRE_FALSE(bad);
  CHECK(tool::is(bad.err(), tool::error_code::bad_arguments));
  CHECK(bad.err().message.find("Failed to find revision 'no-such-rev'") == 0);
}

TEST_CASE("git_diff is git diff --numstat: working tree, cached, between commits, one path") {
  fixture f;
  auto check = [&](json args, const std::string& git_args) {
    auto s = f.structured(git::diff(f.w, f.repo_args(args)));
    long ins = 0, del = 0;
    auto nums = lines(sh(f.g + "diff --numstat " + git_args));
    for (auto& l : nums) {
      long a = 0, d = 0;
      std::sscanf(l.c_str(), "%ld %ld", &a, &d);
      ins += a;
      del += d;
    }
    CAPTURE(git_args);
    CHECK(s["files_changed"] == nums.size());
    CHECK(s["insertions"] == ins);
    CHECK(s["deletions"] == del);
  };
  check(json::object(), "");
  check({{"cached", true}}, "--cached");
  check({{"from", "HEAD~2"}, {"to", "HEAD"}}, "HEAD~2 HEAD");
  check({{"from", "HEAD~2"}, {"to", "HEAD"}, {"path", "proj/README"}}, "HEAD~2 HEAD -- README");
  auto patch = git::diff(f.w, f.repo_args());
  REQUIRE(patch);
  CHECK(patch->content.find("+there") != std::string::npos);
}

TEST_CASE("git_show and git_blame are git show and git blame") {
  fixture f;
  auto s = f.structured(git::show(f.w, f.repo_args({{"rev", "HEAD~1"}})));
  CHECK(s["id"] == lines(sh(f.g + "rev-parse HEAD~1"))[0]);
  CHECK(s["summary"] == "second: b and a change");
  CHECK(s["diff"]["files_changed"] == lines(sh(f.g + "show --numstat --format= HEAD~1")).size());

  auto b = f.structured(git::blame(f.w, f.repo_args({{"path", "proj/src/a.c"}})));
  std::vector<std::string> ours, theirs;
  // git marks lines of the root commit "^" + the first 39 digits: compare 39.
  for (auto& l : b["lines"]) ours.push_back(l["commit"].get<std::string>().substr(0, 39));
  for (auto& l : lines(sh(f.g + "blame -l -s src/a.c"))) theirs.push_back(l.substr(l[0] == '^' ? 1 : 0, 39));
  CHECK(ours == theirs);
  CHECK(ours.size() == 3);

  std::ofstream(f.repo / "bin.dat", std::ios::binary) << std::string("\0\1\2\0", 4);
  f.commit_as("ann", "binary");
  auto bin = git::blame(f.w, f.repo_args({{"path", "proj/bin.dat"}}));
  REQUIRE_FALSE(bin);
  CHECK(bin.err().message == "'proj/bin.dat' is a binary file: there are no lines to blame");
}

TEST_CASE("git_branch, git_add, git_commit leave the repository as git sees it") {
  fixture f;
  REQUIRE(git::branch(f.w, f.repo_args({{"action", "create"}, {"name", "topic"}})));
  auto l = f.structured(git::branch(f.w, f.repo_args()));
  CHECK(l["branches"] == json::array({"main", "topic"}));
  CHECK(l["current"] == "main");
  // Switching with local changes that the switch would not touch is fine.
  REQUIRE(git::branch(f.w, f.repo_args({{"action", "switch"}, {"name", "topic"}})));
  CHECK(lines(sh(f.g + "branch --show-current")) == std::vector<std::string>{"topic"});
  REQUIRE(git::add(f.w, f.repo_args({{"paths", {"proj/README", "proj/notes.txt"}}})));
  git::git_limits lim;
  lim.author_name = "weft agent";
  lim.author_email = "agent@weft.local";
  auto c = f.structured(git::commit(f.w, f.repo_args({{"message", "agent's change"}, {"signoff", true}}), lim));
  CHECK(c["branch"] == "topic");
  CHECK(lines(sh(f.g + "log -1 --format=%H%n%an%n%ae%n%s")) ==
        std::vector<std::string>{c["commit"], "weft agent", "agent@weft.local", "agent's change"});
  CHECK(sh(f.g + "log -1 --format=%b").find("Signed-off-by: weft agent <agent@weft.local>") != std::string::npos);
  CHECK(sh(f.g + "status --porcelain").empty());
  auto again = git::commit(f.w, f.repo_args({{"message", "nothing"}}), lim);
  REQUIRE_FALSE(again);
  CHECK(again.err().message.find("nothing to commit") == 0);
  REQUIRE(git::branch(f.w, f.repo_args({{"action", "switch"}, {"name", "main"}})));
  REQUIRE(git::branch(f.w, f.repo_args({{"action", "delete"}, {"name", "topic"}})));
  CHECK(lines(sh(f.g + "branch --format='%(refname:short)'")) == std::vector<std::string>{"main"});
  auto bad = git::branch(f.w, f.repo_args({{"action", "rename"}, {"name", "x"}}));
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message == "git_branch action 'rename' is not one of list, create, switch, delete");
}

TEST_CASE("outside the workspace, no repository, a missing argument: typed errors") {
  fixture f;
  auto out = git::status(f.w, {{"repo", "../"}});
  REQUIRE_FALSE(out);
  CHECK(tool::is(out.err(), tool::error_code::denied));
  // The workspace itself is no repository, and discovery does not climb above it.
  auto none = git::status(f.w, json::object());
  REQUIRE_FALSE(none);
  CHECK(tool::is(none.err(), tool::error_code::bad_arguments));
  CHECK(none.err().message.find("Failed to open a git repository at '.'") == 0);
  auto no_msg = git::commit(f.w, f.repo_args());
  REQUIRE_FALSE(no_msg);
  CHECK(tool::is(no_msg.err(), tool::error_code::bad_arguments));
  auto path_out = git::blame(f.w, f.repo_args({{"path", "/etc/passwd"}}));
  REQUIRE_FALSE(path_out);
  CHECK(tool::is(path_out.err(), tool::error_code::denied));
  CHECK(git::git_tools(f.w).size() == 13);
}

TEST_CASE("git_clone, git_push, git_pull with a bare repository in the workspace; remotes outside it are refused") {
  fixture f;
  auto bare = f.ws / "origin.git";
  sh("git clone -q --bare '" + f.repo.string() + "' '" + bare.string() + "'");
  auto cl = git::clone(f.w, {{"url", "origin.git"}, {"path", "work"}});
  REQUIRE_MESSAGE(cl, (cl ? "" : cl.err().message));
  json work{{"repo", "work"}};
  CHECK(lines(sh("git -C '" + (f.ws / "work").string() + "' log --format=%s")).size() == 3);
  // A branch with a commit, pushed: the bare remote has it.
  REQUIRE(git::branch(f.w, {{"repo", "work"}, {"action", "create"}, {"name", "feature"}}));
  REQUIRE(git::branch(f.w, {{"repo", "work"}, {"action", "switch"}, {"name", "feature"}}));
  std::ofstream(f.ws / "work" / "src" / "c.c") << "int c;\n";
  REQUIRE(git::add(f.w, {{"repo", "work"}, {"paths", {"work/src/c.c"}}}));
  git::git_limits lim;
  lim.author_name = "agent";
  lim.author_email = "agent@weft.local";
  auto c = f.structured(git::commit(f.w, {{"repo", "work"}, {"message", "add c"}}, lim));
  auto pushed = git::push(f.w, work);
  REQUIRE_MESSAGE(pushed, (pushed ? "" : pushed.err().message));
  CHECK(lines(sh("git -C '" + bare.string() + "' rev-parse feature")) == std::vector<std::string>{c["commit"]});
  // Someone else pushes to main; pull fast-forwards, and says so when there is nothing new.
  sh("git clone -q '" + bare.string() + "' '" + (f.dir.path / "other").string() + "'");
  auto other = "git -C '" + (f.dir.path / "other").string() + "' ";
  std::ofstream(f.dir.path / "other" / "README") << "changed elsewhere\n";
  sh(other + "-c user.name=o -c user.email=o@o commit -qam elsewhere && " + other + "push -q origin main");
  REQUIRE(git::branch(f.w, {{"repo", "work"}, {"action", "switch"}, {"name", "main"}}));
  auto pulled = f.structured(git::pull(f.w, work));
  CHECK(pulled["fast_forward"] == true);
  CHECK(pulled["commit"] == lines(sh("git -C '" + bare.string() + "' rev-parse main"))[0]);
  CHECK(lines(sh("git -C '" + (f.ws / "work").string() + "' log -1 --format=%s")) == std::vector<std::string>{"elsewhere"});
  CHECK(f.structured(git::pull(f.w, work))["fast_forward"] == false);
  // Diverged: refused with the reason, nothing changed.
  std::ofstream(f.dir.path / "other" / "README") << "again elsewhere\n";
  sh(other + "-c user.name=o -c user.email=o@o commit -qam again && " + other + "push -q origin main");
  std::ofstream(f.ws / "work" / "local.txt") << "mine\n";
  REQUIRE(git::add(f.w, {{"repo", "work"}, {"paths", {"work/local.txt"}}}));
  REQUIRE(git::commit(f.w, {{"repo", "work"}, {"message", "mine"}}, lim));
  auto diverged = git::pull(f.w, work);
  REQUIRE_FALSE(diverged);
  CHECK(diverged.err().message == "Failed to pull into 'main': it and 'origin/main' have diverged (not a "
                                  "fast-forward); merge or rebase them first");
  // A push the remote refuses (not a fast-forward there) is an error, not a silent no.
  auto refused = git::push(f.w, work);
  REQUIRE_FALSE(refused);
  CAPTURE(refused.err().message);
  CHECK(refused.err().message.find("Failed to push 'main' to 'origin'") == 0);

  // Outside the workspace: a path, a file:// URL, a remote pointing there.
  auto outside = f.dir.path / "elsewhere.git";
  sh("git clone -q --bare '" + f.repo.string() + "' '" + outside.string() + "'");
  for (auto url : {outside.string(), "file://" + outside.string(), std::string("../elsewhere.git")}) {
    CAPTURE(url);
    auto r = git::clone(f.w, {{"url", url}, {"path", "stolen"}});
    REQUIRE_FALSE(r);
    CHECK(tool::is(r.err(), tool::error_code::denied));
  }
  sh("git -C '" + (f.ws / "work").string() + "' remote add out '" + outside.string() + "'");
  auto out_push = git::push(f.w, {{"repo", "work"}, {"remote", "out"}});
  REQUIRE_FALSE(out_push);
  CHECK(tool::is(out_push.err(), tool::error_code::denied));
  // origin's push URL pointed outside: the push is refused too (and nothing is written there).
  auto before = sh("git -C '" + outside.string() + "' rev-parse HEAD");
  sh("git -C '" + (f.ws / "work").string() + "' remote set-url --push origin '" + outside.string() + "'");
  auto pushurl = git::push(f.w, {{"repo", "work"}});
  REQUIRE_FALSE(pushurl);
  CHECK(tool::is(pushurl.err(), tool::error_code::denied));
  CHECK(sh("git -C '" + outside.string() + "' rev-parse HEAD") == before);
  // A network remote that wants credentials: refused, saying why (none reachable here: a
  // closed port on loopback stands in for it).
  auto net = git::clone(f.w, {{"url", "http://127.0.0.1:9/repo.git"}, {"path", "net"}});
  REQUIRE_FALSE(net);
  CHECK(net.err().message.find("Failed to clone 'http://127.0.0.1:9/repo.git' into 'net'") == 0);
}

TEST_CASE("git_log pages; git_tag; a binary file and a 100 MB file give a bounded answer") {
  fixture f;
  auto page1 = f.structured(git::log(f.w, f.repo_args({{"max_count", 2}})));
  CHECK(page1["commits"].size() == 2);
  CHECK(page1["more"] == true);
  CHECK(page1["next_skip"] == 2);
  auto page2 = f.structured(git::log(f.w, f.repo_args({{"max_count", 2}, {"skip", 2}})));
  CHECK(page2["commits"].size() == 1);
  CHECK(page2["more"] == false);
  std::vector<std::string> ours;
  for (auto* p : {&page1, &page2})
    for (auto& c : (*p)["commits"]) ours.push_back(c["id"]);
  CHECK(ours == lines(sh(f.g + "log --format=%H")));

  REQUIRE(git::tag(f.w, f.repo_args({{"action", "create"}, {"name", "v1"}, {"rev", "HEAD~1"}})));
  git::git_limits lim;
  lim.author_name = "rel";
  lim.author_email = "rel@example.org";
  REQUIRE(git::tag(f.w, f.repo_args({{"action", "create"}, {"name", "v2"}, {"message", "release 2"}}), lim));
  CHECK(f.structured(git::tag(f.w, f.repo_args()))["tags"] == json::array({"v1", "v2"}));
  CHECK(lines(sh(f.g + "rev-parse v1")) == lines(sh(f.g + "rev-parse HEAD~1")));
  CHECK(lines(sh(f.g + "cat-file -t v2")) == std::vector<std::string>{"tag"});
  CHECK(lines(sh(f.g + "tag -l --format='%(contents:subject)' v2")) == std::vector<std::string>{"release 2"});
  auto dup = git::tag(f.w, f.repo_args({{"action", "create"}, {"name", "v1"}}));
  REQUIRE_FALSE(dup);
  CHECK(dup.err().message.find("Failed to create tag 'v1'") == 0);
  REQUIRE(git::tag(f.w, f.repo_args({{"action", "delete"}, {"name", "v1"}})));
  CHECK(lines(sh(f.g + "tag")) == std::vector<std::string>{"v2"});

  // Binary: stats and a note, no bytes.
  sh(f.g + "add -A && " + f.g + "-c user.name=a -c user.email=a@a commit -qm base");
  std::ofstream(f.repo / "blob.bin", std::ios::binary) << std::string("\0\1\2\3binary\0", 11);
  sh(f.g + "add blob.bin");
  auto bin = f.structured(git::diff(f.w, f.repo_args({{"cached", true}})));
  REQUIRE(bin["files"].size() == 1);
  CHECK(bin["files"][0]["binary"] == true);
  // 100 MB of text: compared as binary (over max_diff_file_bytes), so no 100 MB patch is built.
  {
    std::ofstream big(f.repo / "big.txt");
    std::string line(99, 'x');
    line += '\n';
    for (int i = 0; i < 1024 * 1024; ++i) big << line;
  }
  sh(f.g + "add big.txt");
  auto big = git::diff(f.w, f.repo_args({{"cached", true}, {"path", "proj/big.txt"}}));
  REQUIRE(big);
  CHECK(big->content.size() < 4096);
  CHECK(json::parse(big->structured)["files"][0]["binary"] == true);
  // A patch longer than the cap is cut, saying so, and the stats stay whole.
  git::git_limits small;
  small.max_output_bytes = 2000;
  {
    std::ofstream many(f.repo / "many.txt");
    for (int i = 0; i < 5000; ++i) many << "line " << i << "\n";
  }
  sh(f.g + "add many.txt");
  auto cut = git::diff(f.w, f.repo_args({{"cached", true}, {"path", "proj/many.txt"}}), small);
  REQUIRE(cut);
  CHECK(cut->truncated);
  CHECK(cut->content.size() < 4000);
  CHECK(cut->content.find("[… cut") != std::string::npos);
  CHECK(json::parse(cut->structured)["insertions"] == 5000);
}
