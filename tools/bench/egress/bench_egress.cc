// weft-bench-egress — what the per-plugin and per-skill network lists cost.
//
//   weft-bench-egress proxy [--rounds N]
//       weft-egress's proxy in this process on real sockets: a CONNECT to a loopback echo
//       server and one round trip through the tunnel, N times, on the agent's own socket
//       (the public-address policy) and on a scoped socket (the list: listed() before the
//       lookup, allowed() on every address, then the same policy) — the difference is what a
//       list adds to each connection. p50/p99 in µs.
//   weft-bench-egress lanes [--rounds N]
//       the shell tool's skill_lanes::lane_for, which every exec call now runs: with 0, 10
//       and 50 skills installed (shared folder), for a command that names none (the common
//       case: the skills are read) and one that names a skill with a list (its lane is
//       open). p50/p99 in µs.
//   weft-bench-egress all (default)
// Not a test: prints figures.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include <weft/base/event_loop.hh>
#include <weft/base/log.hh>
#include <weft/base/worker_pool.hh>

#include "services/egress/proxy.hh"
#include "services/tool-shell/skill_lanes.hh"

using namespace weft;
namespace fs = std::filesystem;

namespace {

/// A fresh directory under /tmp, removed at the end.
struct scratch {
  fs::path path;
  explicit scratch(const char* prefix) {
    std::string t = fmt::format("/tmp/{}-XXXXXX", prefix);
    if (!::mkdtemp(t.data())) std::exit(1);
    path = t;
  }
  ~scratch() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

struct pcts {
  double p50, p99;
};
pcts of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)]};
}
double since_us(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

int unix_client(const std::string& path) {
  int c = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
  if (::connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(c);
    return -1;
  }
  return c;
}

bool read_until(int fd, std::string_view until, std::string& got) {
  char buf[4096];
  while (got.find(until) == std::string::npos) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return true;
}

void bench_proxy(int rounds) {
  // A loopback echo server: answers each connection's "ping" with "pong".
  int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  ::bind(ls, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  ::listen(ls, 128);
  ::getsockname(ls, reinterpret_cast<sockaddr*>(&sa), &len);
  auto port = ntohs(sa.sin_port);
  std::thread echo([ls] {
    for (;;) {
      int c = ::accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      std::string got;
      if (read_until(c, "ping", got)) (void)::send(c, "pong", 4, MSG_NOSIGNAL);
      ::close(c);
    }
  });

  scratch dir{"weft-bench-egress"};
  auto loop = std::move(*event_loop::create());
  worker_pool pool(*loop, 2, 64);
  // The agent's socket: loopback counts as public here (the bench's own check), so both
  // sockets reach the echo server and differ only by the list.
  egress::proxy px(*loop, pool, {}, [](const sockaddr*) { return std::string(); }, nullptr);
  auto own = dir.path.string() + "/a.sock", scoped = dir.path.string() + "/plugin-x.sock";
  auto list = std::make_shared<plugin::allowlist>();
  for (auto e : {std::string("api.example.com"), std::string("*.cdn.example.org:8443"), fmt::format("127.0.0.1:{}", port)})
    list->hosts.push_back(*plugin::parse_host_rule(e));
  if (!px.listen("a", own) || !px.listen_scoped("a", "plugin:x", scoped, list)) {
    fmt::print(stderr, "weft-bench-egress: cannot listen in '{}'\n", dir.path.string());
    std::exit(1);
  }
  std::thread th([&] { loop->run(); });
  auto one = [&](const std::string& path) {
    auto t0 = std::chrono::steady_clock::now();
    int c = unix_client(path);
    auto req = fmt::format("CONNECT 127.0.0.1:{} HTTP/1.1\r\n\r\nping", port);
    (void)::send(c, req.data(), req.size(), MSG_NOSIGNAL);
    std::string got;
    bool ok = read_until(c, "pong", got);
    ::close(c);
    if (!ok) {
      fmt::print(stderr, "weft-bench-egress: no answer through '{}': {}\n", path, got);
      std::exit(1);
    }
    return since_us(t0);
  };
  for (int i = 0; i < 50; ++i) one(own), one(scoped);  // warm up
  std::vector<double> a, b;
  for (int i = 0; i < rounds; ++i) {  // alternating, so both see the same machine
    a.push_back(one(own));
    b.push_back(one(scoped));
  }
  auto pa = of(a), pb = of(b);
  fmt::print("proxy: CONNECT + one round trip, {} each, alternating\n", rounds);
  fmt::print("  agent's socket (public policy)   p50 {:7.1f} µs   p99 {:7.1f} µs\n", pa.p50, pa.p99);
  fmt::print("  scoped socket (3-entry list)     p50 {:7.1f} µs   p99 {:7.1f} µs\n", pb.p50, pb.p99);
  fmt::print("  the list adds                    p50 {:+7.1f} µs\n", pb.p50 - pa.p50);
  loop->post([&] { loop->quit(); });
  th.join();
  px.close_listeners();
  pool.stop();
  ::shutdown(ls, SHUT_RDWR);
  ::close(ls);
  echo.join();
}

void bench_lanes(int rounds) {
  auto& lg = log::get("bench");
  auto loop = std::move(*event_loop::create());
  std::thread th([&] { loop->run(); });
  fmt::print("lanes: skill_lanes::lane_for per exec call, {} calls each\n", rounds);
  for (int n : {0, 10, 50}) {
    scratch home{"weft-bench-lanes"};
    auto shared = home.path / "skills";
    for (int i = 0; i < n; ++i) {
      auto d = shared / fmt::format("skill-{}", i);
      fs::create_directories(d);
      std::ofstream(d / "SKILL.md") << "---\nname: skill-" << i << "\ndescription: a skill of the benchmark, with a "
                                    << "description of ordinary length\n"
                                    << (i == 0 ? "network: [api.example.com]\n" : "") << "---\nInstructions.\n";
    }
    auto egress_dir = home.path.string() + "/egress";
    fs::create_directories(egress_dir);
    tools::skill_lanes lanes(*loop, egress_dir, {{shared.string(), "shared"}, {(home.path / "ws" / "skills").string(), "workspace"}}, lg);
    std::vector<double> plain, named;
    if (n > 0) (void)lanes.lane_for("python3 skills/skill-0/run.py", std::nullopt);  // opens its lane (and logs it)
    for (int i = 0; i < rounds; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      auto r = lanes.lane_for("ls -la && git status", std::nullopt);
      plain.push_back(since_us(t0));
      if (!r) std::exit(1);
      if (n > 0) {
        t0 = std::chrono::steady_clock::now();
        auto l = lanes.lane_for("python3 skills/skill-0/run.py", std::nullopt);
        named.push_back(since_us(t0));
        if (!l && l.err().message.find("cannot be enforced") == std::string::npos) {
          fmt::print(stderr, "weft-bench-egress: {}\n", l.err().message);
          std::exit(1);
        }
      }
    }
    auto p = of(plain);
    fmt::print("  {:2} skills: a command naming none   p50 {:7.1f} µs   p99 {:7.1f} µs", n, p.p50, p.p99);
    if (!named.empty()) {
      auto q = of(named);
      fmt::print("   naming one with a list   p50 {:7.1f} µs   p99 {:7.1f} µs", q.p50, q.p99);
    }
    fmt::print("\n");
  }
  loop->post([&] { loop->quit(); });
  th.join();
}

}  // namespace

int main(int argc, char** argv) {
  std::string what = argc > 1 ? argv[1] : "all";
  int rounds = 2000;
  for (int i = 2; i + 1 < argc; i += 2)
    if (std::string_view(argv[i]) == "--rounds") rounds = std::max(10, std::atoi(argv[i + 1]));
  if (what == "--help" || what == "-h") {
    fmt::print("usage: weft-bench-egress [proxy|lanes|all] [--rounds N]\n"
               "What the per-plugin and per-skill network lists cost (see the comment at the top of\n"
               "tools/bench/egress/bench_egress.cc). Prints figures; not a test.\n");
    return 0;
  }
  if (what == "proxy" || what == "all") bench_proxy(rounds);
  if (what == "lanes" || what == "all") bench_lanes(std::max(10, rounds / 4));
  if (what != "proxy" && what != "lanes" && what != "all") {
    fmt::print(stderr, "weft-bench-egress: unknown benchmark '{}' (proxy, lanes, all)\n", what);
    return 2;
  }
  return 0;
}
