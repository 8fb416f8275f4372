// The runner of a delegated task (services/tool-delegate/claude.cc) against the real Claude
// Code CLI — the pinned test peer in $WEFT_MCP_PEERS — talking to tests/fakes/fake_llm.py as
// its Anthropic API: Claude Code really edits a file in a temporary git repository, is
// refused a tool it was not given, and is stopped by a time limit and by a cancel.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include <weft/base/fd.hh>

#include "services/tool-delegate/claude.hh"
#include "tests/integration/delegate/claude_peer.hh"
#include "tests/integration/fake_peer.hh"
#include "tests/temp_dir.hh"

using namespace weft;
using namespace weft::delegate;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {


std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  return {std::istreambuf_iterator<char>(f), {}};
}

/// A run's fixture: the fake API, a private HOME, a working directory that is a git
/// repository, and a request pointed at them.
struct fixture {
  test::fake_peer api{"fake_llm.py"};
  weft::test::temp_dir dir{"weft-delegate"};
  fs::path home = dir.path / "home", repo = dir.path / "repo";
  unique_fd repo_fd;
  std::string marker = fmt::format("weft-delegate-{}", std::random_device{}());

  fixture() {
    fs::create_directories(home);
    fs::create_directories(repo);
    std::ofstream(repo / "parser.c") << "int parse(void) { return 0; }\n";
    REQUIRE(std::system(fmt::format("git -C '{}' init -q && git -C '{}' -c user.email=t@t -c user.name=t add -A && "
                                    "git -C '{}' -c user.email=t@t -c user.name=t commit -qm init",
                                    repo.string(), repo.string(), repo.string())
                            .c_str()) == 0);
    repo_fd = unique_fd(::open(repo.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(repo_fd);
  }
  claude_request request(std::string task) {
    claude_request r;
    r.exec = test::claude_path();
    r.task = std::move(task) + " [" + marker + "]";
    r.dir_fd = repo_fd.get();
    r.env = claude_environment(home.string(), {"ANTHROPIC_BASE_URL=" + api.url(), "ANTHROPIC_API_KEY=fake-key"});
    r.max_turns = 4;
    r.timeout = 120s;
    return r;
  }
  void script(const json& steps) { REQUIRE(api.post("/_script", steps.dump()).status == 200); }
  /// Processes whose command line holds this fixture's marker (the task is an argument).
  int processes_left() {
    int n = 0;
    for (auto& e : fs::directory_iterator("/proc")) {
      auto name = e.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      auto cmdline = slurp(e.path() / "cmdline");
      if (cmdline.find(marker) != std::string::npos) ++n;
    }
    return n;
  }
};


}  // namespace

TEST_CASE("claude: a task answered in text: result, turns, session, version, progress") {
  fixture f;
  f.script(json::array({{{"text", "All done."}}}));
  std::vector<claude_step> steps;
  auto r = run_claude(f.request("say something"), -1, [&](const claude_step& s) { steps.push_back(s); });
  REQUIRE_MESSAGE(r, (r ? "" : r.err().message));
  CHECK(r->text == "All done.");
  CHECK_FALSE(r->is_error);
  CHECK(r->subtype == "success");
  CHECK(r->turns == 1);
  CHECK(r->session_id.size() == 36);  // a UUID
  CHECK(r->version == "2.1.197");
  CHECK(r->bad_lines == 0);
  REQUIRE(steps.size() >= 2);
  CHECK(steps.front().what == claude_step::kind::started);
  CHECK(steps.back().what == claude_step::kind::text);
  CHECK(steps.back().text == "All done.");
  // Its requests carried the credential of the environment given, nothing else of ours.
  auto reqs = json::parse(f.api.get("/_requests").body);
  REQUIRE_FALSE(reqs.empty());
  CHECK(reqs[0]["headers"]["x-api-key"] == "fake-key");
}

TEST_CASE("claude: it edits a file in the repository, streaming the tool steps") {
  fixture f;
  auto file = (f.repo / "parser.c").string();
  // As Claude Code works: it reads the file before it may edit it.
  f.script(json::array(
      {{{"tool_calls", json::array({{{"name", "Read"}, {"arguments", {{"file_path", file}}}}})}},
       {{"tool_calls", json::array({{{"name", "Edit"},
                                     {"arguments", {{"file_path", file},
                                                    {"old_string", "return 0;"},
                                                    {"new_string", "return 42;"}}}}})}},
       {{"text", "I changed parse() to return 42."}}}));
  auto req = f.request("make parse return 42");
  req.permission_mode = "acceptEdits";
  std::vector<claude_step> steps;
  auto r = run_claude(req, -1, [&](const claude_step& s) { steps.push_back(s); });
  REQUIRE_MESSAGE(r, (r ? "" : r.err().message));
  CAPTURE(r->text);
  CHECK_FALSE(r->is_error);
  CHECK(r->turns == 3);
  CHECK(slurp(file) == "int parse(void) { return 42; }\n");
  bool used = false, answered = false;
  for (auto& s : steps) {
    if (s.what == claude_step::kind::tool_use && s.text == "Edit: " + file) used = true;
    if (s.what == claude_step::kind::tool_result && !s.is_error) answered = true;
  }
  CHECK(used);
  CHECK(answered);
  CHECK(std::system(fmt::format("git -C '{}' diff --quiet", f.repo.string()).c_str()) != 0);  // the work tree changed
}

TEST_CASE("claude: a tool it is not given does not run") {
  fixture f;
  auto touched = f.repo / "touched";
  f.script(json::array({{{"tool_calls", json::array({{{"name", "Bash"},
                                                      {"arguments", {{"command", "touch " + touched.string()},
                                                                     {"description", "touch"}}}}})}},
                        {{"text", "I could not run it."}}}));
  auto req = f.request("touch a file");
  req.disallowed_tools = {"Bash"};
  std::vector<claude_step> steps;
  auto r = run_claude(req, -1, [&](const claude_step& s) { steps.push_back(s); });
  REQUIRE_MESSAGE(r, (r ? "" : r.err().message));
  CHECK(std::find(r->tools.begin(), r->tools.end(), "Bash") == r->tools.end());
  CHECK_FALSE(fs::exists(touched));
  bool refused = false;
  for (auto& s : steps)
    if (s.what == claude_step::kind::tool_result && s.is_error) refused = true;
  CHECK(refused);
}

TEST_CASE("claude: an API error is a result with is_error, not a crash") {
  fixture f;
  f.script(json::array({{{"status", 400}, {"message", "prompt is malformed"}}}));
  auto r = run_claude(f.request("anything"), -1, [](const claude_step&) {});
  REQUIRE_MESSAGE(r, (r ? "" : r.err().message));
  CHECK(r->is_error);
  CHECK(r->text.find("400") != std::string::npos);
}

TEST_CASE("claude: the time limit and a cancel stop it and everything it started") {
  fixture f;
  f.script(json::array({{{"delay_ms", 60000}, {"text", "too late"}}, {{"delay_ms", 60000}, {"text", "too late"}}}));
  auto req = f.request("take your time");
  req.timeout = 3s;
  auto r = run_claude(req, -1, [](const claude_step&) {});
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::timeout);
  CHECK(r.err().message.find("Claude Code did not finish within 3 s") == 0);
  CHECK(f.processes_left() == 0);

  unique_fd cancel(::eventfd(0, EFD_CLOEXEC));
  std::thread later([&] {
    std::this_thread::sleep_for(2s);
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(cancel.get(), &one, sizeof one);
  });
  req.timeout = 120s;
  r = run_claude(req, cancel.get(), [](const claude_step&) {});
  later.join();
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::cancelled);
  CHECK(f.processes_left() == 0);
}

TEST_CASE("claude: missing, exiting before its result, a stream cut short") {
  fixture f;
  auto req = f.request("x");
  req.exec = (f.dir.path / "no-claude").string();
  auto r = run_claude(req, -1, [](const claude_step&) {});
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::not_found);
  CHECK(r.err().message == "Failed to run Claude Code '" + req.exec + "': no such file");

  // The real CLI refusing its arguments: non-zero, no stream, the reason from stderr.
  req = f.request("x");
  req.permission_mode = "no-such-mode";
  r = run_claude(req, -1, [](const claude_step&) {});
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::io);
  CHECK(r.err().message.find("Claude Code ended (exit status 1) before its result, after 0 lines of output (it said: ") == 0);

  // A stand-in that starts a stream and stops mid-way, then one that writes a broken line.
  auto script = f.dir.path / "cut-claude";
  std::ofstream(script) << "#!/bin/sh\n"
                           "echo '{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s\",\"model\":\"m\"}'\n"
                           "echo 'not json'\n"
                           "printf '{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"te'\n";
  fs::permissions(script, fs::perms::owner_all);
  req = f.request("x");
  req.exec = script.string();
  std::vector<claude_step> steps;
  r = run_claude(req, -1, [&](const claude_step& s) { steps.push_back(s); });
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::io);
  CHECK(r.err().message == "Claude Code's output ended without a result, after 3 lines");
  REQUIRE(steps.size() == 1);
  CHECK(steps[0].what == claude_step::kind::started);
}

TEST_CASE("claude: finding and probing the executable") {
  weft::test::temp_dir d{"weft-claude-probe"};
  auto real = test::claude_path();
  auto p = probe_claude(real, d.path.string());
  CHECK(p.usable());
  CHECK(p.version == "2.1.197");

  auto bin = d.path / "bin";
  fs::create_directories(bin);
  auto fake = bin / "claude";
  std::ofstream(fake) << "#!/bin/sh\necho 'command not found: node' >&2\nexit 2\n";
  fs::permissions(fake, fs::perms::owner_all);
  auto found = find_claude("", "/nonexistent:" + bin.string());
  REQUIRE(found);
  CHECK(*found == fake.string());
  p = probe_claude(*found, d.path.string());
  CHECK_FALSE(p.usable());
  CHECK(p.error == "'" + fake.string() + " --version' failed (exit status 2) (it said: command not found: node)");

  auto missing = find_claude("", "/nonexistent");
  REQUIRE_FALSE(missing);
  CHECK(missing.err().message == "Claude Code ('claude') is not on PATH (/nonexistent); install it or set its path");
  CHECK_FALSE(find_claude((d.path / "nope").string(), "/usr/bin"));

  // Health: cached while fresh, asked again after a failed run.
  claude_health h(real, "", d.path.string(), 10min, 10min);
  CHECK(h.last().at == std::chrono::system_clock::time_point{});
  auto first = h.get();
  CHECK(first.usable());
  CHECK(h.get().at == first.at);  // cached
  h.failed("it crashed");
  CHECK_FALSE(h.last().usable());
  auto again = h.get();
  CHECK(again.usable());
  CHECK(again.at != first.at);
}
