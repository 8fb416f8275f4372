// The cargo tools against real cargo on small crates in a workspace: a compile error, a
// clippy lint and a failing test come back as structured diagnostics and outcomes naming
// the right files, lines and codes; a clean crate reports success; a hanging test is cut by
// the time limit with its process group.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <weft/base/command.hh>

#include "services/tool-cargo/cargo_tools.hh"
#include "tests/temp_dir.hh"

using namespace weft;
namespace cargo = weft::tools::cargo;
namespace tool = weft::proto::tool_v1;
using json = nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

/// A crate `name` in the workspace with `lib` as src/lib.rs.
void make_crate(const fs::path& dir, const std::string& name, const std::string& lib) {
  fs::create_directories(dir / "src");
  std::ofstream(dir / "Cargo.toml") << "[package]\nname = \"" << name
                                     << "\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n";
  std::ofstream(dir / "src" / "lib.rs") << lib;
}

struct fixture {
  weft::test::temp_dir dir{"weft-cargo-tools"};
  fs::path ws = dir.path / "ws";
  tools::workspace w = (fs::create_directories(ws), *tools::workspace::open(ws.string(), "a"));
  cargo::cargo_limits lim;
  std::atomic<bool> flag{false};
  tool::call c{"cargo_check", "{}", "", 0};
  tools::call_context ctx{c, -1, flag};
  fixture() {
    const char* p = std::getenv("PATH");
    lim.path = p ? p : "/usr/bin:/bin";
    if (const char* r = std::getenv("RUSTUP_HOME")) lim.extra_env.push_back(std::string("RUSTUP_HOME=") + r);
    else if (const char* h = std::getenv("HOME"); h && fs::exists(std::string(h) + "/.rustup"))
      lim.extra_env.push_back(std::string("RUSTUP_HOME=") + h + "/.rustup");
  }
  bool have_cargo() {
    if (find_executable("cargo", lim.path)) return true;
    MESSAGE("cargo is not installed: skipped (tools/dev setup installs Debian's)");
    return false;
  }
  json run(const std::string& command, json args) {
    auto r = cargo::run(w, command, args, ctx, lim);
    REQUIRE_MESSAGE(r, (r ? "" : r.err().message));
    CAPTURE(r->content);
    return json::parse(r->structured);
  }
};

const json* find_diag(const json& s, const std::string& code) {
  for (auto& d : s["diagnostics"])
    if (d.value("code", "") == code) return &d;
  return nullptr;
}

}  // namespace

TEST_CASE("cargo_check: a compile error with its file, line and code; a clean crate succeeds") {
  fixture f;
  if (!f.have_cargo()) return;
  make_crate(f.ws / "bad", "bad", "pub fn answer() -> u32 {\n    \"forty-two\"\n}\n");
  auto s = f.run("check", {{"path", "bad"}});
  CHECK(s["success"] == false);
  auto* e = find_diag(s, "E0308");
  REQUIRE_MESSAGE(e, s.dump(1));
  CHECK((*e)["level"] == "error");
  CHECK((*e)["file"] == "src/lib.rs");
  CHECK((*e)["line"] == 2);
  CHECK((*e)["message"] == "mismatched types");
  CHECK(s["errors"].get<int>() >= 1);

  make_crate(f.ws / "good", "good", "pub fn answer() -> u32 {\n    42\n}\n");
  auto g = f.run("check", {{"path", "good"}});
  CHECK(g["success"] == true);
  CHECK(g["diagnostics"].empty());
  // Docs: a broken intra-doc link is a warning with its place; the docs are built.
  make_crate(f.ws / "docs", "docs", "/// See [`Missing`].\npub fn documented() {}\n");
  auto d = f.run("doc", {{"path", "docs"}});
  CHECK(d["success"] == true);
  bool link = false;
  for (auto& x : d["diagnostics"]) link = link || (x["level"] == "warning" && x["file"] == "src/lib.rs" && x["line"] == 1);
  CHECK_MESSAGE(link, d.dump(1));
  CHECK(fs::exists(f.ws / "docs" / "target" / "doc" / "docs" / "index.html"));
}

TEST_CASE("cargo_test and cargo_clippy: outcomes with the failure's output; a lint with its code and suggestion") {
  fixture f;
  if (!f.have_cargo()) return;
  make_crate(f.ws / "t", "t",
             "pub fn double(x: u32) -> u32 {\n    return x * 2;\n}\n\n"
             "#[cfg(test)]\nmod tests {\n    use super::*;\n"
             "    #[test]\n    fn doubles() { assert_eq!(double(2), 4); }\n"
             "    #[test]\n    fn wrong() { assert_eq!(double(2), 5, \"two doubled is not five\"); }\n"
             "    #[test]\n    #[ignore]\n    fn later() {}\n}\n");
  auto s = f.run("test", {{"path", "t"}});
  CHECK(s["success"] == false);
  CHECK(s["tests"]["passed"] == json::array({"tests::doubles"}));
  CHECK(s["tests"]["ignored"] == json::array({"tests::later"}));
  REQUIRE(s["tests"]["failed"].size() == 1);
  CHECK(s["tests"]["failed"][0]["name"] == "tests::wrong");
  CHECK(s["tests"]["failed"][0]["output"].get<std::string>().find("two doubled is not five") != std::string::npos);

  auto lint = cargo::run(f.w, "clippy", {{"path", "t"}}, f.ctx, f.lim);
  REQUIRE(lint);
  auto l = json::parse(lint->structured);
  if (!l["success"] && l["diagnostics"].empty()) {
    MESSAGE("cargo clippy is not installed here: " << lint->content);
    return;
  }
  auto* d = find_diag(l, "clippy::needless_return");
  REQUIRE_MESSAGE(d, l.dump(1));
  CHECK((*d)["level"] == "warning");
  CHECK((*d)["file"] == "src/lib.rs");
  CHECK((*d)["line"] == 2);
  CHECK((*d).contains("replacement"));
}

TEST_CASE("cargo_test that hangs is cut by the time limit; a path outside the workspace is Denied") {
  fixture f;
  if (!f.have_cargo()) return;
  make_crate(f.ws / "h", "h",
             "#[cfg(test)]\nmod tests {\n    #[test]\n    fn forever() { loop { "
             "std::thread::sleep(std::time::Duration::from_secs(1)); } }\n}\n");
  // Build first, so the limit falls on the test, not the compiler.
  f.run("build", {{"path", "h"}});
  auto t0 = std::chrono::steady_clock::now();
  auto r = cargo::run(f.w, "test", {{"path", "h"}, {"timeout_ms", 8000}}, f.ctx, f.lim);
  REQUIRE(r);
  auto s = json::parse(r->structured);
  CHECK(s["timed_out"] == true);
  CHECK(r->is_error);
  CHECK(r->content.find("cargo test did not finish within 8 s") == 0);
  CHECK(std::chrono::steady_clock::now() - t0 < 30s);
  auto out = cargo::run(f.w, "check", {{"path", "../"}}, f.ctx, f.lim);
  REQUIRE_FALSE(out);
  CHECK(tool::is(out.err(), tool::error_code::denied));
}

TEST_CASE("cargo_package: a dry run builds and verifies the .crate; a crate that does not compile says where") {
  fixture f;
  if (!f.have_cargo()) return;
  make_crate(f.ws / "pkg", "pkg", "pub fn answer() -> u32 {\n    42\n}\n");
  auto ok = f.run("package", {{"path", "pkg"}});
  CHECK(ok["success"] == true);
  CHECK(ok["crate"] == "target/package/pkg-0.1.0.crate");
  CHECK(fs::exists(f.ws / "pkg/target/package/pkg-0.1.0.crate"));
  auto summary = ok["summary"].get<std::string>();  // cargo 1.65 (Debian 12) prints none
  CHECK((summary.empty() || summary.find("Packaged") == 0));
  // No description or license: cargo's warning, as a diagnostic without a file.
  bool metadata = false;
  for (auto& d : ok["diagnostics"]) metadata = metadata || (d["level"] == "warning" && d["message"].get<std::string>().find("manifest has no description") != std::string::npos);
  CHECK(metadata);

  make_crate(f.ws / "broken", "broken", "pub fn answer() -> u32 {\n    \"no\"\n}\n");
  auto bad = f.run("package", {{"path", "broken"}});
  CHECK(bad["success"] == false);
  CHECK(bad["crate"] == "");
  bool found = false;
  for (auto& d : bad["diagnostics"])
    found = found || (d["level"] == "error" && d.value("code", "") == "E0308" && d["file"] == "src/lib.rs" && d["line"] == 2);
  CHECK_MESSAGE(found, bad.dump());
}

TEST_CASE("cargo package's human output: headers, locations, the summary; cargo's closing lines dropped") {
  auto r = tools::cargo::parse_package_output(
      "   Packaging x v0.1.0 (/w/x)\n    Packaged 4 files, 1.1KiB (788B compressed)\nwarning: unused variable: `y`\n"
      " --> src/a:b.rs:3:9\n  |\nerror[E0308]: mismatched types\n  --> src/lib.rs:15:20\n"
      "error: could not compile `x` (lib) due to 1 previous error\nerror: failed to verify package tarball\nerrors: 2\n",
      {});
  CHECK(r.summary == "Packaged 4 files, 1.1KiB (788B compressed)");
  REQUIRE(r.diagnostics.size() == 3);
  CHECK(r.diagnostics[0].file == "src/a:b.rs");
  CHECK(r.diagnostics[0].line == 3);
  CHECK(r.diagnostics[0].column == 9);
  CHECK(r.diagnostics[1].code == "E0308");
  CHECK(r.diagnostics[1].line == 15);
  CHECK(r.diagnostics[2].message == "failed to verify package tarball");
  CHECK(r.diagnostics[2].file.empty());
}
