#pragma once
/// Where the Claude Code test peer is: $WEFT_MCP_PEERS/node_modules/.bin/claude (tools/dev
/// peers installs it; meson test sets the variable).

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace weft::test {

inline std::string claude_path() {
  const char* peers = std::getenv("WEFT_MCP_PEERS");
  REQUIRE_MESSAGE(peers, "WEFT_MCP_PEERS is not set (meson sets it; run through meson test)");
  auto p = std::string(peers) + "/node_modules/.bin/claude";
  REQUIRE_MESSAGE(std::filesystem::exists(p), ("the Claude Code test peer is not installed at " + p + ": run tools/dev setup"));
  return p;
}

}  // namespace weft::test
