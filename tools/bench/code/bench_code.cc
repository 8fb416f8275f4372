// weft-bench-code [--lines N] [--files F] [--runs R] — the code tools' budgets: the outline of
// one C++ file of N lines (default 5,000: classes with methods, free functions, a namespace),
// and a workspace-wide usage search over F source files (default 1,000, in C++, Python,
// Rust and Go, 100 lines each; the symbol is used in one file in ten), as the tools run
// them (in this process: read, parse, walk), against `grep -rnw` over the same tree for
// scale. Prints p50/p99 of R runs.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "services/tool-code/code_tools.hh"
#include "tools/bench/measure.hh"

using namespace weft;
namespace fs = std::filesystem;

namespace {

/// A C++ file of about `lines` lines.
std::string cpp_file(int lines) {
  std::string out = "#include <string>\n#include <vector>\n\nnamespace bench {\n\n";
  int n = 0;
  while (std::count(out.begin(), out.end(), '\n') < lines - 2) {
    out += fmt::format(
        "class Widget{0} {{\n public:\n  explicit Widget{0}(int v) : value_(v) {{}}\n"
        "  int value() const {{ return value_; }}\n  void set(int v) {{\n    if (v < 0) v = 0;\n    value_ = v;\n  }}\n"
        "  std::string name() const {{ return \"widget{0}\"; }}\n\n private:\n  int value_;\n}};\n\n"
        "int combine{0}(const std::vector<Widget{0}>& ws) {{\n  int sum = 0;\n  for (auto& w : ws) sum += w.value();\n"
        "  return sum * {0};\n}}\n\n",
        n++);
  }
  return out + "}  // namespace bench\n";
}

std::string source(const std::string& lang, int i, bool uses) {
  std::string body;
  std::string use = uses ? "target_symbol" : "other_symbol";
  for (int k = 0; k < 12; ++k) {
    if (lang == "cc")
      body += fmt::format("int f{0}_{1}(int x) {{\n  int y = x * {1};\n  y += {2}(y);\n  if (y > 10) y -= 3;\n  return y;\n}}\n\n",
                          i, k, k == 5 ? use : "helper");
    else if (lang == "py")
      body += fmt::format("def f{0}_{1}(x):\n    y = x * {1}\n    y += {2}(y)\n    if y > 10:\n        y -= 3\n    return y\n\n\n",
                          i, k, k == 5 ? use : "helper");
    else if (lang == "rs")
      body += fmt::format("fn f{0}_{1}(x: i64) -> i64 {{\n    let mut y = x * {1};\n    y += {2}(y);\n    if y > 10 {{ y -= 3; }}\n    y\n}}\n\n",
                          i, k, k == 5 ? use : "helper");
    else
      body += fmt::format("func f{0}_{1}(x int) int {{\n\ty := x * {1}\n\ty += {2}(y)\n\tif y > 10 {{\n\t\ty -= 3\n\t}}\n\treturn y\n}}\n\n",
                          i, k, k == 5 ? use : "helper");
  }
  if (lang == "go") body = "package p\n\n" + body;
  return body;
}

}  // namespace

int main(int argc, char** argv) {
  int lines = 5000, files = 1000, runs = 50;
  for (int i = 1; i < argc; i += 2) {
    std::string a = argv[i];
    if (i + 1 < argc && a == "--lines") lines = std::atoi(argv[i + 1]);
    else if (i + 1 < argc && a == "--files") files = std::atoi(argv[i + 1]);
    else if (i + 1 < argc && a == "--runs") runs = std::atoi(argv[i + 1]);
    else {
      fmt::print(stderr, "usage: weft-bench-code [--lines N] [--files F] [--runs R]\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  char tmpl[] = "/tmp/weft-bench-code-XXXXXX";
  if (!::mkdtemp(tmpl)) return 1;
  fs::path ws = tmpl;
  std::ofstream(ws / "big.cc") << cpp_file(lines);
  const char* langs[] = {"cc", "py", "rs", "go"};
  for (int i = 0; i < files; ++i) {
    auto dir = ws / "src" / fmt::format("m{:02}", i % 50);
    fs::create_directories(dir);
    auto lang = langs[i % 4];
    std::ofstream(dir / fmt::format("f{:04}.{}", i, lang)) << source(lang, i, i % 10 == 3);
  }
  auto w = tools::workspace::open(ws.string(), "bench");
  if (!w) return 1;
  auto defs = tools::code::code_tools(*w, {});
  std::atomic<bool> flag{false};
  proto::tool_v1::call c{"bench", "{}", "", 0};
  tools::call_context ctx{c, -1, flag};
  auto tool = [&](const std::string& name) -> tools::tool_def& {
    for (auto& d : defs)
      if (d.spec.name == name) return d;
    std::exit(1);
  };
  auto& outline = tool("code_outline");
  auto& usages = tool("code_usages");
  nlohmann::json oargs{{"path", "big.cc"}}, uargs{{"symbol", "target_symbol"}}, dargs{{"symbol", "f500_5"}};
  auto o = outline.run(oargs, ctx);
  auto u = usages.run(uargs, ctx);
  if (!o || o->is_error || !u || u->is_error) {
    fmt::print(stderr, "error: {}\n", !o ? o.err().message : !u ? u.err().message : o->is_error ? o->content : u->content);
    return 1;
  }
  auto ostruct = nlohmann::json::parse(o->structured), ustruct = nlohmann::json::parse(u->structured);
  fmt::print("code tools ({} runs each; ms)\n", runs);
  auto row = [&](const std::string& name, bench::figures f) { fmt::print("  {:<58} p50 {:8.2f}   p99 {:8.2f}\n", name, f.p50, f.p99); };
  row(fmt::format("code_outline, C++ file of {} lines ({} entries)", ostruct["lines"].get<int>(), ostruct["total"].get<int>()),
      bench::measure(runs, [&] { (void)outline.run(oargs, ctx); }));
  row(fmt::format("code_usages over {} files ({} uses in {} files)", ustruct["files"].get<int>(), ustruct["total"].get<int>(),
                  files / 10),
      bench::measure(runs, [&] { (void)usages.run(uargs, ctx); }));
  row(fmt::format("code_definitions over {} files", ustruct["files"].get<int>()),
      bench::measure(runs, [&] { (void)tool("code_definitions").run(dargs, ctx); }));
  auto grep = fmt::format("grep -rnw target_symbol '{}/src' > /dev/null", ws.string());
  row("grep -rnw over the same files (process, text only)", bench::measure(runs, [&] { (void)!std::system(grep.c_str()); }));
  fs::remove_all(ws);
  return 0;
}
