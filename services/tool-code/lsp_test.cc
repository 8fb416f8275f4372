// The LSP client against real language servers: clangd (Debian) on the C++ fixture —
// definition, references across files, hover, diagnostics, a rename preview that writes
// nothing; killed mid-session it is started again and the next request succeeds; idle it
// is shut down. pyright (the pinned npm peer) answers a Python definition. And the framing
// and position conversions on their own.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <weft/base/command.hh>

#include "services/tool-code/code_tools.hh"
#include "services/tool-code/lsp.hh"
#include "services/tool-code/test_util.hh"
#include "tests/temp_dir.hh"
#include "tests/tool_calls.hh"

using namespace weft;
using weft::test::slurp;
namespace code = weft::tools::code;
namespace tool = weft::proto::tool_v1;
using json = nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;


namespace {

using lines = std::vector<std::string>;

std::string path_env() {
  const char* p = std::getenv("PATH");
  return p && *p ? p : "/usr/local/bin:/usr/bin:/bin";
}

struct fixture {
  weft::test::temp_dir dir{"weft-lsp"};
  fs::path ws = dir.path / "ws";
  tools::workspace w = (fs::create_directories(ws),
                        fs::copy(fs::path(WEFT_SOURCE_ROOT) / "tests/fixtures/code", ws, fs::copy_options::recursive),
                        *tools::workspace::open(ws.string(), "a"));
  std::shared_ptr<code::lsp_pool> pool;
  std::vector<tools::tool_def> defs;
  std::atomic<bool> flag{false};
  tool::call c{"lsp_definition", "{}", "", 0};
  tools::call_context ctx{c, -1, flag};

  explicit fixture(code::lsp_settings s) {
    ::signal(SIGPIPE, SIG_IGN);  // as in every weft service: a server gone is EPIPE

    // A compilation database, as a C++ project has one: clangd indexes what it names.
    json db = json::array();
    for (auto f : {"shapes.cc", "main.cc"})
      db.push_back({{"directory", (ws / "cpp").string()}, {"file", f}, {"command", std::string("c++ -std=c++17 -c ") + f}});
    std::ofstream(ws / "compile_commands.json") << db.dump(1);
    s.path_env = path_env();
    pool = std::make_shared<code::lsp_pool>(w, s);
    defs = code::lsp_tools(w, pool);
  }

  result<tool::result> call(const std::string& name, const json& args) { return test::call_tool(defs, name, args, ctx); }
  json ok(const std::string& name, const json& args) { return test::ok_tool(defs, name, args, ctx); }
  static lines where(const json& locations) {
    lines out;
    for (auto& l : locations)
      out.push_back(l["path"].get<std::string>() + ":" + std::to_string(l["line"].get<int>()) + ":" +
                    std::to_string(l["column"].get<int>()));
    return out;
  }
};

std::optional<std::string> clangd() {
  auto c = find_executable("clangd", path_env());
  if (!c) MESSAGE("clangd is not installed: skipped (tools/dev setup installs Debian's)");
  return c;
}

code::lsp_settings with_clangd(const std::string& exe) {
  code::lsp_settings s;
  s.servers["cpp"] = {exe, "--background-index", "--log=error"};
  return s;
}

}  // namespace

TEST_CASE("clangd: definition, references across files, hover, diagnostics and a rename preview") {
  auto exe = clangd();
  if (!exe) return;
  fixture f(with_clangd(*exe));
  // geo::Square in main.cc → the class in the header.
  auto def = f.ok("lsp_definition", {{"path", "cpp/main.cc"}, {"line", 4}, {"column", 8}});
  CHECK(fixture::where(def["locations"]) == lines{"cpp/shapes.hh:11:7"});

  // total_area's references: its declaration, its definition and the call. The background
  // index may still be building when first asked: ask until it has all three, or a minute.
  const lines expected{"cpp/main.cc:6:15", "cpp/shapes.cc:7:8", "cpp/shapes.hh:20:8"};
  lines refs;
  for (auto until = std::chrono::steady_clock::now() + 60s; std::chrono::steady_clock::now() < until;) {
    refs = fixture::where(f.ok("lsp_references", {{"path", "cpp/shapes.hh"}, {"line", 20}, {"column", 8}})["locations"]);
    if (refs == expected) break;
    std::this_thread::sleep_for(200ms);
  }
  CHECK(refs == expected);

  auto hover = f.ok("lsp_hover", {{"path", "cpp/main.cc"}, {"line", 4}, {"column", 8}});
  CHECK(hover["hover"].get<std::string>().find("class Square") != std::string::npos);

  // A rename preview lists the places and writes nothing.
  auto before = slurp(f.ws / "cpp/shapes.cc");
  auto preview = f.ok("lsp_rename_preview", {{"path", "cpp/shapes.hh"}, {"line", 20}, {"column", 8}, {"new_name", "sum_area"}});
  CHECK(fixture::where(preview["edits"]) == expected);
  CHECK(slurp(f.ws / "cpp/shapes.cc") == before);

  // Diagnostics follow the file: an error written to it is reported at its line.
  CHECK(f.ok("lsp_diagnostics", {{"path", "cpp/main.cc"}})["diagnostics"].empty());
  std::ofstream(f.ws / "cpp/main.cc", std::ios::app) << "int broken() { return undeclared_name; }\n";
  auto diags = f.ok("lsp_diagnostics", {{"path", "cpp/main.cc"}})["diagnostics"];
  REQUIRE(diags.size() == 1);
  CHECK(diags[0]["line"] == 8);
  CHECK(diags[0]["level"] == "error");
  CHECK(diags[0]["message"].get<std::string>().find("undeclared_name") != std::string::npos);
}

TEST_CASE("clangd killed mid-session is started again and the next request succeeds") {
  auto exe = clangd();
  if (!exe) return;
  fixture f(with_clangd(*exe));
  auto first = f.ok("lsp_definition", {{"path", "cpp/main.cc"}, {"line", 4}, {"column", 8}});
  CHECK_FALSE(first["restarted"].get<bool>());
  int pid = f.pool->pid_of("cpp");
  REQUIRE(pid > 0);
  REQUIRE(::kill(pid, SIGKILL) == 0);
  for (int i = 0; i < 200 && f.pool->pid_of("cpp") == pid; ++i) std::this_thread::sleep_for(25ms);
  CHECK(f.pool->pid_of("cpp") == -1);
  auto r = f.call("lsp_definition", {{"path", "cpp/main.cc"}, {"line", 4}, {"column", 8}});
  REQUIRE(r);
  CAPTURE(r->content);
  REQUIRE_FALSE(r->is_error);
  auto again = json::parse(r->structured);
  CHECK(again["restarted"].get<bool>());
  CHECK(fixture::where(again["locations"]) == lines{"cpp/shapes.hh:11:7"});
  CHECK(r->content.find("killed by signal 9") != std::string::npos);
  CHECK(f.pool->pid_of("cpp") > 0);
  CHECK(f.pool->pid_of("cpp") != pid);
}

TEST_CASE("an idle language server is shut down, and started again when needed") {
  auto exe = clangd();
  if (!exe) return;
  auto s = with_clangd(*exe);
  s.idle = 300ms;
  fixture f(s);
  f.ok("lsp_definition", {{"path", "cpp/main.cc"}, {"line", 4}, {"column", 8}});
  int pid = f.pool->pid_of("cpp");
  REQUIRE(pid > 0);
  for (int i = 0; i < 400 && f.pool->pid_of("cpp") > 0; ++i) std::this_thread::sleep_for(25ms);
  CHECK(f.pool->pid_of("cpp") == -1);
  CHECK(::kill(pid, 0) != 0);  // gone, and reaped
  auto again = f.ok("lsp_definition", {{"path", "cpp/main.cc"}, {"line", 4}, {"column", 8}});
  CHECK_FALSE(again["restarted"].get<bool>());  // an idle stop is not a crash
  CHECK(fixture::where(again["locations"]) == lines{"cpp/shapes.hh:11:7"});
}

TEST_CASE("pyright (npm) answers a Python definition") {
  const char* peers = std::getenv("WEFT_MCP_PEERS");
  fs::path exe = fs::path(peers ? peers : "") / "node_modules/.bin/pyright-langserver";
  if (!peers || !fs::exists(exe)) {
    MESSAGE("pyright is not installed (tools/dev peers): skipped");
    return;
  }
  code::lsp_settings s;
  s.servers["python"] = {fs::canonical(exe).string(), "--stdio"};
  fixture f(s);
  // Inventory() in load() → the class.
  auto def = f.ok("lsp_definition", {{"path", "py/inventory.py"}, {"line", 14}, {"column", 15}});
  CHECK(fixture::where(def["locations"]) == lines{"py/inventory.py:4:7"});
  auto refs = f.ok("lsp_references", {{"path", "py/inventory.py"}, {"line", 8}, {"column", 9}});
  CHECK(fixture::where(refs["locations"]) == lines{"py/inventory.py:8:9", "py/inventory.py:16:17"});
}

TEST_CASE("a file no server is configured for, and a server that cannot start, are clear errors") {
  code::lsp_settings s;
  s.servers["cpp"] = {"/nonexistent/clangd"};
  fixture f(s);
  auto go = f.call("lsp_definition", {{"path", "go/server.go"}, {"line", 11}, {"column", 6}});
  REQUIRE(go);
  CHECK(go->is_error);
  CHECK(go->content.find("none is configured for go files") != std::string::npos);
  auto cpp = f.call("lsp_hover", {{"path", "cpp/main.cc"}, {"line", 4}, {"column", 8}});
  REQUIRE(cpp);
  CHECK(cpp->is_error);
  CHECK(cpp->content.find("Failed to start the language server '/nonexistent/clangd'") != std::string::npos);
  auto outside = f.call("lsp_hover", {{"path", "../x.cc"}, {"line", 1}, {"column", 1}});
  REQUIRE_FALSE(outside);
  CHECK(tool::is(outside.err(), tool::error_code::denied));
  auto no_line = f.call("lsp_hover", {{"path", "cpp/main.cc"}});
  REQUIRE_FALSE(no_line);
  CHECK(tool::is(no_line.err(), tool::error_code::bad_arguments));
}

TEST_CASE("Content-Length framing: split, joined and malformed messages") {
  std::string buf = "Content-Length: 2\r\n\r\n{}Content-Length: 7\r\nContent-Type: x\r\n\r\n[1,2,3";
  auto m = code::lsp_take_messages(buf, 1024);
  REQUIRE(m);
  CHECK(*m == lines{"{}"});
  buf += "]";
  m = code::lsp_take_messages(buf, 1024);
  REQUIRE(m);
  CHECK(*m == lines{"[1,2,3]"});
  CHECK(buf.empty());
  std::string big = "Content-Length: 99999\r\n\r\n";
  CHECK_FALSE(code::lsp_take_messages(big, 1024));
  std::string none = "X: 1\r\n\r\n{}";
  CHECK_FALSE(code::lsp_take_messages(none, 1024));
  std::string bad = "Content-Length: -1\r\n\r\n";
  CHECK_FALSE(code::lsp_take_messages(bad, 1024));
}

TEST_CASE("positions: UTF-16 code units and byte columns") {
  std::string line = "a\xc3\xa9\xf0\x9f\x98\x80x";  // a é 😀 x
  CHECK(code::lsp_from_byte_column(line, 1, false) == 0);
  CHECK(code::lsp_from_byte_column(line, 4, false) == 2);   // after a, é
  CHECK(code::lsp_from_byte_column(line, 8, false) == 4);   // the emoji is two units
  CHECK(code::lsp_to_byte_column(line, 4, false) == 8);
  CHECK(code::lsp_to_byte_column(line, 2, false) == 4);
  CHECK(code::lsp_to_byte_column(line, 2, true) == 3);
  CHECK(code::lsp_to_byte_column(line, 99, false) == 9);
}

TEST_CASE("a server that sends malformed notifications and unknown requests does not take tool-code down") {
  code::lsp_settings s;
  s.servers["python"] = {"/usr/bin/python3", WEFT_SOURCE_ROOT "/services/tool-code/lsp_test_server.py"};
  fixture f(s);
  for (int i = 0; i < 3; ++i) {
    auto h = f.ok("lsp_hover", {{"path", "py/inventory.py"}, {"line", 4}, {"column", 7}});
    CHECK(h["hover"] == "still here");
  }
  CHECK(f.pool->pid_of("python") > 0);
}
