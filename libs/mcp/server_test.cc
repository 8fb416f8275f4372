// The server dispatcher against the 2026-07-28 revision's rules for a request's _meta,
// initialize and missing resources (issue 28, item 6), and what its capabilities promise:
// resource templates, resource subscriptions, list changes, log levels and completions
// (issue 28, item 7). No transport: lines in, lines out.
#include <doctest/doctest.h>

#include <deque>

#include <weft/mcp/server.hh>

using namespace weft::mcp;
using weft::result;

namespace {

const std::string meta_fields =
    R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}})";
const std::string init =
    R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}}})";

/// A server with every handler weft's MCP server has, and what it sent.
struct fixture {
  std::deque<std::string> out;
  std::vector<json> completed_with;  // the params completion/complete got
  server s;

  explicit fixture(server::options o = full()) : s(std::move(o), make_handlers(), [this](std::string x) {
    out.push_back(std::move(x));
  }) {}

  static server::options full() {
    server::options o;
    o.version = "1.2.3";
    o.list_changes = true;
    o.resource_updates = true;
    o.logging = true;
    return o;
  }

  handlers make_handlers() {
    handlers h;
    h.list_tools = [](const json&, reply_fn r) { r(json{{"tools", json::array()}}); };
    h.list_resources = [](const json&, reply_fn r) {
      r(json{{"resources", json::array({json{{"uri", "weft://skills/a"}, {"name", "a"}}})}});
    };
    h.read_resource = [](const json& p, reply_fn r) {
      if (p["uri"] == "weft://skills/a") return r(json{{"contents", json::array()}});
      r(weft::make_error(domain, "ResourceNotFound", "Resource not found: {}", p["uri"].get<std::string>()));
    };
    h.list_prompts = [](const json&, reply_fn r) { r(json{{"prompts", json::array()}}); };
    h.complete = [this](const json& p, reply_fn r) {
      completed_with.push_back(p);
      json values = json::array();
      for (int i = 0; i < 150; ++i) values.push_back("v" + std::to_string(i));
      if (p["argument"]["value"] == "few") values = json::array({"one"});
      r(json{{"completion", {{"values", values}}}});
    };
    return h;
  }

  json ask(const std::string& line) {
    out.clear();
    (void)s.receive(line);
    REQUIRE(out.size() == 1);
    auto j = json::parse(out.front());
    out.clear();
    return j;
  }
  void legacy() {
    (void)ask(init);
    (void)s.receive(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  }
};

std::string modern_request(int id, const std::string& method, const std::string& params_before_meta = "") {
  return fmt::format(R"({{"jsonrpc":"2.0","id":{},"method":"{}","params":{{{}{}}}}})", id, method, params_before_meta,
                     meta_fields);
}

}  // namespace

TEST_CASE("2026-07-28: a request without _meta, or without its protocol version, is -32602 (not -32022)") {
  fixture f;
  // A modern connection (pinned by its discover), then requests missing their fields.
  CHECK(f.ask(modern_request(1, "server/discover"))["result"]["supportedVersions"][0] == "2026-07-28");
  auto none = f.ask(R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})");
  CHECK(none["error"]["code"] == code::invalid_params);
  CHECK(none["error"]["message"].get<std::string>().find("io.modelcontextprotocol/protocolVersion") != std::string::npos);
  auto no_version = f.ask(
      R"({"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{}}}})");
  CHECK(no_version["error"]["code"] == code::invalid_params);
  auto not_a_string = f.ask(
      R"({"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":2026,"io.modelcontextprotocol/clientCapabilities":{}}}})");
  CHECK(not_a_string["error"]["code"] == code::invalid_params);
  // An unsupported version is still -32022, naming what is supported.
  auto other = f.ask(R"({"jsonrpc":"2.0","id":5,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01","io.modelcontextprotocol/clientCapabilities":{}}}})");
  CHECK(other["error"]["code"] == code::unsupported_version);
  CHECK(other["error"]["data"] == json::parse(R"({"supported":["2026-07-28"],"requested":"2099-01-01"})"));

  // server/discover as the opening request, without its fields: refused, nothing pinned.
  fixture g;
  CHECK(g.ask(R"({"jsonrpc":"2.0","id":1,"method":"server/discover"})")["error"]["code"] == code::invalid_params);
  CHECK_FALSE(g.s.era());
}

TEST_CASE("2026-07-28: _meta without clientCapabilities (or not an object) is -32602") {
  fixture f;
  auto no_caps = f.ask(
      R"({"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}})");
  CHECK(no_caps["error"]["code"] == code::invalid_params);
  CHECK(no_caps["error"]["message"].get<std::string>().find("clientCapabilities") != std::string::npos);
  CHECK_FALSE(f.s.era());
  CHECK(f.ask(R"({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":[]}}})")
            ["error"]["code"] == code::invalid_params);
  // {} counts as present.
  CHECK(f.ask(modern_request(3, "tools/list"))["result"]["resultType"] == "complete");
  CHECK(f.s.era() == era::modern);
  CHECK(f.ask(R"({"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}})")
            ["error"]["code"] == code::invalid_params);
}

TEST_CASE("2026-07-28: an initialize of that revision is -32601 (no such method), on a fresh or a modern connection") {
  fixture f;
  auto fresh = f.ask(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{)" + meta_fields + "}}");
  CHECK(fresh["error"]["code"] == code::method_not_found);
  CHECK(fresh["error"]["message"].get<std::string>().find("2025-11-25") != std::string::npos);
  CHECK_FALSE(f.s.era());
  CHECK(opening_era(std::get<request>(*parse(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{)" + meta_fields + "}}"))) ==
        era::modern);
  // A legacy initialize still opens a legacy session on the same connection.
  CHECK(f.ask(init)["result"]["protocolVersion"] == "2025-11-25");

  fixture g;
  (void)g.ask(modern_request(1, "server/discover"));
  CHECK(g.ask(init)["error"]["code"] == code::method_not_found);
  CHECK(g.ask(modern_request(2, "ping"))["error"]["code"] == code::method_not_found);
  CHECK(g.ask(modern_request(3, "logging/setLevel", R"("level":"info",)"))["error"]["code"] == code::method_not_found);
  CHECK(g.ask(modern_request(4, "resources/subscribe", R"("uri":"weft://skills/a",)"))["error"]["code"] ==
        code::method_not_found);
  // An unknown method is -32601 even without its _meta fields.
  CHECK(g.ask(R"({"jsonrpc":"2.0","id":5,"method":"nope"})")["error"]["code"] == code::method_not_found);
}

TEST_CASE("a missing resource: -32602 with data.uri in 2026-07-28, -32002 with data.uri before") {
  fixture m;
  auto modern = m.ask(modern_request(1, "resources/read", R"("uri":"weft://skills/none",)"));
  CHECK(modern["error"]["code"] == code::invalid_params);
  CHECK(modern["error"]["data"] == json{{"uri", "weft://skills/none"}});
  CHECK(modern["error"]["message"] == "Resource not found: weft://skills/none");

  fixture l;
  l.legacy();
  auto legacy = l.ask(R"({"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"weft://skills/none"}})");
  CHECK(legacy["error"]["code"] == code::resource_not_found);
  CHECK(legacy["error"]["data"] == json{{"uri", "weft://skills/none"}});
  CHECK(l.ask(R"({"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"weft://skills/a"}})")["result"]
            .contains("contents"));
}

TEST_CASE("capabilities promise only what is served, per era; resources/templates/list is served") {
  fixture l;
  auto hello = l.ask(init)["result"];
  CHECK(hello["serverInfo"]["version"] == "1.2.3");
  auto& c = hello["capabilities"];
  CHECK(c["tools"]["listChanged"] == true);
  CHECK(c["resources"] == json::parse(R"({"subscribe":true,"listChanged":true})"));
  CHECK(c["prompts"] == json::parse(R"({"listChanged":true})"));
  CHECK(c["completions"] == json::object());
  CHECK(c["logging"] == json::object());
  auto templates = l.ask(R"({"jsonrpc":"2.0","id":1,"method":"resources/templates/list"})");
  CHECK(templates["result"] == json::parse(R"({"resourceTemplates":[]})"));

  fixture m;
  auto disc = m.ask(modern_request(1, "server/discover"))["result"]["capabilities"];
  CHECK_FALSE(disc.contains("logging"));  // 2026-07-28 has no logging/setLevel
  CHECK(disc["resources"]["subscribe"] == true);
  CHECK(m.ask(modern_request(2, "resources/templates/list"))["result"]["ttlMs"] == 0);

  // Nothing promised beyond the handlers and options.
  server::options bare;
  fixture b(bare);
  auto caps = b.ask(init)["result"]["capabilities"];
  CHECK(caps["resources"] == json::object());
  CHECK(caps["prompts"] == json::object());
  CHECK_FALSE(caps.contains("logging"));
  CHECK(b.ask(R"({"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"info"}})")["error"]["code"] ==
        code::method_not_found);
  CHECK(b.ask(R"({"jsonrpc":"2.0","id":2,"method":"resources/subscribe","params":{"uri":"x"}})")["error"]["code"] ==
        code::method_not_found);
  (void)b.s.receive(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  CHECK_FALSE(b.s.notify_list_changed(list_kind::resources));
  CHECK(b.s.notify_list_changed(list_kind::tools));
}

TEST_CASE("logging/setLevel: weft's levels mapped onto MCP's, records at or above the level") {
  fixture f;
  f.legacy();
  CHECK_FALSE(f.s.log(weft::log::level::error, "mcp", "before any level"));  // the client has not asked
  CHECK(f.ask(R"({"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"loud"}})")["error"]["code"] ==
        code::invalid_params);
  CHECK(f.ask(R"({"jsonrpc":"2.0","id":2,"method":"logging/setLevel","params":{"level":"notice"}})")["result"] ==
        json::object());
  CHECK_FALSE(f.s.log(weft::log::level::info, "mcp", "info is below notice"));
  CHECK(f.out.empty());
  CHECK(f.s.log(weft::log::level::warning, "mcp", "Tool read_file timed out"));
  REQUIRE(f.out.size() == 1);
  CHECK(json::parse(f.out.front()) == json::parse(R"({"jsonrpc":"2.0","method":"notifications/message",
      "params":{"level":"warning","logger":"mcp","data":"Tool read_file timed out"}})"));
  f.out.clear();
  (void)f.ask(R"({"jsonrpc":"2.0","id":3,"method":"logging/setLevel","params":{"level":"debug"}})");
  CHECK(f.s.log(weft::log::level::trace, "mcp", "fine detail"));
  CHECK(json::parse(f.out.back())["params"]["level"] == "debug");
  (void)f.ask(R"({"jsonrpc":"2.0","id":4,"method":"logging/setLevel","params":{"level":"critical"}})");
  CHECK_FALSE(f.s.log(weft::log::level::error, "mcp", "error is below critical"));
}

TEST_CASE("completion/complete: params checked, values capped at 100 with hasMore") {
  fixture f;
  f.legacy();
  auto ask = [&](const std::string& params) {
    return f.ask(R"({"jsonrpc":"2.0","id":1,"method":"completion/complete","params":)" + params + "}");
  };
  auto many = ask(R"({"ref":{"type":"ref/prompt","name":"review"},"argument":{"name":"request","value":"v"}})");
  CHECK(many["result"]["completion"]["values"].size() == 100);
  CHECK(many["result"]["completion"]["hasMore"] == true);
  CHECK(many["result"]["completion"]["total"] == 150);
  auto few = ask(R"({"ref":{"type":"ref/resource","uri":"weft://skills/{name}"},"argument":{"name":"name","value":"few"},"context":{"arguments":{"x":"y"}}})");
  CHECK(few["result"]["completion"] == json::parse(R"({"values":["one"]})"));
  CHECK(f.completed_with.back()["ref"]["uri"] == "weft://skills/{name}");
  for (auto bad : {R"({})", R"({"ref":{"type":"ref/prompt"},"argument":{"name":"a","value":""}})",
                   R"({"ref":{"type":"ref/tool","name":"x"},"argument":{"name":"a","value":""}})",
                   R"({"ref":{"type":"ref/prompt","name":"x"}})",
                   R"({"ref":{"type":"ref/prompt","name":"x"},"argument":{"name":"a"}})",
                   R"({"ref":{"type":"ref/prompt","name":"x"},"argument":{"name":"a","value":""},"context":{"arguments":{"k":1}}})"}) {
    CAPTURE(bad);
    CHECK(ask(bad)["error"]["code"] == code::invalid_params);
  }
  CHECK(f.completed_with.size() == 2);
}

TEST_CASE("resources/subscribe and unsubscribe (legacy); list changes of resources and prompts") {
  fixture f;
  f.legacy();
  CHECK_FALSE(f.s.notify_resource_updated("weft://skills/a"));
  CHECK(f.ask(R"({"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{}})")["error"]["code"] ==
        code::invalid_params);
  CHECK(f.ask(R"({"jsonrpc":"2.0","id":2,"method":"resources/subscribe","params":{"uri":"weft://skills/a"}})")["result"] ==
        json::object());
  CHECK(f.s.subscriptions().count("weft://skills/a"));
  CHECK_FALSE(f.s.notify_resource_updated("weft://skills/b"));
  CHECK(f.s.notify_resource_updated("weft://skills/a"));
  REQUIRE(f.out.size() == 1);
  CHECK(json::parse(f.out.front()) == json::parse(R"({"jsonrpc":"2.0","method":"notifications/resources/updated",
      "params":{"uri":"weft://skills/a"}})"));
  f.out.clear();
  (void)f.ask(R"({"jsonrpc":"2.0","id":3,"method":"resources/unsubscribe","params":{"uri":"weft://skills/a"}})");
  CHECK_FALSE(f.s.notify_resource_updated("weft://skills/a"));
  CHECK(f.s.notify_list_changed(list_kind::resources));
  CHECK(f.s.notify_list_changed(list_kind::prompts));
  REQUIRE(f.out.size() == 2);
  CHECK(json::parse(f.out[0])["method"] == "notifications/resources/list_changed");
  CHECK(json::parse(f.out[1])["method"] == "notifications/prompts/list_changed");

  // The limit per session.
  for (std::size_t i = 0; i < server::max_resource_subscriptions; ++i)
    (void)f.ask(fmt::format(R"({{"jsonrpc":"2.0","id":{},"method":"resources/subscribe","params":{{"uri":"u{}"}}}})", 10 + i, i));
  CHECK(f.ask(R"({"jsonrpc":"2.0","id":9,"method":"resources/subscribe","params":{"uri":"one-more"}})")["error"]["code"] ==
        code::invalid_params);
}

TEST_CASE("subscriptions/listen honours resource and prompt list changes and resourceSubscriptions") {
  fixture f;
  (void)f.ask(modern_request(1, "server/discover"));
  auto ack = f.ask(modern_request(
      2, "subscriptions/listen",
      R"("notifications":{"resourcesListChanged":true,"promptsListChanged":true,"resourceSubscriptions":["weft://skills/a"]},)"));
  CHECK(ack["params"]["notifications"] == json::parse(R"({"resourcesListChanged":true,"promptsListChanged":true,
      "resourceSubscriptions":["weft://skills/a"]})"));
  CHECK(f.s.listens() == 1);
  CHECK_FALSE(f.s.notify_tools_changed());  // not asked for
  CHECK(f.s.notify_list_changed(list_kind::prompts));
  CHECK(f.s.notify_resource_updated("weft://skills/a"));
  CHECK_FALSE(f.s.notify_resource_updated("weft://skills/b"));
  REQUIRE(f.out.size() == 2);
  CHECK(json::parse(f.out[0]) == json::parse(R"({"jsonrpc":"2.0","method":"notifications/prompts/list_changed",
      "params":{"_meta":{"io.modelcontextprotocol/subscriptionId":2}}})"));
  CHECK(json::parse(f.out[1]) == json::parse(R"({"jsonrpc":"2.0","method":"notifications/resources/updated",
      "params":{"uri":"weft://skills/a","_meta":{"io.modelcontextprotocol/subscriptionId":2}}})"));
  f.out.clear();
  CHECK(f.ask(modern_request(3, "subscriptions/listen", R"("notifications":{"resourceSubscriptions":"weft://skills/a"},)"))
            ["error"]["code"] == code::invalid_params);

  // A server that does not promise them honours none of these.
  server::options bare;
  fixture b(bare);
  (void)b.s.receive(modern_request(1, "subscriptions/listen",
                                   R"("notifications":{"resourcesListChanged":true,"resourceSubscriptions":["x"]},)"));
  REQUIRE(b.out.size() == 2);  // acknowledged with nothing, and answered at once
  CHECK(json::parse(b.out[0])["params"]["notifications"] == json::object());
  CHECK(json::parse(b.out[1])["id"] == 1);
}

TEST_CASE("a stateless dispatcher serves 2026-07-28 from the first request") {
  server::options o;
  o.stateless = true;
  fixture f(o);
  CHECK(f.s.era() == era::modern);
  CHECK(f.ask(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})")["error"]["code"] == code::invalid_params);
  CHECK(f.ask(init)["error"]["code"] == code::method_not_found);
  CHECK(f.ask(modern_request(2, "tools/list"))["result"]["resultType"] == "complete");
}
