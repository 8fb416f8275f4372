// Integration (issue 28, item 4): a tool process must not reach weft's own front doors. A
// real stack runs weft's web chat API (chan-web), its MCP HTTP server (mcp) and a Telegram
// webhook receiver (chan-telegram, with tests/fakes/fake_telegram.py), and the test opens a
// listener of its own, all on 127.0.0.1. The agent's shell tool, called over the bus as the
// agent calls it, tries to reach each of them from a command:
//  - network = "none" (the default): every connection is refused inside the tool's own
//    network namespace, and the test's listener accepts nothing;
//  - network = "public": the same direct attempts fail, the same targets through the proxy
//    are refused by weft-egress with the reason (403) and an audit line, the listener still
//    accepts nothing — and a target the test declares public (198.18.0.2, in a network
//    namespace the test makes, joined by a veth pair, WEFT_EGRESS_TEST_PUBLIC) is reached,
//    while the egress's own end of that pair, declared public too, is still refused,
//    through a CONNECT tunnel and as plain http.
// As root the test runs in a network namespace of its own (so the veth pair never touches
// the host); otherwise the public case is skipped.
// Then the socket files (two agents, a and b with network = "public"): a command of a's
// shell tool reaches none of weftd's control socket, the bus, its events socket and b's
// egress socket (it may create no AF_UNIX socket), nor a datagram socket by path; weftd's
// control socket, reached from inside the tool's network or PID namespace (nsenter, as
// root), answers Denied; and a SIGKILLed tool-shell leaves no process of the command it ran.
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <doctest/doctest.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <weft/base/fd.hh>

#include "proto/tool_v1.hh"
#include "tests/integration/fake_peer.hh"
#include "tests/integration/harness.hh"
#include "tests/tcp_listener.hh"
#include "tests/temp_dir.hh"

using namespace weft;
using namespace std::chrono_literals;
namespace tool = weft::proto::tool_v1;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* bot_token = "4242:net-test";
constexpr const char* public_ip = "198.18.0.2";  // the test's "public" host, in its own namespace
constexpr int public_port = 8080;

/// Puts this test process (and all it starts) in a network namespace of its own, with its
/// loopback up; false when it may not (not root).
bool private_netns() {
  static const bool ok = [] {
    if (::geteuid() != 0 || ::unshare(CLONE_NEWNET) != 0) return false;
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    bool up = ::ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    up = up && ::ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
    ::close(s);
    return up;
  }();
  return ok;
}

std::uint16_t free_port() {
  unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

/// Whether something accepts TCP connections on 127.0.0.1:port (from the test itself).
bool listening(std::uint16_t port) {
  unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

/// The test's own listener on 127.0.0.1.
struct own_listener : weft::test::tcp_listener {
  own_listener() : tcp_listener("127.0.0.1", /*nonblocking=*/true) {}
};

/// A "public" web server in a network namespace of its own, joined to the test's namespace
/// by a veth pair: 198.18.0.1 (here) — 198.18.0.2:8080 (there). It answers every request
/// with "public-target-ok".
class public_host {
 public:
  public_host() {
    int ready[2];
    REQUIRE(::pipe2(ready, O_CLOEXEC) == 0);
    _pid = ::fork();
    REQUIRE(_pid >= 0);
    if (_pid == 0) serve(ready[1]);
    ::close(ready[1]);
    char c = 0;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    ::close(ready[0]);
    REQUIRE(c == 'R');
    auto pid = std::to_string(_pid);
    auto ip = [&](std::vector<std::string> args, bool there) {
      std::vector<std::string> argv;
      if (there) argv = {"/usr/bin/nsenter", "-t", pid, "-n", "--"};
      argv.push_back("/usr/sbin/ip");
      argv.insert(argv.end(), args.begin(), args.end());
      auto r = test::run(argv);
      REQUIRE_MESSAGE(r.exit_code == 0, fmt::format("{}: {}{}", fmt::join(argv, " "), r.out, r.err));
    };
    ip({"link", "add", "wt0", "type", "veth", "peer", "name", "wt1", "netns", pid}, false);
    ip({"addr", "add", "198.18.0.1/30", "dev", "wt0"}, false);
    ip({"link", "set", "wt0", "up"}, false);
    ip({"addr", "add", "198.18.0.2/30", "dev", "wt1"}, true);
    ip({"link", "set", "wt1", "up"}, true);
    ip({"link", "set", "lo", "up"}, true);
  }
  ~public_host() {
    ::kill(_pid, SIGKILL);
    ::waitpid(_pid, nullptr, 0);
  }

 private:
  /// In the forked child: its own namespace, a listener on every address (198.18.0.2 is
  /// added later), one canned answer per connection. Only syscalls.
  [[noreturn]] static void serve(int ready) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::unshare(CLONE_NEWNET) != 0) ::_exit(1);
    int l = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(public_port);
    if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 16) != 0) ::_exit(1);
    [[maybe_unused]] auto w = ::write(ready, "R", 1);
    static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 17\r\nConnection: close\r\n\r\npublic-target-ok\n";
    for (;;) {
      int c = ::accept(l, nullptr, nullptr);
      if (c < 0) continue;
      char buf[4096];
      std::size_t got = 0;
      // Read the head (to its blank line), then answer.
      while (got < sizeof buf) {
        ssize_t n = ::recv(c, buf + got, sizeof buf - got, 0);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
        if (std::string_view(buf, got).find("\r\n\r\n") != std::string_view::npos) break;
      }
      [[maybe_unused]] auto s = ::send(c, reply, sizeof reply - 1, MSG_NOSIGNAL);
      ::close(c);
    }
  }
  pid_t _pid = -1;
};

/// Fast restarts, no memory, and [services.*] blocks that keep llm, router and the agents
/// `ids` from running: the tests drive the tool processes themselves.
std::string no_turns(std::initializer_list<const char*> ids) {
  std::string out = "[supervisor]\nrestart_backoff_initial_ms = 50\n\n[memory]\nenabled = false\n\n"
                    "[services.llm]\nexec = \"/bin/true\"\nenabled = false\n\n"
                    "[services.router]\nexec = \"/bin/true\"\nenabled = false\n\n";
  for (const char* id : ids)
    out += fmt::format("[services.agent-{0}]\nexec = \"/bin/true\"\naddress = \"agent/{0}\"\nenabled = false\n\n", id);
  return out;
}

struct ports {
  std::uint16_t web = free_port(), mcp = free_port(), hook = free_port();
};

std::string stack_config(const std::string& ws, const test::fake_peer& tg, const ports& p, bool public_network) {
  return fmt::format(
      R"([agents.a]
workspace = "{ws}"
[agents.a.tools]
families = ["shell"]
{network}

[channels.web]
listen = "127.0.0.1:{web}"

[channels.telegram]
token = "{token}"
api_base = "{tg}"
mode = "webhook"
webhook_listen = "127.0.0.1:{hook}"
webhook_url = "http://127.0.0.1:{hook}/tg"
webhook_secret = "s3cret"

[mcp]
agent = "a"
listen = "127.0.0.1:{mcp}"

# Only what the test needs: no model, no agent turn, no router. The channels wait for the bus only.
{no_turns}
[services.chan-web]
exec = "{chan_web}"
address = "chan/web"

[services.chan-telegram]
exec = "{chan_tg}"
address = "chan/telegram"
)",
      fmt::arg("ws", ws), fmt::arg("network", public_network ? "network = \"public\"" : ""),
      fmt::arg("web", p.web), fmt::arg("mcp", p.mcp), fmt::arg("hook", p.hook), fmt::arg("token", bot_token),
      fmt::arg("tg", tg.url()), fmt::arg("chan_web", test::build_path("services/chan-web/weft-chan-web")),
      fmt::arg("chan_tg", test::build_path("services/chan-telegram/weft-chan-telegram")),
      fmt::arg("no_turns", no_turns({"a"})));
}

ipc::call_options once(std::chrono::milliseconds t = 60s) {
  ipc::call_options o;
  o.timeout = t;
  o.attempt_timeout = t;
  o.retry = false;
  return o;
}

/// Runs `command` with the agent's shell tool, over the bus, as agent/a would; its output.
std::string exec(ipc::bus_client& b, const std::string& command) {
  json args = {{"command", command}, {"timeout_ms", 60000}};
  auto r = b.call("tool/shell/a/exec", tool::call{"exec", args.dump(), "call-1", 60000}, once());
  REQUIRE_MESSAGE(bool(r), (r ? "" : r.err().to_string()));
  auto res = r->as<tool::result>();
  REQUIRE(res);
  return res->content;
}

/// The probe's line for `target` ("<target> <outcome>"): the outcome.
std::string outcome(const std::string& out, const std::string& target) {
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(target + " ", 0) == 0) return line.substr(target.size() + 1);
  return "(no line for " + target + ")";
}

/// The stack with the three front doors listening, the probe in the agent's workspace.
struct front_doors {
  weft::test::temp_dir dir{"weft-net-it"};
  std::string ws = dir.path.string() + "/ws";
  test::fake_peer tg{"fake_telegram.py", {"--token", bot_token}};
  ports p;
  own_listener mine;
  std::unique_ptr<test::stack> s;
  std::unique_ptr<ipc::bus_client> b;

  explicit front_doors(bool public_network) {
    fs::create_directories(ws);
    fs::copy_file(std::string(WEFT_SOURCE_ROOT) + "/tests/integration/tools/net_probe.py", ws + "/net_probe.py");
    s = test::stack::start(stack_config(ws, tg, p, public_network));
    REQUIRE(s);
    b = s->bus_client();
    // The doors are open to the test itself: what the tool fails to reach is really there.
    for (auto port : {p.web, p.mcp, p.hook}) {
      bool up = false;
      for (auto until = std::chrono::steady_clock::now() + 30s; !up && std::chrono::steady_clock::now() < until;) {
        up = listening(port);
        if (!up) std::this_thread::sleep_for(20ms);  // chan-telegram binds after setWebhook
      }
      REQUIRE_MESSAGE(up, fmt::format("nothing listens on 127.0.0.1:{}\n{}", port, s->log()));
    }
  }
  std::string targets(const std::string& prefix = {}) const {
    return fmt::format("{0}{1} {0}{2} {0}{3} {0}{4}", prefix, p.web, p.mcp, p.hook, mine.port);
  }
};

}  // namespace

TEST_CASE("network = \"none\" (the default): the shell tool reaches none of weft's front doors, nor the test's listener") {
  private_netns();  // as root; otherwise the stack simply runs on the host's loopback
  front_doors f(/*public_network=*/false);
  auto out = exec(*f.b, "/usr/bin/python3 net_probe.py direct " + f.targets());
  CAPTURE(out);
  CAPTURE(f.s->log());
  for (auto port : {f.p.web, f.p.mcp, f.p.hook, f.mine.port}) {
    CAPTURE(port);
    CHECK(outcome(out, std::to_string(port)) == "refused");  // its own 127.0.0.1 has nothing there
  }
  CHECK_FALSE(f.mine.accepted_any());
  // No proxy either: nothing to go out through.
  auto env = exec(*f.b, "env | grep -ci proxy; true");
  CHECK(env.rfind("0\n", 0) == 0);
}

TEST_CASE("network = \"public\": direct attempts fail, the egress refuses the front doors with a reason, a public target is reached") {
  if (!private_netns()) {
    MESSAGE("not root: cannot make the network namespaces this case needs; skipped");
    return;
  }
  public_host host;
  // Both ends of the veth pair declared public: the egress's own end stays refused.
  ::setenv("WEFT_EGRESS_TEST_PUBLIC", "198.18.0.0/30", 1);
  front_doors f(/*public_network=*/true);
  ::unsetenv("WEFT_EGRESS_TEST_PUBLIC");
  CAPTURE(f.s->log());

  auto direct = exec(*f.b, "/usr/bin/python3 net_probe.py direct " + f.targets());
  CAPTURE(direct);
  for (auto port : {f.p.web, f.p.mcp, f.p.hook, f.mine.port}) CHECK(outcome(direct, std::to_string(port)) == "refused");

  auto tunnels = exec(*f.b, "/usr/bin/python3 net_probe.py connect " + f.targets("127.0.0.1:") + " localhost:" +
                                std::to_string(f.p.web));
  CAPTURE(tunnels);
  for (auto port : {f.p.web, f.p.mcp, f.p.hook, f.mine.port})
    CHECK(outcome(tunnels, "127.0.0.1:" + std::to_string(port)) == "403 weft egress: 127.0.0.1 is loopback");
  CHECK(outcome(tunnels, "localhost:" + std::to_string(f.p.web)).find("403 weft egress: 'localhost' resolves to ") == 0);

  auto gets = exec(*f.b, "/usr/bin/python3 net_probe.py get " + f.targets("http://127.0.0.1:"));
  CAPTURE(gets);
  for (auto port : {f.p.web, f.p.mcp, f.p.hook, f.mine.port})
    CHECK(outcome(gets, "http://127.0.0.1:" + std::to_string(port)) == "403 weft egress: 127.0.0.1 is loopback");
  CHECK_FALSE(f.mine.accepted_any());
  // The audit line, one per refusal.
  CHECK(f.s->log().find(fmt::format("refused agent 'a': CONNECT 127.0.0.1:{}: 403 127.0.0.1 is loopback", f.mine.port)) !=
        std::string::npos);
  CHECK(f.s->log().find(fmt::format("refused agent 'a': GET 127.0.0.1:{}: 403 127.0.0.1 is loopback", f.p.web)) !=
        std::string::npos);

  // The test's "public" host, and the egress's own side of the veth pair (an address of
  // this host, which a test cannot declare public).
  auto out = exec(*f.b, fmt::format("/usr/bin/python3 net_probe.py connect {0}:{1} 198.18.0.1:{1}; "
                                    "/usr/bin/python3 net_probe.py get http://{0}:{1}/",
                                    public_ip, public_port));
  CAPTURE(out);
  CHECK(outcome(out, fmt::format("{}:{}", public_ip, public_port)) == "tunnel 200 public-target-ok");
  CHECK(outcome(out, fmt::format("http://{}:{}/", public_ip, public_port)) == "200 public-target-ok");
  CHECK(outcome(out, fmt::format("198.18.0.1:{}", public_port)) == "403 weft egress: 198.18.0.1 is an address of this host");
}

// Issue 28 item 4, the sockets: Landlock (through ABI 7) does not control connect() to a
// UNIX socket by path, so without more a command could reach every socket file in
// $WEFT_RUNTIME_DIR. Two agents with the shell tool: a (network "none") and b ("public",
// so weft-egress listens on egress/b.sock).

namespace {

std::string sockets_config(const std::string& ws_a, const std::string& ws_b) {
  return fmt::format(
      R"([agents.a]
workspace = "{a}"
[agents.a.tools]
families = ["shell"]

[agents.b]
workspace = "{b}"
[agents.b.tools]
families = ["shell"]
network = "public"

{no_turns}
)",
      fmt::arg("a", ws_a), fmt::arg("b", ws_b), fmt::arg("no_turns", no_turns({"a", "b"})));
}

/// The stack of sockets_config, the probe in agent a's workspace.
struct two_agents {
  weft::test::temp_dir dir{"weft-sock-it"};
  std::string ws_a = dir.path.string() + "/a", ws_b = dir.path.string() + "/b";
  std::unique_ptr<test::stack> s;
  std::unique_ptr<ipc::bus_client> b;
  two_agents() {
    fs::create_directories(ws_a);
    fs::create_directories(ws_b);
    fs::copy_file(std::string(WEFT_SOURCE_ROOT) + "/tests/integration/tools/net_probe.py", ws_a + "/net_probe.py");
    s = test::stack::start(sockets_config(ws_a, ws_b));
    REQUIRE(s);
    b = s->bus_client();
  }
};

/// 0 when an AF_UNIX stream connect to `path` succeeds from the test itself, else errno.
int connect_unix(const std::string& path) {
  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
}

/// One process as /proc/<pid>/stat describes it.
struct proc_entry {
  pid_t pid = 0, ppid = 0, pgrp = 0;
  std::string start;  ///< start time in clock ticks since boot: tells a reused pid apart
};

std::optional<proc_entry> read_proc(pid_t pid) {
  std::ifstream f(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(f, line)) return std::nullopt;
  auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> fields;  // from field 3 (state) on
  for (std::string w; rest >> w;) fields.push_back(w);
  if (fields.size() < 20) return std::nullopt;
  return proc_entry{pid, std::stoi(fields[1]), std::stoi(fields[2]), fields[19]};
}

/// Every process that descends from `root` (by the parent chain in /proc).
std::vector<proc_entry> descendants(pid_t root) {
  std::map<pid_t, proc_entry> all;
  for (auto& e : fs::directory_iterator("/proc")) {
    pid_t pid = 0;
    auto name = e.path().filename().string();
    if (std::from_chars(name.data(), name.data() + name.size(), pid).ec != std::errc()) continue;
    if (auto p = read_proc(pid)) all[pid] = *p;
  }
  std::vector<proc_entry> out;
  for (auto& [pid, p] : all) {
    pid_t up = p.ppid;
    for (int depth = 0; up > 1 && depth < 64; ++depth) {
      if (up == root) {
        out.push_back(p);
        break;
      }
      auto it = all.find(up);
      up = it == all.end() ? 0 : it->second.ppid;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("a command reaches no socket file: weftd's control socket, the bus, its events, another agent's egress") {
  two_agents f;
  CAPTURE(f.s->log());
  auto r = f.s->runtime();
  std::vector<std::string> sockets = {r + "/control", r + "/bus", r + "/events", r + "/egress/b.sock"};
  // They are there, and open to the test itself: what the command fails to reach exists.
  for (auto& path : sockets) {
    CAPTURE(path);
    CHECK(connect_unix(path) == 0);
  }
  // A datagram socket of the test's, by path.
  auto dgram_path = f.dir.path.string() + "/dgram.sock";
  unique_fd dgram(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", dgram_path.c_str());
  REQUIRE(::bind(dgram.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);

  auto out = exec(*f.b, fmt::format("/usr/bin/python3 net_probe.py unix {}; /usr/bin/python3 net_probe.py unix-dgram {}",
                                    fmt::join(sockets, " "), dgram_path));
  CAPTURE(out);
  for (auto& path : sockets) CHECK(outcome(out, path) == "errno1");  // socket(AF_UNIX): EPERM
  CHECK(outcome(out, dgram_path) == "errno1");                       // socketpair(AF_UNIX, SOCK_DGRAM): EPERM
  char buf[64];
  CHECK(::recv(dgram.get(), buf, sizeof buf, 0) == -1);
  // Pipes and stream socketpairs still work (what shells, git and python's subprocess use).
  auto pair = exec(*f.b, "/usr/bin/python3 -c 'import socket; a, b = socket.socketpair(); a.send(b\"x\"); "
                         "print(b.recv(1).decode())' | cat");
  CHECK(pair.rfind("x\n", 0) == 0);
}

TEST_CASE("weftd's control socket refuses a peer inside a tool's namespaces, even once connected") {
  if (::geteuid() != 0) {
    MESSAGE("not root: cannot enter a tool's namespaces from the test; skipped");
    return;
  }
  two_agents f;
  CAPTURE(f.s->log());
  auto tool = std::to_string(f.s->service_pid("tool-shell-a"));
  auto weftctl = test::build_path("tools/weftctl/weftctl");
  // The command filter keeps commands from connecting at all: here a process of the test
  // joins the tool's namespaces instead, and connects.
  struct attempt {
    std::vector<std::string> flags;
    std::string why;
  };
  for (auto& [flags, why] : {attempt{{"-n"}, "it runs in the network namespace of the sandboxed tool process 'tool-shell-a'"},
                             attempt{{"-p"}, "it runs in the PID namespace of the sandboxed tool process 'tool-shell-a'"}}) {
    for (auto args : {std::vector<std::string>{"status"}, std::vector<std::string>{"restart", "tool-shell-b"}}) {
      std::vector<std::string> argv = {"/usr/bin/nsenter", "-t", tool};
      argv.insert(argv.end(), flags.begin(), flags.end());
      argv.insert(argv.end(), {"--", weftctl, "--runtime-dir", f.s->runtime()});
      argv.insert(argv.end(), args.begin(), args.end());
      auto r = test::run(argv);
      CAPTURE(fmt::format("{}", fmt::join(argv, " ")));
      CAPTURE(r.out);
      CAPTURE(r.err);
      CHECK(r.exit_code != 0);
      CHECK(r.err.find("weftd serves no sandboxed tool on its control socket: " + why) != std::string::npos);
    }
  }
  // The error is typed: a child of the test in the tool's network namespace asks for a bus
  // token (what would make it admin on the bus) and reports what it got.
  int report[2];
  REQUIRE(::pipe2(report, O_CLOEXEC) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    unique_fd ns(::open(fmt::format("/proc/{}/ns/net", tool).c_str(), O_RDONLY | O_CLOEXEC));
    std::string got = "setns failed";
    if (ns && ::setns(ns.get(), CLONE_NEWNET) == 0) {
      zmq::context_t ctx(1);
      auto c = service::control_client::connect(ctx, f.s->runtime());
      auto t = c ? (*c)->request(proto::supervisor_v1::issue_token{4242}) : result<ipc::message>(c.err());
      got = t ? "a token" : t.err().domain + "." + t.err().code;
    }
    [[maybe_unused]] auto n = ::write(report[1], got.data(), got.size());
    ::_exit(0);
  }
  ::close(report[1]);
  char buf[256] = {};
  auto n = ::read(report[0], buf, sizeof buf - 1);
  ::close(report[0]);
  ::waitpid(child, nullptr, 0);
  CHECK(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0) == "io.weft.Supervisor.v1.Denied");
  // One audit line per refused connection; tool-shell-b was not restarted.
  CHECK(f.s->log().find("refused control peer pid ") != std::string::npos);
  auto c = f.s->control();
  auto st = c->request(proto::supervisor_v1::status{});
  REQUIRE(st);
  auto reply = st->as<proto::supervisor_v1::status_reply>();
  REQUIRE(reply);
  for (auto& svc : reply->services)
    if (svc.name == "tool-shell-b") CHECK(svc.restarts == 0);
  // The admin's weftctl, outside every tool, is served.
  auto ok = f.s->weftctl({"status"});
  CHECK(ok.exit_code == 0);
}

TEST_CASE("a SIGKILLed tool-shell leaves nothing of the command it was running") {
  two_agents f;
  CAPTURE(f.s->log());
  auto c = f.s->control();
  REQUIRE(c->request(proto::supervisor_v1::watch{}));  // before the kill: the READY change cannot slip past
  pid_t tool = f.s->service_pid("tool-shell-a");
  REQUIRE(tool > 0);
  json args = {{"command", "sleep 300"}, {"timeout_ms", 600000}};
  REQUIRE(f.b->send_request("tool/shell/a/exec", tool::call{"exec", args.dump(), "call-kill", 600000}));
  // The command runs once a descendant of the tool process leads a process group of its own
  // (the shell tool puts each command in one).
  std::vector<proc_entry> command;
  for (auto until = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < until;) {
    auto d = descendants(tool);
    if (std::any_of(d.begin(), d.end(), [](auto& p) { return p.pgrp == p.pid; })) {
      command = d;
      break;
    }
    std::this_thread::sleep_for(20ms);  // polling /proc: no event says a process was forked
  }
  REQUIRE_FALSE(command.empty());
  REQUIRE(::kill(tool, SIGKILL) == 0);
  REQUIRE(f.s->wait_state(*c, "tool-shell-a", proto::supervisor_v1::state::ready, 1, 30s));
  REQUIRE(f.s->service_pid("tool-shell-a") != tool);
  for (auto& p : command) {
    CAPTURE(p.pid);
    auto now = read_proc(p.pid);
    CHECK_FALSE((now && now->start == p.start));  // gone (or the pid is another process's now)
    errno = 0;
    CHECK(::kill(-p.pgrp, 0) == -1);
    CHECK(errno == ESRCH);
  }
}
