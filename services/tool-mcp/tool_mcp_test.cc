// Unit tests of the MCP client host's pure parts: bus tool names, result mapping, backoff,
// SSE parsing, the child environment and the PATH lookup.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <thread>

#include "services/tool-mcp/mapping.hh"
#include "services/tool-mcp/pidfile.hh"
#include "services/tool-mcp/transport.hh"
#include "tests/temp_dir.hh"

using namespace weft;
using namespace weft::mcp_host;
using json = nlohmann::json;

namespace {

mcp::call_result parse(const json& j) {
  auto r = mcp::parse_call_result(j);
  REQUIRE(r);
  return *r;
}

}  // namespace

TEST_CASE("bus tool names: <server>__<tool>, sanitised, at most 64 with a hash") {
  CHECK(bus_tool_name("everything", "echo") == "everything__echo");
  CHECK(bus_tool_name("everything", "get-sum") == "everything__get-sum");
  CHECK(bus_tool_name("fs", "read.file/v2 x") == "fs__read_file_v2_x");
  CHECK(bus_tool_name("fs", "") == "fs___");
  CHECK(bus_tool_name("fs", "ünï") == "fs____n__");  // every byte outside the set becomes '_'
  std::string long_tool(100, 'a');
  auto n = bus_tool_name("srv", long_tool);
  CHECK(n.size() == 64);
  CHECK(n.starts_with("srv__aaaa"));
  CHECK(n.ends_with("_" + short_hash(long_tool)));
  // Another long name with the same start differs by its hash.
  CHECK(bus_tool_name("srv", long_tool + "b") != n);
  CHECK(bus_tool_name("srv", long_tool) == n);  // stable
  // Two tools sanitised alike: the second gets a hash suffix.
  std::set<std::string> taken{"fs__a_b"};
  auto second = bus_tool_name("fs", "a.b", taken);
  CHECK(second != "fs__a_b");
  CHECK(second == "fs__a_b_" + short_hash("a.b"));
  CHECK(short_hash("") == "811c9dc5");  // FNV-1a offset basis
  for (auto& c : n) CHECK((std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'));
}

TEST_CASE("results: text, image placeholder and blocks, structured, isError, cap") {
  auto text = to_tool_result(parse({{"content", {{{"type", "text"}, {"text", "Echo: hi"}}}}}));
  CHECK(text.content == "Echo: hi");
  CHECK_FALSE(text.is_error);
  CHECK(text.blocks == "");
  CHECK(text.structured == "");

  auto two = to_tool_result(parse({{"content", {{{"type", "text"}, {"text", "a"}}, {{"type", "text"}, {"text", "b"}}}}}));
  CHECK(two.content == "a\nb");

  // 12 base64 chars = 9 bytes
  auto img = to_tool_result(parse({{"content",
                                    {{{"type", "text"}, {"text", "here"}},
                                     {{"type", "image"}, {"data", "AAAAAAAAAAAA"}, {"mimeType", "image/png"}}}}}));
  CHECK(img.content == "here\n[image image/png, 9 bytes]");
  auto blocks = json::parse(img.blocks);
  REQUIRE(blocks.size() == 2);
  CHECK(blocks[1]["type"] == "image");
  CHECK(blocks[1]["data"] == "AAAAAAAAAAAA");

  auto res = to_tool_result(parse({{"content",
                                    {{{"type", "resource"},
                                      {"resource", {{"uri", "file:///a.txt"}, {"mimeType", "text/plain"}, {"text", "hi"}}}},
                                     {{"type", "resource_link"}, {"uri", "file:///b"}, {"name", "b"}},
                                     {{"type", "widget"}}}}}));
  CHECK(res.content == "[resource file:///a.txt text/plain]\nhi\n[resource link file:///b (b)]\n[widget block]");

  auto st = to_tool_result(parse({{"content", {{{"type", "text"}, {"text", "hello\n"}}}},
                                  {"structuredContent", {{"content", "hello\n"}}}}));
  CHECK(json::parse(st.structured) == json{{"content", "hello\n"}});
  CHECK(st.content == "hello\n");
  auto only_structured = to_tool_result(parse({{"content", json::array()}, {"structuredContent", {{"x", 1}}}}));
  CHECK(only_structured.content == R"({"x":1})");

  auto err = to_tool_result(parse({{"content", {{{"type", "text"}, {"text", "MCP error -32602: Tool nope not found"}}}},
                                   {"isError", true}}));
  CHECK(err.is_error);
  CHECK(err.content == "MCP error -32602: Tool nope not found");

  // Over the cap: blocks go first, then structured, then the content is cut on a UTF-8 boundary.
  std::string big(3000, 'x');
  auto capped = to_tool_result(parse({{"content", {{{"type", "text"}, {"text", big}},
                                                   {{"type", "image"}, {"data", big}, {"mimeType", "image/png"}}}},
                                      {"structuredContent", {{"a", big}}}}),
                               4000);
  CHECK(capped.truncated);
  CHECK(capped.blocks == "");
  CHECK(capped.structured == "");
  CHECK(capped.content.size() <= 4000);
  std::string utf8;
  for (int i = 0; i < 2000; ++i) utf8 += "é";
  auto cut = to_tool_result(parse({{"content", {{{"type", "text"}, {"text", utf8}}}}}), 1001);
  CHECK(cut.truncated);
  CHECK(cut.content.size() <= 1001);
  CHECK(cut.content.find("[… result cut at 1001 bytes]") != std::string::npos);
  CHECK(json(cut.content).dump().size() > 0);  // valid UTF-8 (dump throws otherwise)
}

TEST_CASE("JSON-RPC errors become 'MCP error <code>: <message>'") {
  auto e = mcp::from_error_object({-32602, "Tool nope not found", json()}, "call 'tools/call'");
  CHECK(rpc_error_text(e) == "MCP error -32602: Tool nope not found");
  auto odd = mcp::from_error_object({-32099, "custom", json()}, "call 'tools/call'");
  CHECK(rpc_error_text(odd) == "MCP error -32099: custom");
  CHECK(rpc_error_text(error{"weft", "Io", "pipe closed"}) == "pipe closed");
}

TEST_CASE("backoff: full jitter within [0, min(cap, base*2^n)], reset") {
  backoff b;
  std::mt19937_64 rng(42);
  std::vector<std::chrono::milliseconds> ceilings;
  for (int i = 0; i < 12; ++i) {
    auto c = b.ceiling();
    ceilings.push_back(c);
    auto d = b.next(rng);
    CHECK(d.count() >= 0);
    CHECK(d <= c);
  }
  CHECK(ceilings[0].count() == 500);
  CHECK(ceilings[1].count() == 1000);
  CHECK(ceilings[2].count() == 2000);
  CHECK(ceilings[6].count() == 30000);  // 32 s capped
  CHECK(ceilings[11].count() == 30000);
  // Jitter: the delays are not all the ceiling.
  backoff j;
  j.attempt = 10;
  std::set<std::int64_t> seen;
  for (int i = 0; i < 20; ++i) {
    j.attempt = 10;
    seen.insert(j.next(rng).count());
  }
  CHECK(seen.size() > 10);
  b.reset();
  CHECK(b.ceiling().count() == 500);
  // Many attempts never overflow.
  for (int i = 0; i < 1000; ++i) (void)b.next(rng);
  CHECK(b.ceiling().count() == 30000);
}

TEST_CASE("stdio child environment: the entry's env plus PATH and HOME only") {
  service::mcp_server_entry e;
  e.name = "x";
  e.command = "srv";
  e.env = {{"MEMORY_FILE_PATH", "/tmp/g.jsonl"}};
  auto env = child_environment(e, "/home/w/mcp/x");
  CHECK(env == std::vector<std::string>{"MEMORY_FILE_PATH=/tmp/g.jsonl", "PATH=/usr/local/bin:/usr/bin:/bin",
                                        "HOME=/home/w/mcp/x"});
  e.env = {{"PATH", "/opt/node/bin"}, {"HOME", "/srv/h"}};
  CHECK(child_environment(e, "/c") == std::vector<std::string>{"HOME=/srv/h", "PATH=/opt/node/bin"});
  CHECK(find_program("sh", "/nonexistent:/bin:/usr/bin").ends_with("/sh"));
  CHECK(find_program("no-such-program-weft", "/bin:/usr/bin") == "");
  CHECK(find_program("/abs/path", "") == "/abs/path");
  CHECK(find_program("sh", "/nonexistent") == "");
}

TEST_CASE("URLs in logs: no userinfo, query or fragment") {
  CHECK(redact_url("https://user:secret@mcp.example.com:8443/mcp?token=abc#x") == "https://mcp.example.com:8443/mcp");
  CHECK(redact_url("http://127.0.0.1:3001/mcp") == "http://127.0.0.1:3001/mcp");
  CHECK(redact_url("http://h/p@q?k=v") == "http://h/p@q");  // '@' in the path is not userinfo
  CHECK(redact_url("http://a@h") == "http://h");
}

TEST_CASE("stdio: a missing working directory is named as such") {
  service::mcp_server_entry e;
  e.name = "x";
  e.command = "sh";
  auto loop = event_loop::create();
  REQUIRE(loop);
  auto t = start_stdio(**loop, e, "/nonexistent/weft-cwd", {});
  REQUIRE_FALSE(t);
  CHECK(t.err().message == "Failed to start 'sh': working directory '/nonexistent/weft-cwd': No such file or directory");
}

TEST_CASE("pid file: leftover groups are killed, a reused pid is not") {
  weft::test::temp_dir d{"weft-tool-mcp-pids"};
  auto path = d.path.string() + "/tool-mcp.pids";
  auto spawn = [] {
    pid_t p = ::fork();
    if (p == 0) {
      ::setpgid(0, 0);
      ::execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::setpgid(p, p);
    return p;
  };
  pid_t ours = spawn(), other = spawn();
  auto st_ours = process_start_time(ours), st_other = process_start_time(other);
  REQUIRE(st_ours);
  REQUIRE(st_other);
  CHECK_FALSE(process_start_time(-5));
  // `other` is recorded with a different start time: its number was "reused".
  REQUIRE(write_groups(path, {{ours, *st_ours}, {other, *st_other + 1}}));
  {
    std::ifstream f(path);
    std::string text((std::istreambuf_iterator<char>(f)), {});
    CHECK(text == fmt::format("{} {}\n{} {}\n", ours, *st_ours, other, *st_other + 1));
  }
  CHECK(kill_leftover_groups(path) == 1);
  int status = 0;
  REQUIRE(::waitpid(ours, &status, 0) == ours);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  CHECK(::waitpid(other, &status, WNOHANG) == 0);  // still running
  CHECK_FALSE(std::ifstream(path));                // the file is gone
  CHECK(kill_leftover_groups(path) == 0);          // no file: nothing to do
  ::kill(other, SIGKILL);
  ::waitpid(other, nullptr, 0);
}
