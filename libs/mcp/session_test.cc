#include <doctest/doctest.h>

#include <deque>

#include <weft/mcp/client.hh>
#include <weft/mcp/server.hh>

using namespace weft::mcp;
using namespace std::chrono_literals;
using weft::result;
using weft::status;
using clock_type = client::clock;

namespace {

/// A client and a server joined by two in-memory queues; pump() delivers until both are empty.
struct wire_pair {
  std::deque<std::string> to_server, to_client;
  std::vector<std::string> client_sent;  // every line the client sent, in order
  std::vector<tool> catalogue;
  std::size_t page_size = 2;
  std::size_t list_calls = 0;
  std::vector<reply_fn> parked;  // replies a test answers later

  handlers make_handlers() {
    handlers h;
    h.list_tools = [this](const json& p, reply_fn reply) {
      ++list_calls;
      std::size_t start = p.contains("cursor") ? std::stoul(p["cursor"].get<std::string>()) : 0;
      json r = {{"tools", json::array()}};
      for (std::size_t i = start; i < std::min(start + page_size, catalogue.size()); ++i)
        r["tools"].push_back({{"name", catalogue[i].name}, {"inputSchema", catalogue[i].input_schema}});
      if (start + page_size < catalogue.size()) r["nextCursor"] = std::to_string(start + page_size);
      reply(std::move(r));
    };
    h.call_tool = [this](const json& p, reply_fn reply) {
      auto name = p["name"].get<std::string>();
      if (name == "echo") {
        auto msg = p.at("arguments").value("message", "");  // the server supplies {} when absent
        return reply(json{{"content",
                           {{{"type", "text"}, {"text", "Echo: " + msg}},
                            {{"type", "image"}, {"data", "iVBORw0KGgo="}, {"mimeType", "image/png"}},
                            {{"type", "resource"},
                             {"resource", {{"uri", "file:///a.txt"}, {"mimeType", "text/plain"}, {"text", "hi"}}}}}},
                          {"structuredContent", {{"echoed", msg}}}});
      }
      if (name == "broken") return reply(json{{"content", {{{"type", "text"}, {"text", "disk full"}}}}, {"isError", true}});
      if (name == "slow") return parked.push_back(std::move(reply));
      reply(weft::make_error(domain, "InvalidParams", "Tool {} not found", name));
    };
    return h;
  }

  server srv{server::options{.name = "weft-test", .version = "9.9", .instructions = "be nice"}, make_handlers(),
             [this](std::string s) { to_client.push_back(std::move(s)); }};
  client cli{client::options{.timeout = 5s}, [this](std::string s) {
               client_sent.push_back(s);
               to_server.push_back(std::move(s));
             }};

  void pump() {
    while (!to_server.empty() || !to_client.empty()) {
      if (!to_server.empty()) {
        auto line = std::move(to_server.front());
        to_server.pop_front();
        CHECK(srv.receive(line));
      }
      if (!to_client.empty()) {
        auto line = std::move(to_client.front());
        to_client.pop_front();
        CHECK(cli.receive(line));
      }
    }
  }
};

const auto t0 = clock_type::time_point{} + 1h;

/// Feeds `line` to a server and returns the one reply it sent.
json ask(server& s, std::deque<std::string>& out, std::string_view line) {
  (void)s.receive(line);
  REQUIRE(out.size() == 1);
  auto j = json::parse(out.front());
  out.pop_front();
  return j;
}

}  // namespace

TEST_CASE("session: client and server in memory — initialize, paginated list, calls, list_changed, ping") {
  wire_pair l;
  for (int i = 0; i < 5; ++i)
    l.catalogue.push_back(tool{"t" + std::to_string(i), "", "", {{"type", "object"}}, nullptr, nullptr});
  l.catalogue[0].name = "echo";

  std::optional<result<server_hello>> hello;
  l.cli.initialize(t0, [&](result<server_hello> r) { hello = std::move(r); });
  l.pump();
  REQUIRE(hello);
  REQUIRE(*hello);
  CHECK((*hello)->protocol_version == "2025-11-25");
  CHECK((*hello)->name == "weft-test");
  CHECK((*hello)->version == "9.9");
  CHECK((*hello)->instructions == "be nice");
  CHECK((*hello)->capabilities["tools"]["listChanged"] == true);
  CHECK_FALSE((*hello)->capabilities.contains("resources"));
  CHECK(l.cli.ready());
  CHECK(l.srv.initialized());
  CHECK(l.srv.era() == era::legacy);
  REQUIRE(l.client_sent.size() == 2);
  CHECK(json::parse(l.client_sent[1])["method"] == "notifications/initialized");

  std::optional<result<std::vector<tool>>> tools;
  l.cli.list_tools(t0, [&](auto r) { tools = std::move(r); });
  l.pump();
  REQUIRE(tools);
  REQUIRE(*tools);
  REQUIRE((*tools)->size() == 5);
  CHECK((*tools)->at(0).name == "echo");
  CHECK((*tools)->at(4).name == "t4");
  CHECK(l.list_calls == 3);  // pages of 2: cursor "2", then "4"

  std::optional<result<call_result>> call;
  l.cli.call_tool(t0, "echo", {{"message", "hi"}}, [&](auto r) { call = std::move(r); });
  l.pump();
  REQUIRE(call);
  REQUIRE(*call);
  REQUIRE((*call)->content.size() == 3);
  CHECK((*call)->content[0].text == "Echo: hi");
  CHECK((*call)->content[1].type == "image");
  CHECK((*call)->content[1].data == "iVBORw0KGgo=");
  CHECK((*call)->content[1].mime_type == "image/png");
  CHECK((*call)->content[2].uri == "file:///a.txt");
  CHECK((*call)->content[2].text == "hi");
  CHECK((*call)->structured["echoed"] == "hi");
  CHECK_FALSE((*call)->is_error);

  l.cli.call_tool(t0, "broken", nullptr, [&](auto r) { call = std::move(r); });
  l.pump();
  REQUIRE(*call);
  CHECK((*call)->is_error);
  CHECK((*call)->content[0].text == "disk full");

  l.cli.call_tool(t0, "nope", nullptr, [&](auto r) { call = std::move(r); });
  l.pump();
  REQUIRE_FALSE(*call);
  CHECK(call->err().code == "InvalidParams");
  CHECK(call->err().message == "Failed to call 'tools/call': Tool nope not found (code -32602)");

  int changed = 0;
  l.cli.on_tools_changed([&] { ++changed; });
  CHECK(l.srv.notify_tools_changed());
  l.pump();
  CHECK(changed == 1);

  std::optional<status> pong;
  l.cli.ping(t0, [&](status s) { pong = s; });
  l.pump();
  REQUIRE(pong);
  CHECK(*pong);
  CHECK(l.cli.pending() == 0);
  CHECK(l.srv.in_flight() == 0);
}

TEST_CASE("session: version negotiation through the handshake") {
  for (auto [asked, answered] : {std::pair{"2024-11-05", "2024-11-05"}, std::pair{"2025-03-26", "2025-03-26"},
                                 std::pair{"2099-01-01", "2025-11-25"}}) {
    wire_pair l;
    client c{client::options{.protocol_version = asked}, [&](std::string s) { l.to_server.push_back(s); }};
    std::optional<result<server_hello>> hello;
    c.initialize(t0, [&](auto r) { hello = std::move(r); });
    (void)l.srv.receive(l.to_server.front());
    CHECK(c.receive(l.to_client.front()));
    REQUIRE(*hello);
    CHECK((*hello)->protocol_version == answered);
    CHECK(l.srv.protocol_version() == answered);
  }
}

TEST_CASE("client: refuses a server version it does not speak, and requests before initialize") {
  std::vector<std::string> sent;
  client c{client::options{}, [&](std::string s) { sent.push_back(std::move(s)); }};
  std::optional<result<std::vector<tool>>> tools;
  c.list_tools(t0, [&](auto r) { tools = std::move(r); });
  REQUIRE_FALSE(*tools);
  CHECK(tools->err().message.find("not initialized") != std::string::npos);
  CHECK(sent.empty());

  std::optional<result<server_hello>> hello;
  c.initialize(t0, [&](auto r) { hello = std::move(r); });
  CHECK(c.receive(R"({"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"1999-01-01","capabilities":{},"serverInfo":{"name":"old","version":"1"}}})"));
  REQUIRE(hello);
  REQUIRE_FALSE(*hello);
  CHECK(hello->err().code == "UnsupportedProtocolVersion");
  CHECK(sent.size() == 1);  // no notifications/initialized
  CHECK_FALSE(c.ready());
}

TEST_CASE("client: deadlines, late answers, disconnects, server requests and notifications") {
  std::vector<std::string> sent;
  client c{client::options{.timeout = 100ms}, [&](std::string s) { sent.push_back(std::move(s)); }};
  c.initialize(t0, [](auto) {});
  REQUIRE(c.receive(R"({"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{}}})"));
  REQUIRE(c.ready());

  std::optional<status> p1, p2;
  c.ping(t0, [&](status s) { p1 = s; });
  c.ping(t0 + 50ms, [&](status s) { p2 = s; });
  c.expire(t0 + 99ms);
  CHECK_FALSE(p1);
  c.expire(t0 + 100ms);
  REQUIRE(p1);
  REQUIRE_FALSE(*p1);
  CHECK(p1->err().code == "Timeout");
  CHECK_FALSE(p2);
  CHECK(c.pending() == 1);
  CHECK(c.receive(R"({"jsonrpc":"2.0","id":2,"result":{}})"));  // the expired one's late answer: ignored
  CHECK(c.pending() == 1);

  // Server → client requests: ping is answered, the rest are -32601.
  sent.clear();
  CHECK(c.receive(R"({"jsonrpc":"2.0","id":"s1","method":"ping"})"));
  CHECK(c.receive(R"({"jsonrpc":"2.0","id":7,"method":"sampling/createMessage","params":{}})"));
  REQUIRE(sent.size() == 2);
  CHECK(json::parse(sent[0]) == json::parse(R"({"jsonrpc":"2.0","id":"s1","result":{}})"));
  CHECK(json::parse(sent[1])["error"]["code"] == code::method_not_found);
  CHECK(json::parse(sent[1])["id"] == 7);

  std::vector<std::string> notes;
  c.on_notification([&](const notification& n) { notes.push_back(n.method); });
  CHECK(c.receive(R"({"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}})"));
  CHECK(notes == std::vector<std::string>{"notifications/message"});

  CHECK_FALSE(c.receive("{garbage"));
  CHECK(c.pending() == 1);

  c.fail_all(weft::fail(weft::errc::unavailable, "Failed to read MCP stream: server exited"));
  REQUIRE(p2);
  CHECK(p2->err().code == "Unavailable");
  CHECK(c.pending() == 0);
  CHECK_FALSE(c.ready());
}

TEST_CASE("server: protocol faults get the right JSON-RPC errors") {
  std::deque<std::string> out;
  wire_pair l;  // for its handlers
  server s{server::options{}, l.make_handlers(), [&](std::string x) { out.push_back(std::move(x)); }};

  auto parse_err = ask(s, out, "{not json");
  CHECK(parse_err["error"]["code"] == code::parse_error);
  CHECK(parse_err["id"].is_null());
  CHECK(ask(s, out, R"({"jsonrpc":"1.0","id":1,"method":"ping"})")["error"]["code"] == code::invalid_request);
  CHECK(ask(s, out, R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])")["error"]["code"] == code::invalid_request);
  CHECK(ask(s, out, R"({"jsonrpc":"2.0","id":1,"method":"ping"})")["result"] == json::object());
  auto early = ask(s, out, R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})");
  CHECK(early["error"]["code"] == code::invalid_request);
  CHECK(early["id"] == 2);
  CHECK(ask(s, out, R"({"jsonrpc":"2.0","id":3,"method":"initialize","params":{}})")["error"]["code"] == code::invalid_params);
  CHECK_FALSE(s.era());

  auto init = ask(s, out, R"({"jsonrpc":"2.0","id":"i","method":"initialize","params":{"protocolVersion":"2099-01-01","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})");
  CHECK(init["id"] == "i");
  CHECK(init["result"]["protocolVersion"] == "2025-11-25");
  CHECK_FALSE(s.notify_tools_changed());  // not before notifications/initialized
  (void)s.receive(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  CHECK(out.empty());

  CHECK(ask(s, out, R"({"jsonrpc":"2.0","id":4,"method":"initialize","params":{"protocolVersion":"2025-11-25"}})")["error"]["code"] ==
        code::invalid_request);
  auto unknown = ask(s, out, R"({"jsonrpc":"2.0","id":5,"method":"tools/frobnicate"})");
  CHECK(unknown["error"]["code"] == code::method_not_found);
  CHECK(unknown["error"]["message"] == "Method not found: tools/frobnicate");
  CHECK(ask(s, out, R"({"jsonrpc":"2.0","id":6,"method":"resources/list"})")["error"]["code"] == code::method_not_found);
  CHECK(ask(s, out, R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{}})")["error"]["code"] == code::invalid_params);
  CHECK(ask(s, out, R"({"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":1}})")["error"]["code"] == code::invalid_params);
  CHECK(ask(s, out, R"({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo","arguments":[1]}})")["error"]["code"] ==
        code::invalid_params);
  CHECK(ask(s, out, R"({"jsonrpc":"2.0","id":10,"method":"tools/call","params":["echo"]})")["error"]["code"] == code::invalid_params);
  CHECK(ask(s, out, R"({"jsonrpc":"2.0","id":11,"method":"tools/list","params":{"cursor":5}})")["error"]["code"] == code::invalid_params);
  CHECK(ask(s, out, R"({"jsonrpc":"2.0","id":12,"method":"server/discover"})")["error"]["code"] == code::method_not_found);
  CHECK(ask(s, out, R"({"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":"echo"}})")["result"]["content"][0]["text"] ==
        "Echo: ");

  // Responses and unknown notifications from the client need no answer.
  (void)s.receive(R"({"jsonrpc":"2.0","id":99,"result":{}})");
  (void)s.receive(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}})");
  CHECK(out.empty());
  CHECK(s.notify_tools_changed());
  CHECK(json::parse(out.front())["method"] == "notifications/tools/list_changed");
}

TEST_CASE("server: asynchronous replies, the in-flight limit, replies after the server is gone") {
  std::deque<std::string> out;
  wire_pair l;
  auto s = std::make_unique<server>(server::options{.max_in_flight = 2}, l.make_handlers(),
                                    [&](std::string x) { out.push_back(std::move(x)); });
  (void)s->receive(R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18"}})");
  out.clear();
  (void)s->receive(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow"}})");
  (void)s->receive(R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"slow"}})");
  CHECK(out.empty());
  CHECK(s->in_flight() == 2);
  auto refused = ask(*s, out, R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"slow"}})");
  CHECK(refused["error"]["code"] == code::internal_error);
  CHECK(refused["error"]["message"].get<std::string>().find("2 requests already in flight") != std::string::npos);

  REQUIRE(l.parked.size() == 2);
  l.parked[1](json{{"content", json::array()}});
  l.parked[1](json{{"content", json::array()}});  // a second answer is dropped
  REQUIRE(out.size() == 1);
  CHECK(json::parse(out.front())["id"] == 2);
  out.clear();
  CHECK(s->in_flight() == 1);
  l.parked[0](weft::fail(weft::errc::io, "bus down"));
  auto err = json::parse(out.front());
  out.clear();
  CHECK(err["id"] == 1);
  CHECK(err["error"]["code"] == code::internal_error);
  CHECK(err["error"]["message"] == "weft.Io: bus down");

  (void)s->receive(R"({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"slow"}})");
  REQUIRE(l.parked.size() == 3);
  s.reset();
  l.parked[2](json::object());  // no crash, nothing sent
  CHECK(out.empty());
}

TEST_CASE("server: the 2026-07-28 era — discover, _meta, resultType, pinned per connection") {
  std::deque<std::string> out;
  wire_pair l;
  l.catalogue.push_back(tool{"echo", "", "", {{"type", "object"}}, nullptr, nullptr});
  server s{server::options{.name = "weft", .version = "0.1"}, l.make_handlers(),
           [&](std::string x) { out.push_back(std::move(x)); }};

  auto bad = ask(s, out, R"({"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"1900-01-01"}}})");
  CHECK(bad["error"]["code"] == code::unsupported_version);
  CHECK(bad["error"]["data"] == json::parse(R"({"supported":["2026-07-28"],"requested":"1900-01-01"})"));
  CHECK_FALSE(s.era());  // a refused opening pins nothing

  const std::string meta = R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}})";
  auto disc = ask(s, out, R"({"jsonrpc":"2.0","id":"server-discover-probe-1","method":"server/discover","params":{)" + meta + "}}");
  CHECK(disc["id"] == "server-discover-probe-1");
  CHECK(disc["result"]["supportedVersions"] == json::array({"2026-07-28"}));
  CHECK(disc["result"]["capabilities"]["tools"]["listChanged"] == true);
  CHECK(disc["result"]["resultType"] == "complete");
  CHECK(disc["result"]["ttlMs"] == 0);
  CHECK(disc["result"]["cacheScope"] == "private");
  CHECK(disc["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "weft");
  CHECK(s.era() == era::modern);
  CHECK(s.protocol_version() == "2026-07-28");

  auto list = ask(s, out, R"({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{)" + meta + "}}");
  CHECK(list["result"]["tools"][0]["name"] == "echo");
  CHECK(list["result"]["resultType"] == "complete");
  CHECK(list["result"]["cacheScope"] == "private");
  auto call = ask(s, out, R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"message":"m"},)" + meta + "}}");
  CHECK(call["result"]["content"][0]["text"] == "Echo: m");
  CHECK(call["result"]["resultType"] == "complete");
  CHECK_FALSE(call["result"].contains("ttlMs"));

  auto no_meta = ask(s, out, R"({"jsonrpc":"2.0","id":4,"method":"tools/list"})");
  CHECK(no_meta["error"]["code"] == code::invalid_params);  // more in server_test.cc
  CHECK(ask(s, out, R"({"jsonrpc":"2.0","id":5,"method":"ping","params":{)" + meta + "}}")["error"]["code"] ==
        code::method_not_found);
  CHECK(ask(s, out, R"({"jsonrpc":"2.0","id":6,"method":"initialize","params":{"protocolVersion":"2025-11-25",)" + meta + "}}")["error"]["code"] ==
        code::method_not_found);
  CHECK_FALSE(s.notify_tools_changed());
}

TEST_CASE("client: a recorded exchange with @modelcontextprotocol/server-everything (protocols.md §1.3–1.4)") {
  std::vector<std::string> sent;
  client c{client::options{}, [&](std::string s) { sent.push_back(std::move(s)); }};
  int changed = 0;
  c.on_tools_changed([&] { ++changed; });

  std::optional<result<server_hello>> hello;
  c.initialize(t0, [&](auto r) { hello = std::move(r); });
  CHECK(json::parse(sent[0]) == json::parse(
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"weft","version":"0.1"}}})"));
  REQUIRE(c.receive(
      R"({"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25","capabilities":{"tools":{"listChanged":true},"prompts":{"listChanged":true},"resources":{"subscribe":true,"listChanged":true},"logging":{},"completions":{},"tasks":{"list":{},"cancel":{}}},"serverInfo":{"name":"mcp-servers/everything","title":"Everything Reference Server","version":"2.0.0"},"instructions":"Testing and demonstration server for MCP protocol features."}})"));
  REQUIRE(*hello);
  CHECK((*hello)->name == "mcp-servers/everything");
  CHECK((*hello)->title == "Everything Reference Server");
  CHECK((*hello)->capabilities["resources"]["subscribe"] == true);
  CHECK(json::parse(sent[1]) == json::parse(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"));
  // server-everything sends list_changed unsolicited right after notifications/initialized.
  REQUIRE(c.receive(R"({"method":"notifications/tools/list_changed","jsonrpc":"2.0"})"));
  CHECK(changed == 1);

  std::optional<result<std::vector<tool>>> tools;
  c.list_tools(t0, [&](auto r) { tools = std::move(r); });
  CHECK(json::parse(sent[2]) == json::parse(R"({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}})"));
  REQUIRE(c.receive(
      R"({"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"echo","title":"Echo Tool","description":"Echoes back the input string","inputSchema":{"type":"object","properties":{"message":{"type":"string","description":"Message to echo"}},"required":["message"],"$schema":"http://json-schema.org/draft-07/schema#"},"annotations":{"readOnlyHint":true}}]}})"));
  REQUIRE(*tools);
  REQUIRE((*tools)->size() == 1);
  auto& echo = (*tools)->front();
  CHECK(echo.name == "echo");
  CHECK(echo.title == "Echo Tool");
  CHECK(echo.input_schema["required"] == json::array({"message"}));
  CHECK(echo.annotations["readOnlyHint"] == true);
  CHECK(echo.output_schema.is_null());

  std::optional<result<call_result>> call;
  c.call_tool(t0, "echo", {{"message", "hi"}}, [&](auto r) { call = std::move(r); });
  REQUIRE(c.receive(R"({"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"Echo: hi"}]}})"));
  REQUIRE(*call);
  CHECK((*call)->content.at(0).text == "Echo: hi");
  CHECK_FALSE((*call)->is_error);

  // SDK 1.32 reports an unknown tool as a tool failure, not a JSON-RPC error.
  c.call_tool(t0, "nope", {}, [&](auto r) { call = std::move(r); });
  REQUIRE(c.receive(
      R"({"jsonrpc":"2.0","id":4,"result":{"content":[{"type":"text","text":"MCP error -32602: Tool nope not found"}],"isError":true}})"));
  REQUIRE(*call);
  CHECK((*call)->is_error);
  CHECK((*call)->content.at(0).text == "MCP error -32602: Tool nope not found");
  // Other servers answer -32602 instead; both shapes must be handled.
  c.call_tool(t0, "nope", {}, [&](auto r) { call = std::move(r); });
  REQUIRE(c.receive(R"({"jsonrpc":"2.0","id":5,"error":{"code":-32602,"message":"Tool nope not found"}})"));
  REQUIRE_FALSE(*call);
  CHECK(call->err().code == "InvalidParams");

  // server-filesystem/-memory: structuredContent next to content.
  c.call_tool(t0, "read_text_file", {{"path", "/tmp/x"}}, [&](auto r) { call = std::move(r); });
  REQUIRE(c.receive(
      R"({"jsonrpc":"2.0","id":6,"result":{"content":[{"type":"text","text":"hello\n"}],"structuredContent":{"content":"hello\n"}}})"));
  REQUIRE(*call);
  CHECK((*call)->structured["content"] == "hello\n");

  // A legacy server answers the modern probe with -32601 (§1.9).
  std::optional<result<json>> probe;
  c.request(t0, "server/discover", json::object(), [&](auto r) { probe = std::move(r); });
  REQUIRE(c.receive(R"({"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"Method not found"}})"));
  REQUIRE_FALSE(*probe);
  CHECK(probe->err().code == "MethodNotFound");

  // Malformed results are errors, not crashes.
  c.call_tool(t0, "echo", {}, [&](auto r) { call = std::move(r); });
  REQUIRE(c.receive(R"({"jsonrpc":"2.0","id":8,"result":{"content":[{"text":"no type"}]}})"));
  REQUIRE_FALSE(*call);
  c.list_tools(t0, [&](auto r) { tools = std::move(r); });
  REQUIRE(c.receive(R"({"jsonrpc":"2.0","id":9,"result":{"tools":[{"name":"x"}]}})"));
  REQUIRE_FALSE(*tools);
  CHECK(tools->err().message.find("'x' has no object 'inputSchema'") != std::string::npos);
  CHECK(c.pending() == 0);
}

TEST_CASE("client: a cursor loop ends at max_pages") {
  std::vector<std::string> sent;
  client c{client::options{.max_pages = 3}, [&](std::string s) { sent.push_back(std::move(s)); }};
  c.initialize(t0, [](auto) {});
  REQUIRE(c.receive(R"({"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25"}})"));
  std::optional<result<std::vector<tool>>> tools;
  c.list_tools(t0, [&](auto r) { tools = std::move(r); });
  for (int id = 2; !tools; ++id)
    REQUIRE(c.receive(fmt::format(R"({{"jsonrpc":"2.0","id":{},"result":{{"tools":[],"nextCursor":"same"}}}})", id)));
  REQUIRE_FALSE(*tools);
  CHECK(tools->err().message.find("more than 3 pages") != std::string::npos);
  CHECK(json::parse(sent.back())["params"]["cursor"] == "same");
}

TEST_CASE("client: era probe against a legacy, a modern and a silent server") {
  std::vector<std::string> sent;
  client c{client::options{.timeout = 1s}, [&](std::string s) { sent.push_back(std::move(s)); }};
  std::vector<era> seen;
  c.probe_era(t0, [&](era e) { seen.push_back(e); });
  auto probe = json::parse(sent.at(0));
  CHECK(probe["method"] == "server/discover");
  CHECK(probe["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] == "2026-07-28");
  // Our own server answers it as a modern server.
  {
    std::deque<std::string> out;
    server s{server::options{}, handlers{}, [&](std::string x) { out.push_back(std::move(x)); }};
    (void)s.receive(sent[0]);
    REQUIRE(c.receive(out.at(0)));
  }
  c.probe_era(t0, [&](era e) { seen.push_back(e); });
  REQUIRE(c.receive(R"({"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"Method not found"}})"));
  c.probe_era(t0, [&](era e) { seen.push_back(e); });
  REQUIRE(c.receive(R"({"jsonrpc":"2.0","id":3,"error":{"code":-32022,"message":"Unsupported protocol version: 2026-07-28","data":{"supported":["2027-01-01"]}}})"));
  c.probe_era(t0, [&](era e) { seen.push_back(e); });
  c.expire(t0 + 1s);
  CHECK(seen == std::vector<era>{era::modern, era::legacy, era::modern, era::legacy});
  // The probe does not start the session: initialize still works on the same connection.
  std::optional<result<server_hello>> hello;
  c.initialize(t0, [&](auto r) { hello = std::move(r); });
  REQUIRE(c.receive(R"({"jsonrpc":"2.0","id":5,"result":{"protocolVersion":"2025-11-25"}})"));
  REQUIRE(*hello);
}

TEST_CASE("client: cancel drops a request and tells the peer; expiry does too; list_tools' own deadline") {
  std::vector<std::string> sent;
  client c{client::options{.timeout = 1h}, [&](std::string s) { sent.push_back(std::move(s)); }};
  c.initialize(t0, [](auto) {});
  REQUIRE(c.receive(R"({"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{}}})"));
  sent.clear();
  int done = 0;
  auto id = c.call_tool(t0, "slow", json::object(), [&](auto) { ++done; });
  CHECK(id == 2);
  CHECK(c.pending() == 1);
  CHECK(c.cancel(id, "timed out"));
  CHECK(c.pending() == 0);  // the slot is free again
  CHECK(done == 0);
  REQUIRE(sent.size() == 2);
  CHECK(json::parse(sent[1]) == json::parse(R"({"jsonrpc":"2.0","method":"notifications/cancelled",
                                                 "params":{"requestId":2,"reason":"timed out"}})"));
  CHECK_FALSE(c.cancel(id, "again"));  // not pending any more
  CHECK(c.receive(R"({"jsonrpc":"2.0","id":2,"result":{"content":[]}})"));  // late answer: ignored
  CHECK(done == 0);
  // A locally refused request has id 0.
  client idle{client::options{}, [](std::string) {}};
  CHECK(idle.call_tool(t0, "x", json::object(), [&](auto) { ++done; }) == 0);
  CHECK(done == 1);

  // tools/list with its own deadline (not the 1 h of the options); expiry cancels on the wire.
  sent.clear();
  std::optional<result<std::vector<tool>>> tools;
  c.list_tools(t0, [&](auto r) { tools = std::move(r); }, 100ms);
  c.expire(t0 + 99ms);
  CHECK_FALSE(tools);
  c.expire(t0 + 100ms);
  REQUIRE(tools);
  REQUIRE_FALSE(*tools);
  CHECK(tools->err().code == "Timeout");
  CHECK(tools->err().message.find("within 100 ms") != std::string::npos);
  REQUIRE(sent.size() == 2);
  auto n = json::parse(sent[1]);
  CHECK(n["method"] == "notifications/cancelled");
  CHECK(n["params"]["requestId"] == json::parse(sent[0])["id"]);
}

TEST_CASE("client: connect finds a 2026-07-28 server — no handshake, _meta on every request, ping is discover") {
  wire_pair l;
  l.catalogue.push_back(tool{"echo", "", "", {{"type", "object"}}, nullptr, nullptr});
  std::optional<result<server_hello>> hello;
  l.cli.connect(t0, client::mode::automatic, 1s, [&](auto r) { hello = std::move(r); });
  l.pump();
  REQUIRE(hello);
  REQUIRE(*hello);
  CHECK((*hello)->era == era::modern);
  CHECK((*hello)->protocol_version == "2026-07-28");
  CHECK((*hello)->name == "weft-test");
  CHECK((*hello)->version == "9.9");
  CHECK((*hello)->instructions == "be nice");
  CHECK((*hello)->capabilities["tools"]["listChanged"] == true);
  CHECK(l.cli.modern());
  CHECK(l.srv.era() == era::modern);
  REQUIRE(l.client_sent.size() == 1);  // the probe was the whole opening: no initialize
  CHECK(json::parse(l.client_sent[0])["method"] == "server/discover");

  std::optional<result<std::vector<tool>>> tools;
  l.cli.list_tools(t0, [&](auto r) { tools = std::move(r); });
  l.pump();
  REQUIRE(*tools);  // the server refuses requests without the _meta fields (-32602)
  CHECK((*tools)->at(0).name == "echo");
  auto sent = json::parse(l.client_sent.back());
  CHECK(sent["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] == "2026-07-28");
  CHECK(sent["params"]["_meta"]["io.modelcontextprotocol/clientInfo"]["name"] == "weft");
  CHECK(sent["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"] == json::object());

  std::optional<result<call_result>> call;
  l.cli.call_tool(t0, "echo", {{"message", "m"}}, [&](auto r) { call = std::move(r); });
  l.pump();
  REQUIRE(*call);
  CHECK((*call)->content[0].text == "Echo: m");
  CHECK(json::parse(l.client_sent.back())["params"]["arguments"] == json{{"message", "m"}});

  std::optional<status> pong;
  l.cli.ping(t0, [&](status s) { pong = s; });
  l.pump();
  REQUIRE(pong);
  CHECK(*pong);
  CHECK(json::parse(l.client_sent.back())["method"] == "server/discover");
}

TEST_CASE("client: connect falls back to initialize on a legacy server, after an error or a silent probe") {
  for (bool silent : {false, true}) {
    CAPTURE(silent);
    std::vector<std::string> sent;
    client c{client::options{.timeout = 1h}, [&](std::string s) { sent.push_back(std::move(s)); }};
    std::optional<result<server_hello>> hello;
    c.connect(t0, client::mode::automatic, 500ms, [&](auto r) { hello = std::move(r); });
    REQUIRE(sent.size() == 1);
    if (silent) {
      c.expire(t0 + 499ms);
      CHECK(sent.size() == 1);
      c.expire(t0 + 500ms);  // the probe's own short fallback, not the hour of the options
      REQUIRE(sent.size() == 2);  // initialize beside the probe, which stays pending
    } else {
      REQUIRE(c.receive(R"({"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}})"));
      REQUIRE(sent.size() == 2);
    }
    auto init = json::parse(sent.back());
    CHECK(init["method"] == "initialize");
    CHECK_FALSE(init["params"].contains("_meta"));
    CHECK_FALSE(hello);
    REQUIRE(c.receive(fmt::format(R"({{"jsonrpc":"2.0","id":{},"result":{{"protocolVersion":"2025-11-25","serverInfo":{{"name":"old"}}}}}})",
                                  init["id"].get<int>())));
    REQUIRE(hello);
    REQUIRE(*hello);
    CHECK((*hello)->era == era::legacy);
    CHECK((*hello)->name == "old");
    CHECK_FALSE(c.modern());
    CHECK(json::parse(sent.at(init["id"].get<std::size_t>()))["method"] == "notifications/initialized");
    if (silent) {  // the unanswered probe is withdrawn
      CHECK(json::parse(sent.back()) == json::parse(R"({"jsonrpc":"2.0","method":"notifications/cancelled",
          "params":{"requestId":1,"reason":"the server speaks the legacy era"}})"));
    }
    CHECK(c.pending() == 0);
    c.ping(t0, [](status) {});
    CHECK(json::parse(sent.back())["method"] == "ping");
    CHECK_FALSE(json::parse(sent.back()).contains("params"));
  }
}

TEST_CASE("client: a modern server without our version, forced eras, input_required") {
  // -32022: initialize is tried on the same connection; its failure says what discover said.
  std::vector<std::string> sent;
  client c{client::options{}, [&](std::string s) { sent.push_back(std::move(s)); }};
  std::optional<result<server_hello>> hello;
  c.connect(t0, client::mode::automatic, 1s, [&](auto r) { hello = std::move(r); });
  REQUIRE(c.receive(R"({"jsonrpc":"2.0","id":1,"error":{"code":-32022,"message":"Unsupported protocol version: 2026-07-28","data":{"supported":["2027-01-01"]}}})"));
  REQUIRE(json::parse(sent.back())["method"] == "initialize");
  REQUIRE(c.receive(R"({"jsonrpc":"2.0","id":2,"error":{"code":-32600,"message":"no initialize here"}})"));
  REQUIRE(hello);
  REQUIRE_FALSE(*hello);
  CHECK(hello->err().message.find("Unsupported protocol version: 2026-07-28") != std::string::npos);
  CHECK(hello->err().message.find("initialize failed too") != std::string::npos);
  CHECK(hello->err().message.find("no initialize here") != std::string::npos);

  // A discover result that does not offer 2026-07-28, with the era forced to modern: an error.
  sent.clear();
  client m{client::options{}, [&](std::string s) { sent.push_back(std::move(s)); }};
  hello.reset();
  m.connect(t0, client::mode::modern, 1s, [&](auto r) { hello = std::move(r); });
  REQUIRE(m.receive(R"({"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2027-01-01"],"capabilities":{}}})"));
  REQUIRE(hello);
  REQUIRE_FALSE(*hello);
  CHECK(hello->err().message ==
        "Failed to start an MCP session: the server offers protocol version(s) 2027-01-01 through server/discover, not 2026-07-28");
  CHECK(sent.size() == 1);

  // Forced legacy: no probe at all.
  sent.clear();
  client g{client::options{}, [&](std::string s) { sent.push_back(std::move(s)); }};
  g.connect(t0, client::mode::legacy, 1s, [](auto) {});
  CHECK(json::parse(sent.at(0))["method"] == "initialize");

  // MRTR: weft declares no client capabilities, so input_required is an error it can act on.
  sent.clear();
  client x{client::options{}, [&](std::string s) { sent.push_back(std::move(s)); }};
  x.connect(t0, client::mode::automatic, 1s, [](auto) {});
  REQUIRE(x.receive(R"({"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2026-07-28"],"capabilities":{"tools":{}},"resultType":"complete"}})"));
  REQUIRE(x.modern());
  std::optional<result<call_result>> call;
  x.call_tool(t0, "ask", json::object(), [&](auto r) { call = std::move(r); });
  REQUIRE(x.receive(R"({"jsonrpc":"2.0","id":2,"result":{"resultType":"input_required","inputRequests":{"q":{"method":"elicitation/create"}}}})"));
  REQUIRE(call);
  REQUIRE_FALSE(*call);
  CHECK(call->err().message.find("input_required") != std::string::npos);
}

TEST_CASE("server: subscriptions/listen — acknowledged, list_changed tagged with the subscription, cancel, end") {
  std::deque<std::string> out;
  wire_pair l;
  server s{server::options{.name = "weft", .version = "0.1"}, l.make_handlers(),
           [&](std::string x) { out.push_back(std::move(x)); }};
  const std::string meta = R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}})";
  auto bad = ask(s, out, R"({"jsonrpc":"2.0","id":"L0","method":"subscriptions/listen","params":{)" + meta + "}}");
  CHECK(bad["error"]["code"] == code::invalid_params);
  CHECK_FALSE(s.notify_tools_changed());

  auto ack = ask(s, out, R"({"jsonrpc":"2.0","id":"L1","method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true,"promptsListChanged":true},)" + meta + "}}");
  CHECK(ack == json::parse(R"({"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged",
      "params":{"notifications":{"toolsListChanged":true},"_meta":{"io.modelcontextprotocol/subscriptionId":"L1"}}})"));
  CHECK(s.listens() == 1);
  (void)s.receive(R"({"jsonrpc":"2.0","id":7,"method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true},)" + meta + "}}");
  REQUIRE(out.size() == 1);  // the ack; the request itself stays open
  out.clear();
  CHECK(s.notify_tools_changed());
  REQUIRE(out.size() == 2);
  CHECK(json::parse(out[0]) == json::parse(R"({"jsonrpc":"2.0","method":"notifications/tools/list_changed",
      "params":{"_meta":{"io.modelcontextprotocol/subscriptionId":"L1"}}})"));
  CHECK(json::parse(out[1])["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == 7);
  out.clear();

  // Cancelled: that one stops; nothing is answered.
  (void)s.receive(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"L1",)" + meta + "}}");
  CHECK(out.empty());
  CHECK(s.listens() == 1);
  CHECK(s.notify_tools_changed());
  REQUIRE(out.size() == 1);
  CHECK(json::parse(out[0])["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == 7);
  out.clear();

  // Nothing this server can honour: acknowledged with {} and answered at once.
  (void)s.receive(R"({"jsonrpc":"2.0","id":8,"method":"subscriptions/listen","params":{"notifications":{"resourcesListChanged":true},)" + meta + "}}");
  REQUIRE(out.size() == 2);
  CHECK(json::parse(out[0])["params"]["notifications"] == json::object());
  CHECK(json::parse(out[1])["id"] == 8);
  CHECK(json::parse(out[1])["result"]["resultType"] == "complete");
  out.clear();

  // The server goes away: each open subscription gets its final result.
  s.end_listens();
  REQUIRE(out.size() == 1);
  auto fin = json::parse(out[0]);
  CHECK(fin["id"] == 7);
  CHECK(fin["result"]["resultType"] == "complete");
  CHECK(fin["result"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == 7);
  CHECK(fin["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "weft");
  CHECK(s.listens() == 0);
  CHECK_FALSE(s.notify_tools_changed());

  // The limit per connection.
  for (std::size_t i = 0; i < server::max_listens; ++i)
    (void)s.receive(fmt::format(R"({{"jsonrpc":"2.0","id":{},"method":"subscriptions/listen","params":{{"notifications":{{"toolsListChanged":true}},{}}}}})", 100 + i, meta));
  out.clear();
  auto over = ask(s, out, R"({"jsonrpc":"2.0","id":99,"method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true},)" + meta + "}}");
  CHECK(over["error"]["code"] == code::internal_error);
}

TEST_CASE("session: the client listens to our server in the 2026-07-28 era") {
  wire_pair l;
  l.cli.connect(t0, client::mode::automatic, 1s, [](auto) {});
  l.pump();
  REQUIRE(l.cli.modern());
  int changed = 0, ended = 0;
  l.cli.on_tools_changed([&] { ++changed; });
  auto id = l.cli.listen_tools(t0, [&](status) { ++ended; });
  l.pump();
  CHECK(id > 0);
  CHECK(l.srv.listens() == 1);
  CHECK(l.srv.notify_tools_changed());
  l.pump();
  CHECK(changed == 1);
  CHECK(l.cli.cancel(id, "done"));
  l.pump();
  CHECK(l.srv.listens() == 0);
  CHECK(ended == 0);  // cancelled by us: no callback
  l.cli.listen_tools(t0, [&](status s) { ended += s ? 1 : 100; });
  l.pump();
  l.srv.end_listens();
  l.pump();
  CHECK(ended == 1);
  CHECK(l.cli.pending() == 0);
}

TEST_CASE("client: a slow 2026-07-28 server's late discover answer wins over the initialize it refuses") {
  std::vector<std::string> sent;
  client c{client::options{.timeout = 1h}, [&](std::string s) { sent.push_back(std::move(s)); }};
  std::optional<result<server_hello>> hello;
  c.connect(t0, client::mode::automatic, 500ms, [&](auto r) { hello = std::move(r); });
  c.expire(t0 + 600ms);
  REQUIRE(sent.size() == 2);
  CHECK(json::parse(sent[1])["method"] == "initialize");
  // The server pinned the connection to 2026-07-28 with the probe: it refuses initialize
  // first (we wait, the probe is still out), then answers the probe.
  REQUIRE(c.receive(R"({"jsonrpc":"2.0","id":2,"error":{"code":-32022,"message":"Unsupported protocol version: 2025-11-25"}})"));
  CHECK_FALSE(hello);
  REQUIRE(c.receive(R"({"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2026-07-28"],"capabilities":{"tools":{"listChanged":true}},"resultType":"complete"}})"));
  REQUIRE(hello);
  REQUIRE(*hello);
  CHECK((*hello)->era == era::modern);
  CHECK(c.modern());
  CHECK(c.pending() == 0);

  // The other order: the discover answer arrives while initialize is still out — it wins,
  // and initialize's late answer is ignored.
  sent.clear();
  client d{client::options{.timeout = 1h}, [&](std::string s) { sent.push_back(std::move(s)); }};
  hello.reset();
  d.connect(t0, client::mode::automatic, 500ms, [&](auto r) { hello = std::move(r); });
  d.expire(t0 + 600ms);
  REQUIRE(d.receive(R"({"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2026-07-28"],"capabilities":{}}})"));
  REQUIRE(*hello);
  CHECK(d.modern());
  CHECK(d.pending() == 0);
  REQUIRE(d.receive(R"({"jsonrpc":"2.0","id":2,"error":{"code":-32600,"message":"no initialize here"}})"));
  CHECK(d.modern());

  // initialize refused, the probe never answered: the probe gets one more probe_timeout,
  // not its whole request timeout, then initialize's error stands and the probe is cancelled.
  sent.clear();
  client e{client::options{.timeout = 1h}, [&](std::string s) { sent.push_back(std::move(s)); }};
  hello.reset();
  e.connect(t0, client::mode::automatic, 500ms, [&](auto r) { hello = std::move(r); });
  e.expire(t0 + 600ms);
  REQUIRE(e.receive(R"({"jsonrpc":"2.0","id":2,"error":{"code":-32600,"message":"broken"}})"));
  CHECK_FALSE(hello);
  e.expire(t0 + 1000ms);
  CHECK_FALSE(hello);
  e.expire(t0 + 1100ms);
  REQUIRE(hello);
  REQUIRE_FALSE(*hello);
  CHECK(hello->err().message == "Failed to call 'initialize': broken (code -32600)");
  CHECK(e.pending() == 0);
  REQUIRE(sent.size() == 3);
  CHECK(json::parse(sent[2])["method"] == "notifications/cancelled");
  CHECK(json::parse(sent[2])["params"]["requestId"] == 1);

  // fail_all while connecting: done runs once, with the transport's error.
  client f{client::options{.timeout = 1h}, [](std::string) {}};
  int calls = 0;
  f.connect(t0, client::mode::automatic, 500ms, [&](auto r) {
    ++calls;
    CHECK_FALSE(r);
  });
  f.expire(t0 + 600ms);
  f.fail_all(weft::error{"io", "Unavailable", "pipe closed"});
  CHECK(calls == 1);
}

TEST_CASE("client: a -32022 answer to the probe is followed in a version the server lists") {
  // It lists 2026-07-28 (the version it refused: a conformance check, a restart): asked once
  // more with the same _meta, it answers, and the session is modern without any initialize.
  {
    std::vector<std::string> sent;
    client c{client::options{}, [&](std::string s) { sent.push_back(std::move(s)); }};
    std::optional<result<server_hello>> hello;
    c.connect(t0, client::mode::automatic, 1s, [&](auto r) { hello = std::move(r); });
    REQUIRE(c.receive(R"({"jsonrpc":"2.0","id":1,"error":{"code":-32022,"message":"Unsupported protocol version",
        "data":{"supported":["2026-07-28"],"requested":"2026-07-28"}}})"));
    REQUIRE(sent.size() == 2);
    auto again = json::parse(sent[1]);
    CHECK(again["method"] == "server/discover");
    CHECK(again["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] == "2026-07-28");
    CHECK_FALSE(hello);
    REQUIRE(c.receive(fmt::format(R"({{"jsonrpc":"2.0","id":{},"result":{{"supportedVersions":["2026-07-28"],"capabilities":{{}}}}}})",
                                  again["id"].get<int>())));
    REQUIRE(hello);
    REQUIRE(*hello);
    CHECK((*hello)->era == era::modern);
    CHECK(c.modern());
    for (auto& s : sent) CHECK(json::parse(s)["method"] != "initialize");
    // Only once: a server that keeps refusing what it lists is not asked forever.
    sent.clear();
    client d{client::options{}, [&](std::string s) { sent.push_back(std::move(s)); }};
    hello.reset();
    d.connect(t0, client::mode::modern, 1s, [&](auto r) { hello = std::move(r); });
    auto refuse = [&](int id) {
      return fmt::format(R"({{"jsonrpc":"2.0","id":{},"error":{{"code":-32022,"message":"no","data":{{"supported":["2026-07-28"]}}}}}})", id);
    };
    REQUIRE(d.receive(refuse(1)));
    REQUIRE(sent.size() == 2);
    REQUIRE(d.receive(refuse(2)));
    REQUIRE(hello);
    CHECK_FALSE(*hello);
    CHECK(sent.size() == 2);
  }
  // It lists legacy versions only: initialize asks for the newest of them that weft speaks.
  {
    std::vector<std::string> sent;
    client c{client::options{}, [&](std::string s) { sent.push_back(std::move(s)); }};
    std::optional<result<server_hello>> hello;
    c.connect(t0, client::mode::automatic, 1s, [&](auto r) { hello = std::move(r); });
    REQUIRE(c.receive(R"({"jsonrpc":"2.0","id":1,"error":{"code":-32022,"message":"Unsupported protocol version",
        "data":{"supported":["2024-11-05","2025-06-18","1999-01-01"],"requested":"2026-07-28"}}})"));
    REQUIRE(sent.size() == 2);
    auto init = json::parse(sent[1]);
    CHECK(init["method"] == "initialize");
    CHECK(init["params"]["protocolVersion"] == "2025-06-18");
    REQUIRE(c.receive(R"({"jsonrpc":"2.0","id":2,"result":{"protocolVersion":"2025-06-18","serverInfo":{"name":"old"}}})"));
    REQUIRE(hello);
    REQUIRE(*hello);
    CHECK((*hello)->protocol_version == "2025-06-18");
  }
}

TEST_CASE("client: a tool call's _meta goes with it; the protocol's own keys stay the session's") {
  std::vector<std::string> sent;
  client c{client::options{}, [&](std::string s) { sent.push_back(std::move(s)); }};
  c.connect(t0, client::mode::legacy, 1s, [](auto) {});
  REQUIRE(c.receive(R"({"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25"}})"));
  REQUIRE(c.ready());
  c.call_tool(t0, "echo", json::object(), [](auto) {},
              json{{"progressToken", 7}, {"io.weft/callId", "c1"}, {"io.modelcontextprotocol/protocolVersion", "2026-07-28"}});
  auto q = json::parse(sent.back());
  CHECK(q["params"]["_meta"] == json{{"progressToken", 7}, {"io.weft/callId", "c1"}});
  c.call_tool(t0, "echo", json::object(), [](auto) {});
  CHECK_FALSE(json::parse(sent.back())["params"].contains("_meta"));
  // A modern session adds its protocol keys beside the caller's.
  client m{client::options{}, [&](std::string s) { sent.push_back(std::move(s)); }};
  m.connect(t0, client::mode::modern, 1s, [](auto) {});
  REQUIRE(m.receive(R"({"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2026-07-28"],"capabilities":{}}})"));
  m.call_tool(t0, "echo", json::object(), [](auto) {}, json{{"progressToken", "p"}});
  auto mq = json::parse(sent.back());
  CHECK(mq["params"]["_meta"]["progressToken"] == "p");
  CHECK(mq["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] == "2026-07-28");
}

TEST_CASE("client: next_deadline names the probe's fallback and the requests' deadlines") {
  client c{client::options{.timeout = 10s}, [](std::string) {}};
  CHECK_FALSE(c.next_deadline());
  c.connect(t0, client::mode::automatic, 2s, [](auto) {});
  REQUIRE(c.next_deadline());
  CHECK(*c.next_deadline() == t0 + 2s);
  c.expire(t0 + 2s);  // initialize beside the probe
  REQUIRE(c.next_deadline());
  CHECK(*c.next_deadline() == t0 + 10s);
}
