// Integration (issue 5, item 2): weft as an MCP server. A real stack (weftd, bus, agent main
// with its fs and shell tool processes, weft-mcp with [mcp] listen on a free port and
// deny = ["exec"]) driven by the real TypeScript SDK client (tests/mcp/sdk_client.mjs) over
// Streamable HTTP and over stdio (`weftctl mcp serve`) — the v1 client in the legacy era and
// the v2 client pinned to 2026-07-28 (subscriptions/listen) — and by raw malformed input on both
// transports: the right JSON-RPC errors and HTTP statuses, and the server still answers.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "proto/supervisor_v1.hh"
#include "tests/integration/harness.hh"
#include "tests/temp_dir.hh"

using namespace weft;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace sv = weft::proto::supervisor_v1;
using json = nlohmann::json;

namespace {

std::string peers() {
  const char* p = std::getenv("WEFT_MCP_PEERS");
  return p ? p : "";
}

std::string driver() { return std::string(WEFT_SOURCE_ROOT) + "/tests/mcp/sdk_client.mjs"; }

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  auto t = s.str();
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t;
}

/// The driver's output lines as JSON.
std::vector<json> lines_of(const std::string& out) {
  std::vector<json> v;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) v.push_back(json::parse(l, nullptr, false));
  return v;
}

std::vector<std::string> names(const json& list_line) {
  std::vector<std::string> out;
  for (auto& n : list_line["result"]["names"]) out.push_back(n.get<std::string>());
  return out;
}
bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

std::string text_of(const json& call_line) {
  std::string t;
  for (auto& c : call_line["result"]["content"])
    if (c["type"] == "text") t += c["text"].get<std::string>();
  return t;
}

// --- raw HTTP -------------------------------------------------------------------------------

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

void send_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    auto n = ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may close early (413): the answer is still readable
    done += static_cast<std::size_t>(n);
  }
}

/// Reads until `until(buffer)` or EOF, at most `limit`.
std::string read_until(int fd, const std::function<bool(const std::string&)>& until, std::chrono::seconds limit) {
  std::string buf;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!until(buf)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char tmp[65536];
    auto n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) break;
    buf.append(tmp, static_cast<std::size_t>(n));
  }
  return buf;
}

struct http_answer {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
};

http_answer parse_answer(const std::string& raw) {
  http_answer a;
  auto end = raw.find("\r\n\r\n");
  if (raw.size() < 12 || end == std::string::npos) return a;
  a.status = std::stoi(raw.substr(9, 3));
  std::istringstream h(raw.substr(0, end));
  std::string line;
  std::getline(h, line);
  while (std::getline(h, line)) {
    auto c = line.find(':');
    if (c == std::string::npos) continue;
    auto k = line.substr(0, c);
    for (auto& ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    auto v = line.substr(c + 1);
    while (!v.empty() && (v.front() == ' ')) v.erase(0, 1);
    while (!v.empty() && (v.back() == '\r')) v.pop_back();
    a.headers[k] = v;
  }
  a.body = raw.substr(end + 4);
  return a;
}

http_answer http(int port, const std::string& method, const std::string& body,
                 const std::vector<std::pair<std::string, std::string>>& headers) {
  int fd = connect_to(port);
  std::string req = fmt::format("{} /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
                                method, body.size());
  for (auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  req += "\r\n";
  send_all(fd, req + body);
  auto raw = read_until(fd, [](const std::string&) { return false; }, 20s);
  ::close(fd);
  return parse_answer(raw);
}

/// A session's GET event stream, open (its 200 head read); the caller closes it.
int open_stream(int port, const std::string& token, const std::string& sid) {
  int sse = connect_to(port);
  send_all(sse, fmt::format("GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nAccept: "
                            "text/event-stream\r\nMcp-Session-Id: {}\r\n\r\n",
                            token, sid));
  auto head = read_until(sse, [](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; }, 20s);
  REQUIRE(head.rfind("HTTP/1.1 200", 0) == 0);
  return sse;
}

int rpc_code(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("error")) return 0;
  return j["error"]["code"].get<int>();
}

// --- a child with pipes ---------------------------------------------------------------------

struct child {
  pid_t pid = -1;
  int in = -1, out = -1;
  std::string buffered;

  static child spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
    int a[2], b[2];
    REQUIRE(::pipe2(a, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(b, O_CLOEXEC) == 0);
    child c;
    c.pid = ::fork();
    REQUIRE(c.pid >= 0);
    if (c.pid == 0) {
      ::dup2(a[0], 0);
      ::dup2(b[1], 1);
      for (auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
      std::vector<char*> v;
      for (auto& s : argv) v.push_back(const_cast<char*>(s.c_str()));
      v.push_back(nullptr);
      ::execv(v[0], v.data());
      ::_exit(127);
    }
    ::close(a[0]);
    ::close(b[1]);
    c.in = a[1];
    c.out = b[0];
    return c;
  }
  void write_line(const std::string& s) { REQUIRE(::write(in, (s + "\n").data(), s.size() + 1) == static_cast<ssize_t>(s.size() + 1)); }
  void write_big(const std::string& s) {
    std::size_t done = 0;
    while (done < s.size()) {
      auto n = ::write(in, s.data() + done, s.size() - done);
      REQUIRE(n > 0);
      done += static_cast<std::size_t>(n);
    }
  }
  json read_json(std::chrono::seconds limit = 20s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      auto nl = buffered.find('\n');
      if (nl != std::string::npos) {
        auto line = buffered.substr(0, nl);
        buffered.erase(0, nl + 1);
        return json::parse(line, nullptr, false);
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return json();
      pollfd p{out, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char tmp[65536];
      auto n = ::read(out, tmp, sizeof tmp);
      if (n <= 0) return json();
      buffered.append(tmp, static_cast<std::size_t>(n));
    }
  }
  int finish() {
    if (in >= 0) ::close(in);
    in = -1;
    int ws = 0;
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (::waitpid(pid, &ws, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &ws, 0);
        return -1;
      }
      ::usleep(2000);  // polling a child we own for exit
    }
    ::close(out);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
  }
};

/// The config of a stack with agent main (its fs tools in `ws`), memory off, and `mcp`
/// after an "[mcp]" header.
std::string fs_agent_config(const std::string& ws, const std::string& mcp) {
  return fmt::format(
      "[memory]\nenabled = false\n\n"
      "[agents.main]\nworkspace = \"{}\"\n[agents.main.tools]\nfamilies = [\"fs\"]\n\n"
      "[mcp]\n{}",
      ws, mcp);
}

const std::string init_line =
    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}})";

}  // namespace

TEST_CASE("weft's MCP server: the TypeScript SDK over HTTP and stdio, list_changed, malformed input") {
  auto missing = test::missing_programs({"services/mcp/weft-mcp", "services/tool-fs/weft-tool-fs",
                                         "services/tool-shell/weft-tool-shell", "services/agent/weft-agent"});
  REQUIRE_MESSAGE(missing.empty(), "not built: " << missing);
  REQUIRE_MESSAGE(fs::exists(peers() + "/node_modules/@modelcontextprotocol/sdk"),
                  "the MCP test peers are not installed at $WEFT_MCP_PEERS: run tools/dev setup");
  weft::test::temp_dir d{"weft-mcp-server-it"};
  auto ws = d.path.string() + "/ws";
  auto config = fmt::format(
      "[memory]\nenabled = false\n\n"
      "[agents.main]\nworkspace = \"{ws}\"\n"
      "[agents.main.tools]\nfamilies = [\"fs\", \"shell\"]\n\n"
      "[mcp]\nlisten = \"127.0.0.1:0\"\ndeny = [\"exec\"]\n",
      fmt::arg("ws", ws));
  auto st = test::stack::start(config);
  // weftd's READY means every service (mcp and the tool processes) reported ready.
  auto port_text = slurp(st->runtime() + "/mcp.port");
  REQUIRE(!port_text.empty());
  int port = std::stoi(port_text);
  auto token = slurp(st->dir() + "/home/mcp/http.token");
  REQUIRE(token.size() == 64);
  auto url = fmt::format("http://127.0.0.1:{}/mcp", port);
  auto weftctl = test::build_path("tools/weftctl/weftctl");
  std::vector<std::string> node = {"/usr/bin/env", "node", driver(), "--peers", peers()};

  // weftctl mcp info names the URL and the token.
  auto info = st->weftctl({"mcp", "info"});
  CHECK(info.exit_code == 0);
  (void)info;

  SUBCASE("the SDK over HTTP: list with schemas, write then read in the workspace, deny, ping") {
    auto argv = node;
    for (std::string a : {std::string("--url"), url, std::string("--header"), "Authorization:Bearer " + token})
      argv.push_back(a);
    argv.push_back("--plan");
    argv.push_back(R"([{"op":"list"},
      {"op":"call","name":"write_file","arguments":{"path":"notes/hello.txt","content":"hi from an MCP client\n"}},
      {"op":"call","name":"read_file","arguments":{"path":"notes/hello.txt"}},
      {"op":"call","name":"exec","arguments":{"command":"true"}},
      {"op":"call","name":"read_file","arguments":{"path":"../../etc/passwd"}},
      {"op":"ping"}])");
    auto r = test::run(argv);
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    auto l = lines_of(r.out);
    REQUIRE(l.size() == 7);
    CHECK(l[0]["protocolVersion"] == "2025-11-25");
    CHECK(l[0]["capabilities"]["tools"]["listChanged"] == true);
    CHECK(!l[0]["sessionId"].get<std::string>().empty());
    auto n = names(l[1]);
    CHECK(has(n, "read_file"));
    CHECK(has(n, "write_file"));
    CHECK(has(n, "list_dir"));
    CHECK_FALSE(has(n, "exec"));  // [mcp] deny
    CHECK(std::is_sorted(n.begin(), n.end()));
    for (auto& t : l[1]["result"]["tools"])
      if (t["name"] == "read_file") {
        CHECK(t["inputSchema"]["type"] == "object");
        CHECK(t["inputSchema"]["properties"].contains("path"));
      }
    CHECK(l[2]["ok"] == true);
    CHECK(l[2]["result"].value("isError", false) == false);
    CHECK(slurp(ws + "/notes/hello.txt") == "hi from an MCP client");
    CHECK(l[3]["ok"] == true);
    CHECK(text_of(l[3]).find("hi from an MCP client") != std::string::npos);
    CHECK(l[4]["ok"] == false);  // not offered: unknown
    CHECK(l[4]["error"]["code"] == -32602);
    CHECK(l[4]["error"]["message"].get<std::string>().find("Unknown tool: exec") != std::string::npos);
    CHECK(l[5]["ok"] == true);  // refused by the tool: a result with isError
    CHECK(l[5]["result"]["isError"] == true);
    CHECK(l[6]["ok"] == true);

    // The bus refuses the denied tool even to a caller that skips the listing.
    auto b = st->bus_client();
    (void)b;
  }

  SUBCASE("the SDK over stdio (weftctl mcp serve); list_changed on both transports after a tool restart") {
    // A raw HTTP session with its SSE stream open, to see list_changed there too.
    std::vector<std::pair<std::string, std::string>> h = {{"Authorization", "Bearer " + token},
                                                          {"Accept", "application/json, text/event-stream"},
                                                          {"Content-Type", "application/json"}};
    auto init = http(port, "POST", init_line, h);
    REQUIRE(init.status == 200);
    auto sid = init.headers["mcp-session-id"];
    REQUIRE(!sid.empty());
    auto hs = h;
    hs.emplace_back("Mcp-Session-Id", sid);
    CHECK(http(port, "POST", R"({"jsonrpc":"2.0","method":"notifications/initialized"})", hs).status == 202);
    int sse = open_stream(port, token, sid);

    auto b = st->bus_client();
    auto base = st->delivered(*b, "agent/main/mcp");
    auto argv = node;
    for (std::string a : {std::string("--env"), "WEFT_CONFIG=" + st->config_path(), std::string("--env"),
                          "WEFT_HOME=" + st->dir() + "/home", std::string("--stdio"), weftctl,
                          std::string("--runtime-dir"), st->runtime(), std::string("mcp"), std::string("serve")})
      argv.push_back(a);
    argv.insert(argv.end() - 6, {"--plan", R"([{"op":"list"},
      {"op":"call","name":"list_dir","arguments":{"path":"."}},
      {"op":"wait_list_changed","timeout_ms":30000},{"op":"list"}])"});
    test::run_result r;
    std::thread client([&] { r = test::run(argv); });
    // Open, initialize, initialized, tools/list, tools/call and the tool's answer reached
    // the server: the client is connected and has listed.
    bool connected = st->wait_delivered(*b, "agent/main/mcp", base + 6, 30s);
    CHECK(connected);
    auto restart = st->weftctl({"restart", "tool-fs-main"});
    CHECK(restart.exit_code == 0);
    client.join();
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    auto l = lines_of(r.out);
    REQUIRE(l.size() == 5);
    CHECK(l[0]["protocolVersion"] == "2025-11-25");
    CHECK(has(names(l[1]), "read_file"));
    CHECK(l[2]["ok"] == true);
    CHECK(text_of(l[2]).find("SOUL.md") != std::string::npos);
    CHECK(l[3]["ok"] == true);  // list_changed after the restart
    CHECK(l[4]["ok"] == true);
    CHECK(has(names(l[4]), "read_file"));

    auto events = read_until(sse, [](const std::string& s) { return s.find("list_changed") != std::string::npos; }, 30s);
    CHECK(events.find("notifications/tools/list_changed") != std::string::npos);
    ::close(sse);
  }

  SUBCASE("the SDK v2 client in the 2026-07-28 era over HTTP and stdio; list_changed through subscriptions/listen") {
    auto plan = [](const std::string& file) {
      return fmt::format(R"([{{"op":"list"}},
        {{"op":"call","name":"write_file","arguments":{{"path":"notes/{}","content":"modern"}}}},
        {{"op":"wait_list_changed","timeout_ms":30000}},{{"op":"list"}},
        {{"op":"call","name":"exec","arguments":{{"command":"true"}}}},{{"op":"ping"}}])",
                         file);
    };
    auto over_http = node;
    for (std::string a : {std::string("--modern"), std::string("--url"), url, std::string("--header"),
                          "Authorization:Bearer " + token, std::string("--plan"), plan("http.txt")})
      over_http.push_back(a);
    auto over_stdio = node;
    for (std::string a : {std::string("--modern"), std::string("--plan"), plan("stdio.txt"), std::string("--env"),
                          "WEFT_CONFIG=" + st->config_path(), std::string("--env"), "WEFT_HOME=" + st->dir() + "/home",
                          std::string("--stdio"), weftctl, std::string("--runtime-dir"), st->runtime(),
                          std::string("mcp"), std::string("serve")})
      over_stdio.push_back(a);
    test::run_result rh, rs;
    std::thread th([&] { rh = test::run(over_http); });
    std::thread ts([&] { rs = test::run(over_stdio); });
    // Both wrote their file: both are connected, and (the SDK awaits the acknowledgement
    // while connecting) both subscriptions are open. A tool process restart changes the list.
    bool both = false;
    for (int i = 0; i < 600 && !both; ++i) {
      both = fs::exists(ws + "/notes/http.txt") && fs::exists(ws + "/notes/stdio.txt");
      if (!both) std::this_thread::sleep_for(50ms);
    }
    CHECK(both);
    CHECK(st->weftctl({"restart", "tool-fs-main"}).exit_code == 0);
    th.join();
    ts.join();
    for (auto* r : {&rh, &rs}) {
      INFO("stdout: " << r->out << "\nstderr: " << r->err);
      REQUIRE(r->exit_code == 0);
      auto l = lines_of(r->out);
      REQUIRE(l.size() == 7);
      CHECK(l[0]["protocolVersion"] == "2026-07-28");
      CHECK_FALSE(l[0].contains("sessionId"));
      CHECK(l[0]["capabilities"]["tools"]["listChanged"] == true);
      CHECK(has(names(l[1]), "read_file"));
      CHECK_FALSE(has(names(l[1]), "exec"));
      CHECK(l[2]["ok"] == true);
      CHECK(l[3]["ok"] == true);  // list_changed, delivered to the subscription
      CHECK(has(names(l[4]), "write_file"));
      CHECK(l[5]["ok"] == false);
      CHECK(l[5]["error"]["code"] == -32602);
      CHECK(l[6]["ok"] == false);  // no ping in this era: the SDK refuses it itself
    }
    CHECK(slurp(ws + "/notes/http.txt") == "modern");
  }

  SUBCASE("raw stdio: parse error, invalid request, unknown method, bad params, oversized line; still answering") {
    auto c = child::spawn({weftctl, "--runtime-dir", st->runtime(), "mcp", "serve"},
                          {"WEFT_CONFIG=" + st->config_path(), "WEFT_HOME=" + st->dir() + "/home"});
    c.write_line(init_line);
    auto init = c.read_json();
    REQUIRE(init.is_object());
    CHECK(init["result"]["protocolVersion"] == "2025-11-25");
    c.write_line(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
    c.write_line("{this is not json");
    CHECK(c.read_json()["error"]["code"] == -32700);
    c.write_line(R"({"jsonrpc":"2.0","id":2})");
    CHECK(c.read_json()["error"]["code"] == -32600);
    c.write_line(R"({"jsonrpc":"2.0","id":3,"method":"no/such/method"})");
    auto unknown = c.read_json();
    CHECK(unknown["id"] == 3);
    CHECK(unknown["error"]["code"] == -32601);
    c.write_line(R"({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"arguments":{}}})");
    CHECK(c.read_json()["error"]["code"] == -32602);
    c.write_line(R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"exec","arguments":{}}})");
    CHECK(c.read_json()["error"]["code"] == -32602);  // denied by [mcp]: not offered
    // A line over the bus's limit (1 MiB by default) is refused here.
    c.write_big(R"({"jsonrpc":"2.0","id":6,"method":"ping","params":{"pad":")" + std::string(1200000, 'x') + "\"}}\n");
    auto big = c.read_json();
    CHECK(big["error"]["code"] == -32600);
    c.write_line(R"({"jsonrpc":"2.0","id":7,"method":"ping"})");
    auto ping = c.read_json();
    CHECK(ping["id"] == 7);
    CHECK(ping["result"].is_object());
    CHECK(c.finish() == 0);  // stdin closed: exit 0
  }

  SUBCASE("piped stdio: requests written and stdin closed at once; every answer arrives, then exit 0") {
    auto c = child::spawn({weftctl, "--runtime-dir", st->runtime(), "mcp", "serve"},
                          {"WEFT_CONFIG=" + st->config_path(), "WEFT_HOME=" + st->dir() + "/home"});
    c.write_line(init_line);
    c.write_line(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
    c.write_line(R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})");
    c.write_line(R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list_dir","arguments":{"path":"."}}})");
    ::close(c.in);  // the client is done writing: like `printf '…' | weftctl mcp serve`
    c.in = -1;
    auto init = c.read_json();
    CHECK(init["id"] == 1);
    CHECK(init["result"]["protocolVersion"] == "2025-11-25");
    auto list = c.read_json();
    CHECK(list["id"] == 2);
    CHECK(list["result"]["tools"].is_array());
    auto call = c.read_json();
    CHECK(call["id"] == 3);
    CHECK(call["result"].dump().find("SOUL.md") != std::string::npos);
    CHECK(c.finish() == 0);
  }

  SUBCASE("raw HTTP: token, Origin, Accept, version header, oversized and malformed bodies; still answering") {
    std::vector<std::pair<std::string, std::string>> h = {{"Authorization", "Bearer " + token},
                                                          {"Accept", "application/json, text/event-stream"},
                                                          {"Content-Type", "application/json"}};
    auto no_token = http(port, "POST", init_line, {{"Accept", "application/json, text/event-stream"},
                                                   {"Content-Type", "application/json"}});
    CHECK(no_token.status == 401);
    CHECK(no_token.body.find("weftctl mcp info") != std::string::npos);
    auto evil = h;
    evil.emplace_back("Origin", "http://evil.example");
    CHECK(http(port, "POST", init_line, evil).status == 403);
    auto local = h;
    local.emplace_back("Origin", "http://localhost:3000");
    CHECK(http(port, "POST", init_line, local).status == 200);
    auto json_only = h;
    json_only[1].second = "application/json";
    CHECK(http(port, "POST", init_line, json_only).status == 406);
    auto bad = http(port, "POST", "{oops", h);
    CHECK(bad.status == 400);
    CHECK(rpc_code(bad.body) == -32700);
    auto big = http(port, "POST", std::string(5u << 20, ' '), h);
    CHECK(big.status == 413);

    auto init = http(port, "POST", init_line, h);
    REQUIRE(init.status == 200);
    auto sid = init.headers["mcp-session-id"];
    REQUIRE(!sid.empty());
    auto hs = h;
    hs.emplace_back("Mcp-Session-Id", sid);
    auto wrong = hs;
    wrong.emplace_back("MCP-Protocol-Version", "1999-01-01");
    auto v = http(port, "POST", R"({"jsonrpc":"2.0","id":2,"method":"ping"})", wrong);
    CHECK(v.status == 400);
    CHECK(rpc_code(v.body) != 0);
    auto unknown = http(port, "POST", R"({"jsonrpc":"2.0","id":3,"method":"nope"})", hs);
    CHECK(rpc_code(unknown.body) == -32601);
    auto no_session = http(port, "POST", R"({"jsonrpc":"2.0","id":4,"method":"ping"})", h);
    CHECK(no_session.status == 400);
    auto ping = http(port, "POST", R"({"jsonrpc":"2.0","id":5,"method":"ping"})", hs);
    CHECK(ping.status == 200);
    CHECK(json::parse(ping.body)["id"] == 5);
    CHECK(http(port, "DELETE", "", hs).status == 200);
    CHECK(http(port, "POST", R"({"jsonrpc":"2.0","id":6,"method":"ping"})", hs).status == 404);

    // 2026-07-28 without a session: an initialize of that revision is 404 with -32601, a
    // request whose _meta lacks clientCapabilities 400 with -32602.
    auto modern = h;
    modern.emplace_back("MCP-Protocol-Version", "2026-07-28");
    auto mh = modern;
    mh.emplace_back("Mcp-Method", "initialize");
    auto minit = http(port, "POST",
                      R"({"jsonrpc":"2.0","id":7,"method":"initialize","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}})",
                      mh);
    CHECK(minit.status == 404);
    CHECK(rpc_code(minit.body) == -32601);
    CHECK(minit.headers.count("mcp-session-id") == 0);
    auto lh = modern;
    lh.emplace_back("Mcp-Method", "tools/list");
    auto no_caps = http(port, "POST",
                        R"({"jsonrpc":"2.0","id":8,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}})",
                        lh);
    CHECK(no_caps.status == 400);
    CHECK(rpc_code(no_caps.body) == -32602);
  }
}

TEST_CASE("weft's MCP server: the session of a killed `weftctl mcp serve` is found and closed") {
  auto missing = test::missing_programs({"services/mcp/weft-mcp", "services/tool-fs/weft-tool-fs"});
  REQUIRE_MESSAGE(missing.empty(), "not built: " << missing);
  weft::test::temp_dir d{"weft-mcp-stdio-gone-it"};
  // One session at most, stdio only; weftctl is pinged after 300 ms of quiet (30 s by default).
  auto config = fs_agent_config(d.path.string() + "/ws",
                                fmt::format("listen = \"\"\nmax_sessions = 1\n\n"
                                            "[services.mcp]\nexec = \"{}\"\naddress = \"agent/main/mcp\"\n"
                                            "env = {{ WEFT_AGENT = \"main\", WEFT_MCP_STDIO_PING_MS = \"300\" }}\n",
                                            test::build_path("services/mcp/weft-mcp")));
  auto st = test::stack::start(config);
  auto weftctl = test::build_path("tools/weftctl/weftctl");
  std::vector<std::string> env = {"WEFT_CONFIG=" + st->config_path(), "WEFT_HOME=" + st->dir() + "/home"};
  auto serve = [&] { return child::spawn({weftctl, "--runtime-dir", st->runtime(), "mcp", "serve"}, env); };

  auto first = serve();
  first.write_line(init_line);
  REQUIRE(first.read_json()["result"]["protocolVersion"] == "2025-11-25");
  // While it lives (answering the pings) the only slot stays taken.
  std::this_thread::sleep_for(1s);  // several ping periods: a live weftctl keeps its session
  auto second = serve();
  second.write_line(init_line);
  CHECK(second.finish() == 1);
  ::kill(first.pid, SIGKILL);
  ::waitpid(first.pid, nullptr, 0);
  // The dead one's session is closed after an unanswered ping; a new client gets the slot.
  bool served = false;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!served && std::chrono::steady_clock::now() < deadline) {
    auto again = serve();
    again.write_line(init_line);
    served = again.read_json(5s)["result"]["protocolVersion"] == "2025-11-25";
    again.finish();
    if (!served) std::this_thread::sleep_for(200ms);
  }
  CHECK(served);
}

TEST_CASE("weftctl mcp info shows the port and token rule of the config weftd runs on") {
  auto missing = test::missing_programs({"services/mcp/weft-mcp", "services/tool-fs/weft-tool-fs"});
  REQUIRE_MESSAGE(missing.empty(), "not built: " << missing);
  weft::test::temp_dir d{"weft-mcp-info-it"};
  // Another port than the default 8781, no token: what weftctl finds in its own
  // environment (no WEFT_CONFIG, an empty HOME) would be the built-in default instead.
  auto config = fs_agent_config(d.path.string() + "/ws", "listen = \"127.0.0.1:0\"\nrequire_token = false\n");
  auto st = test::stack::start(config);
  auto port = slurp(st->runtime() + "/mcp.port");
  REQUIRE(!port.empty());
  fs::create_directories(d.path / "empty-home");
  std::vector<std::string> argv = {"/usr/bin/env", "-u", "WEFT_CONFIG", "-u", "WEFT_HOME",
                                   "HOME=" + (d.path / "empty-home").string(), test::build_path("tools/weftctl/weftctl"),
                                   "--runtime-dir", st->runtime(), "mcp", "info"};
  auto info = test::run(argv);
  INFO(info.out << info.err);
  CHECK(info.exit_code == 0);
  CHECK(info.out.find(fmt::format("HTTP:  http://127.0.0.1:{}/mcp", port)) != std::string::npos);
  CHECK(info.out.find("token: none required") != std::string::npos);
  CHECK(info.out.find(st->config_path()) != std::string::npos);
  CHECK(info.out.find("not created yet") == std::string::npos);
  argv.insert(argv.end() - 2, "--json");
  auto j = json::parse(test::run(argv).out, nullptr, false);
  REQUIRE(j.is_object());
  CHECK(j["url"] == fmt::format("http://127.0.0.1:{}/mcp", port));
  CHECK(j["require_token"] == false);
  CHECK(j["config"] == st->config_path());
  CHECK(j["token_file"] == st->dir() + "/home/mcp/http.token");
}

TEST_CASE("weft's MCP server: one admission rule — abandoned HTTP sessions make room for stdio; busy ones are refused on both transports") {
  auto missing = test::missing_programs({"services/mcp/weft-mcp", "services/tool-fs/weft-tool-fs"});
  REQUIRE_MESSAGE(missing.empty(), "not built: " << missing);
  weft::test::temp_dir d{"weft-mcp-admission-it"};
  auto st = test::stack::start(fs_agent_config(d.path.string() + "/ws", "listen = \"127.0.0.1:0\"\n"));  // max_sessions 32
  int port = std::stoi(slurp(st->runtime() + "/mcp.port"));
  auto token = slurp(st->dir() + "/home/mcp/http.token");
  auto weftctl = test::build_path("tools/weftctl/weftctl");
  std::vector<std::string> env = {"WEFT_CONFIG=" + st->config_path(), "WEFT_HOME=" + st->dir() + "/home"};
  auto serve = [&] { return child::spawn({weftctl, "--runtime-dir", st->runtime(), "mcp", "serve"}, env); };
  std::vector<std::pair<std::string, std::string>> h = {{"Authorization", "Bearer " + token},
                                                        {"Accept", "application/json, text/event-stream"},
                                                        {"Content-Type", "application/json"}};
  auto with_session = [&](const std::string& sid) {
    auto hs = h;
    hs.emplace_back("Mcp-Session-Id", sid);
    return hs;
  };
  const std::string ping = R"({"jsonrpc":"2.0","id":5,"method":"ping"})";

  // 40 clients initialize and vanish without DELETE: the limit is held by abandoned sessions.
  for (int i = 0; i < 40; ++i) {
    auto a = http(port, "POST", init_line, h);
    REQUIRE(a.status == 200);
  }
  // A stdio client is served all the same: an abandoned (idle) session makes room.
  auto first = serve();
  first.write_line(init_line);
  auto hello = first.read_json();
  CHECK(hello["result"]["protocolVersion"] == "2025-11-25");
  // One version string everywhere: serverInfo says what `weftd --version` says.
  auto weftd_version = test::run({test::build_path("services/weftd/weftd"), "--version"}).out;
  CHECK(weftd_version == "weftd " + hello["result"]["serverInfo"].value("version", std::string("?")) + "\n");

  // Busy sessions: 31 HTTP clients holding their event streams, with the stdio client the
  // limit. Each of them took an abandoned session's place.
  std::vector<int> streams;
  std::vector<std::string> busy;
  for (int i = 0; i < 31; ++i) {
    auto a = http(port, "POST", init_line, h);
    REQUIRE(a.status == 200);
    auto sid = a.headers["mcp-session-id"];
    REQUIRE(http(port, "POST", R"({"jsonrpc":"2.0","method":"notifications/initialized"})", with_session(sid)).status == 202);
    int sse = open_stream(port, token, sid);
    streams.push_back(sse);
    busy.push_back(sid);
  }
  // None is idle now: the same refusal on both transports.
  auto full = http(port, "POST", init_line, h);
  CHECK(full.status == 503);
  CHECK(full.body.find("maximum of 32 sessions") != std::string::npos);
  auto refused = serve();
  refused.write_line(init_line);
  CHECK(refused.finish() == 1);

  // One HTTP client goes away: its session is idle, and a new stdio client takes its place.
  ::close(streams[0]);
  bool served = false;
  std::optional<child> second;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!served && std::chrono::steady_clock::now() < deadline) {
    // The server learns of the closed stream asynchronously: try until it has.
    second = serve();
    second->write_line(init_line);
    served = second->read_json(5s)["result"]["protocolVersion"] == "2025-11-25";
    if (!served) second->finish();
  }
  REQUIRE(served);
  CHECK(http(port, "POST", ping, with_session(busy[0])).status == 404);  // the one that made room
  for (std::size_t i = 1; i < busy.size(); ++i) CHECK(http(port, "POST", ping, with_session(busy[i])).status == 200);
  // Both stdio clients are still served.
  for (auto* c : {&first, &*second}) {
    c->write_line(ping);
    CHECK(c->read_json()["id"] == 5);
  }
  CHECK(first.finish() == 0);
  CHECK(second->finish() == 0);
  for (std::size_t i = 1; i < streams.size(); ++i) ::close(streams[i]);
}

TEST_CASE("weft's MCP server: skills — template, completions, subscriptions and list changes from disk; log messages") {
  auto missing = test::missing_programs({"services/mcp/weft-mcp", "services/tool-fs/weft-tool-fs"});
  REQUIRE_MESSAGE(missing.empty(), "not built: " << missing);
  weft::test::temp_dir d{"weft-mcp-skills-it"};
  auto ws = d.path / "ws";
  auto write_skill = [&](const std::string& name, const std::string& body) {
    fs::create_directories(ws / "skills" / name);
    std::ofstream(ws / "skills" / name / "SKILL.md")
        << "---\nname: " << name << "\ndescription: The " << name
        << " skill\nargument-hint: add [file] | list\n---\n" << body;
  };
  write_skill("review", "Review things.\n");
  // stdio only; skill folders looked at every 100 ms.
  auto config = fs_agent_config(ws.string(),
                                fmt::format("listen = \"\"\n\n[services.mcp]\nexec = \"{}\"\naddress = \"agent/main/mcp\"\n"
                                            "env = {{ WEFT_AGENT = \"main\", WEFT_MCP_SKILL_SCAN_MS = \"100\" }}\n",
                                            test::build_path("services/mcp/weft-mcp")));
  auto st = test::stack::start(config);
  auto c = child::spawn({test::build_path("tools/weftctl/weftctl"), "--runtime-dir", st->runtime(), "mcp", "serve"},
                        {"WEFT_CONFIG=" + st->config_path(), "WEFT_HOME=" + st->dir() + "/home"});
  c.write_line(init_line);
  auto hello = c.read_json();
  auto& caps = hello["result"]["capabilities"];
  CHECK(caps["resources"]["subscribe"] == true);
  CHECK(caps["resources"]["listChanged"] == true);
  CHECK(caps["prompts"]["listChanged"] == true);
  CHECK(caps["completions"].is_object());
  CHECK(caps["logging"].is_object());
  c.write_line(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  /// The answer to request `id`, past any notification (kept in `notes`).
  std::vector<json> notes;
  auto answer = [&](int id) {
    for (;;) {
      auto j = c.read_json();
      if (!j.is_object()) return json();
      if (j.contains("id") && j["id"] == id) return j;
      notes.push_back(j);
    }
  };
  auto until_note = [&](const std::function<bool(const json&)>& wanted) {
    for (auto& n : notes)
      if (wanted(n)) return true;
    for (;;) {
      auto j = c.read_json(20s);
      if (!j.is_object()) return false;
      notes.push_back(j);
      if (wanted(j)) return true;
    }
  };
  c.write_line(R"({"jsonrpc":"2.0","id":2,"method":"resources/templates/list"})");
  CHECK(answer(2)["result"]["resourceTemplates"][0]["uriTemplate"] == "weft://skills/{name}");
  c.write_line(R"({"jsonrpc":"2.0","id":3,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"review"},"argument":{"name":"request","value":""}}})");
  CHECK(answer(3)["result"]["completion"]["values"] == json::array({"add", "list"}));
  c.write_line(R"({"jsonrpc":"2.0","id":4,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"weft://skills/{name}"},"argument":{"name":"name","value":"re"}}})");
  CHECK(answer(4)["result"]["completion"]["values"] == json::array({"review"}));
  c.write_line(R"({"jsonrpc":"2.0","id":5,"method":"resources/read","params":{"uri":"weft://skills/none"}})");
  auto none = answer(5);
  CHECK(none["error"]["code"] == -32002);
  CHECK(none["error"]["data"]["uri"] == "weft://skills/none");
  c.write_line(R"({"jsonrpc":"2.0","id":6,"method":"logging/setLevel","params":{"level":"info"}})");
  CHECK(answer(6)["result"] == json::object());
  c.write_line(R"({"jsonrpc":"2.0","id":7,"method":"resources/subscribe","params":{"uri":"weft://skills/review"}})");
  CHECK(answer(7)["result"] == json::object());

  // The subscribed skill changes on disk: resources/updated for it.
  write_skill("review", "Review things, carefully this time.\n");
  CHECK(until_note([](const json& n) {
    return n["method"] == "notifications/resources/updated" && n["params"]["uri"] == "weft://skills/review";
  }));
  // A new skill: both lists changed, and the server says so in a log message too.
  write_skill("notes", "Take notes.\n");
  CHECK(until_note([](const json& n) { return n["method"] == "notifications/resources/list_changed"; }));
  CHECK(until_note([](const json& n) { return n["method"] == "notifications/prompts/list_changed"; }));
  CHECK(until_note([](const json& n) {
    return n["method"] == "notifications/message" && n["params"]["level"] == "info" &&
           n["params"]["data"].get<std::string>().find("skills changed") != std::string::npos;
  }));
  c.write_line(R"({"jsonrpc":"2.0","id":8,"method":"prompts/list"})");
  CHECK(answer(8)["result"]["prompts"].size() == 2);
  CHECK(c.finish() == 0);
}

TEST_CASE("weft's MCP server: an agent's git, cargo, code and forge tools, listed and called by the TypeScript SDK "
          "with no extra code") {
  REQUIRE_MESSAGE(fs::exists(peers() + "/node_modules/@modelcontextprotocol/sdk"),
                  "the MCP test peers are not installed at $WEFT_MCP_PEERS: run tools/dev setup");
  weft::test::temp_dir d{"weft-mcp-git-it"};
  auto ws = d.path.string() + "/ws";
  fs::create_directories(ws + "/proj");
  std::ofstream(ws + "/proj/a.txt") << "a\n";
  std::ofstream(ws + "/proj/m.py") << "def helper():\n    return 1\n\n\nclass Tool:\n    def run(self):\n        return helper()\n";
  auto g = "git -C '" + ws + "/proj' -c user.name=t -c user.email=t@t ";
  REQUIRE(std::system((g + "init -q -b main && " + g + "add -A && " + g + "commit -qm 'first commit'").c_str()) == 0);
  auto config = fmt::format(
      "[memory]\nenabled = false\n\n"
      "[agents.main]\nworkspace = \"{ws}\"\n"
      "[agents.main.tools]\nfamilies = [\"fs\", \"git\", \"cargo\", \"code\", \"forge\"]\n\n"
      "[tools.forges.gh]\nkind = \"github\"\napi = \"http://127.0.0.1:9\"\n\n"
      "[mcp]\nlisten = \"127.0.0.1:0\"\n",
      fmt::arg("ws", ws));
  auto st = test::stack::start(config);
  REQUIRE(st);
  int port = std::stoi(slurp(st->runtime() + "/mcp.port"));
  auto token = slurp(st->dir() + "/home/mcp/http.token");
  std::vector<std::string> argv = {"/usr/bin/env", "node", driver(), "--peers", peers(), "--url",
                                   fmt::format("http://127.0.0.1:{}/mcp", port), "--header",
                                   "Authorization:Bearer " + token, "--plan",
                                   R"([{"op":"list"},
      {"op":"call","name":"git_log","arguments":{"repo":"proj"}},
      {"op":"call","name":"git_status","arguments":{"repo":"../"}},
      {"op":"call","name":"code_outline","arguments":{"path":"proj/m.py"}}])"};
  auto r = test::run(argv);
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  auto l = lines_of(r.out);
  REQUIRE(l.size() == 5);
  auto n = names(l[1]);
  for (auto t : {"git_status", "git_log", "git_diff", "git_show", "git_blame", "git_branch", "git_add", "git_commit",
                 "git_clone", "git_fetch", "git_pull", "git_push", "git_tag", "read_file", "cargo_check", "cargo_build",
                 "cargo_test", "cargo_clippy", "cargo_fmt", "cargo_doc", "cargo_package", "pr_open", "pr_list", "pr_comment", "pr_status",
                 "code_outline", "code_definitions", "code_usages", "code_query", "code_check", "code_rename",
                 "code_replace"})
    CHECK_MESSAGE(has(n, t), t);
  CHECK(l[2]["ok"] == true);
  CHECK(text_of(l[2]).find("first commit") != std::string::npos);
  // Outside the workspace: the tool's Denied, as a result with isError.
  CHECK(l[3]["ok"] == true);
  CHECK(l[3]["result"]["isError"] == true);
  CHECK(text_of(l[3]).find("outside the workspace") != std::string::npos);
  // The outline, through MCP: the function, the class and its method with their lines.
  CHECK(l[4]["ok"] == true);
  CHECK(text_of(l[4]).find("function helper") != std::string::npos);
  CHECK(text_of(l[4]).find("5-7") != std::string::npos);
  CHECK(text_of(l[4]).find("method run") != std::string::npos);
}
