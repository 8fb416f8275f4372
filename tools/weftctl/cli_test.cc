// weftctl's command line: every command's help, the usage errors and what parsing fills in,
// without running anything (the invocation's `run` is not called).
#include "cli_app.hh"

#include <sstream>

#include <doctest/doctest.h>

using namespace weft;

namespace {

struct outcome {
  std::optional<int> rc;
  std::string out, err;
};

outcome parse(ctl::invocation& inv, std::vector<std::string> args) {
  ctl::command_line cl(inv, "weftctl");
  std::ostringstream out, err;
  outcome o;
  o.rc = cl.parse(std::move(args), out, err);
  o.out = out.str();
  o.err = err.str();
  return o;
}

outcome parse(std::vector<std::string> args) {
  ctl::invocation inv;
  return parse(inv, std::move(args));
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
bool starts(const std::string& s, const std::string& part) { return s.rfind(part, 0) == 0; }

/// Every command's words, e.g. "memory export".
void commands(const CLI::App* a, std::vector<std::string>& out) {
  for (auto* s : a->get_subcommands([](const CLI::App*) { return true; })) {
    out.push_back(ctl::cli::command_path(s));
    commands(s, out);
  }
}

}  // namespace

TEST_CASE("weftctl --help: each command prints its own help, not its group's or the top's") {
  auto exp = parse({"memory", "export", "--help"});
  REQUIRE(exp.rc == 0);
  CHECK(starts(exp.out, "usage: weftctl memory export --agent ID -o FILE\n"));
  CHECK(has(exp.out, "-o, --output FILE"));
  CHECK(has(exp.out, "-a, --agent ID"));
  CHECK(has(exp.out, "weftctl memory export --agent main -o main.wmem"));  // an example
  CHECK_FALSE(has(exp.out, "wipe"));
  CHECK_FALSE(has(exp.out, "--mmr"));

  auto chat = parse({"chat", "--help"});
  REQUIRE(chat.rc == 0);
  CHECK(starts(chat.out, "usage: weftctl chat [--agent ID] [-m TEXT]\n"));
  CHECK(has(chat.out, "-m, --message TEXT"));
  CHECK_FALSE(has(chat.out, "Commands:"));

  auto add = parse({"mcp", "add", "--help"});
  REQUIRE(add.rc == 0);
  CHECK(add.err.empty());
  CHECK(starts(add.out, "usage: weftctl mcp add NAME [OPTIONS] [--] COMMAND [ARG]…"));
  CHECK(has(add.out, "--era ERA"));
  CHECK(has(add.out, "--env KEY=VALUE"));

  auto top = parse({"--help"});
  REQUIRE(top.rc == 0);
  CHECK(starts(top.out, "usage: weftctl [OPTIONS] COMMAND [ARGS]\n"));
  CHECK(has(top.out, "config check [FILE]"));
  CHECK(has(top.out, "start|stop|restart SERVICE…"));
  CHECK(has(top.out, "-v, --verbose"));
  CHECK(has(top.out, "-q, --quiet"));
  CHECK(has(top.out, "(level 'warn')"));
  CHECK_FALSE(has(top.out, "Global options"));

  // Every command, -h or --help, before or after its arguments.
  ctl::invocation inv;
  ctl::command_line cl(inv, "weftctl");
  std::vector<std::string> all;
  commands(&cl.app(), all);
  CHECK(all.size() > 30);
  for (auto& path : all) {
    std::vector<std::string> args;
    std::istringstream words(path);
    for (std::string w; words >> w;) args.push_back(w);
    args.push_back(path.size() % 2 ? "-h" : "--help");
    auto r = parse(args);
    INFO(path);
    CHECK(r.rc == 0);
    CHECK(starts(r.out, "usage: weftctl " + path));
    CHECK(has(r.out,
              "Global options (before or after the command; see 'weftctl --help'):\n"
              "  --json, --runtime-dir DIR, --timeout MS, -v/--verbose, -q/--quiet\n"));
    CHECK(r.err.empty());
    CHECK(r.out == cl.help(path));
  }
}

TEST_CASE("weftctl usage errors: 'error: …', the command's help to try, exit code 2") {
  auto check = [](std::vector<std::string> args, const std::string& error, const std::string& try_help) {
    auto r = parse(args);
    INFO(r.err);
    CHECK(r.rc == 2);
    CHECK(r.out.empty());
    CHECK(r.err == "error: " + error + "\nTry '" + try_help + " --help'.\n");
  };
  check({"frobnicate"}, "unknown command 'frobnicate'", "weftctl");
  check({}, "no command given", "weftctl");
  check({"memory"}, "'memory' needs a command: search, put, stats, export, import, forget, wipe", "weftctl memory");
  check({"memory", "frob"}, "unknown memory command 'frob'", "weftctl memory");
  check({"memory", "search", "zebra"}, "memory search needs --agent ID", "weftctl memory search");
  check({"memory", "search", "--agent", "a"}, "memory search needs QUERY", "weftctl memory search");
  check({"memory", "export", "--agent", "a"}, "memory export needs --output FILE", "weftctl memory export");
  check({"memory", "search", "--agent", "a", "-k", "0", "q"}, "-k needs a number from 1 to 100, not '0'",
        "weftctl memory search");
  check({"memory", "search", "--agent", "a", "--since", "yesterday", "q"},
        "--since needs an RFC 3339 time (e.g. 2026-11-01T00:00:00Z), not 'yesterday'", "weftctl memory search");
  check({"memory", "wipe", "--agent", "a"}, "memory wipe deletes every entry of agent 'a'; add --yes",
        "weftctl memory wipe");
  check({"memory", "stats", "--agent", "a", "extra"}, "unknown argument 'extra' for 'memory stats'",
        "weftctl memory stats");
  check({"audit", "verify", "--frob"}, "unknown argument '--frob' for 'audit verify'", "weftctl audit verify");
  check({"mcp", "add", "x", "--era", "2026", "--", "/bin/true"}, "--era needs auto, legacy or modern, not '2026'",
        "weftctl mcp add");
  check({"mcp", "add", "Bad_Name", "--", "/bin/true"},
        "NAME needs 1 to 32 of a-z, 0-9 and '-', starting with a letter or digit, not 'Bad_Name'", "weftctl mcp add");
  check({"mcp", "add", "x"}, "mcp add needs a COMMAND or URL after the NAME", "weftctl mcp add");
  check({"mcp", "add", "x", "--header", "A: b", "--", "/bin/true"}, "mcp add: --header is for a URL, not a command",
        "weftctl mcp add");
  check({"llm", "policy", "set", "--agent", "main"}, "llm policy set needs --tier NAME or --disable TIER",
        "weftctl llm policy set");
  check({"llm", "policy", "frob"}, "unknown argument 'frob' for 'llm policy'", "weftctl llm policy");
  check({"--timeout", "0", "status"}, "--timeout needs a positive number of milliseconds, not '0'", "weftctl status");
  check({"status", "--runtime-dir"}, "--runtime-dir needs DIR", "weftctl status");
  check({"call", "echo/1", "T", "{x"}, "payload is not valid JSON: '{x'", "weftctl call");
  check({"route", "explain", "--user-id", "1"},
        "route explain needs --channel C (which agent) or --text TEXT (which delegation rule)",
        "weftctl route explain");
  check({"route", "explain", "--text", ""}, "--text needs a message text, not ''", "weftctl route explain");
  check({"delegate", "status", "--agent", ""}, "--agent needs an agent id, not ''", "weftctl delegate status");
  check({"route", "explain", "--channel", "t", "stray"}, "unexpected 'stray'; use --channel C --KEY VALUE",
        "weftctl route explain");
  check({"completion", "zsh"}, "SHELL needs bash, not 'zsh'", "weftctl completion");
}

TEST_CASE("weftctl parsing: global options anywhere, typed arguments, the command that will run") {
  {
    ctl::invocation inv;
    auto r = parse(inv, {"status", "--json", "--runtime-dir", "/run/x", "--timeout", "500", "-v"});
    REQUIRE_FALSE(r.rc);
    CHECK(inv.command == "status");
    CHECK(inv.run);
    CHECK(inv.globals.json);
    CHECK(inv.runtime_arg == "/run/x");
    CHECK(inv.globals.timeout_ms == 500);
    CHECK(inv.verbose);
    CHECK_FALSE(inv.quiet);
  }
  {
    ctl::invocation inv;
    REQUIRE_FALSE(parse(inv, {"-q", "--json", "mcp", "list"}).rc);
    CHECK(inv.command == "mcp list");
    CHECK(inv.globals.json);
    CHECK(inv.quiet);
  }
  {
    // The server's command line is its own, options included, with or without "--".
    ctl::invocation inv;
    REQUIRE_FALSE(parse(inv, {"mcp", "add", "x", "--env", "A=B=C", "--", "node", "s.js", "--port", "3", "--json"}).rc);
    CHECK(inv.mcp_add.name == "x");
    CHECK(inv.mcp_add.command == std::vector<std::string>{"node", "s.js", "--port", "3", "--json"});
    CHECK(inv.mcp_add.env == std::map<std::string, std::string>{{"A", "B=C"}});
    CHECK_FALSE(inv.globals.json);
    ctl::invocation bare;
    REQUIRE_FALSE(parse(bare, {"--json", "mcp", "add", "y", "--cwd", "/tmp", "node", "--help"}).rc);
    CHECK(bare.mcp_add.command == std::vector<std::string>{"node", "--help"});
    CHECK(bare.mcp_add.cwd == "/tmp");
    CHECK(bare.globals.json);
    ctl::invocation url;
    REQUIRE_FALSE(parse(url, {"mcp", "add", "r", "https://h/mcp", "--header", "Authorization: Bearer t"}).rc);
    CHECK(url.mcp_add.command == std::vector<std::string>{"https://h/mcp", "--header", "Authorization: Bearer t"});
    ctl::invocation hdr;
    REQUIRE_FALSE(
        parse(hdr, {"mcp", "add", "r", "--header", "Authorization: Bearer t", "--era", "modern", "https://h/mcp"}).rc);
    CHECK(hdr.mcp_add.headers == std::map<std::string, std::string>{{"Authorization", "Bearer t"}});
    CHECK(hdr.mcp_add.era == "modern");
    CHECK(hdr.mcp_add.command == std::vector<std::string>{"https://h/mcp"});
  }
  {
    ctl::invocation inv;
    REQUIRE_FALSE(parse(inv, {"memory", "search", "--agent", "b", "--tag", "t1", "--tag", "t2", "--kind", "note", "-k",
                              "5", "--mode", "keyword", "--since", "2026-11-01T00:00:00Z", "zebra", "crossing"})
                      .rc);
    CHECK(inv.command == "memory search");
    auto& m = inv.memory;
    CHECK(m.agent == "b");
    CHECK(m.words == std::vector<std::string>{"zebra", "crossing"});
    CHECK(m.tags == std::vector<std::string>{"t1", "t2"});
    REQUIRE(m.kinds.size() == 1);
    CHECK(m.kinds[0] == proto::memory_v1::kind::note);
    CHECK(m.k == 5);
    CHECK(m.mode == proto::memory_v1::mode::keyword);
    CHECK(m.since.has_value());
    CHECK_FALSE(m.until.has_value());
  }
  {
    ctl::invocation inv;  // a group's "help" is its --help
    REQUIRE_FALSE(parse(inv, {"memory", "help"}).rc);
    CHECK(inv.command == "memory help");
  }
  {
    ctl::invocation inv;  // an option given twice: the last counts
    REQUIRE_FALSE(
        parse(inv, {"chat", "--agent", "a", "-m", "x", "--agent", "b", "--timeout", "9", "--timeout", "10"}).rc);
    CHECK(inv.chat.agent == "b");
    CHECK(inv.globals.timeout_ms == 10);
  }
  {
    ctl::invocation inv;
    REQUIRE_FALSE(parse(inv, {"memory", "import", "snap.wmem", "-a", "main", "--replace"}).rc);
    CHECK(inv.memory.file == "snap.wmem");
    CHECK(inv.memory.agent == "main");
    CHECK(inv.memory.replace);
  }
  {
    ctl::invocation inv;
    REQUIRE_FALSE(parse(inv, {"route", "explain", "--channel", "telegram", "--user-id", "111", "--topic-id=7",
                              "--chat-id", "-100123", "--json"})
                      .rc);
    CHECK(inv.route.channel == "telegram");
    CHECK(inv.route.meta ==
          std::map<std::string, std::string>{{"user_id", "111"}, {"topic_id", "7"}, {"chat_id", "-100123"}});
    CHECK(inv.globals.json);
  }
  {
    ctl::invocation inv;
    REQUIRE_FALSE(parse(inv, {"trace", "echo/1", "--count", "3"}).rc);
    CHECK(inv.target == "echo/1");
    CHECK(inv.count == 3);
    ctl::invocation before;
    REQUIRE_FALSE(parse(before, {"--count", "4", "trace", "bus"}).rc);
    CHECK(before.count == 4);
  }
  {
    ctl::invocation show, set;
    REQUIRE_FALSE(parse(show, {"llm", "policy"}).rc);
    CHECK(show.command == "llm policy");
    CHECK(show.run);
    REQUIRE_FALSE(parse(set, {"llm", "policy", "set", "--agent", "a", "--disable", "x", "--disable", "y"}).rc);
    CHECK(set.command == "llm policy set");
    CHECK(set.llm.disable == std::vector<std::string>{"x", "y"});
  }
  {
    ctl::invocation inv;
    REQUIRE_FALSE(parse(inv, {"restart", "echo-1", "echo-2"}).rc);
    CHECK(inv.command == "restart");
    CHECK(inv.services == std::vector<std::string>{"echo-1", "echo-2"});
    ctl::invocation call;
    REQUIRE_FALSE(parse(call, {"call", "echo/1", "io.weft.test.Echo.v1.Echo", R"({"text":"hi"})", "--json"}).rc);
    CHECK(call.payload.size() > 4);  // msgpack of the JSON
    CHECK(call.globals.json);
  }
}

TEST_CASE("weftctl --version and the completion script come from the command tree") {
  auto v = parse({"--version"});
  CHECK(v.rc == 0);
  CHECK(starts(v.out, "weftctl "));
  ctl::invocation inv;
  ctl::command_line cl(inv, "weftctl");
  auto script = ctl::cli::bash_completion(cl.app(), {"weftctl", "weft"});
  CHECK(has(script, "complete -F _weftctl weftctl weft\n"));
  CHECK(has(script, "'memory|export') node='memory export' ;;"));
  CHECK(has(script, "'mcp|add') node='mcp add' ;;"));
  CHECK(has(script, "'memory export') words='"));
  CHECK(has(script, "--output"));
}
