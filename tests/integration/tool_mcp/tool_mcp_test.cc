// Integration (issue 5, item 3): weft-tool-mcp, the MCP client host, on a real stack with
// the three npm reference servers (tools/dev peers) plus one that never starts, driven over
// the bus directly: ListTools, Call (text, image, structured, isError, JSON-RPC errors),
// ListServers, env isolation, kill -9 of a server (reconnect, the others unaffected), and a
// config edit + reload (one server added, one removed, the rest untouched).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <weft/service/paths.hh>

#include "proto/mcp_v1.hh"
#include "proto/tool_v1.hh"
#include "tests/integration/harness.hh"
#include "tests/temp_dir.hh"

using namespace weft;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace mv = weft::proto::mcp_v1;
namespace tool = weft::proto::tool_v1;
using json = nlohmann::json;

namespace {

std::string peers_bin(const std::string& program) {
  const char* peers = std::getenv("WEFT_MCP_PEERS");
  return std::string(peers ? peers : "") + "/node_modules/.bin/" + program;
}

std::string server_table(const std::string& name, const std::string& command, const std::vector<std::string>& args,
                         const std::string& env = {}) {
  std::string a;
  for (auto& x : args) a += (a.empty() ? "\"" : ", \"") + x + "\"";
  return fmt::format("[tools.mcp_servers.{}]\ncommand = \"{}\"\nargs = [{}]\n{}\n", name, command, a,
                     env.empty() ? "" : "env = { " + env + " }\n");
}

mv::servers servers(ipc::bus_client& b) {
  auto r = b.call("tool/mcp", mv::list_servers{}, {.timeout = 10s, .attempt_timeout = 2s});
  REQUIRE_MESSAGE(r, (r ? "" : r.err().to_string()));
  auto s = r->as<mv::servers>();
  REQUIRE(s);
  return *s;
}

std::optional<mv::server_status> server_of(const mv::servers& l, const std::string& name) {
  for (auto& s : l.servers)
    if (s.name == name) return s;
  return std::nullopt;
}

std::string describe(const mv::servers& l) {
  std::string out;
  for (auto& s : l.servers)
    out += fmt::format("{}: {} tools={} restarts={} error='{}'\n", s.name, s.state, s.tool_count, s.restarts,
                       s.last_error);
  return out;
}

/// Polls ListServers until `ok` (the status is what the test checks; there is no event for
/// each transition). The limit is a safety net, not a measurement.
bool wait_servers(ipc::bus_client& b, const std::function<bool(const mv::servers&)>& ok, mv::servers* last,
                  std::chrono::seconds limit = 60s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto l = servers(b);
    if (last) *last = l;
    if (ok(l)) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(100ms);
  }
}

bool ready(const mv::servers& l, const std::string& name) {
  auto s = server_of(l, name);
  return s && s->state == "ready";
}

std::vector<std::string> tool_names(ipc::bus_client& b) {
  auto r = b.call("tool/mcp", tool::list_tools{}, {.timeout = 10s, .attempt_timeout = 2s});
  REQUIRE_MESSAGE(r, (r ? "" : r.err().to_string()));
  auto t = r->as<tool::tools>();
  REQUIRE(t);
  CHECK(t->family == "mcp");
  std::vector<std::string> out;
  for (auto& x : t->tools) out.push_back(x.name);
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

result<tool::result> call(ipc::bus_client& b, const std::string& name, const json& args) {
  tool::call c;
  c.name = name;
  c.arguments = args.dump();
  c.timeout_ms = 20000;
  auto r = b.call("tool/mcp/" + name, c, {.timeout = 30s, .attempt_timeout = 30s, .retry = false});
  if (!r) return r.take_error();
  return r->as<tool::result>();
}

tool::result ok_call(ipc::bus_client& b, const std::string& name, const json& args) {
  auto r = call(b, name, args);
  REQUIRE_MESSAGE(r, name << ": " << (r ? "" : r.err().to_string()));
  return *r;
}

/// Children of `parent` whose command line contains `needle`.
std::vector<pid_t> children_with(pid_t parent, const std::string& needle) {
  std::vector<pid_t> out;
  for (auto& e : fs::directory_iterator("/proc")) {
    auto name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::ifstream stat(e.path() / "stat");
    std::string line((std::istreambuf_iterator<char>(stat)), {});
    auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid != parent || state == "Z") continue;
    std::ifstream f(e.path() / "cmdline");
    std::string cmd((std::istreambuf_iterator<char>(f)), {});
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (cmd.find(needle) != std::string::npos) out.push_back(static_cast<pid_t>(std::stoi(name)));
  }
  return out;
}

pid_t child_with(pid_t parent, const std::string& needle) {
  auto v = children_with(parent, needle);
  return v.size() == 1 ? v[0] : -1;
}

/// A free port on 127.0.0.1 (bound and released; the server binds it right after).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool listening(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

/// An HTTP MCP server run by node on 127.0.0.1:<port>: server-everything in streamableHttp
/// mode (tests/mcp/loopback.cjs keeps it on loopback), or `argv` with PORT in the environment.
struct http_peer {
  pid_t pid = -1;
  explicit http_peer(int port)
      : http_peer(port, {"/usr/bin/node", "--require", std::string(WEFT_SOURCE_ROOT) + "/tests/mcp/loopback.cjs",
                         peers_bin("mcp-server-everything"), "streamableHttp"}) {}
  http_peer(int port, std::vector<std::string> args) {
    auto port_env = fmt::format("PORT={}", port);
    auto peers_env = fmt::format("WEFT_MCP_PEERS={}", std::getenv("WEFT_MCP_PEERS") ? std::getenv("WEFT_MCP_PEERS") : "");
    std::vector<const char*> argv;
    for (auto& a : args) argv.push_back(a.c_str());
    argv.push_back(nullptr);
    pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      const char* envp[] = {port_env.c_str(), peers_env.c_str(), "PATH=/usr/bin:/bin", nullptr};
      ::execve(argv[0], const_cast<char* const*>(argv.data()), const_cast<char* const*>(envp));
      ::_exit(127);
    }
    for (int i = 0; i < 300 && !listening(port); ++i) std::this_thread::sleep_for(50ms);
    REQUIRE_MESSAGE(listening(port), args.back() << " did not listen on " << port);
  }
  void kill() {
    if (pid > 0) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    pid = -1;
  }
  ~http_peer() { kill(); }
};

}  // namespace

TEST_CASE("tool-mcp: three real MCP servers, one that never starts, kill -9, reload") {
  auto missing = test::missing_programs({"services/tool-mcp/weft-tool-mcp", "services/llm/weft-llm",
                                         "services/router/weft-router", "services/agent/weft-agent"});
  REQUIRE_MESSAGE(missing.empty(), "not built: " << missing);
  REQUIRE_MESSAGE(fs::exists(peers_bin("mcp-server-everything")),
                  "the MCP test peers are not installed at $WEFT_MCP_PEERS: run tools/dev setup");
  weft::test::temp_dir d{"weft-tool-mcp-it"};
  auto files = d.path.string() + "/files", graph = d.path.string() + "/graph.jsonl";
  fs::create_directories(files);
  // weftd derives services (tool-mcp among them) only for a config with an agent.
  auto head = fmt::format("[memory]\nenabled = false\n\n[agents.main]\nworkspace = \"{}/ws\"\n"
                          "[agents.main.tools]\nfamilies = [\"mcp\"]\n\n",
                          d.path.string());
  auto everything = server_table("everything", peers_bin("mcp-server-everything"), {"stdio"},
                                 "WEFT_PROBE = \"only-this\"");
  auto filesystem = server_table("filesystem", peers_bin("mcp-server-filesystem"), {files});
  auto memory = server_table("memory", peers_bin("mcp-server-memory"), {}, fmt::format("MEMORY_FILE_PATH = \"{}\"", graph));
  auto broken = server_table("broken", "/nonexistent/mcp-server", {});
  // Two more that never get ready: one exits at once, one never answers initialize.
  broken += server_table("crash", "sh", {"-c", "echo boom >&2; exit 3"});
  broken += server_table("mute", "sleep", {"3600"}) + "connect_timeout_ms = 500\n\n";
  ::setenv("WEFT_SECRET_PROBE", "must-not-leak", 1);  // weftd's (and so the host's) environment
  auto st = test::stack::start(head + everything + filesystem + memory + broken);
  auto b = st->bus_client();

  // 1. All three connect; the one that cannot start stays in backoff with its error.
  mv::servers list;
  bool up = wait_servers(*b, [](const mv::servers& l) {
    for (auto name : {"broken", "crash", "mute"}) {
      auto s = server_of(l, name);
      if (!s || s->last_error.empty()) return false;
    }
    return ready(l, "everything") && ready(l, "filesystem") && ready(l, "memory");
  }, &list);
  REQUIRE_MESSAGE(up, describe(list) << st->log());
  CHECK(list.servers.size() == 6);
  CHECK(server_of(list, "crash")->last_error == "exited with status 3: boom");
  CHECK(server_of(list, "mute")->last_error == "did not answer server/discover or initialize within 500 ms");
  for (auto name : {"crash", "mute"}) CHECK(server_of(list, name)->state != "ready");
  auto br = *server_of(list, "broken");
  CHECK(br.state == "backoff");
  CHECK(br.last_error == "Failed to start '/nonexistent/mcp-server': No such file or directory");
  CHECK(br.transport == "stdio");
  for (auto name : {"everything", "filesystem", "memory"}) {
    auto s = *server_of(list, name);
    CHECK(s.era == "legacy");
    CHECK(s.protocol_version == "2025-11-25");
    CHECK(s.tool_count > 0);
    CHECK(s.last_error == "");
  }
  CHECK(server_of(list, "everything")->server_info.find("everything") != std::string::npos);

  // 2. The tools, named <server>__<tool>.
  auto names = tool_names(*b);
  for (auto t : {"everything__echo", "everything__get-sum", "everything__get-tiny-image", "filesystem__read_text_file",
                 "filesystem__write_file", "memory__create_entities", "memory__read_graph"})
    CHECK_MESSAGE(has(names, t), t);
  CHECK(std::none_of(names.begin(), names.end(), [](auto& n) { return n.starts_with("broken__"); }));

  // 3. Calls: text, the child's environment, image, structured content, tool errors.
  auto echo = ok_call(*b, "everything__echo", {{"message", "hi"}});
  CHECK(echo.content == "Echo: hi");
  CHECK_FALSE(echo.is_error);
  CHECK(echo.blocks == "");
  auto env = ok_call(*b, "everything__get-env", json::object());
  CHECK(env.content.find("only-this") != std::string::npos);         // the entry's env
  CHECK(env.content.find("\"PATH\"") != std::string::npos);          // PATH and HOME are added
  CHECK(env.content.find("must-not-leak") == std::string::npos);     // weftd's own: never
  CHECK(env.content.find("WEFT_TOKEN_FD") == std::string::npos);
  auto image = ok_call(*b, "everything__get-tiny-image", json::object());
  CHECK(image.content.find("[image image/png, ") != std::string::npos);
  auto blocks = json::parse(image.blocks, nullptr, false);
  REQUIRE(blocks.is_array());
  CHECK(std::any_of(blocks.begin(), blocks.end(), [](auto& x) { return x["type"] == "image"; }));

  auto note = files + "/note.txt";
  auto wrote = ok_call(*b, "filesystem__write_file", {{"path", note}, {"content", "hello from weft"}});
  CHECK_FALSE(wrote.is_error);
  auto read = ok_call(*b, "filesystem__read_text_file", {{"path", note}});
  CHECK(read.content.find("hello from weft") != std::string::npos);
  auto structured = json::parse(read.structured, nullptr, false);
  REQUIRE(structured.is_object());
  CHECK(structured["content"] == "hello from weft");
  auto outside = ok_call(*b, "filesystem__read_text_file", {{"path", "/etc/hostname"}});
  CHECK(outside.is_error);
  CHECK(outside.content.find("denied") != std::string::npos);

  auto created = ok_call(*b, "memory__create_entities",
                         {{"entities", json::array({{{"name", "weft"}, {"entityType", "project"},
                                                     {"observations", json::array({"C++ gateway"})}}})}});
  CHECK_FALSE(created.is_error);
  auto graph_read = ok_call(*b, "memory__read_graph", json::object());
  CHECK(graph_read.content.find("C++ gateway") != std::string::npos);

  auto unknown = call(*b, "everything__no-such-tool", json::object());
  REQUIRE_FALSE(unknown);
  CHECK(unknown.err().code == "NoSuchTool");
  auto nobody = call(*b, "nobody__echo", json::object());
  REQUIRE_FALSE(nobody);
  CHECK(nobody.err().code == "NoSuchTool");
  auto down = ok_call(*b, "broken__anything", json::object());
  CHECK(down.is_error);
  CHECK(down.content.find("MCP server 'broken' is reconnecting (last error: Failed to start") != std::string::npos);

  // 4. kill -9 the memory server: reconnect, its tools come back, the others unaffected.
  auto host_pid = st->service_pid("tool-mcp");
  REQUIRE(host_pid > 0);
  auto victim = child_with(host_pid, "mcp-server-memory");
  auto everything_pid = child_with(host_pid, "mcp-server-everything");
  REQUIRE(victim > 0);
  REQUIRE(everything_pid > 0);
  auto restarts = server_of(servers(*b), "memory")->restarts;
  REQUIRE(::kill(victim, SIGKILL) == 0);
  // During the outage (or after it, the test cannot tell): another server answers.
  CHECK(ok_call(*b, "everything__echo", {{"message", "during"}}).content == "Echo: during");
  up = wait_servers(*b, [&](const mv::servers& l) {
    auto s = server_of(l, "memory");
    return s && s->state == "ready" && s->restarts > restarts;
  }, &list);
  REQUIRE_MESSAGE(up, describe(list) << st->log());
  CHECK(server_of(list, "memory")->last_error == "");
  CHECK(ready(list, "everything"));
  CHECK(ready(list, "filesystem"));
  CHECK(server_of(list, "everything")->restarts == 0);
  CHECK(child_with(host_pid, "mcp-server-everything") == everything_pid);
  auto after = child_with(host_pid, "mcp-server-memory");
  CHECK(after > 0);
  CHECK(after != victim);
  CHECK(has(tool_names(*b), "memory__read_graph"));
  CHECK(ok_call(*b, "memory__read_graph", json::object()).content.find("C++ gateway") != std::string::npos);

  // 5. A config that does not load (SIGHUP straight to tool-mcp; weftd would refuse it):
  // everything is kept.
  {
    std::ofstream f(st->config_path(), std::ios::trunc);
    f << "[tools.mcp_servers.x\n";
  }
  REQUIRE(::kill(host_pid, SIGHUP) == 0);
  bool logged = false;
  for (int i = 0; i < 100 && !logged; ++i) {
    logged = st->log().find("Failed to reload the MCP servers") != std::string::npos;
    if (!logged) std::this_thread::sleep_for(50ms);
  }
  CHECK(logged);
  list = servers(*b);
  CHECK(list.servers.size() == 6);
  CHECK(ready(list, "everything"));
  CHECK(ok_call(*b, "memory__read_graph", json::object()).content.find("C++ gateway") != std::string::npos);

  // 6. Edit the config (filesystem removed, extra added, memory changed) and reload: only
  // those three change.
  auto events = ipc::event_subscriber::connect(st->ctx(), service::events_endpoint(st->runtime()),
                                               {std::string(tool::tools_changed::type_name)});
  REQUIRE(events);
  auto filesystem_pid = child_with(host_pid, "mcp-server-filesystem");
  CHECK(filesystem_pid > 0);
  auto memory_pid = after;
  auto extra = server_table("extra", peers_bin("mcp-server-everything"), {"stdio"});
  {
    std::ofstream f(st->config_path(), std::ios::trunc);
    f << head << everything << memory << "call_timeout_ms = 30000\n\n" << broken << extra;
  }
  auto reload = st->weftctl({"reload"});
  REQUIRE_MESSAGE(reload.exit_code == 0, reload.out << reload.err);
  up = wait_servers(*b, [](const mv::servers& l) { return ready(l, "extra") && !server_of(l, "filesystem"); }, &list);
  REQUIRE_MESSAGE(up, describe(list) << st->log());
  names = tool_names(*b);
  CHECK(has(names, "extra__echo"));
  CHECK(has(names, "everything__echo"));
  CHECK(std::none_of(names.begin(), names.end(), [](auto& n) { return n.starts_with("filesystem__"); }));
  CHECK(ok_call(*b, "extra__echo", {{"message", "new"}}).content == "Echo: new");
  auto gone = call(*b, "filesystem__read_text_file", {{"path", note}});
  REQUIRE_FALSE(gone);
  CHECK(gone.err().code == "NoSuchTool");
  CHECK(st->service_pid("tool-mcp") == host_pid);
  CHECK(children_with(host_pid, "mcp-server-everything").size() == 2);
  auto still = children_with(host_pid, "mcp-server-everything");
  CHECK(std::find(still.begin(), still.end(), everything_pid) != still.end());  // not restarted
  // memory's entry changed: it was reconnected (a new process), and it is ready again.
  REQUIRE_MESSAGE(wait_servers(*b, [](const mv::servers& l) { return ready(l, "memory"); }, &list), describe(list));
  pid_t memory_now = -1;
  for (int i = 0; i < 100 && memory_now <= 0; ++i) {  // the old process may still be stopping
    memory_now = child_with(host_pid, "mcp-server-memory");
    if (memory_now <= 0) std::this_thread::sleep_for(100ms);
  }
  CHECK(memory_now > 0);
  CHECK(memory_now != memory_pid);
  CHECK(ok_call(*b, "memory__read_graph", json::object()).content.find("C++ gateway") != std::string::npos);
  CHECK(server_of(list, "everything")->restarts == 0);
  // The removed server's process is stopped (stdin closed, TERM, KILL at the latest).
  bool stopped = false;
  for (int i = 0; i < 100 && !stopped; ++i) {
    stopped = ::kill(filesystem_pid, 0) != 0 || children_with(host_pid, "mcp-server-filesystem").empty();
    if (!stopped) std::this_thread::sleep_for(100ms);
  }
  CHECK(stopped);
  // ToolsChanged was published by tool/mcp (the bus stamps the sender).
  bool seen = false;
  for (int i = 0; i < 50 && !seen; ++i)
    if (auto ev = (*events)->next(100ms)) {
      auto tc = ev->second.as<tool::tools_changed>();
      seen = tc && ev->second.env.from == "tool/mcp" && tc->count == names.size();
    }
  CHECK(seen);
  // The agent (family mcp) hears it and lists tool/mcp again before its next turn.
  bool relisted = false;
  for (int i = 0; i < 50 && !relisted; ++i) {
    relisted = st->log().find("'tool/mcp' changed its tools: listing them again") != std::string::npos;
    if (!relisted) std::this_thread::sleep_for(100ms);
  }
  CHECK(relisted);
}

TEST_CASE("tool-mcp: a Streamable HTTP server; it goes away and comes back") {
  auto missing = test::missing_programs({"services/tool-mcp/weft-tool-mcp", "services/llm/weft-llm",
                                         "services/router/weft-router", "services/agent/weft-agent"});
  REQUIRE_MESSAGE(missing.empty(), "not built: " << missing);
  REQUIRE_MESSAGE(fs::exists(peers_bin("mcp-server-everything")),
                  "the MCP test peers are not installed at $WEFT_MCP_PEERS: run tools/dev setup");
  weft::test::temp_dir d{"weft-tool-mcp-http-it"};
  int port = free_port();
  auto peer = std::make_unique<http_peer>(port);
  auto config = fmt::format(
      "[memory]\nenabled = false\n\n[agents.main]\nworkspace = \"{}/ws\"\n[agents.main.tools]\nfamilies = "
      "[\"mcp\"]\n\n[tools.mcp_servers.web]\nurl = \"http://127.0.0.1:{}/mcp\"\nheaders = {{ X-Trace = \"1\" }}\n\n"
      "[tools.mcp_servers.hang]\ncommand = \"python3\"\nargs = [\"{}/tests/integration/tool_mcp/hang_server.py\"]\n\n"
      // The derived tool-mcp replaced by the same program with a 1 s ping interval (weftd
      // passes services only a few variables of its own environment).
      "[services.tool-mcp]\nexec = \"{}\"\naddress = \"tool/mcp\"\nenv = {{ WEFT_MCP_PING_MS = \"1000\" }}\n",
      d.path.string(), port, WEFT_SOURCE_ROOT, test::build_path("services/tool-mcp/weft-tool-mcp"));
  ::setenv("WEFT_LOG", "info,tool-mcp=debug", 1);  // weftd passes it on to its services
  auto st = test::stack::start(config);
  ::unsetenv("WEFT_LOG");
  auto b = st->bus_client();
  mv::servers list;
  REQUIRE_MESSAGE(wait_servers(*b, [](const mv::servers& l) { return ready(l, "web"); }, &list),
                  describe(list) << st->log());
  auto s = *server_of(list, "web");
  CHECK(s.transport == "http");
  CHECK(s.target == fmt::format("http://127.0.0.1:{}/mcp", port));
  CHECK(s.protocol_version == "2025-11-25");
  CHECK(s.tool_count > 0);
  CHECK(ok_call(*b, "web__echo", {{"message", "over http"}}).content == "Echo: over http");
  auto sum = ok_call(*b, "web__get-sum", {{"a", 2}, {"b", 3}});
  CHECK(sum.content.find("5") != std::string::npos);
  auto image = ok_call(*b, "web__get-tiny-image", json::object());
  CHECK(image.content.find("[image image/png, ") != std::string::npos);
  // Server-initiated messages outside any request come on the standalone GET stream.
  CHECK_FALSE(ok_call(*b, "web__toggle-simulated-logging", json::object()).is_error);
  bool notified = false;
  for (int i = 0; i < 200 && !notified; ++i) {
    notified = st->log().find("MCP server 'web' notification notifications/message") != std::string::npos;
    if (!notified) std::this_thread::sleep_for(50ms);
  }
  CHECK_MESSAGE(notified, st->log());
  CHECK_FALSE(ok_call(*b, "web__toggle-simulated-logging", json::object()).is_error);  // off again

  // The server goes away: calls say so, the status shows the error; it comes back: ready.
  auto restarts = s.restarts;
  peer->kill();
  auto down = ok_call(*b, "web__echo", {{"message", "x"}});  // the POST that finds it gone
  CHECK(down.is_error);
  CHECK_MESSAGE(down.content.find("MCP server 'web' is reconnecting (last error: Failed to reach") != std::string::npos,
                down.content);
  list = servers(*b);
  CHECK(server_of(list, "web")->last_error.find("Failed to reach 'http://127.0.0.1:") != std::string::npos);
  peer = std::make_unique<http_peer>(port);
  REQUIRE_MESSAGE(wait_servers(*b, [&](const mv::servers& l) {
    auto w = server_of(l, "web");
    return w && w->state == "ready" && w->restarts > restarts;
  }, &list), describe(list) << st->log());
  CHECK(ok_call(*b, "web__echo", {{"message", "again"}}).content == "Echo: again");

  // A server that stops answering (pings included) is restarted by the health check.
  REQUIRE_MESSAGE(wait_servers(*b, [](const mv::servers& l) {
    auto h = server_of(l, "hang");
    return h && h->restarts >= 1;
  }, &list), describe(list) << st->log());
  // Logged with the program only: arguments (and URLs' userinfo and query) may hold secrets.
  CHECK(st->log().find("MCP server 'hang' (python3): did not answer ping within 2000 ms") != std::string::npos);
  CHECK(ready(servers(*b), "web"));  // answered every ping
}

namespace {

/// Gone, or a zombie nobody reaped yet.
bool process_gone(pid_t pid) {
  std::ifstream f(fmt::format("/proc/{}/stat", pid));
  if (!f) return true;
  std::string line((std::istreambuf_iterator<char>(f)), {});
  auto close = line.rfind(')');
  return close != std::string::npos && line.size() > close + 2 && line[close + 2] == 'Z';
}

}  // namespace

TEST_CASE("tool-mcp: a busy server is not pinged to death; timeouts cancel; limits; leftovers after kill -9") {
  auto missing = test::missing_programs({"services/tool-mcp/weft-tool-mcp", "services/llm/weft-llm",
                                         "services/router/weft-router", "services/agent/weft-agent"});
  REQUIRE_MESSAGE(missing.empty(), "not built: " << missing);
  weft::test::temp_dir d{"weft-tool-mcp-limits-it"};
  auto script = std::string(WEFT_SOURCE_ROOT) + "/tests/integration/tool_mcp/test_server.py";
  // An HTTP server whose tools/call stream ends without the response.
  int port = free_port();
  auto http_script = std::string(WEFT_SOURCE_ROOT) + "/tests/integration/tool_mcp/http_server.py";
  auto port_text = std::to_string(port);
  auto http_log = (d.path / "http.log").string();
  pid_t http_pid = ::fork();
  if (http_pid == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execlp("python3", "python3", http_script.c_str(), port_text.c_str(), http_log.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  struct reaper {
    pid_t pid;
    ~reaper() {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reap_http{http_pid};
  for (int i = 0; i < 300 && !listening(port); ++i) std::this_thread::sleep_for(50ms);
  REQUIRE(listening(port));
  auto config = fmt::format(
      "[memory]\nenabled = false\n\n[agents.main]\nworkspace = \"{0}/ws\"\n[agents.main.tools]\nfamilies = "
      "[\"mcp\"]\n\n"
      "[tools.mcp_servers.slow]\ncommand = \"python3\"\nargs = [\"{1}\", \"stubborn\"]\n\n"
      "[tools.mcp_servers.big]\ncommand = \"python3\"\nargs = [\"{1}\", \"big\"]\n\n"
      "[tools.mcp_servers.nowhere]\ncommand = \"python3\"\nargs = [\"{1}\"]\ncwd = \"/nonexistent/weft-cwd\"\n\n"
      "[tools.mcp_servers.cut]\nurl = \"http://127.0.0.1:{3}/mcp\"\n\n"
      // 2026-07-28 servers slower to answer server/discover (3 s) than the probe waits (2 s):
      // initialize goes beside the probe, and the probe's answer still wins.
      "[tools.mcp_servers.slowmodern]\nurl = \"http://127.0.0.1:{3}/slow-modern\"\nconnect_timeout_ms = 6000\n\n"
      "[tools.mcp_servers.slowboth]\nurl = \"http://127.0.0.1:{3}/slow-both\"\nconnect_timeout_ms = 6000\n"
      "headers = {{ X-Trace = \"t-both\" }}\n\n"
      // Ends a call's event stream after a priming event; the answer comes on the resumed GET.
      "[tools.mcp_servers.resume]\nurl = \"http://127.0.0.1:{3}/resume\"\nheaders = {{ X-Trace = \"t-resume\" }}\n\n"
      // Refuses the first server/discover with -32022 listing 2026-07-28.
      "[tools.mcp_servers.rejectonce]\nurl = \"http://127.0.0.1:{3}/reject-once\"\n\n"
      "[tools.mcp_servers.changing]\ncommand = \"python3\"\nargs = [\"{1}\", \"changing\"]\n\n"
      "[tools.mcp_servers.quitter]\ncommand = \"python3\"\nargs = [\"{1}\", \"quitter\", \"{0}/listens\"]\n\n"
      // Pings after 500 ms of silence, answered within 1000 ms (else: restart).
      "[services.tool-mcp]\nexec = \"{2}\"\naddress = \"tool/mcp\"\nenv = {{ WEFT_MCP_PING_MS = \"500\" }}\n",
      d.path.string(), script, test::build_path("services/tool-mcp/weft-tool-mcp"), port);
  auto st = test::stack::start(config);
  auto b = st->bus_client();
  mv::servers list;
  REQUIRE_MESSAGE(wait_servers(*b, [](const mv::servers& l) {
    auto big = server_of(l, "big"), nowhere = server_of(l, "nowhere");
    return ready(l, "slow") && ready(l, "cut") && ready(l, "quitter") && ready(l, "slowmodern") && ready(l, "slowboth") &&
           ready(l, "resume") && ready(l, "rejectonce") && big && big->state == "ready" && !big->last_error.empty() &&
           nowhere && !nowhere->last_error.empty();
  }, &list), describe(list) << st->log());

  // A missing working directory is named as such.
  CHECK(server_of(list, "nowhere")->last_error ==
        "Failed to start 'python3': working directory '/nonexistent/weft-cwd': No such file or directory");
  // A server whose tools would not fit one ListTools answer: connected, none offered, why.
  auto big = *server_of(list, "big");
  CHECK(big.tool_count == 0);
  CHECK_MESSAGE(big.last_error.find("none of its tools are offered") != std::string::npos, big.last_error);
  CHECK(big.last_error.find("max_message_bytes = 1048576") != std::string::npos);
  auto names = tool_names(*b);
  CHECK(has(names, "slow__nap"));
  CHECK(std::none_of(names.begin(), names.end(), [](auto& n) { return n.starts_with("big__"); }));
  auto refused = ok_call(*b, "big__echo", json::object());
  CHECK(refused.is_error);
  CHECK(refused.content.find("none of its tools are offered") != std::string::npos);

  // A slow 2026-07-28 server over HTTP: its refusal of initialize (HTTP 400) does not end the
  // connection while the probe is out; a server of both eras has the session initialize
  // opened ended (DELETE) and no event stream on it, and its 404 to subscriptions/listen
  // is an answer, not the end of a session.
  for (auto name : {"slowmodern", "slowboth"}) {
    auto s = *server_of(list, name);
    CHECK_MESSAGE(s.era == "modern", std::string(name));
    CHECK_MESSAGE(s.restarts == 0, (std::string(name) + ": " + s.last_error));
  }
  CHECK(ok_call(*b, "slowmodern__hello", json::object()).content == "hello from /slow-modern");
  CHECK(ok_call(*b, "slowboth__hello", json::object()).content == "hello from /slow-both");
  {
    std::string http_events;
    for (int i = 0; i < 100 && http_events.find("DELETE /slow-both s-1") == std::string::npos; ++i) {
      std::this_thread::sleep_for(100ms);
      std::ifstream f(http_log);
      http_events.assign(std::istreambuf_iterator<char>(f), {});
    }
    CHECK_MESSAGE(http_events.find("DELETE /slow-both s-1 t-both") != std::string::npos, http_events);
    CHECK_MESSAGE(http_events.find("GET /slow-both") == std::string::npos, http_events);
    CHECK(st->log().find("MCP server 'slowboth' offers tool list changes but no subscriptions/listen") != std::string::npos);
    CHECK(server_of(servers(*b), "slowboth")->restarts == 0);
  }

  // list_changed during the first tools/list: listed again once that one is done.
  bool extra = false;
  for (int i = 0; i < 100 && !extra; ++i) {
    extra = has(tool_names(*b), "changing__extra");
    if (!extra) std::this_thread::sleep_for(100ms);
  }
  CHECK_MESSAGE(extra, st->log());

  // HTTP: a tools/call whose event stream ends without the response is answered at once
  // (it used to wait for the call's deadline).
  auto cut = ok_call(*b, "cut__cut", json::object());
  CHECK(cut.is_error);
  CHECK_MESSAGE(cut.content.find("the server's event stream ended without an answer") != std::string::npos, cut.content);

  // Issue 28, item 8: a stream that ends before the answer after an event id (and retry) is
  // resumed with GET + Last-Event-ID, and the answer taken from there. Item 10: the call's
  // _meta goes to the server, and the entry's headers go with every request.
  {
    tool::call c;
    c.name = "resume__later";
    c.arguments = "{}";
    c.meta = R"({"progressToken":"p-7","io.weft/trace":"abc"})";
    c.timeout_ms = 20000;
    auto r = b->call("tool/mcp/resume__later", c, {.timeout = 30s, .attempt_timeout = 30s, .retry = false});
    REQUIRE_MESSAGE(r, r.err().to_string());
    auto res = r->as<tool::result>();
    REQUIRE(res);
    CHECK_FALSE(res->is_error);
    CHECK_MESSAGE(res->content == R"(resumed {"io.weft/trace": "abc", "progressToken": "p-7"})", res->content);
    c.meta = "[1]";
    auto bad = b->call("tool/mcp/resume__later", c, {.timeout = 10s, .attempt_timeout = 10s, .retry = false});
    REQUIRE_FALSE(bad);
    CHECK(bad.err().code == "BadArguments");
    CHECK(server_of(servers(*b), "resume")->restarts == 0);
  }
  // Issue 28, item 9: -32022 listing 2026-07-28 → asked again in that version, connected at
  // once (not refused by a fallback initialize and retried after a backoff).
  {
    auto r = *server_of(servers(*b), "rejectonce");
    CHECK(r.era == "modern");
    CHECK_MESSAGE(r.restarts == 0, r.last_error);
    CHECK(ok_call(*b, "rejectonce__hello", json::object()).content == "hello from /reject-once");
  }
  {
    std::ifstream f(http_log);
    std::string all((std::istreambuf_iterator<char>(f)), {});
    std::istringstream lines(all);
    int resume_lines = 0, both_lines = 0;
    for (std::string l; std::getline(lines, l);) {
      if (l.find(" /resume ") != std::string::npos) {
        ++resume_lines;
        CHECK_MESSAGE(l.find(" t-resume ") != std::string::npos, l);
      }
      if (l.find(" /slow-both ") != std::string::npos) {
        ++both_lines;
        CHECK_MESSAGE(l.find(" t-both ") != std::string::npos, l);
      }
    }
    CHECK(resume_lines >= 5);  // initialize, initialized, tools/list, the GET stream, tools/call, ...
    CHECK(both_lines >= 4);
    // The standalone GET stream (refused: 405) and the resumption of the call's stream.
    CHECK_MESSAGE(all.find("GET /resume r-1 t-resume -\n") != std::string::npos, all);
    CHECK_MESSAGE(all.find("GET /resume r-1 t-resume e1\n") != std::string::npos, all);
  }

  // A call longer than ping interval + ping timeout on a single-threaded server: the ping it
  // cannot answer meanwhile does not kill it.
  auto nap = ok_call(*b, "slow__nap", {{"seconds", 2.5}});
  CHECK_MESSAGE(nap.content == "slept", nap.content);
  CHECK_FALSE(nap.is_error);
  CHECK(server_of(servers(*b), "slow")->restarts == 0);

  // A 2026-07-28 server that ends every subscriptions/listen at once is not asked again every
  // second: the delays double from 1 s (timers only fire late, so these are lower bounds).
  {
    auto q = *server_of(servers(*b), "quitter");
    CHECK(q.era == "modern");
    std::vector<double> at;
    for (int i = 0; i < 300 && at.size() < 4; ++i) {
      at.clear();
      std::ifstream f(d.path / "listens");
      for (double t; f >> t;) at.push_back(t);
      if (at.size() < 4) std::this_thread::sleep_for(100ms);
    }
    REQUIRE_MESSAGE(at.size() >= 4, st->log());
    for (std::size_t i = 1; i < 4; ++i)
      CHECK_MESSAGE(at[i] - at[i - 1] >= 0.9 * double(1 << (i - 1)), "listen " << i << " came "
                                                                              << at[i] - at[i - 1] << " s after the one before");
    CHECK(server_of(servers(*b), "quitter")->restarts == 0);
  }

  // Deeply nested arguments are refused before parsing (they used to crash tool-mcp).
  auto host_pid = st->service_pid("tool-mcp");
  {
    tool::call c;
    c.name = "slow__echo";
    // Valid JSON, an object: it parses, but copying it would recurse 100000 levels deep.
    c.arguments = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
    auto r = b->call("tool/mcp/slow__echo", c, {.timeout = 10s, .attempt_timeout = 10s, .retry = false});
    REQUIRE_FALSE(r);
    CHECK(r.err().code == "BadArguments");
    CHECK(r.err().message.find("nested deeper than 128 levels") != std::string::npos);
  }
  CHECK(ok_call(*b, "slow__echo", {{"a", {{"b", 1}}}}).content == R"({"a": {"b": 1}})");
  CHECK(st->service_pid("tool-mcp") == host_pid);

  // A call that times out is cancelled on the wire (its slot is freed).
  {
    tool::call c;
    c.name = "slow__nap";
    c.arguments = R"({"seconds": 0.6})";
    c.timeout_ms = 200;
    auto r = b->call("tool/mcp/slow__nap", c, {.timeout = 10s, .attempt_timeout = 10s, .retry = false});
    REQUIRE_FALSE(r);
    CHECK(r.err().code == "Timeout");
  }
  auto cancelled = json::parse(ok_call(*b, "slow__cancelled", json::object()).content, nullptr, false);
  REQUIRE(cancelled.is_array());
  CHECK(cancelled.size() == 1);
  CHECK(server_of(servers(*b), "slow")->restarts == 0);

  // kill -9 of tool-mcp: its stdio servers do not outlive it (this one ignores stdin's end);
  // the next tool-mcp kills the groups its predecessor recorded.
  auto old_server = child_with(host_pid, "test_server.py stubborn");
  REQUIRE(old_server > 0);
  REQUIRE(::kill(host_pid, SIGKILL) == 0);
  pid_t new_host = -1;
  for (int i = 0; i < 300; ++i) {
    new_host = st->service_pid("tool-mcp");
    if (new_host > 0 && new_host != host_pid) break;
    std::this_thread::sleep_for(100ms);
  }
  REQUIRE(new_host > 0);
  REQUIRE(new_host != host_pid);
  bool gone = false;
  for (int i = 0; i < 300 && !gone; ++i) {
    gone = process_gone(old_server);
    if (!gone) std::this_thread::sleep_for(100ms);
  }
  CHECK_MESSAGE(gone, st->log());
  REQUIRE_MESSAGE(wait_servers(*b, [](const mv::servers& l) { return ready(l, "slow"); }, &list), describe(list));
  CHECK(st->log().find("left behind by a previous weft-tool-mcp") != std::string::npos);
}

TEST_CASE("tool-mcp: 2026-07-28 servers (the TypeScript SDK v2) over stdio and HTTP — discover, _meta, listen") {
  auto missing = test::missing_programs({"services/tool-mcp/weft-tool-mcp", "services/llm/weft-llm",
                                         "services/router/weft-router", "services/agent/weft-agent"});
  REQUIRE_MESSAGE(missing.empty(), "not built: " << missing);
  const char* peers = std::getenv("WEFT_MCP_PEERS");
  REQUIRE_MESSAGE((peers && fs::exists(fs::path(peers) / "node_modules/@modelcontextprotocol/server")),
                  "the MCP test peers are not installed at $WEFT_MCP_PEERS: run tools/dev setup");
  weft::test::temp_dir d{"weft-tool-mcp-modern-it"};
  auto script = std::string(WEFT_SOURCE_ROOT) + "/tests/mcp/modern_server.mjs";
  int port = free_port();
  auto peer = std::make_unique<http_peer>(port, std::vector<std::string>{"/usr/bin/node", script, "--http",
                                                                         std::to_string(port)});
  auto config = fmt::format(
      "[memory]\nenabled = false\n\n[agents.main]\nworkspace = \"{}/ws\"\n[agents.main.tools]\nfamilies = "
      "[\"mcp\"]\n\n{}[tools.mcp_servers.web2]\nurl = \"http://127.0.0.1:{}/mcp\"\n\n{}"
      "[services.tool-mcp]\nexec = \"{}\"\naddress = \"tool/mcp\"\nenv = {{ WEFT_MCP_PING_MS = \"1000\" }}\n",
      d.path.string(), server_table("new", "node", {script}, fmt::format("WEFT_MCP_PEERS = \"{}\"", peers)), port,
      server_table("old", peers_bin("mcp-server-everything"), {"stdio"}),
      test::build_path("services/tool-mcp/weft-tool-mcp"));
  ::setenv("WEFT_LOG", "info,tool-mcp=debug", 1);
  auto st = test::stack::start(config);
  ::unsetenv("WEFT_LOG");
  auto b = st->bus_client();
  mv::servers list;
  REQUIRE_MESSAGE(wait_servers(*b, [](const mv::servers& l) { return ready(l, "new") && ready(l, "web2") && ready(l, "old"); },
                               &list),
                  describe(list) << st->log());
  // The era is found by asking (server/discover); the legacy server answers -32601 and gets initialize.
  for (auto name : {"new", "web2"}) {
    CAPTURE(name);
    auto s = *server_of(list, name);
    CHECK(s.era == "modern");
    CHECK(s.protocol_version == "2026-07-28");
    CHECK(s.server_info == "weft-modern-test 0.1.0");
    CHECK(s.tool_count == 4);
  }
  CHECK(server_of(list, "old")->era == "legacy");
  CHECK(server_of(list, "old")->protocol_version == "2025-11-25");

  auto names = tool_names(*b);
  for (auto t : {"new__add", "new__echo", "new__slow", "new__toggle", "web2__add", "web2__toggle"}) CHECK(has(names, t));
  CHECK_FALSE(has(names, "new__bonus"));
  for (auto server : {std::string("new"), std::string("web2")}) {
    CAPTURE(server);
    // The server refuses requests without the 2026-07-28 _meta (and, over HTTP, without the
    // MCP-Protocol-Version, Mcp-Method and Mcp-Name headers that match it): these succeed.
    auto sum = ok_call(*b, server + "__add", {{"a", 2}, {"b", 3}});
    CHECK(sum.content == "5");
    CHECK(json::parse(sum.structured) == json{{"sum", 5}});
    CHECK(ok_call(*b, server + "__echo", {{"message", "modern"}}).content == "Echo: modern");
    auto bad = ok_call(*b, server + "__add", {{"a", "two"}});
    CHECK(bad.is_error);

    // list_changed comes only to a subscriptions/listen: the new tool appears, then goes.
    CHECK(ok_call(*b, server + "__toggle", json::object()).content == "bonus on");
    bool on = false;
    for (int i = 0; i < 200 && !on; ++i) {
      on = has(tool_names(*b), server + "__bonus");
      if (!on) std::this_thread::sleep_for(50ms);
    }
    REQUIRE_MESSAGE(on, st->log());
    CHECK(ok_call(*b, server + "__bonus", json::object()).content == "bonus!");
    CHECK(ok_call(*b, server + "__toggle", json::object()).content == "bonus off");
    bool off = false;
    for (int i = 0; i < 200 && !off; ++i) {
      off = !has(tool_names(*b), server + "__bonus");
      if (!off) std::this_thread::sleep_for(50ms);
    }
    CHECK_MESSAGE(off, st->log());
  }

  // The health check of an era without ping (server/discover) keeps them connected.
  std::this_thread::sleep_for(2500ms);
  list = servers(*b);
  CHECK(server_of(list, "new")->restarts == 0);
  CHECK(server_of(list, "web2")->restarts == 0);
  CHECK_MESSAGE(server_of(list, "new")->last_error.empty(), describe(list));

  // The HTTP server goes away and comes back: its listen stream broke, and is opened again.
  auto restarts = server_of(list, "web2")->restarts;
  peer->kill();
  peer = std::make_unique<http_peer>(port, std::vector<std::string>{"/usr/bin/node", script, "--http", std::to_string(port)});
  bool listening_again = false;
  for (int i = 0; i < 400 && !listening_again; ++i) {
    // A toggle answered and seen through the listen: the tool set follows it.
    auto t = call(*b, "web2__toggle", json::object());
    if (t && !t->is_error && t->content == "bonus on") {
      for (int j = 0; j < 100 && !listening_again; ++j) {
        listening_again = has(tool_names(*b), "web2__bonus");
        if (!listening_again) std::this_thread::sleep_for(50ms);
      }
      if (!listening_again) (void)call(*b, "web2__toggle", json::object());  // off again; retry
    }
    if (!listening_again) std::this_thread::sleep_for(100ms);
  }
  CHECK_MESSAGE(listening_again, describe(servers(*b)) << st->log());
  (void)restarts;
}
