#include <doctest/doctest.h>

#include <weft/plugin/abi.hh>

using namespace weft::plugin;
using abi::external_kind;
using abi::module_interface;

namespace {
manifest one_tool_manifest() {
  manifest m;
  m.tools.push_back({"word_count", "counts", R"({"type":"object"})", "tool_word_count"});
  m.permissions.host_functions = {host_function::log, host_function::result};
  return m;
}

module_interface good_module() {
  module_interface mi;
  mi.imports.push_back({"weft", "log", external_kind::function, abi::signature_of(host_function::log)});
  mi.exports.push_back({"memory", external_kind::memory, {}});
  mi.exports.push_back({"weft_abi_version", external_kind::function, abi::abi_version_signature()});
  mi.exports.push_back({"weft_alloc", external_kind::function, abi::alloc_signature()});
  mi.exports.push_back({"weft_free", external_kind::function, abi::free_signature()});
  mi.exports.push_back({"tool_word_count", external_kind::function, abi::tool_signature()});
  return mi;
}
}  // namespace

TEST_CASE("abi: signatures as the guide writes them") {
  CHECK(abi::to_string(abi::signature_of(host_function::log)) == "(i32, i32, i32) -> i32");
  CHECK(abi::to_string(abi::signature_of(host_function::clock)) == "() -> i64");
  CHECK(abi::to_string(abi::free_signature()) == "(i32, i32) -> ()");
  CHECK(abi::signature_of(host_function::http_fetch).params.size() == 11);
  CHECK(abi::error_name(-2) == "WEFT_E_DENIED");
  CHECK(abi::error_name(-7) == "WEFT_E_LIMIT");
  CHECK_FALSE(abi::error_name(-8));
  CHECK_FALSE(abi::error_name(0));
}

TEST_CASE("abi: check_interface") {
  auto m = one_tool_manifest();
  CHECK(abi::check_interface(good_module(), m).empty());

  SUBCASE("an import outside the fixed list, and a memory import") {
    auto mi = good_module();
    mi.imports.push_back({"weft", "exec", external_kind::function, {}});
    mi.imports.push_back({"weft", "mem", external_kind::memory, {}});
    auto p = abi::check_interface(mi, m);
    REQUIRE(p.size() == 2);
    CHECK(p[0] == "the module imports 'weft.exec', which is not a weft host function");
    CHECK(p[1] == "the module imports a memory 'weft.mem'; a plugin may import only functions");
  }
  SUBCASE("granted narrower than asked") {
    std::vector<host_function> none;
    auto p = abi::check_interface(good_module(), m, none);
    REQUIRE(p.size() == 1);
    CHECK(p[0].find("host function 'log'") != std::string::npos);
  }
  SUBCASE("mistyped and missing exports") {
    auto mi = good_module();
    mi.exports[0].kind = external_kind::function;  // 'memory' as a function
    mi.exports[2].type = abi::tool_signature();    // weft_alloc (i32, i32) -> i32
    mi.exports.pop_back();                         // no tool
    mi.exports.push_back({"_initialize", external_kind::function, abi::alloc_signature()});
    auto p = abi::check_interface(mi, m);
    REQUIRE(p.size() == 4);
    CHECK(p[0] == "export 'memory' is a function, not a memory");
    CHECK(p[1] == "export 'weft_alloc' has type (i32, i32) -> i32; the ABI wants (i32) -> i32");
    CHECK(p[2] == "export '_initialize' has type (i32) -> i32; the ABI wants () -> ()");
    CHECK(p[3] == "the module does not export 'tool_word_count' (the function of tool 'word_count')");
  }
}
