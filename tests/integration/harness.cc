#include "harness.hh"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

namespace weft::test {

namespace fs = std::filesystem;
namespace sv = weft::proto::supervisor_v1;
using namespace std::chrono_literals;

namespace {

std::string g_failed_log;  // log of the last stack, printed if its test case failed

struct log_on_failure : doctest::IReporter {
  explicit log_on_failure(const doctest::ContextOptions&) {}
  void test_case_start(const doctest::TestCaseData&) override { g_failed_log.clear(); }
  void test_case_end(const doctest::CurrentTestCaseStats& st) override {
    if (!st.testCaseSuccess && !g_failed_log.empty())
      std::fprintf(stderr, "---- weftd log ----\n%s---- end of weftd log ----\n", g_failed_log.c_str());
  }
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};
REGISTER_LISTENER("weft-log", 1, log_on_failure);

}  // namespace

std::string build_path(const std::string& rel) { return std::string(WEFT_BUILD_ROOT) + "/" + rel; }
std::string missing_programs(std::initializer_list<const char*> rels) {
  std::string out;
  for (auto p : rels)
    if (!std::filesystem::exists(build_path(p))) out += std::string(out.empty() ? "" : ", ") + p;
  return out;
}

std::string echo_exe() { return build_path("tests/echo/weft-echo"); }

std::string echo_services(int n, const std::string& extra) {
  std::string s;
  for (int i = 1; i <= n; ++i)
    s += fmt::format("[services.echo-{}]\nexec = \"{}\"\naddress = \"echo/{}\"\n{}\n", i, echo_exe(), i, extra);
  return s;
}

run_result run(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  auto dir = fs::temp_directory_path() / fmt::format("weft-run-{}-{}", ::getpid(), std::rand());
  fs::create_directories(dir);
  auto out_path = (dir / "out").string(), err_path = (dir / "err").string();
  pid_t pid = ::fork();
  if (pid == 0) {
    int o = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(o, 1);
    ::dup2(e, 2);
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    ::execv(a[0], a.data());
    ::_exit(127);
  }
  int ws = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (::waitpid(pid, &ws, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &ws, 0);
      break;
    }
    ::usleep(2000);  // polling a child we own for exit, not synchronising with the system under test
  }
  run_result r{WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws), {}, {}};
  std::ifstream o(out_path), e(err_path);
  std::stringstream so, se;
  so << o.rdbuf();
  se << e.rdbuf();
  r.out = so.str();
  r.err = se.str();
  fs::remove_all(dir);
  return r;
}

std::unique_ptr<stack> stack::start(const std::string& config, bool wait_ready, const std::string& weftd_path) {
  // The developer's own desktop keyring is no place for test keys: weftd passes the session
  // bus to the OAuth2 broker, so a stack sees one only under tests/integration/oauth2/
  // keyring_session.sh (its private bus, with WEFT_TEST_KEYRING set).
  if (!std::getenv("WEFT_TEST_KEYRING")) ::unsetenv("DBUS_SESSION_BUS_ADDRESS");
  std::unique_ptr<stack> s(new stack());
  char tmpl[] = "/tmp/weft-it-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  s->_dir = tmpl;
  s->_runtime = s->_dir + "/run";
  {
    std::ofstream f(s->config_path());
    f << config;
  }
  s->_notify_path = s->_dir + "/notify";
  s->_notify_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", s->_notify_path.c_str());
  REQUIRE(::bind(s->_notify_fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);

  auto weftd = weftd_path.empty() ? build_path("services/weftd/weftd") : weftd_path;
  auto log_path = s->_dir + "/weftd.log";
  s->_pid = ::fork();
  REQUIRE(s->_pid >= 0);
  if (s->_pid == 0) {
    ::setpgid(0, 0);  // weftd and its children form one group the harness can kill
    int l = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(l, 1);
    ::dup2(l, 2);
    ::setenv("NOTIFY_SOCKET", s->_notify_path.c_str(), 1);
    ::setenv("WATCHDOG_USEC", "400000", 1);  // as systemd's WatchdogSec=: weftd beats every 200 ms
    ::setenv("WEFT_HOME", (s->_dir + "/home").c_str(), 1);
    ::unsetenv("WEFT_CONFIG");
    ::execl(weftd.c_str(), weftd.c_str(), "--config", s->config_path().c_str(), "--runtime-dir",
            s->_runtime.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::setpgid(s->_pid, s->_pid);
  if (wait_ready) {
    bool ok = s->wait_notify("READY=1", 20s);
    if (!ok) g_failed_log = s->log();
    REQUIRE_MESSAGE(ok, "weftd did not report READY=1");
  }
  return s;
}

stack::~stack() {
  g_failed_log = log();
  if (_pid > 0) {
    ::kill(-_pid, SIGTERM);
    int ws;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (::waitpid(_pid, &ws, WNOHANG) == 0 && std::chrono::steady_clock::now() < deadline) ::usleep(5000);
    ::kill(-_pid, SIGKILL);  // whatever is left of the group
    ::waitpid(_pid, &ws, WNOHANG);
  }
  if (_notify_fd >= 0) ::close(_notify_fd);
  std::error_code ec;
  fs::remove_all(_dir, ec);
}

bool stack::wait_notify(const std::string& what, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{_notify_fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    auto n = ::recv(_notify_fd, buf, sizeof buf, 0);
    if (n > 0 && std::string_view(buf, static_cast<size_t>(n)).find(what) != std::string_view::npos) return true;
  }
}

std::uint64_t stack::delivered(ipc::bus_client& b, const std::string& address) {
  auto r = b.call("bus", proto::bus_v1::list_peers{});
  REQUIRE(r);
  auto p = r->as<proto::bus_v1::peers>();
  REQUIRE(p);
  for (auto& peer : p->peers)
    if (peer.address == address) return peer.received;
  return 0;
}

bool stack::wait_delivered(ipc::bus_client& b, const std::string& address, std::uint64_t count,
                           std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline)
    if (delivered(b, address) >= count) return true;
  return false;
}

std::string stack::log() const {
  std::ifstream f(_dir + "/weftd.log");
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

run_result stack::weftctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{build_path("tools/weftctl/weftctl"), "--runtime-dir", _runtime};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

std::unique_ptr<service::control_client> stack::control() {
  auto c = service::control_client::connect(_ctx, _runtime);
  REQUIRE_MESSAGE(c, (c ? "" : c.err().message));
  return std::move(*c);
}

std::unique_ptr<ipc::bus_client> stack::bus_client() {
  auto c = control();
  // Distinct ctl addresses per client within one test process.
  auto pid = static_cast<std::uint32_t>(::getpid()) * 100 + (++_ctl_seq);
  auto r = c->request(sv::issue_token{pid});
  REQUIRE_MESSAGE(r, (r ? "" : r.err().message));
  auto tok = r->as<sv::token>();
  REQUIRE(tok);
  ipc::client_options o;
  o.endpoint = tok->bus;
  o.address = tok->address;
  o.token = tok->token;
  auto b = ipc::bus_client::connect(_ctx, o);
  REQUIRE_MESSAGE(b, (b ? "" : b.err().to_string()));
  return std::move(*b);
}

pid_t stack::service_pid(const std::string& name) {
  auto c = control();
  auto r = c->request(sv::status{});
  REQUIRE(r);
  auto st = r->as<sv::status_reply>();
  REQUIRE(st);
  for (auto& s : st->services)
    if (s.name == name) return static_cast<pid_t>(s.pid);
  return 0;
}

bool stack::wait_state(service::control_client& c, const std::string& name, sv::state state,
                       std::uint32_t min_restarts, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto ch = c.next_change(left);
    if (!ch) return false;
    if (ch->name == name && ch->state == state && ch->restarts >= min_restarts) return true;
  }
  return false;
}

std::vector<pid_t> processes_holding(const std::string& secret) {
  std::vector<pid_t> out;
  for (auto& e : std::filesystem::directory_iterator("/proc")) {
    auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream env(e.path() / "environ"), cmd(e.path() / "cmdline");
    std::string text((std::istreambuf_iterator<char>(env)), {});
    text += std::string((std::istreambuf_iterator<char>(cmd)), {});
    if (text.find(secret) != std::string::npos) out.push_back(std::stoi(name));
  }
  return out;
}

}  // namespace weft::test
