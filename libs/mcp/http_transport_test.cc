// The Streamable HTTP server transport as a state machine: every status it answers, the
// Origin and token checks, the session lifecycle, the protocol version header, SSE
// notifications and answers that come later.
#include <doctest/doctest.h>

#include <map>
#include <vector>

#include <weft/mcp/http_server_transport.hh>

using namespace weft::mcp;
using namespace weft::mcp::http;

namespace {

using weft::mcp::http::request;
using weft::mcp::http::response;

const std::string init_body =
    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})";

struct fixture {
  std::map<transport::conn_id, std::vector<response>> answers;
  std::map<transport::conn_id, std::string> written;
  std::vector<transport::conn_id> closed_streams;
  std::vector<reply_fn> parked;
  std::size_t external = 0;
  transport t;
  transport::conn_id next = 1;

  explicit fixture(transport::options o = make_options()) : t(std::move(o)) {
    t.respond = [this](transport::conn_id c, response r) { answers[c].push_back(std::move(r)); };
    t.write = [this](transport::conn_id c, std::string s) { written[c] += s; };
    t.close = [this](transport::conn_id c) { closed_streams.push_back(c); };
    t.external_sessions = [this] { return external; };
    t.make_handlers = [this](const std::string&) {
      handlers h;
      h.list_tools = [](const json&, reply_fn r) { r(json{{"tools", json::array()}}); };
      h.call_tool = [this](const json& p, reply_fn r) {
        if (p["name"] == "slow") return parked.push_back(std::move(r));
        r(json{{"content", {{{"type", "text"}, {"text", "ok"}}}}});
      };
      return h;
    };
  }
  static transport::options make_options() {
    transport::options o;
    o.token = "secret";
    o.max_sessions = 2;
    o.max_body_bytes = 1024;
    return o;
  }

  static request req(std::string method, std::string body = {}, std::map<std::string, std::string> extra = {}) {
    request r;
    r.method = std::move(method);
    r.path = "/mcp";
    r.body = std::move(body);
    r.headers = {{"authorization", "Bearer secret"},
                 {"accept", "application/json, text/event-stream"},
                 {"content-type", "application/json"}};
    for (auto& [k, v] : extra) {
      if (v.empty()) r.headers.erase(k);
      else r.headers[k] = v;
    }
    return r;
  }

  /// Sends and returns the (single, immediate) answer.
  response send(const request& r, transport::conn_id* conn = nullptr) {
    auto c = next++;
    if (conn) *conn = c;
    t.handle(c, r);
    REQUIRE(answers[c].size() == 1);
    return answers[c][0];
  }

  std::string open_session() {
    auto r = send(req("POST", init_body));
    REQUIRE(r.status == 200);
    std::string sid;
    for (auto& [k, v] : r.headers)
      if (k == "Mcp-Session-Id") sid = v;
    REQUIRE(!sid.empty());
    auto n = send(req("POST", R"({"jsonrpc":"2.0","method":"notifications/initialized"})", {{"mcp-session-id", sid}}));
    REQUIRE(n.status == 202);
    return sid;
  }
};

int error_code(const response& r) {
  auto j = json::parse(r.body);
  return j["error"]["code"].get<int>();
}

}  // namespace

TEST_CASE("origin: absent fine, loopback accepted, configured accepted, others refused") {
  CHECK(origin_allowed("http://127.0.0.1", {}));
  CHECK(origin_allowed("http://127.0.0.1:5173", {}));
  CHECK(origin_allowed("https://localhost:8781", {}));
  CHECK(origin_allowed("http://[::1]:3000", {}));
  CHECK(origin_allowed("HTTP://LOCALHOST", {}));
  CHECK_FALSE(origin_allowed("http://evil.example", {}));
  CHECK_FALSE(origin_allowed("http://127.0.0.1.evil.example", {}));
  CHECK_FALSE(origin_allowed("http://localhost:80/x", {}));
  CHECK_FALSE(origin_allowed("http://localhost:", {}));
  CHECK_FALSE(origin_allowed("null", {}));
  CHECK_FALSE(origin_allowed("file://", {}));
  CHECK(origin_allowed("https://ide.example.com", {"https://ide.example.com"}));

  fixture f;
  CHECK(f.send(fixture::req("POST", init_body, {{"origin", "http://evil.example"}})).status == 403);
  CHECK(f.send(fixture::req("POST", init_body, {{"origin", "http://localhost:1234"}})).status == 200);
  CHECK(f.send(fixture::req("POST", init_body)).status == 200);  // no Origin: a non-browser client
}

TEST_CASE("token: missing or wrong is 401 with a JSON-RPC error naming weftctl mcp info") {
  fixture f;
  auto r = f.send(fixture::req("POST", init_body, {{"authorization", ""}}));
  CHECK(r.status == 401);
  CHECK(r.body.find("weftctl mcp info") != std::string::npos);
  CHECK(error_code(r) == code::server_error);
  CHECK(f.send(fixture::req("POST", init_body, {{"authorization", "Bearer secreT"}})).status == 401);
  CHECK(f.send(fixture::req("POST", init_body, {{"authorization", "Bearer secret2"}})).status == 401);
  CHECK(f.send(fixture::req("POST", init_body, {{"authorization", "Basic secret"}})).status == 401);
  CHECK(f.send(fixture::req("POST", init_body, {{"authorization", "bearer secret"}})).status == 200);

  transport::options open;
  fixture g(open);  // no token configured
  CHECK(g.send(fixture::req("POST", init_body, {{"authorization", ""}})).status == 200);
}

TEST_CASE("POST statuses: 404 path, 405 method, 406 accept, 415 type, 413 size, 400 parse and invalid") {
  fixture f;
  auto wrong_path = fixture::req("POST", init_body);
  wrong_path.path = "/other";
  CHECK(f.send(wrong_path).status == 404);
  auto put = f.send(fixture::req("PUT", init_body));
  CHECK(put.status == 405);
  CHECK(f.send(fixture::req("POST", init_body, {{"accept", "application/json"}})).status == 406);
  CHECK(f.send(fixture::req("POST", init_body, {{"accept", "text/event-stream"}})).status == 406);
  CHECK(f.send(fixture::req("POST", init_body, {{"accept", ""}})).status == 406);
  CHECK(f.send(fixture::req("POST", init_body, {{"accept", "*/*"}})).status == 200);
  CHECK(f.send(fixture::req("POST", init_body, {{"content-type", "text/plain"}})).status == 415);
  auto big = f.send(fixture::req("POST", std::string(2000, ' ')));
  CHECK(big.status == 413);
  auto bad = f.send(fixture::req("POST", "{not json"));
  CHECK(bad.status == 400);
  CHECK(error_code(bad) == code::parse_error);
  auto inv = f.send(fixture::req("POST", R"({"jsonrpc":"1.0","id":1,"method":"ping"})"));
  CHECK(inv.status == 400);
  CHECK(error_code(inv) == code::invalid_request);
  CHECK(f.t.sessions() == 1);  // only the */* initialize opened one
}

TEST_CASE("session lifecycle: initialize names it; missing 400, unknown 404, DELETE ends it") {
  fixture f;
  auto sid = f.open_session();
  CHECK(sid.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(f.t.session_version(sid) == "2025-11-25");

  auto list = f.send(fixture::req("POST", R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})", {{"mcp-session-id", sid}}));
  CHECK(list.status == 200);
  CHECK(list.content_type == "application/json");
  CHECK(json::parse(list.body)["id"] == 2);

  auto missing = f.send(fixture::req("POST", R"({"jsonrpc":"2.0","id":3,"method":"tools/list"})"));
  CHECK(missing.status == 400);
  auto unknown =
      f.send(fixture::req("POST", R"({"jsonrpc":"2.0","id":3,"method":"tools/list"})", {{"mcp-session-id", "nope"}}));
  CHECK(unknown.status == 404);
  CHECK(error_code(unknown) == -32001);

  auto unknown_method =
      f.send(fixture::req("POST", R"({"jsonrpc":"2.0","id":4,"method":"nope/nope"})", {{"mcp-session-id", sid}}));
  CHECK(unknown_method.status == 200);  // a JSON-RPC error is still an HTTP 200 answer
  CHECK(error_code(unknown_method) == code::method_not_found);

  CHECK(f.send(fixture::req("DELETE", "", {{"mcp-session-id", sid}})).status == 200);
  CHECK(f.t.sessions() == 0);
  auto after =
      f.send(fixture::req("POST", R"({"jsonrpc":"2.0","id":5,"method":"ping"})", {{"mcp-session-id", sid}}));
  CHECK(after.status == 404);
  CHECK(f.send(fixture::req("DELETE", "", {{"mcp-session-id", sid}})).status == 404);
}

TEST_CASE("a failed initialize opens no session") {
  fixture f;
  auto r = f.send(fixture::req("POST", R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{}})"));
  CHECK(r.status == 200);
  CHECK(error_code(r) == code::invalid_params);
  for (auto& [k, v] : r.headers) CHECK(k != "Mcp-Session-Id");
  CHECK(f.t.sessions() == 0);
}

TEST_CASE("MCP-Protocol-Version: supported accepted, missing means 2025-03-26, unsupported 400") {
  fixture f;
  auto sid = f.open_session();
  auto ping = [&](std::string v) {
    return f.send(fixture::req("POST", R"({"jsonrpc":"2.0","id":7,"method":"ping"})",
                               {{"mcp-session-id", sid}, {"mcp-protocol-version", v}}));
  };
  CHECK(ping("2025-11-25").status == 200);
  CHECK(ping("2025-06-18").status == 200);
  CHECK(ping("").status == 200);
  auto bad = ping("1999-01-01");
  CHECK(bad.status == 400);
  CHECK(bad.body.find("1999-01-01") != std::string::npos);
  CHECK(error_code(bad) == code::server_error);
  CHECK(ping("2025-11-25").status == 200);  // and the session still works
}

TEST_CASE("notifications and responses are 202; requests answered later reach their POST") {
  fixture f;
  auto sid = f.open_session();
  CHECK(f.send(fixture::req("POST", R"({"jsonrpc":"2.0","id":99,"result":{}})", {{"mcp-session-id", sid}})).status ==
        202);
  transport::conn_id c = f.next++;
  f.t.handle(c, fixture::req("POST", R"({"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"slow"}})",
                             {{"mcp-session-id", sid}}));
  CHECK(f.answers[c].empty());
  // Another request in the meantime is answered at once.
  CHECK(f.send(fixture::req("POST", R"({"jsonrpc":"2.0","id":"b","method":"ping"})", {{"mcp-session-id", sid}}))
            .status == 200);
  REQUIRE(f.parked.size() == 1);
  f.parked[0](json{{"content", {{{"type", "text"}, {"text", "late"}}}}});
  REQUIRE(f.answers[c].size() == 1);
  CHECK(json::parse(f.answers[c][0].body)["id"] == "a");
  CHECK(f.answers[c][0].body.find("late") != std::string::npos);

  // A connection that went away: its late answer is dropped.
  transport::conn_id gone = f.next++;
  f.t.handle(gone, fixture::req("POST", R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"slow"}})",
                                {{"mcp-session-id", sid}}));
  f.t.closed(gone);
  f.parked[1](json{{"content", json::array()}});
  CHECK(f.answers[gone].empty());
}

TEST_CASE("GET opens the session's SSE stream; list_changed goes there; DELETE closes it") {
  fixture f;
  auto sid = f.open_session();
  CHECK(f.send(fixture::req("GET", "", {{"accept", "application/json"}, {"mcp-session-id", sid}})).status == 406);
  CHECK(f.send(fixture::req("GET", "", {{"accept", "text/event-stream"}})).status == 400);
  transport::conn_id s = 0;
  auto r = f.send(fixture::req("GET", "", {{"accept", "text/event-stream"}, {"mcp-session-id", sid}}), &s);
  CHECK(r.status == 200);
  CHECK(r.stream);
  CHECK(f.send(fixture::req("GET", "", {{"accept", "text/event-stream"}, {"mcp-session-id", sid}})).status == 409);
  CHECK(f.t.notify_tools_changed() == 1);
  CHECK(f.written[s].find("notifications/tools/list_changed") != std::string::npos);
  CHECK(f.written[s].find("event: message\n") != std::string::npos);
  CHECK(f.send(fixture::req("DELETE", "", {{"mcp-session-id", sid}})).status == 200);
  CHECK(f.closed_streams == std::vector<transport::conn_id>{s});
  CHECK(f.t.notify_tools_changed() == 0);
}

TEST_CASE("a closed stream can be reopened") {
  fixture f;
  auto sid = f.open_session();
  transport::conn_id s = 0;
  f.send(fixture::req("GET", "", {{"accept", "text/event-stream"}, {"mcp-session-id", sid}}), &s);
  f.t.closed(s);
  CHECK(f.send(fixture::req("GET", "", {{"accept", "text/event-stream"}, {"mcp-session-id", sid}})).status == 200);
}

TEST_CASE("the session limit: idle sessions make room, busy ones do not; stdio sessions count") {
  fixture f;  // max 2
  auto a = f.open_session();
  auto b = f.open_session();
  auto c = f.open_session();  // a was the least recently used: ended
  CHECK_FALSE(f.t.has_session(a));
  CHECK(f.t.has_session(b));
  CHECK(f.t.has_session(c));
  // Both remaining sessions busy (a stream each): no room.
  f.send(fixture::req("GET", "", {{"accept", "text/event-stream"}, {"mcp-session-id", b}}));
  f.send(fixture::req("GET", "", {{"accept", "text/event-stream"}, {"mcp-session-id", c}}));
  auto full = f.send(fixture::req("POST", init_body));
  CHECK(full.status == 503);
  CHECK(f.t.sessions() == 2);

  fixture g;
  g.external = 2;  // two stdio sessions: HTTP has no room at all
  CHECK(g.send(fixture::req("POST", init_body)).status == 503);
}

TEST_CASE("a stateless 2026-07-28 request is served without a session; its headers must repeat the body") {
  fixture f;
  const std::string meta = R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}})";
  auto modern = [](std::string method, std::string name = {}) {
    std::map<std::string, std::string> h{{"mcp-protocol-version", "2026-07-28"}, {"mcp-method", std::move(method)}};
    if (!name.empty()) h["mcp-name"] = std::move(name);
    return h;
  };
  auto r = f.send(fixture::req("POST", R"({"jsonrpc":"2.0","id":1,"method":"server/discover","params":{)" + meta + "}}",
                               modern("server/discover")));
  CHECK(r.status == 200);
  auto j = json::parse(r.body);
  CHECK(j["result"]["supportedVersions"][0] == "2026-07-28");
  CHECK(f.t.sessions() == 0);

  auto call = R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo",)" + meta + "}}";
  CHECK(f.send(fixture::req("POST", call, modern("tools/call", "echo"))).status == 200);
  auto mismatch = [&](std::map<std::string, std::string> h, const std::string& says) {
    auto x = f.send(fixture::req("POST", call, h));
    CHECK(x.status == 400);
    auto e = json::parse(x.body);
    CHECK(e["error"]["code"] == code::header_mismatch);
    CHECK(e["id"] == 2);
    CHECK_MESSAGE(e["error"]["message"].get<std::string>().find(says) != std::string::npos, e.dump());
  };
  mismatch({{"mcp-method", "tools/call"}, {"mcp-name", "echo"}},
           "the body names protocol version 2026-07-28 but the MCP-Protocol-Version header is absent");
  mismatch({{"mcp-protocol-version", "2025-11-25"}, {"mcp-method", "tools/call"}, {"mcp-name", "echo"}},
           "but the MCP-Protocol-Version header names 2025-11-25");
  mismatch(modern("", "echo"), "the body names method tools/call but the Mcp-Method header is absent");
  mismatch(modern("tools/list", "echo"), "but the Mcp-Method header names tools/list");
  mismatch(modern("tools/call"), "the body names params.name \"echo\" but the Mcp-Name header is absent");
  mismatch(modern("tools/call", "other"), "but the Mcp-Name header names other");
  // A name HTTP cannot carry as it is comes base64-encoded; it must decode to the body's.
  CHECK(f.send(fixture::req("POST", call, modern("tools/call", "=?base64?ZWNobw==?="))).status == 200);
  mismatch(modern("tools/call", "=?base64?b3RoZXI=?="), "but the Mcp-Name header names =?base64?b3RoZXI=?=");
  mismatch(modern("tools/call", "=?base64?ZWNob?="), "claims base64 (=?base64?…?=) but is not canonical base64");
  auto odd = R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"échο",)" + meta + "}}";
  CHECK(f.send(fixture::req("POST", odd, modern("tools/call", encode_header_value("échο")))).status == 200);

  // Unknown methods are 404, version errors 400, a tool's error travels in a 200.
  auto unknown = f.send(fixture::req("POST", R"({"jsonrpc":"2.0","id":3,"method":"foo/bar","params":{)" + meta + "}}", modern("foo/bar")));
  CHECK(unknown.status == 404);
  CHECK(error_code(unknown) == code::method_not_found);
  auto version = f.send(fixture::req(
      "POST", R"({"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01"}}})",
      {{"mcp-protocol-version", "2099-01-01"}, {"mcp-method", "tools/list"}}));
  CHECK(version.status == 400);
  CHECK(error_code(version) == code::unsupported_version);
  // A stateless notification is accepted (cancellation is the closing of the request's stream).
  CHECK(f.send(fixture::req("POST", R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9,)" + meta + "}}",
                            {{"mcp-protocol-version", "2026-07-28"}})).status == 202);
}

TEST_CASE("subscriptions/listen over HTTP: the POST becomes an event stream for list_changed until it closes") {
  fixture f;  // max_sessions 2: also the most listen streams
  const std::string meta = R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}})";
  auto listen = [&](int id) {
    return fixture::req("POST",
                        fmt::format(R"({{"jsonrpc":"2.0","id":{},"method":"subscriptions/listen","params":{{"notifications":{{"toolsListChanged":true}},{}}}}})", id, meta),
                        {{"mcp-protocol-version", "2026-07-28"}, {"mcp-method", "subscriptions/listen"}});
  };
  transport::conn_id a = 0, b = 0;
  auto ra = f.send(listen(1), &a);
  CHECK(ra.status == 200);
  CHECK(ra.stream);
  CHECK(ra.content_type == "text/event-stream");
  CHECK(f.written[a].find(R"("method":"notifications/subscriptions/acknowledged")") != std::string::npos);
  CHECK(f.send(listen(2), &b).stream);
  CHECK(f.t.listen_streams() == 2);
  CHECK(f.send(listen(3)).status == 503);
  CHECK(f.t.sessions() == 0);  // subscriptions are no sessions

  // Another request in between does not disturb them (stateless dispatchers are cleaned up).
  CHECK(f.send(fixture::req("POST", R"({"jsonrpc":"2.0","id":5,"method":"tools/list","params":{)" + meta + "}}",
                            {{"mcp-protocol-version", "2026-07-28"}, {"mcp-method", "tools/list"}})).status == 200);
  f.written.clear();
  CHECK(f.t.notify_tools_changed() == 2);
  CHECK(f.written[a].find(R"("method":"notifications/tools/list_changed")") != std::string::npos);
  CHECK(f.written[a].find(R"("io.modelcontextprotocol/subscriptionId":1)") != std::string::npos);
  CHECK(f.written[b].find(R"("io.modelcontextprotocol/subscriptionId":2)") != std::string::npos);

  // The client closes one; the server ends the other (shutdown) with its final result.
  f.t.closed(a);
  CHECK(f.t.listen_streams() == 1);
  f.written.clear();
  CHECK(f.t.notify_tools_changed() == 1);
  CHECK(f.written.count(a) == 0);
  f.written.clear();
  f.t.end_listens();
  CHECK(f.written[b].find(R"({"id":2,"jsonrpc":"2.0","result":{)") != std::string::npos);
  CHECK(f.written[b].find(R"("resultType":"complete")") != std::string::npos);
  CHECK(f.closed_streams == std::vector<transport::conn_id>{b});
  CHECK(f.t.listen_streams() == 0);
  CHECK(f.t.notify_tools_changed() == 0);

  // A listen that asks for nothing this server offers: acknowledged with {}, answered, closed.
  transport::conn_id n = 0;
  f.written.clear();
  auto none = f.send(fixture::req("POST",
                                  R"({"jsonrpc":"2.0","id":6,"method":"subscriptions/listen","params":{"notifications":{},)" + meta + "}}",
                                  {{"mcp-protocol-version", "2026-07-28"}, {"mcp-method", "subscriptions/listen"}}), &n);
  CHECK(none.stream);
  CHECK(f.written[n].find(R"("notifications":{})") != std::string::npos);
  CHECK(f.written[n].find(R"({"id":6,"jsonrpc":"2.0","result":{)") != std::string::npos);
  CHECK(f.closed_streams.back() == n);
  CHECK(f.t.listen_streams() == 0);
}

TEST_CASE("2026-07-28 over HTTP: _meta without its fields is 400 with -32602; an initialize of that revision 404 with -32601") {
  fixture f;
  auto h = [](std::string method) {
    return std::map<std::string, std::string>{{"mcp-protocol-version", "2026-07-28"}, {"mcp-method", std::move(method)}};
  };
  // The header names the revision; the body carries no _meta at all.
  auto no_meta = f.send(fixture::req("POST", R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})", h("tools/list")));
  CHECK(no_meta.status == 400);
  CHECK(error_code(no_meta) == code::invalid_params);
  CHECK(json::parse(no_meta.body)["id"] == 1);
  // _meta with the version but without clientCapabilities.
  auto no_caps = f.send(fixture::req(
      "POST", R"({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}})",
      h("tools/list")));
  CHECK(no_caps.status == 400);
  CHECK(error_code(no_caps) == code::invalid_params);
  // initialize carrying the 2026-07-28 _meta: that revision has no such method.
  const std::string meta = R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}})";
  auto init = f.send(fixture::req("POST", R"({"jsonrpc":"2.0","id":3,"method":"initialize","params":{)" + meta + "}}",
                                  h("initialize")));
  CHECK(init.status == 404);
  CHECK(error_code(init) == code::method_not_found);
  for (auto& [k, v] : init.headers) CHECK(k != "Mcp-Session-Id");
  CHECK(f.t.sessions() == 0);
  // Other invalid params of a well-formed request still travel in a 200.
  auto bad_cursor = f.send(fixture::req("POST", R"({"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"cursor":1,)" + meta + "}}",
                                        h("tools/list")));
  CHECK(bad_cursor.status == 200);
  CHECK(error_code(bad_cursor) == code::invalid_params);
  // A legacy initialize is untouched.
  CHECK(f.send(fixture::req("POST", init_body)).status == 200);
}

TEST_CASE("admission: admit() decides for every new session; least_recently_used_idle and idle expiry") {
  fixture f;  // max 2
  int asked = 0;
  bool allow = false;
  f.t.admit = [&] {
    ++asked;
    return allow;
  };
  auto refused = f.send(fixture::req("POST", init_body));
  CHECK(refused.status == 503);
  CHECK(asked == 1);
  allow = true;
  auto a = f.open_session();
  auto b = f.open_session();
  auto c = f.open_session();  // the caller's rule lets a third in: the transport does not second-guess it
  CHECK(f.t.sessions() == 3);
  CHECK(asked == 4);

  // The least recently used idle one is a, until a is used again.
  REQUIRE(f.t.least_recently_used_idle());
  CHECK(f.t.least_recently_used_idle()->id == a);
  f.send(fixture::req("POST", R"({"jsonrpc":"2.0","id":2,"method":"ping"})", {{"mcp-session-id", a}}));
  CHECK(f.t.least_recently_used_idle()->id == b);
  // A stream or a request in flight makes a session busy.
  f.send(fixture::req("GET", "", {{"accept", "text/event-stream"}, {"mcp-session-id", b}}));
  transport::conn_id slow = f.next++;
  f.t.handle(slow, fixture::req("POST", R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"slow"}})",
                                {{"mcp-session-id", c}}));
  CHECK(f.t.least_recently_used_idle()->id == a);
  f.t.end_session(a, "test");
  CHECK_FALSE(f.t.least_recently_used_idle());

  // Idle expiry ends idle sessions only, and only after idle_expiry.
  auto now = transport::clock::now();
  CHECK(f.t.expire_idle(now + std::chrono::minutes(29)) == 0);
  CHECK(f.t.expire_idle(now + std::chrono::minutes(31)) == 0);  // b streams, c waits for its call
  f.parked.at(0)(json{{"content", json::array()}});
  CHECK(f.t.expire_idle(now + std::chrono::minutes(29)) == 0);
  CHECK(f.t.expire_idle(now + std::chrono::minutes(31)) == 1);
  CHECK_FALSE(f.t.has_session(c));
  CHECK(f.t.has_session(b));
}
