#pragma once
// For tests of a tool family's functions without a bus: calling one of its tool_defs by name.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <weft/toolserver/tool.hh>

namespace weft::test {

/// Runs the tool called `name` of `defs`; a missing one fails the test.
inline result<proto::tool_v1::result> call_tool(const std::vector<tools::tool_def>& defs, const std::string& name,
                                                const tools::json& args, const tools::call_context& ctx) {
  for (auto& d : defs)
    if (d.spec.name == name) return d.run(args, ctx);
  FAIL("no tool " << name);
  return fail(errc::not_found, "no tool");
}

/// A call that must succeed (neither an error reply nor is_error): its structured part.
inline tools::json ok_tool(const std::vector<tools::tool_def>& defs, const std::string& name, const tools::json& args,
                           const tools::call_context& ctx) {
  auto r = call_tool(defs, name, args, ctx);
  REQUIRE_MESSAGE(r, (r ? "" : r.err().message));
  CAPTURE(r->content);
  REQUIRE_MESSAGE(!r->is_error, r->content);
  return tools::json::parse(r->structured);
}

}  // namespace weft::test
