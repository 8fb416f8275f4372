#pragma once
/// What the benchmarks share: a private weftd started on a config text (READY taken from a
/// NOTIFY_SOCKET the benchmark owns) and memory figures read from /proc.

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <weft/ipc/bus_client.hh>
#include <weft/service/control_client.hh>

#include "proto/supervisor_v1.hh"

namespace weft::bench {

namespace fs = std::filesystem;
using clk = std::chrono::steady_clock;

inline std::string build_root() { return WEFT_BUILD_ROOT; }

inline std::string echo_config(int echoes) {
  std::string out;
  for (int i = 1; i <= echoes; ++i)
    out += fmt::format("[services.echo-{}]\nexec = \"{}/tests/echo/weft-echo\"\naddress = \"echo/{}\"\n", i,
                       build_root(), i);
  return out;
}

/// A private weftd on a config text, started and stopped by a benchmark.
class stack {
 public:
  explicit stack(const std::string& config) {
    char tmpl[] = "/tmp/weft-bench-XXXXXX";
    _dir = ::mkdtemp(tmpl);
    _runtime = _dir + "/run";
    std::ofstream f(_dir + "/clawft.toml");
    f << config;
    f.close();
    _notify = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s/notify", _dir.c_str());
    if (::bind(_notify, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) throw std::runtime_error("bind notify");
  }
  ~stack() {
    stop();
    ::close(_notify);
    fs::remove_all(_dir);
  }
  /// Starts weftd; returns the time to READY=1.
  std::chrono::nanoseconds start() {
    auto weftd = build_root() + "/services/weftd/weftd";
    auto cfg = _dir + "/clawft.toml";
    auto notify = _dir + "/notify";
    auto t0 = clk::now();
    _pid = ::fork();
    if (_pid == 0) {
      ::setpgid(0, 0);
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 2);
      ::setenv("NOTIFY_SOCKET", notify.c_str(), 1);
      ::setenv("WEFT_LOG", "warning", 1);
      ::setenv("WEFT_HOME", (_dir + "/home").c_str(), 1);
      ::execl(weftd.c_str(), weftd.c_str(), "--config", cfg.c_str(), "--runtime-dir", _runtime.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (;;) {
      pollfd p{_notify, POLLIN, 0};
      if (::poll(&p, 1, 20000) <= 0) throw std::runtime_error("weftd did not become ready in 20 s");
      char buf[512];
      auto n = ::recv(_notify, buf, sizeof buf, 0);
      if (n > 0 && std::string_view(buf, static_cast<size_t>(n)).find("READY=1") != std::string_view::npos) break;
    }
    return clk::now() - t0;
  }
  void stop() {
    if (_pid <= 0) return;
    ::kill(_pid, SIGTERM);
    int ws;
    ::waitpid(_pid, &ws, 0);
    ::kill(-_pid, SIGKILL);
    _pid = -1;
  }
  pid_t pid() const { return _pid; }
  const std::string& runtime() const { return _runtime; }
  const std::string& dir() const { return _dir; }

 private:
  std::string _dir, _runtime;
  int _notify = -1;
  pid_t _pid = -1;
};


/// A bus client of a benchmark: a token from weftd's control socket (as weftctl joins).
inline std::unique_ptr<ipc::bus_client> join_bus(zmq::context_t& ctx, const std::string& runtime) {
  namespace sv = weft::proto::supervisor_v1;
  auto c = service::control_client::connect(ctx, runtime);
  if (!c) throw std::runtime_error(c.err().message);
  auto r = (*c)->request(sv::issue_token{static_cast<std::uint32_t>(::getpid())});
  if (!r) throw std::runtime_error(r.err().message);
  auto tok = r->as<sv::token>();
  if (!tok) throw std::runtime_error(tok.err().message);
  ipc::client_options o{tok->bus, tok->address, tok->token};
  auto b = ipc::bus_client::connect(ctx, o);
  if (!b) throw std::runtime_error(b.err().to_string());
  return std::move(*b);
}

inline long pss_kb(pid_t pid) {
  std::ifstream f(fmt::format("/proc/{}/smaps_rollup", pid));
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("Pss:", 0) == 0) return std::atol(line.c_str() + 4);
  return 0;
}

inline std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  for (auto& e : fs::directory_iterator("/proc")) {
    auto name = e.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream f(e.path() / "stat");
    std::string stat;
    std::getline(f, stat);
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state;
    pid_t ppid;
    rest >> state >> ppid;
    if (ppid == parent) out.push_back(std::stoi(name));
  }
  return out;
}

inline std::string comm(pid_t pid) {
  std::ifstream f(fmt::format("/proc/{}/comm", pid));
  std::string s;
  std::getline(f, s);
  return s;
}


}  // namespace weft::bench
