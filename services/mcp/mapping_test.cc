// How weft's tools and their results look to MCP clients (services/mcp/mapping.hh), and
// the HTTP token file.
#include <sys/stat.h>

#include <doctest/doctest.h>

#include <weft/http/token.hh>
#include <weft/mcp/jsonrpc.hh>

#include "proto/bus_v1.hh"
#include "services/mcp/mapping.hh"
#include "tests/temp_dir.hh"

using namespace weft;
using namespace weft::mcpsrv;
namespace tool = weft::proto::tool_v1;
namespace bus = weft::proto::bus_v1;

TEST_CASE("tool_entry passes schemas through and repairs bad ones") {
  tool::tool_spec t{"read_file", "Read a file.",
                    R"({"type":"object","properties":{"path":{"type":"string"}},"required":["path"]})", ""};
  auto e = tool_entry(t);
  CHECK(e["name"] == "read_file");
  CHECK(e["description"] == "Read a file.");
  CHECK(e["inputSchema"]["required"][0] == "path");
  CHECK_FALSE(e.contains("outputSchema"));
  t.input_schema = "not json";
  t.output_schema = R"({"type":"object","properties":{"n":{"type":"integer"}}})";
  e = tool_entry(t);
  CHECK(e["inputSchema"] == json{{"type", "object"}});
  CHECK(e["outputSchema"]["properties"]["n"]["type"] == "integer");
  t.input_schema = R"({"properties":{}})";  // no type: MCP needs "object"
  CHECK(tool_entry(t)["inputSchema"]["type"] == "object");
  t.input_schema = "[1,2]";
  CHECK(tool_entry(t)["inputSchema"] == json{{"type", "object"}});
}

TEST_CASE("call_result: text, blocks, structured content, isError") {
  tool::result r;
  r.content = "hello";
  auto j = call_result(r);
  CHECK(j["content"] == json::array({json{{"type", "text"}, {"text", "hello"}}}));
  CHECK(j["isError"] == false);
  CHECK_FALSE(j.contains("structuredContent"));

  r.blocks = R"([{"type":"image","data":"iVBORw0KGgo=","mimeType":"image/png"},{"type":"text","text":"x"}])";
  r.structured = R"({"n":3})";
  r.is_error = true;
  j = call_result(r);
  CHECK(j["content"].size() == 2);
  CHECK(j["content"][0]["type"] == "image");
  CHECK(j["structuredContent"]["n"] == 3);
  CHECK(j["isError"] == true);

  r.blocks = "garbage";  // unusable blocks: the text stands in
  r.structured = "[1]";  // not an object: left out
  j = call_result(r);
  CHECK(j["content"][0]["text"] == "hello");
  CHECK_FALSE(j.contains("structuredContent"));
}

TEST_CASE("call_failure: unknown tool is -32602, everything else a result with isError") {
  auto unknown = call_failure("nope", tool::make(tool::error_code::no_such_tool, "no tool nope"));
  REQUIRE_FALSE(unknown);
  CHECK(mcp::to_error_object(unknown.err()).code == mcp::code::invalid_params);
  CHECK(mcp::to_error_object(unknown.err()).message == "Unknown tool: nope");

  struct row {
    weft::error e;
    std::string needle;
  };
  std::vector<row> rows = {
      {tool::make(tool::error_code::bad_arguments, "path is required"), "Invalid arguments for tool t: path is required"},
      {tool::make(tool::error_code::denied, "outside the workspace"), "refused: outside the workspace"},
      {tool::make(tool::error_code::timeout, "after 5 s"), "timed out"},
      {tool::make(tool::error_code::failed, "disk full"), "failed: disk full"},
      {bus::make(bus::error_code::denied, "mcp.deny"), "not allowed"},
      {bus::make(bus::error_code::timeout, "no answer"), "did not answer in time"},
      {bus::make(bus::error_code::no_such_address, "tool/fs/main"), "not available"},
  };
  for (auto& r : rows) {
    auto j = call_failure("t", r.e);
    REQUIRE(j);
    CHECK((*j)["isError"] == true);
    auto text = (*j)["content"][0]["text"].get<std::string>();
    CHECK_MESSAGE(text.find(r.needle) != std::string::npos, text);
  }
}

TEST_CASE("ensure_token creates a 0600 token once and reads it back") {
  test::temp_dir d;
  auto file = d.path / "mcp" / "http.token";
  auto a = http::ensure_token(file.string());
  REQUIRE(a);
  CHECK(a->size() == 64);
  CHECK(a->find_first_not_of("0123456789abcdef") == std::string::npos);
  struct stat st{};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto b = http::ensure_token(file.string());
  REQUIRE(b);
  CHECK(*a == *b);
}

TEST_CASE("call_meta: the client's _meta goes on to the tool, without the protocol's and weft's own keys") {
  CHECK_FALSE(mcpsrv::call_meta(json{{"name", "t"}}));
  CHECK_FALSE(mcpsrv::call_meta(json{{"_meta", "not an object"}}));
  CHECK_FALSE(mcpsrv::call_meta(json{{"_meta", {{"io.weft/timeoutMs", 5}}}}));
  auto m = mcpsrv::call_meta(json{{"_meta",
                                   {{"progressToken", "p-1"},
                                    {"trace", {{"id", "abc"}}},
                                    {"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                                    {"io.weft/timeoutMs", 5}}}});
  REQUIRE(m);
  CHECK(json::parse(*m) == json{{"progressToken", "p-1"}, {"trace", {{"id", "abc"}}}});
}
