#include <doctest/doctest.h>

#include <weft/ipc/address.hh>

using namespace weft::ipc;

TEST_CASE("bus addresses are built one way and read back") {
  CHECK(addr::agent("main") == "agent/main");
  CHECK(addr::agent_mcp("main") == "agent/main/mcp");
  CHECK(addr::tool("web") == "tool/web");
  CHECK(addr::tool("fs", "main") == "tool/fs/main");
  CHECK(addr::tool_method(addr::tool("fs", "main"), "read_file") == "tool/fs/main/read_file");
  CHECK(addr::beneath(addr::tool_method("tool/web", "web_fetch"), "tool/web"));
  CHECK(addr::channel("telegram") == "chan/telegram");
  CHECK(addr::ctl(42) == "ctl/42");
  CHECK(addr::last_segment("tool/fs/main") == "main");
  CHECK(addr::last_segment("llm") == "llm");
  CHECK(addr::beneath("tool/fs/a/read_file", "tool/fs/a"));
  CHECK(addr::beneath("tool/fs/a", "tool/fs/a"));
  CHECK_FALSE(addr::beneath("tool/fs/ab", "tool/fs/a"));
  CHECK_FALSE(addr::beneath("tool/fs", "tool/fs/a"));
}
