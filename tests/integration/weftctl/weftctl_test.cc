// Integration: the built weftctl's command line (issue 13, items 7 and 8) — each command's
// own --help, usage errors naming the command, bash completion that completes, one version
// string in every program, the `weft` alias, and -v/-q around the default level 'warn'.
#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>

#include "tests/integration/harness.hh"
#include "tests/temp_dir.hh"

using namespace weft;
namespace fs = std::filesystem;

namespace {

std::string weftctl() { return test::build_path("tools/weftctl/weftctl"); }

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
bool starts(const std::string& s, const std::string& part) { return s.rfind(part, 0) == 0; }

/// What bash completes for `line` (the words typed so far; the last one is being typed).
std::string complete(const std::string& script_cmd, const std::string& line) {
  auto r = test::run({"/bin/bash", "-c",
                      "source <(" + script_cmd + ") && COMP_WORDS=(" + line +
                          ") && COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) && _weftctl && echo \"${COMPREPLY[*]}\""});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  return r.out.substr(0, r.out.find('\n'));
}

}  // namespace

TEST_CASE("weftctl: a command's --help is its own; a group's help lists its commands") {
  auto exp = test::run({weftctl(), "memory", "export", "--help"});
  CHECK(exp.exit_code == 0);
  CHECK(starts(exp.out, "usage: weftctl memory export --agent ID -o FILE\n"));
  CHECK_FALSE(has(exp.out, "wipe"));  // not the whole memory group

  auto chat = test::run({weftctl(), "chat", "--help"});
  CHECK(chat.exit_code == 0);
  CHECK(starts(chat.out, "usage: weftctl chat [--agent ID] [-m TEXT]\n"));
  CHECK_FALSE(has(chat.out, "Commands:"));  // not the top-level usage

  auto add = test::run({weftctl(), "mcp", "add", "--help"});
  CHECK(add.exit_code == 0);
  CHECK(add.err.empty());  // not "'--help' is not a server name"
  CHECK(starts(add.out, "usage: weftctl mcp add NAME"));
  CHECK(has(add.out, "--era ERA"));

  auto mem = test::run({weftctl(), "memory", "--help"});
  CHECK(mem.exit_code == 0);
  CHECK(starts(mem.out, "usage: weftctl memory COMMAND"));
  CHECK(has(mem.out, "export --agent ID -o FILE"));
  CHECK(has(mem.out, "wipe --agent ID --yes"));
}

TEST_CASE("weftctl: usage errors say what is wrong and which help to read; exit code 2") {
  auto r = test::run({weftctl(), "memory", "export", "--agent", "main"});
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  CHECK(r.err == "error: memory export needs --output FILE\nTry 'weftctl memory export --help'.\n");
  auto add = test::run({weftctl(), "mcp", "add", "x", "--frob", "--", "/bin/true"});
  CHECK(add.exit_code == 2);
  CHECK(add.err == "error: unknown argument '--frob' for 'mcp add'\nTry 'weftctl mcp add --help'.\n");
  auto group = test::run({weftctl(), "mcp"});
  CHECK(group.exit_code == 2);
  CHECK(starts(group.err, "error: 'mcp' needs a command: add, list, remove, serve, info\n"));
}

TEST_CASE("weftctl completion bash: a script bash loads, completing commands, options and files") {
  auto script = test::run({weftctl(), "completion", "bash"});
  REQUIRE(script.exit_code == 0);
  CHECK(has(script.out, "complete -F _weftctl weftctl weft"));
  auto gen = weftctl() + " completion bash";
  CHECK(complete(gen, "weftctl mem") == "memory");
  CHECK(complete(gen, "weftctl memory ex") == "export");
  CHECK(complete(gen, "weftctl memory export --ag") == "--agent");
  CHECK(complete(gen, "weftctl --json mcp a") == "add");
  CHECK(complete(gen, "weftctl --runtime-dir /tmp mcp li") == "list");
  CHECK(complete(gen, "weftctl status --js") == "--json");  // global options everywhere
  test::temp_dir d{"weftctl-complete"};
  { std::ofstream((d.path / "snapshot.wmem").string()) << "x"; }
  CHECK(complete(gen, "weftctl memory export --agent main -o " + (d.path / "snap").string()) ==
        (d.path / "snapshot.wmem").string());
  CHECK(complete(gen, "weftctl memory import " + (d.path / "sn").string()) == (d.path / "snapshot.wmem").string());
}

TEST_CASE("one version string: weftctl, weftd and the services print the same") {
  auto ctl = test::run({weftctl(), "--version"});
  auto weftd = test::run({test::build_path("services/weftd/weftd"), "--version"});
  auto bus = test::run({test::build_path("services/bus/bus"), "--version"});
  REQUIRE(ctl.exit_code == 0);
  REQUIRE(weftd.exit_code == 0);
  REQUIRE(bus.exit_code == 0);
  auto version = ctl.out.substr(ctl.out.find(' ') + 1);
  CHECK(starts(ctl.out, "weftctl "));
  CHECK(version.size() > 1);
  CHECK(weftd.out == "weftd " + version);
  CHECK(bus.out.substr(bus.out.find(' ') + 1) == version);
}

TEST_CASE("weft is weftctl under another name, and says so in its messages") {
  test::temp_dir d{"weftctl-alias"};
  auto alias = (d.path / "weft").string();
  fs::create_symlink(weftctl(), alias);
  auto help = test::run({alias, "chat", "--help"});
  CHECK(help.exit_code == 0);
  CHECK(starts(help.out, "usage: weft chat"));
  auto bad = test::run({alias, "frobnicate"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err == "error: unknown command 'frobnicate'\nTry 'weft --help'.\n");
}

TEST_CASE("weftctl logs warnings by default, debug with -v, errors only with -q") {
  auto s = test::stack::start(test::echo_services(1));
  auto quiet = s->weftctl({"peers"});
  CHECK(quiet.exit_code == 0);
  CHECK(quiet.err.empty());
  auto verbose = s->weftctl({"-v", "peers"});
  CHECK(verbose.exit_code == 0);
  CHECK(has(verbose.err, "joining the bus at"));
  auto after = s->weftctl({"peers", "--verbose"});
  CHECK(has(after.err, "joining the bus at"));
  auto q = s->weftctl({"-q", "peers"});
  CHECK(q.exit_code == 0);
  CHECK(q.err.empty());
  CHECK(s->weftctl({"-v", "-q", "peers"}).exit_code == 2);
}

TEST_CASE("tools/dev --help prints its own text and nothing after it") {
  auto r = test::run({"/bin/bash", std::string(WEFT_SOURCE_ROOT) + "/tools/dev", "--help"});
  CHECK(r.exit_code == 0);
  CHECK(starts(r.out, "tools/dev — the developer entry point (not installed).\n"));
  CHECK(has(r.out, "tools/dev test [ARGS]"));
  CHECK(r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1) ==
        "WEFT_SKIP_SETUP=1 skips the package check (missing npm peers are still installed).\n");
  CHECK_FALSE(has(r.out, "set -euo pipefail"));
}
