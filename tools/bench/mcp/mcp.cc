// weft-bench-mcp — MCP both ways (issue 5), on real processes, printing measured figures.
//
//   weft-bench-mcp server [--calls N]   weft as an MCP server: tools/call of the fs tool
//                                       read_file through `weftctl mcp serve` (stdio) and
//                                       through Streamable HTTP; initialize and one tools/list
//                                       timed; a bare bus Call to the same tool as the floor
//   weft-bench-mcp host [--calls N]     weft as an MCP client host: bus Call to
//                                       tool/mcp/<server>__echo for server-everything (node,
//                                       npm peers) and for bench_server.py (answers at once),
//                                       each next to the same call made directly over stdio
//   weft-bench-mcp list [--runs R] [--list-calls L]
//                                       500 tools: tool-mcp's connect-to-ready for a server
//                                       with 500 tools, bus ListTools at tool/mcp, and
//                                       tools/list through weft's MCP server over HTTP
//   weft-bench-mcp all                  the three (default)
//
// Options: --calls N (default 2000, after --warmup W, default 200), --runs R (default 5),
// --list-calls L (default 200), --peers DIR (default $WEFT_MCP_PEERS, else
// <build>/peers/mcp, where `tools/dev peers` installs the npm MCP servers).
// Environment: WEFT_MCP_PEERS as --peers. Not a test: it prints numbers and asserts nothing.
#include <curl/curl.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <numeric>
#include <optional>
#include <thread>

#include <weft/base/io.hh>
#include <weft/ipc/bus_client.hh>
#include <weft/mcp/client.hh>
#include <weft/mcp/stdio.hh>
#include <weft/mcp/version.hh>
#include <weft/service/control_client.hh>

#include "proto/bus_v1.hh"
#include "proto/mcp_v1.hh"
#include "proto/supervisor_v1.hh"
#include "proto/tool_v1.hh"
#include "tools/bench/bench_stack.hh"

using namespace std::chrono_literals;
using weft::bench::clk;
using weft::bench::stack;
namespace fs = std::filesystem;
namespace sv = weft::proto::supervisor_v1;
namespace tv = weft::proto::tool_v1;
namespace mv = weft::proto::mcp_v1;
using json = weft::mcp::json;

namespace {

struct settings {
  int calls = 2000, warmup = 200, runs = 5, list_calls = 200;
  std::string peers;
  std::string host_baseline;  ///< another weft-tool-mcp, measured beside the built one (host)
};

std::string source_root() { return WEFT_SOURCE_ROOT; }

// ---------------------------------------------------------------------------------------------
// Figures

double us_since(clk::time_point t0) { return std::chrono::duration<double, std::micro>(clk::now() - t0).count(); }

struct stats {
  double p50 = 0, p99 = 0, mean = 0, max = 0;
  std::size_t n = 0;
};

stats stats_of(std::vector<double> v) {
  stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto at = [&](double p) { return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))]; };
  s.p50 = at(0.5);
  s.p99 = at(0.99);
  s.max = v.back();
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  s.n = v.size();
  return s;
}

void header(std::string_view title) {
  fmt::print("\n{}\n", title);
  fmt::print("  {:<62} {:>9} {:>9} {:>9} {:>9}\n", "path", "p50 µs", "p99 µs", "mean µs", "max µs");
}

void row(std::string_view what, const stats& s) {
  fmt::print("  {:<62} {:>9.0f} {:>9.0f} {:>9.0f} {:>9.0f}\n", what, s.p50, s.p99, s.mean, s.max);
}

void one(std::string_view what, double us) { fmt::print("  {:<62} {:>9.0f} µs (once)\n", what, us); }

// CPU time of the stack's processes (utime+stime from /proc/<pid>/stat), so a round trip's
// cost can be split between weft's processes, the server and the client.
std::uint64_t cpu_ticks(pid_t pid) {
  std::ifstream f(fmt::format("/proc/{}/stat", pid));
  std::string stat;
  std::getline(f, stat);
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  std::uint64_t ut = 0, st = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) ut = std::stoull(field);
    if (i == 15) st = std::stoull(field);
  }
  return ut + st;
}

/// Every descendant of `root` (and `root`), by pid, with its command name.
std::map<pid_t, std::string> tree(pid_t root) {
  std::map<pid_t, std::string> out{{root, weft::bench::comm(root)}};
  std::vector<pid_t> todo{root};
  while (!todo.empty()) {
    auto p = todo.back();
    todo.pop_back();
    for (auto c : weft::bench::children_of(p)) {
      out[c] = weft::bench::comm(c);
      todo.push_back(c);
    }
  }
  return out;
}

struct cpu_snapshot {
  std::map<pid_t, std::pair<std::string, std::uint64_t>> procs;
  double self_us = 0;
};

cpu_snapshot cpu_now(const std::vector<pid_t>& roots) {
  cpu_snapshot s;
  for (auto r : roots)
    for (auto& [pid, name] : tree(r)) s.procs[pid] = {name, cpu_ticks(pid)};
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  s.self_us = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
              static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  return s;
}

/// Adds the CPU µs each process (by name) and this client used between two snapshots.
void cpu_add(std::map<std::string, double>& acc, const cpu_snapshot& a, const cpu_snapshot& b) {
  static const double tick_us = 1e6 / static_cast<double>(::sysconf(_SC_CLK_TCK));
  for (auto& [pid, v] : b.procs) {
    auto it = a.procs.find(pid);
    auto before = it == a.procs.end() ? 0 : it->second.second;
    if (v.second > before) acc[v.first] += static_cast<double>(v.second - before) * tick_us;
  }
  acc["(this client)"] += b.self_us - a.self_us;
}

/// Prints CPU µs per call of every process that used any.
void cpu_report(const std::map<std::string, double>& by_name, std::size_t calls) {
  std::vector<std::pair<double, std::string>> sorted;
  double total = 0;
  for (auto& [n, us] : by_name) {
    sorted.push_back({us, n});
    total += us;
  }
  std::sort(sorted.rbegin(), sorted.rend());
  auto per = [&](double us) { return us / static_cast<double>(calls); };
  fmt::print("      CPU per call ({} ms ticks): ", 1000 / ::sysconf(_SC_CLK_TCK));
  for (auto& [us, n] : sorted)
    if (per(us) >= 1) fmt::print("{} {:.0f} µs, ", n, per(us));
  fmt::print("total {:.0f} µs\n", per(total));
}

void machine() {
  std::ifstream f("/proc/cpuinfo");
  std::string line, model = "?";
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  std::ifstream la("/proc/loadavg");
  std::string load;
  std::getline(la, load);
  std::string node = "?";
  if (FILE* p = ::popen("node --version 2>/dev/null", "r")) {
    char buf[64] = {};
    if (std::fgets(buf, sizeof buf, p)) node = std::string(buf, std::strcspn(buf, "\n"));
    ::pclose(p);
  }
  fmt::print("machine: {} CPUs ({}), load average {} — shared with other work; node {}\n",
             ::sysconf(_SC_NPROCESSORS_ONLN), model, load.substr(0, load.find(' ', load.find(' ', load.find(' ') + 1) + 1)),
             node);
}

// ---------------------------------------------------------------------------------------------
// The stack

std::string base_config(const std::string& families, const std::string& extra) {
  // An LLM provider nobody calls (the llm service needs one), no memory service, one agent.
  return fmt::format(
      "[providers.none]\nstyle = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"none\"\n"
      "[llm]\ndefault_provider = \"none\"\n"
      "[memory]\nenabled = false\n"
      "[agents.main]\n[agents.main.tools]\nfamilies = [{}]\n"
      "{}",
      families, extra);
}

/// After a stack is up: its services finish starting (connections, first heartbeats)
/// before anything is timed.
constexpr auto settle = 1s;

constexpr std::string_view mcp_http = "[mcp]\nagent = \"main\"\nlisten = \"127.0.0.1:0\"\n";

std::string server_entry(const std::string& name, const std::string& command, const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env = {}) {
  std::string a, e;
  for (auto& x : args) a += fmt::format("{}\"{}\"", a.empty() ? "" : ", ", x);
  for (auto& [k, v] : env) e += fmt::format("{}{} = \"{}\"", e.empty() ? "" : ", ", k, v);
  return fmt::format("[tools.mcp_servers.{}]\ncommand = \"{}\"\nargs = [{}]\n{}", name, command, a,
                     e.empty() ? "" : "env = { " + e + " }\n");
}

std::string python() { return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3"; }
std::string bench_server() { return source_root() + "/tools/bench/mcp/bench_server.py"; }

std::unique_ptr<weft::ipc::bus_client> join(zmq::context_t& ctx, const std::string& runtime) {
  return weft::bench::join_bus(ctx, runtime);
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::string s((std::istreambuf_iterator<char>(f)), {});
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

void write_text(const std::string& path, const std::string& text) {
  if (auto w = weft::write_file_atomic(path, text, 0644); !w) throw std::runtime_error(w.err().message);
}

std::string wait_file(const std::string& path, std::chrono::seconds limit, std::string_view who) {
  auto deadline = clk::now() + limit;
  for (;;) {
    if (auto s = read_text(path); !s.empty()) return s;
    if (clk::now() > deadline)
      throw std::runtime_error(fmt::format("{} did not write {} within {} s", who, path, limit.count()));
    std::this_thread::sleep_for(10ms);
  }
}

/// The client host's view of its servers (ListServers at tool/mcp); `why` gets the failure.
std::vector<mv::server_status> list_servers(weft::ipc::bus_client& b, std::string* why = nullptr) {
  weft::ipc::call_options o;
  o.timeout = 2s;
  auto r = b.call("tool/mcp", mv::list_servers{}, o);
  if (!r) {
    if (why) *why = r.err().to_string();
    return {};
  }
  auto s = r->as<mv::servers>();
  if (!s) {
    if (why) *why = s.err().to_string();
    return {};
  }
  return s->servers;
}

std::optional<mv::server_status> server_named(weft::ipc::bus_client& b, const std::string& name) {
  for (auto& s : list_servers(b))
    if (s.name == name) return s;
  return std::nullopt;
}

/// Waits until ListServers says every one of `names` is ready.
void wait_ready(weft::ipc::bus_client& b, const std::vector<std::string>& names, std::chrono::seconds limit) {
  auto deadline = clk::now() + limit;
  for (;;) {
    std::string why;
    auto all = list_servers(b, &why);
    std::string missing;
    for (auto& n : names) {
      auto it = std::find_if(all.begin(), all.end(), [&](auto& s) { return s.name == n; });
      if (it == all.end() || it->state != "ready")
        missing += fmt::format(" {} ({})", n,
                               it == all.end() ? "not listed" : it->state + (it->last_error.empty() ? "" : ": " + it->last_error));
    }
    if (missing.empty()) return;
    if (clk::now() > deadline)
      throw std::runtime_error(fmt::format("MCP servers not ready after {} s:{}{}", limit.count(), missing,
                                           why.empty() ? "" : " (ListServers at tool/mcp: " + why + ")"));
    std::this_thread::sleep_for(50ms);
  }
}

// ---------------------------------------------------------------------------------------------
// A stdio MCP peer driven by the libs/mcp client session

class stdio_peer {
 public:
  /// Starts argv[0] (PATH lookup) with pipes and an environment of PATH, HOME and `env`
  /// (as tool-mcp starts its servers).
  stdio_peer(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {}) {
    std::vector<std::string> envs;
    for (auto k : {"PATH", "HOME"})
      if (const char* v = std::getenv(k)) envs.push_back(fmt::format("{}={}", k, v));
    for (auto& [k, v] : env) envs.push_back(k + "=" + v);
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    _pid = ::fork();
    if (_pid == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 2);
      std::vector<char*> a, e;
      for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      for (auto& s : envs) e.push_back(const_cast<char*>(s.c_str()));
      e.push_back(nullptr);
      ::execvpe(a[0], a.data(), e.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    _to = in[1];
    _from = out[0];
    weft::mcp::client::options o;
    o.name = "weft-bench-mcp";
    o.max_pages = 100;
    _client = std::make_unique<weft::mcp::client>(o, [this](std::string line) {
      auto f = weft::mcp::frame(line);
      if (!f || !weft::mcp::write_all(_to, *f)) throw std::runtime_error("Failed to write to the MCP peer's stdin");
    });
  }
  ~stdio_peer() {
    _client.reset();
    ::close(_to);  // a stdio server ends at end of input
    auto deadline = clk::now() + 3s;
    int ws;
    while (::waitpid(_pid, &ws, WNOHANG) == 0) {
      if (clk::now() > deadline) {
        ::kill(_pid, SIGKILL);
        ::waitpid(_pid, &ws, 0);
        break;
      }
      std::this_thread::sleep_for(5ms);
    }
    ::close(_from);
  }
  stdio_peer(const stdio_peer&) = delete;
  stdio_peer& operator=(const stdio_peer&) = delete;

  weft::mcp::client& client() { return *_client; }
  pid_t pid() const { return _pid; }

  /// Feeds the peer's output to the session until `done`.
  void pump(const bool& done, std::chrono::milliseconds limit = 30s) {
    auto deadline = clk::now() + limit;
    while (!done) {
      while (auto l = _reader.next()) {
        if (*l) (void)_client->receive(**l);
        if (done) return;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clk::now()).count();
      pollfd p{_from, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0)
        throw std::runtime_error("the MCP peer did not answer within the time limit");
      auto r = _reader.read_from(_from);
      if (!r) throw std::runtime_error(r.err().to_string());
      if (!*r) throw std::runtime_error("the MCP peer closed its output");
    }
  }

  weft::mcp::server_hello initialize() {
    return wait<weft::mcp::server_hello>([&](auto cb) { _client->initialize(clk::now(), cb); });
  }
  /// The era the server speaks (server/discover first, as tool-mcp does).
  weft::mcp::server_hello connect() {
    return wait<weft::mcp::server_hello>(
        [&](auto cb) { _client->connect(clk::now(), weft::mcp::client::mode::automatic, 5s, cb); });
  }
  std::vector<weft::mcp::tool> list_tools() {
    return wait<std::vector<weft::mcp::tool>>([&](auto cb) { _client->list_tools(clk::now(), cb); });
  }
  weft::mcp::call_result call(const std::string& name, const json& args) {
    auto r = wait<weft::mcp::call_result>([&](auto cb) { _client->call_tool(clk::now(), name, args, cb); });
    if (r.is_error)
      throw std::runtime_error(fmt::format("tool '{}' failed: {}", name, r.content.empty() ? "" : r.content[0].text));
    return r;
  }

 private:
  template <class T, class Start>
  T wait(Start start) {
    std::optional<weft::result<T>> out;
    bool done = false;
    start([&](weft::result<T> r) {
      out.emplace(std::move(r));
      done = true;
    });
    pump(done);
    if (!*out) throw std::runtime_error(out->err().to_string());
    return std::move(**out);
  }

  pid_t _pid = -1;
  int _to = -1, _from = -1;
  weft::mcp::line_reader _reader{64u << 20};
  std::unique_ptr<weft::mcp::client> _client;
};

// ---------------------------------------------------------------------------------------------
// A Streamable HTTP MCP client on one keep-alive libcurl handle

class http_session {
 public:
  /// `modern`: 2026-07-28 — no session; every request carries the `_meta` envelope and the
  /// MCP-Protocol-Version, Mcp-Method and Mcp-Name headers.
  http_session(std::uint16_t port, std::string token, bool modern = false)
      : _url(fmt::format("http://127.0.0.1:{}/mcp", port)), _token(std::move(token)), _modern(modern) {
    _h = ::curl_easy_init();
    if (!_h) throw std::runtime_error("curl_easy_init failed");
    ::curl_easy_setopt(_h, CURLOPT_URL, _url.c_str());
    ::curl_easy_setopt(_h, CURLOPT_POST, 1L);
    ::curl_easy_setopt(_h, CURLOPT_TCP_NODELAY, 1L);
    ::curl_easy_setopt(_h, CURLOPT_TIMEOUT_MS, 30000L);
    ::curl_easy_setopt(_h, CURLOPT_NOSIGNAL, 1L);
    ::curl_easy_setopt(_h, CURLOPT_WRITEFUNCTION, &http_session::on_body);
    ::curl_easy_setopt(_h, CURLOPT_WRITEDATA, this);
    ::curl_easy_setopt(_h, CURLOPT_HEADERFUNCTION, &http_session::on_header);
    ::curl_easy_setopt(_h, CURLOPT_HEADERDATA, this);
    headers();
  }
  ~http_session() {
    if (_hdr) ::curl_slist_free_all(_hdr);
    ::curl_easy_cleanup(_h);
  }
  http_session(const http_session&) = delete;
  http_session& operator=(const http_session&) = delete;

  /// One request; returns its `result` (a JSON-RPC error or an HTTP failure throws).
  json request(const std::string& method, json params = json::object()) {
    auto id = _next_id++;
    if (_modern) {
      params["_meta"] = {{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                         {"io.modelcontextprotocol/clientCapabilities", json::object()},
                         {"io.modelcontextprotocol/clientInfo", {{"name", "weft-bench-mcp"}, {"version", "0.1"}}}};
      _method = method;
      auto key = weft::mcp::mcp_name_param(method);
      _name = key && params.contains(key) && params[key].is_string()
                  ? weft::mcp::encode_header_value(params[key].get<std::string>())
                  : "";
      _headers_stale = true;
    }
    auto status = post(json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}}.dump());
    if (status != 200) throw std::runtime_error(fmt::format("{}: HTTP {}: {}", method, status, _body.substr(0, 300)));
    json answer;
    if (_ctype.rfind("text/event-stream", 0) == 0) {
      // One SSE event per message; the answer is the event whose data carries our id.
      std::string data;
      std::istringstream lines(_body);
      std::string line;
      auto finish = [&] {
        if (data.empty()) return;
        auto m = json::parse(data, nullptr, false);
        if (m.is_object() && m.contains("id") && m["id"] == id) answer = std::move(m);
        data.clear();
      };
      while (std::getline(lines, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) finish();
        else if (line.rfind("data:", 0) == 0) data += line.substr(line[5] == ' ' ? 6 : 5);
      }
      finish();
    } else {
      answer = json::parse(_body, nullptr, false);
    }
    if (!answer.is_object()) throw std::runtime_error(fmt::format("{}: no answer in: {}", method, _body.substr(0, 300)));
    if (answer.contains("error")) throw std::runtime_error(fmt::format("{}: {}", method, answer["error"].dump()));
    if (method == "initialize") {
      _protocol = answer["result"].value("protocolVersion", "");
      headers();
    }
    return answer["result"];
  }
  void notify(const std::string& method) {
    auto status = post(json{{"jsonrpc", "2.0"}, {"method", method}}.dump());
    if (status / 100 != 2) throw std::runtime_error(fmt::format("{}: HTTP {}", method, status));
  }

 private:
  static std::size_t on_body(char* p, std::size_t size, std::size_t n, void* self) {
    static_cast<http_session*>(self)->_body.append(p, size * n);
    return size * n;
  }
  static std::size_t on_header(char* p, std::size_t size, std::size_t n, void* self) {
    auto* s = static_cast<http_session*>(self);
    std::string_view h(p, size * n);
    auto value = [&](std::string_view name) -> std::optional<std::string> {
      if (h.size() <= name.size() || strncasecmp(h.data(), name.data(), name.size()) != 0) return std::nullopt;
      auto v = h.substr(name.size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
      return std::string(v);
    };
    if (auto v = value("content-type:")) s->_ctype = *v;
    if (auto v = value("mcp-session-id:"); v && *v != s->_session) {
      s->_session = *v;
      s->_headers_stale = true;
    }
    return size * n;
  }
  void headers() {
    if (_hdr) ::curl_slist_free_all(_hdr);
    _hdr = nullptr;
    std::vector<std::string> hs = {"Content-Type: application/json", "Accept: application/json, text/event-stream"};
    if (!_token.empty()) hs.push_back("Authorization: Bearer " + _token);
    if (!_session.empty()) hs.push_back("Mcp-Session-Id: " + _session);
    if (!_protocol.empty()) hs.push_back("MCP-Protocol-Version: " + _protocol);
    if (_modern) {
      hs.push_back("MCP-Protocol-Version: 2026-07-28");
      hs.push_back("Mcp-Method: " + _method);
      if (!_name.empty()) hs.push_back("Mcp-Name: " + _name);
    }
    for (auto& h : hs) _hdr = ::curl_slist_append(_hdr, h.c_str());
    ::curl_easy_setopt(_h, CURLOPT_HTTPHEADER, _hdr);
    _headers_stale = false;
  }
  long post(const std::string& body) {
    if (_headers_stale) headers();
    _body.clear();
    _ctype.clear();
    ::curl_easy_setopt(_h, CURLOPT_POSTFIELDS, body.c_str());
    ::curl_easy_setopt(_h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    if (auto rc = ::curl_easy_perform(_h); rc != CURLE_OK)
      throw std::runtime_error(fmt::format("POST {}: {}", _url, ::curl_easy_strerror(rc)));
    long status = 0;
    ::curl_easy_getinfo(_h, CURLINFO_RESPONSE_CODE, &status);
    if (_headers_stale) headers();
    return status;
  }

  CURL* _h = nullptr;
  curl_slist* _hdr = nullptr;
  std::string _url, _token, _session, _protocol, _body, _ctype;
  bool _modern = false;
  std::string _method, _name;  // of the request being sent (modern headers)
  bool _headers_stale = false;
  std::int64_t _next_id = 1;
};

// ---------------------------------------------------------------------------------------------
// Runs

/// Times `n` calls of `f` after `warmup` untimed ones.
std::vector<double> timed(int warmup, int n, const std::function<void()>& f) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto t0 = clk::now();
    f();
    us.push_back(us_since(t0));
  }
  return us;
}

/// One path measured: a label, the processes whose CPU time counts, the call.
struct path {
  std::string label;
  std::vector<pid_t> roots;
  std::function<void()> call;
  std::vector<double> us;
  std::map<std::string, double> cpu;
};

/// Warms every path up, then times `n` calls of each in `rounds` interleaved rounds (path A
/// 1/rounds of its calls, then B, …, then A again), so that load from elsewhere on a shared
/// machine falls on all of them alike; prints one row (and the CPU per call) per path.
void run_paths(const settings& cfg, std::vector<path>& paths, int n = 0, int warmup = -1, int rounds = 4) {
  if (n == 0) n = cfg.calls;
  if (warmup < 0) warmup = cfg.warmup;
  for (auto& p : paths)
    for (int i = 0; i < warmup; ++i) p.call();
  for (int r = 0; r < rounds; ++r)
    for (auto& p : paths) {
      int k = n / rounds + (r < n % rounds ? 1 : 0);
      auto a = cpu_now(p.roots);
      auto us = timed(0, k, p.call);
      auto b = cpu_now(p.roots);
      cpu_add(p.cpu, a, b);
      p.us.insert(p.us.end(), us.begin(), us.end());
    }
  for (auto& p : paths) {
    row(p.label, stats_of(p.us));
    cpu_report(p.cpu, p.us.size());
  }
}

void timed_row(const settings& cfg, std::string label, std::vector<pid_t> roots, std::function<void()> f, int n = 0,
               int warmup = -1) {
  std::vector<path> one_path{{std::move(label), std::move(roots), std::move(f), {}, {}}};
  run_paths(cfg, one_path, n, warmup, 1);
}

/// Runs one part; a failure is printed as "not measured" and the next part goes on, so a
/// missing piece (a service not built, the npm peers not installed) costs only its rows.
void attempt(std::string_view what, const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    fmt::print("  {:<62} not measured: {}\n", what, e.what());
  }
}

void call_tool_on_bus(weft::ipc::bus_client& b, const std::string& address, const std::string& name,
                      const std::string& args) {
  weft::ipc::call_options o;
  o.retry = false;
  o.timeout = 30s;
  o.attempt_timeout = 30s;
  auto r = b.call(address, tv::call{name, args, "", 0}, o);
  if (!r) throw std::runtime_error(fmt::format("Call {}: {}", address, r.err().to_string()));
  auto res = r->as<tv::result>();
  if (!res) throw std::runtime_error(fmt::format("Call {}: {}", address, res.err().to_string()));
  if (res->is_error) throw std::runtime_error(fmt::format("Call {}: the tool failed: {}", address, res->content));
}

std::string find_tool(const json& tools, std::string_view suffix) {
  for (auto& t : tools) {
    auto n = t.value("name", "");
    if (n.size() >= suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0) return n;
  }
  throw std::runtime_error(fmt::format("no tool named *{} in tools/list", suffix));
}

void bench_server(const settings& cfg) {
  stack s(base_config("\"fs\", \"shell\", \"web\"", std::string(mcp_http)));
  auto ws = s.dir() + "/home/agents/main";
  fs::create_directories(ws);
  std::ofstream(ws + "/bench.txt") << "The quick brown fox jumps over the lazy dog.\n";
  s.start();
  std::this_thread::sleep_for(settle);
  zmq::context_t ctx(1);
  auto b = join(ctx, s.runtime());
  const std::string args = R"({"path":"bench.txt"})";
  const json arguments = {{"path", "bench.txt"}};

  header(fmt::format("MCP server: tools/call read_file (tool-fs, a 45-byte file) — {} calls one at a time after {} "
                     "warm-up, paths interleaved in 4 rounds",
                     cfg.calls, cfg.warmup));
  std::vector<path> paths;
  const auto ping = weft::wire::encode(weft::proto::bus_v1::ping{});
  paths.push_back({"floor: bus Ping (client → bus → client)", {s.pid()}, [&] {
                     weft::ipc::call_options o;
                     o.retry = false;
                     if (auto r = b->call("bus", weft::proto::bus_v1::ping::type_name, ping, o); !r)
                       throw std::runtime_error("bus Ping: " + r.err().to_string());
                   }, {}, {}});
  paths.push_back({"floor: bus Call tool/fs/main/read_file (no MCP)", {s.pid()},
                   [&] { call_tool_on_bus(*b, "tool/fs/main/read_file", "read_file", args); }, {}, {}});

  // (a) stdio through weftctl mcp serve
  auto serve = [&] {
    return std::make_unique<stdio_peer>(
        std::vector<std::string>{weft::bench::build_root() + "/tools/weftctl/weftctl", "--runtime-dir", s.runtime(), "mcp",
                                 "serve"},
        std::map<std::string, std::string>{{"WEFT_HOME", s.dir() + "/home"}, {"WEFT_LOG", "warning"}});
  };
  std::unique_ptr<stdio_peer> p;
  attempt("stdio: weftctl mcp serve", [&] {
    auto t0 = clk::now();
    p = serve();
    auto hello = p->initialize();
    auto init_us = us_since(t0);
    t0 = clk::now();
    auto tools = p->list_tools();
    auto list_us = us_since(t0);
    json names = json::array();
    std::string listed;
    for (auto& t : tools) {
      names.push_back({{"name", t.name}});
      listed += (listed.empty() ? "" : " ") + t.name;
    }
    auto name = find_tool(names, "read_file");
    one(fmt::format("stdio: spawn weftctl mcp serve + initialize ({})", hello.protocol_version), init_us);
    one(fmt::format("stdio: tools/list ({} tools)", tools.size()), list_us);
    fmt::print("      (tools: {})\n", listed);
    paths.push_back({fmt::format("stdio: tools/call {} (weftctl mcp serve)", name), {s.pid(), p->pid()},
                     [&, name] { p->call(name, arguments); }, {}, {}});
  });
  // (b) Streamable HTTP
  std::unique_ptr<http_session> h;
  attempt("http: Streamable HTTP", [&] {
    auto port = static_cast<std::uint16_t>(std::stoi(wait_file(s.runtime() + "/mcp.port", 20s, "weft-mcp")));
    auto token = read_text(s.dir() + "/home/mcp/http.token");
    auto t0 = clk::now();
    h = std::make_unique<http_session>(port, token);
    auto init = h->request("initialize", {{"protocolVersion", "2025-11-25"},
                                          {"capabilities", json::object()},
                                          {"clientInfo", {{"name", "weft-bench-mcp"}, {"version", "0.1"}}}});
    h->notify("notifications/initialized");
    auto init_us = us_since(t0);
    t0 = clk::now();
    auto list = h->request("tools/list");
    auto list_us = us_since(t0);
    auto name = find_tool(list["tools"], "read_file");
    one(fmt::format("http: initialize + notifications/initialized ({})", init.value("protocolVersion", "?")), init_us);
    one(fmt::format("http: tools/list ({} tools)", list["tools"].size()), list_us);
    paths.push_back({fmt::format("http: tools/call {} (keep-alive, session, bearer token)", name), {s.pid()},
                     [&, name] {
                       auto r = h->request("tools/call", {{"name", name}, {"arguments", arguments}});
                       if (r.value("isError", false)) throw std::runtime_error("read_file failed: " + r.dump());
                     },
                     {}, {}});
  });
  // (c) the same two transports in the 2026-07-28 era: stdio found by server/discover (as
  // tool-mcp finds it), HTTP without a session (each request its own dispatcher).
  std::unique_ptr<stdio_peer> pm;
  attempt("stdio 2026-07-28: weftctl mcp serve", [&] {
    auto t0 = clk::now();
    pm = serve();
    auto hello = pm->connect();
    if (hello.era != weft::mcp::era::modern) throw std::runtime_error("weft's server did not answer server/discover");
    one(fmt::format("stdio: spawn weftctl mcp serve + server/discover ({})", hello.protocol_version), us_since(t0));
    paths.push_back({"stdio 2026-07-28: tools/call read_file (weftctl mcp serve)", {s.pid(), pm->pid()},
                     [&] { pm->call("read_file", arguments); }, {}, {}});
  });
  std::unique_ptr<http_session> hm;
  attempt("http 2026-07-28: Streamable HTTP without a session", [&] {
    auto port = static_cast<std::uint16_t>(std::stoi(wait_file(s.runtime() + "/mcp.port", 20s, "weft-mcp")));
    hm = std::make_unique<http_session>(port, read_text(s.dir() + "/home/mcp/http.token"), /*modern=*/true);
    auto t0 = clk::now();
    auto disc = hm->request("server/discover");
    one(fmt::format("http: server/discover ({})", disc["supportedVersions"].dump()), us_since(t0));
    paths.push_back({"http 2026-07-28: tools/call read_file (keep-alive, no session)", {s.pid()},
                     [&] {
                       auto r = hm->request("tools/call", {{"name", "read_file"}, {"arguments", arguments}});
                       if (r.value("isError", false)) throw std::runtime_error("read_file failed: " + r.dump());
                     },
                     {}, {}});
  });
  attempt("tools/call round trips", [&] { run_paths(cfg, paths); });
}

void bench_host(const settings& cfg) {
  auto everything = cfg.peers + "/node_modules/.bin/mcp-server-everything";
  header(fmt::format("MCP client host: tools/call echo of an external stdio server — {} calls one at a time after {} "
                     "warm-up, the two paths of a server interleaved in 4 rounds",
                     cfg.calls, cfg.warmup));
  const std::string args = R"({"message":"hello"})";
  // Each server is the only [tools.mcp_servers] entry of a stack of its own (so another
  // server's background work is not in its figures), called on the bus as a ctl client;
  // beside it the same server started by this process and driven directly over stdio.
  auto measure = [&](const std::string& server, const std::vector<std::string>& argv, const std::string& label,
                     const std::map<std::string, std::string>& env = {}) {
    auto address = "tool/mcp/" + server + "__echo";
    attempt(label, [&] {
      std::vector<std::string> rest(argv.begin() + 1, argv.end());
      stack s(base_config("\"mcp\"", server_entry(server, argv[0], rest, env)));
      s.start();
      zmq::context_t ctx(1);
      auto b = join(ctx, s.runtime());
      wait_ready(*b, {server}, 60s);
      // --host-baseline: the same server behind another weft-tool-mcp, in a stack of its own.
      std::unique_ptr<stack> base;
      std::unique_ptr<weft::ipc::bus_client> base_bus;
      if (!cfg.host_baseline.empty()) {
        base = std::make_unique<stack>(base_config(
            "\"mcp\"", server_entry(server, argv[0], rest, env) +
                           fmt::format("[services.tool-mcp]\nexec = \"{}\"\naddress = \"tool/mcp\"\n", cfg.host_baseline)));
        base->start();
        base_bus = join(ctx, base->runtime());
        wait_ready(*base_bus, {server}, 60s);
      }
      stdio_peer p(argv, env);
      p.connect();
      std::this_thread::sleep_for(settle);
      std::vector<path> paths;
      paths.push_back({label + ": direct stdio, no weft", {p.pid()}, [&] { p.call("echo", json{{"message", "hello"}}); },
                       {}, {}});
      paths.push_back({label + ": bus Call " + address, {s.pid()},
                       [&] { call_tool_on_bus(*b, address, server + "__echo", args); }, {}, {}});
      if (base)
        paths.push_back({label + ": bus Call, baseline tool-mcp", {base->pid()},
                         [&] { call_tool_on_bus(*base_bus, address, server + "__echo", args); }, {}, {}});
      run_paths(cfg, paths);
    });
  };
  measure("instant", {python(), bench_server()}, "instant (bench_server.py)");
  if (!fs::exists(everything)) {
    fmt::print("  {:<62} not measured: {} is missing: install the npm MCP peers with WEFT_BUILD_DIR={} tools/dev peers "
               "(or give --peers DIR)\n",
               "server-everything", everything, weft::bench::build_root());
    return;
  }
  measure("everything", {everything, "stdio"}, "server-everything (node)");
  // A 2026-07-28 server: the TypeScript SDK v2 (tests/mcp/modern_server.mjs).
  if (fs::exists(cfg.peers + "/node_modules/@modelcontextprotocol/server"))
    measure("modern", {"node", source_root() + "/tests/mcp/modern_server.mjs"}, "modern_server.mjs (node, SDK v2, 2026-07-28)",
            {{"WEFT_MCP_PEERS", fs::absolute(cfg.peers).string()}});
}

void bench_list(const settings& cfg) {
  header("500 tools (a server with 500 tools of 3-property schemas, 100 per tools/list page)");
  std::vector<double> direct_us, direct_list_us;
  for (int run = 0; run < cfg.runs; ++run) {
    auto t0 = clk::now();
    stdio_peer p({python(), bench_server(), "--tools", "500", "--page", "100"});
    p.initialize();
    auto t1 = clk::now();
    auto tools = p.list_tools();
    if (tools.size() != 500) throw std::runtime_error(fmt::format("direct tools/list: {} tools", tools.size()));
    direct_us.push_back(us_since(t0));
    direct_list_us.push_back(us_since(t1));
  }
  auto print_runs = [&](std::string_view what, const std::vector<double>& us) {
    auto st = stats_of(us);
    fmt::print("  {:<62} median {:.1f} ms   min {:.1f}   max {:.1f}   ({} runs)\n", what, st.p50 / 1e3,
               *std::min_element(us.begin(), us.end()) / 1e3, st.max / 1e3, us.size());
  };
  print_runs("floor: spawn + initialize + 5 pages tools/list, direct, no weft", direct_us);
  print_runs("  of which the 5 pages of tools/list", direct_list_us);

  // `keep` (no tools) keeps tool-mcp running while `many` is added and removed.
  auto keep = server_entry("keep", python(), {bench_server(), "--tools", "0"});
  auto many = server_entry("many", python(), {bench_server(), "--tools", "500", "--page", "100"});
  auto without = base_config("\"fs\", \"mcp\"", std::string(mcp_http) + keep);
  stack s(without);
  s.start();
  zmq::context_t ctx(1);
  auto b = join(ctx, s.runtime());
  auto ctl = weft::service::control_client::connect(ctx, s.runtime());
  if (!ctl) throw std::runtime_error(ctl.err().message);
  auto config = s.dir() + "/clawft.toml";
  auto reload = [&] {
    if (auto r = (*ctl)->request(sv::reload{}); !r) throw std::runtime_error("reload: " + r.err().message);
  };
  // (a) connect-to-ready: the config gains [tools.mcp_servers.many], weftd reloads (tool-mcp
  // gets SIGHUP), ListServers every 2 ms until it is ready with 500 tools; then it is removed
  // again. The last one stays for the list figures.
  bool listed = false;
  attempt("connect-to-ready in tool-mcp", [&] {
    wait_ready(*b, {"keep"}, 60s);
    std::this_thread::sleep_for(settle);
    std::vector<double> ready_us;
    for (int run = 0; run < cfg.runs; ++run) {
      write_text(config, without + many);
      auto t0 = clk::now();
      reload();
      for (;;) {
        auto st = server_named(*b, "many");
        if (st && st->state == "ready" && st->tool_count == 500) break;
        if (st && !st->last_error.empty()) throw std::runtime_error("server 'many': " + st->last_error);
        if (clk::now() - t0 > 60s) throw std::runtime_error("server 'many' was not ready within 60 s");
        std::this_thread::sleep_for(2ms);
      }
      ready_us.push_back(us_since(t0));
      listed = true;
      if (run + 1 == cfg.runs) break;
      write_text(config, without);
      reload();
      for (auto t1 = clk::now(); server_named(*b, "many");) {
        if (clk::now() - t1 > 30s) throw std::runtime_error("server 'many' was not removed within 30 s");
        std::this_thread::sleep_for(10ms);
      }
      listed = false;
    }
    print_runs("connect-to-ready in tool-mcp (reload → ListServers ready)", ready_us);
  });
  if (!listed) return;

  fmt::print("  {:<62} {:>9} {:>9} {:>9} {:>9}\n", "", "p50 µs", "p99 µs", "mean µs", "max µs");
  const std::vector<pid_t> roots{s.pid()};
  attempt("bus ListTools at tool/mcp", [&] {
    std::size_t n = 0, bytes = 0;
    weft::ipc::call_options o;
    o.retry = false;
    o.timeout = o.attempt_timeout = 30s;
    timed_row(cfg, "bus ListTools at tool/mcp", roots, [&] {
      auto m = b->call("tool/mcp", tv::list_tools{}, o);
      if (!m) throw std::runtime_error("ListTools: " + m.err().to_string());
      auto t = m->as<tv::tools>();
      if (!t) throw std::runtime_error("ListTools: " + t.err().to_string());
      n = t->tools.size();
      bytes = m->payload.size();
    }, cfg.list_calls, 10);
    fmt::print("      ({} tools, {} KB message)\n", n, bytes / 1024);
  });
  attempt("http: tools/list through weft's MCP server", [&] {
    auto port = static_cast<std::uint16_t>(std::stoi(wait_file(s.runtime() + "/mcp.port", 20s, "weft-mcp")));
    http_session h(port, read_text(s.dir() + "/home/mcp/http.token"));
    h.request("initialize", {{"protocolVersion", "2025-11-25"},
                             {"capabilities", json::object()},
                             {"clientInfo", {{"name", "weft-bench-mcp"}, {"version", "0.1"}}}});
    h.notify("notifications/initialized");
    std::size_t n = 0, pages = 0;
    timed_row(cfg, "http: tools/list through weft's MCP server", roots, [&] {
      auto list = h.request("tools/list");
      n = list["tools"].size();
      pages = 1;
      auto cursor = list.value("nextCursor", "");
      while (!cursor.empty()) {  // follow pages, should the server paginate
        auto page = h.request("tools/list", {{"cursor", cursor}});
        n += page["tools"].size();
        ++pages;
        cursor = page.value("nextCursor", "");
      }
    }, cfg.list_calls, 10);
    fmt::print("      ({} tools in {} page(s): the 500 and the fs tools)\n", n, pages);
  });
}

}  // namespace

std::string all_or(const std::set<std::string>& what) {
  return what.empty() ? "all" : fmt::format("{}", fmt::join(what, " "));
}

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::signal(SIGPIPE, SIG_IGN);
  std::set<std::string> what;  // empty: all
  settings cfg;
  if (auto* p = std::getenv("WEFT_MCP_PEERS")) cfg.peers = p;
  if (cfg.peers.empty()) cfg.peers = weft::bench::build_root() + "/peers/mcp";
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "error: {} needs a value\n", a);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      fmt::print(
          "weft-bench-mcp [server] [host] [list] [all] [OPTIONS] — MCP figures (issue 5) on a private weftd stack\n"
          "started from the build tree. Prints p50/p99/mean/max and CPU time per call; asserts nothing.\n\n"
          "  server   tools/call of tool-fs read_file through weft's MCP server: stdio (weftctl mcp serve)\n"
          "           and Streamable HTTP, each in the legacy era and in 2026-07-28; initialize and\n"
          "           tools/list once; a bare bus Call as the floor\n"
          "  host     bus Call to tool/mcp/<server>__echo: server-everything (npm), bench_server.py and\n"
          "           the SDK v2 modern_server.mjs, each beside the same call made directly over stdio\n"
          "  list     500 tools: tool-mcp connect-to-ready, bus ListTools, tools/list through weft's server\n"
          "  all      the three (default)\n\n"
          "Options:\n"
          "  --calls N       timed calls per row (default 2000)\n"
          "  --warmup N      untimed calls before each row (default 200)\n"
          "  --runs N        connect-to-ready runs (default 5)\n"
          "  --list-calls N  timed tools/list and ListTools calls (default 200)\n"
          "  --peers DIR     the npm MCP peers (default $WEFT_MCP_PEERS, else BUILD/peers/mcp)\n"
          "  --host-baseline EXE  host: also measure each server behind this weft-tool-mcp (e.g. the\n"
          "                  previous build's), in its own stack, interleaved with the built one\n\n"
          "Environment: WEFT_MCP_PEERS as --peers.\n");
      return 0;
    }
    if (a == "--calls") cfg.calls = std::max(1, std::atoi(value().c_str()));
    else if (a == "--warmup") cfg.warmup = std::max(0, std::atoi(value().c_str()));
    else if (a == "--runs") cfg.runs = std::max(1, std::atoi(value().c_str()));
    else if (a == "--list-calls") cfg.list_calls = std::max(1, std::atoi(value().c_str()));
    else if (a == "--peers") cfg.peers = value();
    else if (a == "--host-baseline") cfg.host_baseline = fs::absolute(value()).string();
    else if (a == "server" || a == "host" || a == "list") what.insert(std::string(a));
    else if (a == "all") what.clear();
    else {
      fmt::print(stderr, "error: unknown argument '{}'\nTry: weft-bench-mcp --help\n", a);
      return 2;
    }
  }
  ::curl_global_init(CURL_GLOBAL_DEFAULT);
  try {
    machine();
    bool all = what.empty();
    if (all || what.count("server")) bench_server(cfg);
    if (all || what.count("host")) bench_host(cfg);
    if (all || what.count("list")) bench_list(cfg);
  } catch (const std::exception& e) {
    fmt::print(stderr, "Failed to run benchmark '{}': {}\n", all_or(what), e.what());
    return 1;
  }
  return 0;
}
