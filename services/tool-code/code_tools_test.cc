// The code tools on a small multi-language fixture tree (tests/fixtures/code): outlines and
// usages are exactly the expected ones in C, C++, Python, JavaScript, TypeScript, Rust and
// Go; queries, syntax checks; edits that would break the syntax are refused and leave the
// file as it was; bad input (an unsupported language, a path outside, a binary file, a
// 100 MB file, a pathologically nested file) is a clear error, never a crash.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "services/tool-code/code_index.hh"
#include "services/tool-code/code_tools.hh"
#include "services/tool-code/test_util.hh"
#include "tests/temp_dir.hh"
#include "tests/tool_calls.hh"

using namespace weft;
using weft::test::slurp;
namespace code = weft::tools::code;
namespace tool = weft::proto::tool_v1;
using json = nlohmann::json;
namespace fs = std::filesystem;


namespace {

struct fixture {
  weft::test::temp_dir dir{"weft-code-tools"};
  fs::path ws = dir.path / "ws";
  tools::workspace w = (fs::create_directories(ws),
                        fs::copy(fs::path(WEFT_SOURCE_ROOT) / "tests/fixtures/code", ws, fs::copy_options::recursive),
                        *tools::workspace::open(ws.string(), "a"));
  code::code_limits lim;
  std::vector<tools::tool_def> defs = code::code_tools(w, lim);
  std::atomic<bool> flag{false};
  tool::call c{"code_outline", "{}", "", 0};
  tools::call_context ctx{c, -1, flag};

  result<tool::result> call(const std::string& name, const json& args) { return test::call_tool(defs, name, args, ctx); }
  json ok(const std::string& name, const json& args) { return test::ok_tool(defs, name, args, ctx); }
  /// A call that ran and failed: its text.
  std::string failed(const std::string& name, const json& args) {
    auto r = call(name, args);
    REQUIRE_MESSAGE(r, (r ? "" : r.err().message));
    CHECK(r->is_error);
    return r->content;
  }
  /// The outline as "kind name start-end" lines, nesting shown by indentation.
  std::vector<std::string> outline(const std::string& path) {
    std::vector<std::string> out;
    auto r = ok("code_outline", {{"path", path}});
    for (auto& s : r["symbols"])
      out.push_back(std::string(s["depth"].get<int>() * 2, ' ') + s["kind"].get<std::string>() + " " +
                    s["name"].get<std::string>() + " " + std::to_string(s["start_line"].get<int>()) + "-" +
                    std::to_string(s["end_line"].get<int>()));
    return out;
  }
  std::vector<std::string> usages(const std::string& symbol, const std::string& path = "") {
    json args{{"symbol", symbol}};
    if (!path.empty()) args["path"] = path;
    std::vector<std::string> out;
    auto r = ok("code_usages", args);
    for (auto& u : r["usages"])
      out.push_back(u["path"].get<std::string>() + ":" + std::to_string(u["line"].get<int>()) + ":" +
                    std::to_string(u["column"].get<int>()) + (u["definition"].get<bool>() ? " def" : ""));
    return out;
  }
};

using lines = std::vector<std::string>;

}  // namespace

TEST_CASE("outlines of the fixture files in seven languages are exactly the expected ones") {
  fixture f;
  CHECK(f.outline("c/list.c") == lines{"struct node 3-6", "function push 10-16", "function length 18-22"});
  CHECK(f.outline("cpp/shapes.hh") == lines{"namespace geo 3-22",
                                            "  class Shape 5-9",
                                            "    method ~Shape 7-7",
                                            "    method area 8-8",
                                            "  class Square 11-18",
                                            "    method Square 13-13",
                                            "    method area 14-14",
                                            "  function total_area 20-20"});
  CHECK(f.outline("cpp/shapes.cc") == lines{"namespace geo 3-13", "  method Square::area 5-5", "  function total_area 7-11"});
  CHECK(f.outline("py/inventory.py") == lines{"class Inventory 4-17", "  method __init__ 5-6", "  method add 8-10",
                                              "  method load 13-17", "function total 20-22"});
  CHECK(f.outline("js/cart.js") == lines{"class Cart 1-10", "  method constructor 2-4", "  method add 6-9",
                                         "function total 12-14", "function describe 16-16"});
  CHECK(f.outline("ts/queue.ts") == lines{"interface Job 1-4", "  method run 3-3", "type Priority 6-6",
                                          "class Queue 8-15", "  method push 11-14", "enum State 17-17"});
  CHECK(f.outline("rs/lib.rs") == lines{"struct Counter 1-3", "trait Tick 5-7", "  method tick 6-6",
                                        "impl Counter 9-14", "  method tick 10-13", "function run 16-18",
                                        "module tests 20-23", "  function ticks 22-22"});
  CHECK(f.outline("go/server.go") == lines{"interface Handler 3-5", "  method Serve 4-4", "struct Server 7-9",
                                           "function New 11-13", "method Handle 15-17"});
  // A Go method's container is its receiver's type.
  auto go = f.ok("code_outline", {{"path", "go/server.go"}});
  CHECK(go["symbols"][4]["container"] == "Server");
}

TEST_CASE("usages of a symbol across the workspace are the identifiers, not comments or strings") {
  fixture f;
  // "add" is a method in Python and JavaScript, and a word in a Python comment (not a use).
  CHECK(f.usages("add") == lines{"js/cart.js:6:3 def", "py/inventory.py:8:9 def", "py/inventory.py:16:17"});
  // "count": a C global, Python parameters and loop variables, a Rust field.
  CHECK(f.usages("count") == lines{"c/list.c:8:12", "c/list.c:14:3", "py/inventory.py:8:25", "py/inventory.py:9:54",
                                   "py/inventory.py:15:19", "py/inventory.py:16:27", "rs/lib.rs:2:5",
                                   "rs/lib.rs:11:14", "rs/lib.rs:12:14"});
  // Restricted to a directory, and to a file.
  CHECK(f.usages("count", "rs") == lines{"rs/lib.rs:2:5", "rs/lib.rs:11:14", "rs/lib.rs:12:14"});
  CHECK(f.usages("total_area", "cpp/main.cc") == lines{"cpp/main.cc:6:15"});
  CHECK(f.usages("total_area", "cpp") == lines{"cpp/main.cc:6:15", "cpp/shapes.cc:7:8 def", "cpp/shapes.hh:20:8 def"});
  CHECK(f.usages("no_such_name").empty());
  auto capped = f.ok("code_usages", {{"symbol", "count"}, {"max", 2}});
  CHECK(capped["usages"].size() == 2);
  CHECK(capped["total"] == 9);
}

TEST_CASE("definitions of a symbol across the workspace") {
  fixture f;
  auto d = f.ok("code_definitions", {{"symbol", "total"}});
  REQUIRE(d["definitions"].size() == 2);
  CHECK(d["definitions"][0]["path"] == "js/cart.js");
  CHECK(d["definitions"][0]["start_line"] == 12);
  CHECK(d["definitions"][1]["path"] == "py/inventory.py");
  CHECK(d["definitions"][1]["kind"] == "function");
  // A method's own name finds the out-of-class definition Square::area too.
  auto area = f.ok("code_definitions", {{"symbol", "area"}, {"path", "cpp"}});
  std::vector<std::string> where;
  for (auto& x : area["definitions"]) where.push_back(x["path"].get<std::string>() + ":" + std::to_string(x["start_line"].get<int>()));
  CHECK(where == lines{"cpp/shapes.cc:5", "cpp/shapes.hh:8", "cpp/shapes.hh:14"});
}

TEST_CASE("tree-sitter queries, with predicates, and clear errors for bad ones") {
  fixture f;
  auto q = f.ok("code_query", {{"path", "py/inventory.py"}, {"query", "(function_definition name: (identifier) @fn)"}});
  std::vector<std::string> names;
  for (auto& c : q["captures"]) names.push_back(c["text"].get<std::string>() + "@" + std::to_string(c["start"]["line"].get<int>()));
  CHECK(names == lines{"__init__@5", "add@8", "load@13", "total@20"});
  auto dunder = f.ok("code_query", {{"path", "py/inventory.py"}, {"query", "((identifier) @fn (#match? @fn \"^__\"))"}});
  REQUIRE(dunder["captures"].size() == 1);
  CHECK(dunder["captures"][0]["text"] == "__init__");
  auto eq = f.ok("code_query", {{"path", "py/inventory.py"}, {"query", "((identifier) @x (#eq? @x \"inv\"))"}});
  CHECK(eq["captures"].size() == 5);  // lines 14, 16, 17, 20, 22
  auto bad = f.call("code_query", {{"path", "py/inventory.py"}, {"query", "(no_such_node) @x"}});
  REQUIRE_FALSE(bad);
  CHECK(tool::is(bad.err(), tool::error_code::bad_arguments));
  CHECK(bad.err().message.find("no such node type") != std::string::npos);
  auto syntax = f.call("code_query", {{"path", "py/inventory.py"}, {"query", "((identifier) @x"}});
  REQUIRE_FALSE(syntax);
  CHECK(syntax.err().message.find("syntax error") != std::string::npos);
}

TEST_CASE("syntax errors are reported with their place") {
  fixture f;
  CHECK(f.ok("code_check", {{"path", "c/list.c"}})["errors"].empty());
  std::ofstream(f.ws / "broken.py") << "def f(x):\n    return (x +\n\ndef g():\n    pass\n";
  auto r = f.ok("code_check", {{"path", "broken.py"}});
  REQUIRE_FALSE(r["errors"].empty());
  CHECK(r["errors"][0]["start"]["line"].get<int>() <= 2);
}

TEST_CASE("rename inside one function, and refusals that leave the file untouched") {
  fixture f;
  auto before = slurp(f.ws / "py/inventory.py");
  // 'inv' in load() only: total(inv) keeps its parameter.
  auto r = f.ok("code_rename", {{"path", "py/inventory.py"}, {"symbol", "inv"}, {"new_name", "result"}, {"line", 14}});
  CHECK(r["replacements"] == 3);
  auto after = slurp(f.ws / "py/inventory.py");
  CHECK(after.find("        result = Inventory()\n") != std::string::npos);
  CHECK(after.find("            result.add(name, count)\n") != std::string::npos);
  CHECK(after.find("def total(inv):\n    # add up every count\n    return sum(inv.items.values())") != std::string::npos);
  // A name already used in that scope would merge two names.
  auto taken = f.failed("code_rename", {{"path", "py/inventory.py"}, {"symbol", "name"}, {"new_name", "count"}, {"line", 9}});
  CHECK(taken.find("already names something") != std::string::npos);
  // Not an identifier.
  auto bad = f.failed("code_rename", {{"path", "py/inventory.py"}, {"symbol", "name"}, {"new_name", "1st"}, {"line", 9}});
  CHECK(bad.find("not an identifier") != std::string::npos);
  CHECK(slurp(f.ws / "py/inventory.py") == after);
  (void)before;
}

TEST_CASE("replacing a node: a syntax-breaking edit is refused, a good one written") {
  fixture f;
  auto before = slurp(f.ws / "py/inventory.py");
  auto refused = f.failed("code_replace", {{"path", "py/inventory.py"}, {"symbol", "total"},
                                           {"text", "def total(inv):\n    return sum(inv.items.values()"}});
  CHECK(refused.find("would break the syntax") != std::string::npos);
  CHECK(slurp(f.ws / "py/inventory.py") == before);
  f.ok("code_replace", {{"path", "py/inventory.py"}, {"symbol", "total"},
                        {"text", "def total(inv):\n    return len(inv.items)"}});
  auto after = slurp(f.ws / "py/inventory.py");
  CHECK(after.find("def total(inv):\n    return len(inv.items)\n") != std::string::npos);
  CHECK(after.find("# add up every count") == std::string::npos);
  // A node by position, widened to its statement: the C++ for loop.
  f.ok("code_replace", {{"path", "cpp/shapes.cc"}, {"line", 9}, {"node_type", "for_statement"},
                        {"text", "for (int i = 0; i < n; ++i) {\n    sum += shapes[i]->area();\n  }"}});
  CHECK(slurp(f.ws / "cpp/shapes.cc").find("  for (int i = 0; i < n; ++i) {\n    sum += shapes[i]->area();\n  }\n") != std::string::npos);
  auto broken = f.failed("code_replace", {{"path", "cpp/shapes.cc"}, {"symbol", "total_area"}, {"text", "double total_area( {"}});
  CHECK(broken.find("would break the syntax") != std::string::npos);
}

TEST_CASE("bad input: unsupported language, outside the workspace, binary, huge and deeply nested files") {
  fixture f;
  auto zig = f.call("code_outline", {{"path", "notes.zig"}});
  REQUIRE_FALSE(zig);
  CHECK(tool::is(zig.err(), tool::error_code::bad_arguments));
  CHECK(zig.err().message.find("no grammar for this kind of file") != std::string::npos);
  CHECK(zig.err().message.find("python (.py .pyi)") != std::string::npos);

  auto out = f.call("code_outline", {{"path", "../escape.c"}});
  REQUIRE_FALSE(out);
  CHECK(tool::is(out.err(), tool::error_code::denied));
  fs::create_symlink("/etc", f.ws / "etc");
  auto via_link = f.call("code_usages", {{"symbol", "root"}, {"path", "etc"}});
  REQUIRE_FALSE(via_link);
  CHECK(tool::is(via_link.err(), tool::error_code::denied));

  std::ofstream(f.ws / "blob.c", std::ios::binary) << std::string("int x;\0\0\0\x7f", 11);
  CHECK(f.failed("code_outline", {{"path", "blob.c"}}).find("binary") != std::string::npos);

  {  // 100 MB, sparse
    int fd = ::open((f.ws / "huge.cc").c_str(), O_CREAT | O_WRONLY, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, 100 * 1024 * 1024) == 0);
    ::close(fd);
  }
  CHECK(f.failed("code_outline", {{"path", "huge.cc"}}).find("over the limit") != std::string::npos);
  // A workspace-wide search passes over it (and the binary file) and still answers.
  CHECK(f.usages("total_area", "cpp") == lines{"cpp/main.cc:6:15", "cpp/shapes.cc:7:8 def", "cpp/shapes.hh:20:8 def"});
  CHECK(f.ok("code_usages", {{"symbol", "x"}})["usages"].empty());

  // Nesting 50,000 deep: no recursion to exhaust the stack.
  std::ofstream(f.ws / "deep.py") << "x = " << std::string(50000, '(') << "1" << std::string(50000, ')') << "\n";
  auto deep = f.ok("code_check", {{"path", "deep.py"}});
  CHECK(deep["errors"].empty());
  CHECK(f.ok("code_outline", {{"path", "deep.py"}})["symbols"].empty());

  // An edit through a symlink is refused; the link stays a link, its target untouched.
  fs::create_symlink("py/inventory.py", f.ws / "linked.py");
  auto target = slurp(f.ws / "py/inventory.py");
  auto via = f.failed("code_rename", {{"path", "linked.py"}, {"symbol", "inv"}, {"new_name", "x2"}});
  CHECK(via.find("symbolic link") != std::string::npos);
  CHECK(fs::is_symlink(f.ws / "linked.py"));
  CHECK(slurp(f.ws / "py/inventory.py") == target);
  // Text that is not UTF-8, cut or not, comes back replaced, not as a failure.
  std::ofstream(f.ws / "latin1.py") << "s = '" << std::string(190, 'a') << "\xe9\xe9\xe9\xe9\xe9'\nt = '\xff'\n";
  auto caps = f.ok("code_query", {{"path", "latin1.py"}, {"query", "(string) @s"}});
  CHECK(caps["captures"].size() == 2);
  // A regular expression with nested repetition on a long capture ends (no backtracking blow-up).
  std::ofstream(f.ws / "long.py") << "x = '" << std::string(3000, 'a') << "'\n";
  auto re = f.ok("code_query", {{"path", "long.py"}, {"query", "((string) @s (#match? @s \"(a*)*b\"))"}});
  CHECK(re["captures"].empty());
  auto bad_re = f.call("code_query", {{"path", "long.py"}, {"query", "((string) @s (#match? @s \"(\"))"}});
  REQUIRE_FALSE(bad_re);
  CHECK(bad_re.err().message.find("not a POSIX extended regular expression") != std::string::npos);

  auto missing = f.failed("code_outline", {{"path", "nope.py"}});
  CHECK(missing.find("nope.py") != std::string::npos);
}

TEST_CASE("language detection") {
  CHECK(code::language_for("a/b.cc")->name == "cpp");
  CHECK(code::language_for("x.H") == code::language_for("x.h"));
  CHECK(code::language_for("x.tsx")->name == "tsx");
  CHECK(code::language_for("Makefile") == nullptr);
  CHECK(code::language_for(".bashrc") == nullptr);
}
