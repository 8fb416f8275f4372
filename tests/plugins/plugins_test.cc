// The example plugins, the SDKs' ABI probes and the hostile set, checked without a plugin
// host: wabt validates each module, libs/plugin parses each manifest, and
// abi::check_interface judges each module's imports and exports (read from the binary).
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <weft/plugin/abi.hh>
#include <weft/plugin/manifest.hh>

#include "tests/temp_dir.hh"
#include "wasm_interface.hh"

namespace fs = std::filesystem;
using namespace weft;
using namespace weft::plugin;

namespace {

/// Runs wasm-validate on `path`: true when wabt accepts the module.
bool wasm_valid(const std::string& path) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // wabt's diagnostics are noise here: the test says what it expected.
    std::freopen("/dev/null", "w", stderr);
    ::execl(WEFT_TEST_WASM_VALIDATE, "wasm-validate", path.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) != 127);
  return WEXITSTATUS(status) == 0;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

bool any_contains(const std::vector<std::string>& v, std::string_view needle) {
  return std::any_of(v.begin(), v.end(), [&](const std::string& s) { return s.find(needle) != std::string::npos; });
}

/// The module's function imports from 'weft', by name.
std::set<std::string> weft_imports(const abi::module_interface& mi) {
  std::set<std::string> names;
  for (const auto& i : mi.imports)
    if (i.module == abi::import_module) names.insert(i.name);
  return names;
}

/// A plugin folder as the host would see it: `<case>.toml` as plugin.toml, the built module
/// as plugin.wasm.
struct hostile_folder {
  weft::test::temp_dir dir{"weft-hostile"};
  std::string wasm;
  explicit hostile_folder(const std::string& name) {
    fs::copy_file(fs::path(WEFT_TEST_PLUGINS_SRC) / "hostile" / (name + ".toml"), dir.path / "plugin.toml");
    wasm = (fs::path(WEFT_TEST_PLUGINS_BUILD) / ("hostile_" + name + ".wasm")).string();
    fs::copy_file(wasm, dir.path / "plugin.wasm");
  }
};

}  // namespace

TEST_CASE("the example plugins: manifests parse, modules validate and keep to the ABI") {
  struct example {
    std::string dir;
    std::vector<std::string> tools;
    std::set<std::string> imports;
  };
  for (const auto& ex : {example{WEFT_TEST_C_WORDCOUNT_DIR, {"word_count", "kv_counter"}, {"log", "result", "kv_get", "kv_put"}},
                         example{WEFT_TEST_RUST_HASH_DIR, {"sha256_hex", "file_sha256"}, {"log", "result", "file_read"}}}) {
    CAPTURE(ex.dir);
    auto m = load_manifest(ex.dir);
    REQUIRE_MESSAGE(m.has_value(), (m ? std::string() : m.err().to_string()));
    CHECK(m->warnings.empty());
    std::vector<std::string> names;
    for (const auto& t : m->tools) names.push_back(t.name);
    CHECK(names == ex.tools);

    std::string wasm = (fs::path(ex.dir) / m->entry).string();
    CHECK(wasm_valid(wasm));
    auto mi = weft::plugin::test::read_wasm_interface_file(wasm);
    REQUIRE_MESSAGE(mi.has_value(), (mi ? std::string() : mi.err().to_string()));
    auto problems = abi::check_interface(*mi, *m);
    CHECK_MESSAGE(problems.empty(), joined(problems));
    // Exactly the host functions it uses, all from 'weft' (check_interface refuses others).
    CHECK(weft_imports(*mi) == ex.imports);
    CHECK(mi->imports.size() == ex.imports.size());

    // The checker can fail on a real module: granted only `result`, the rest are refused.
    std::vector<host_function> only_result{host_function::result};
    auto narrowed = abi::check_interface(*mi, *m, only_result);
    CHECK(narrowed.size() == ex.imports.size() - 1);
    CHECK(any_contains(narrowed, "host function 'log', which its manifest's permissions.host_functions does not grant"));
  }
}

TEST_CASE("the ABI probes: the C header and the Rust crate import every host function with the ABI's type") {
  for (const char* probe : {"abi_probe_c.wasm", "abi_probe_rust.wasm"}) {
    CAPTURE(probe);
    weft::test::temp_dir dir{"weft-probe"};
    fs::copy_file(fs::path(WEFT_TEST_PLUGINS_SRC) / "abi_probe.toml", dir.path / "plugin.toml");
    fs::copy_file(fs::path(WEFT_TEST_PLUGINS_BUILD) / probe, dir.path / "plugin.wasm");
    auto m = load_manifest(dir.path.string());
    REQUIRE_MESSAGE(m.has_value(), (m ? std::string() : m.err().to_string()));
    CHECK(wasm_valid((dir.path / "plugin.wasm").string()));
    auto mi = weft::plugin::test::read_wasm_interface_file((dir.path / "plugin.wasm").string());
    REQUIRE(mi.has_value());
    auto problems = abi::check_interface(*mi, *m);
    CHECK_MESSAGE(problems.empty(), joined(problems));
    CHECK(weft_imports(*mi) == std::set<std::string>(host_function_names.begin(), host_function_names.end()));
  }
}

TEST_CASE("hostile plugins that only running can catch: valid, and loadable as far as the ABI goes") {
  for (const char* name : {"oob_load", "oob_store", "infinite_loop", "memory_grow_4g", "deep_recursion", "huge_result"}) {
    CAPTURE(name);
    hostile_folder f(name);
    auto m = load_manifest(f.dir.path.string());
    REQUIRE_MESSAGE(m.has_value(), (m ? std::string() : m.err().to_string()));
    CHECK(wasm_valid(f.wasm));
    auto mi = weft::plugin::test::read_wasm_interface_file(f.wasm);
    REQUIRE(mi.has_value());
    auto problems = abi::check_interface(*mi, *m);
    CHECK_MESSAGE(problems.empty(), joined(problems));
  }
}

TEST_CASE("hostile plugins refused at load by the ABI check") {
  struct refused {
    const char* name;
    std::vector<std::string> because;
  };
  for (const auto& r : {
           refused{"ungranted_import", {"imports host function 'http_fetch', which its manifest's permissions.host_functions does not grant"}},
           refused{"foreign_import", {"imports 'fd_write' from module 'wasi_snapshot_preview1'",
                                      "imports 'proc_exit' from module 'wasi_snapshot_preview1'",
                                      "imports 'memory' from module 'env'",
                                      "does not export its linear memory as 'memory'"}},
           refused{"wrong_signature", {"imports 'weft.log' as (i32) -> (); the ABI's type is (i32, i32, i32) -> i32"}},
           refused{"lying_export", {"does not export 'tool_absent' (the function of tool 'run')"}},
       }) {
    CAPTURE(r.name);
    hostile_folder f(r.name);
    auto m = load_manifest(f.dir.path.string());
    REQUIRE_MESSAGE(m.has_value(), (m ? std::string() : m.err().to_string()));
    CHECK(wasm_valid(f.wasm));  // valid WebAssembly: only the ABI check catches them
    auto mi = weft::plugin::test::read_wasm_interface_file(f.wasm);
    REQUIRE(mi.has_value());
    auto problems = abi::check_interface(*mi, *m);
    CHECK_MESSAGE(problems.size() == r.because.size(), joined(problems));
    for (const auto& why : r.because) CHECK_MESSAGE(any_contains(problems, why), why, "\n", joined(problems));
  }
}

TEST_CASE("a manifest lying about its entry is refused with the folder") {
  hostile_folder f("lying_entry");
  CHECK(wasm_valid(f.wasm));
  auto m = load_manifest(f.dir.path.string());
  REQUIRE_FALSE(m.has_value());
  CHECK(m.err().message.find("bin/missing.wasm") != std::string::npos);
}

TEST_CASE("modules that are not valid WebAssembly fail validation") {
  hostile_folder types("invalid_types");
  CHECK_FALSE(wasm_valid(types.wasm));

  hostile_folder script("not_wasm");
  CHECK_FALSE(wasm_valid(script.wasm));
  auto mi = weft::plugin::test::read_wasm_interface_file(script.wasm);
  REQUIRE_FALSE(mi.has_value());
  CHECK(mi.err().message.find("not a WebAssembly") != std::string::npos);
}

TEST_CASE("the binary reader refuses truncated modules without reading past them") {
  auto good = weft::plugin::test::read_wasm_interface_file(fs::path(WEFT_TEST_C_WORDCOUNT_DIR) / "c_wordcount.wasm");
  REQUIRE(good.has_value());
  std::vector<std::uint8_t> bytes;
  {
    std::FILE* f = std::fopen((fs::path(WEFT_TEST_C_WORDCOUNT_DIR) / "c_wordcount.wasm").c_str(), "rb");
    REQUIRE(f);
    int c;
    while ((c = std::fgetc(f)) != EOF) bytes.push_back(static_cast<std::uint8_t>(c));
    std::fclose(f);
  }
  // Every prefix that cuts a section is refused (one that ends between sections is a
  // shorter valid listing, so only errors or success are possible, never a crash).
  int refused = 0;
  for (std::size_t n = 0; n < bytes.size(); n += 7) {
    auto r = weft::plugin::test::read_wasm_interface(std::span(bytes.data(), n));
    if (!r.has_value()) ++refused;
  }
  CHECK(refused > 0);
  auto whole = weft::plugin::test::read_wasm_interface(bytes);
  REQUIRE(whole.has_value());
  CHECK(whole->exports.size() == good->exports.size());
}
