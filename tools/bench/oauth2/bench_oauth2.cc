// weft-bench-oauth2 [--calls N] — what asking the OAuth2 broker for a cached access token adds
// to a tool call: a stack with weft-oauth2, an account logged in (device flow) at
// tests/fakes/fake_idp.py, and a tool process of agent a (the test probe) called N times
// with `token` (the tool asks oauth2 for the account's token, cached) and N times with `noop`
// (the same call without the broker), interleaved. Prints p50/p99 of both and the difference.
#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "proto/oauth_v1.hh"
#include "proto/tool_v1.hh"
#include "tools/bench/bench_stack.hh"

using namespace weft;
namespace ov = weft::proto::oauth_v1;
namespace tool = weft::proto::tool_v1;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  int calls = 2000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--calls" && i + 1 < argc) calls = std::atoi(argv[++i]);
    else {
      fmt::print(stderr, "usage: weft-bench-oauth2 [--calls N]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  // The fake identity provider.
  char tmpl[] = "/tmp/weft-bench-idp-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  auto port_file = dir + "/port";
  pid_t idp = ::fork();
  if (idp == 0) {
    auto script = std::string(WEFT_SOURCE_ROOT) + "/tests/fakes/fake_idp.py";
    ::execlp("python3", "python3", script.c_str(), "--port-file", port_file.c_str(), "--pending", "0", "--interval", "1",
             static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::string port;
  for (int i = 0; i < 100 && port.empty(); ++i) {
    std::this_thread::sleep_for(50ms);
    std::ifstream f(port_file);
    std::getline(f, port);
  }
  if (port.empty()) {
    fmt::print(stderr, "error: the fake identity provider did not start\n");
    return 1;
  }
  auto u = "http://127.0.0.1:" + port + "/google";
  auto config = fmt::format(
      "[agents.a]\n[services.agent-a]\nexec = \"/bin/true\"\naddress = \"agent/a\"\nenabled = false\n\n"
      "[services.llm]\nexec = \"/bin/true\"\nenabled = false\n\n[services.router]\nexec = \"/bin/true\"\nenabled = false\n\n"
      "[memory]\nenabled = false\n\n"
      "[oauth2]\nstore = \"memory\"\n[oauth2.providers.google]\nclient_id = \"weft-test-client\"\n"
      "auth_url = \"{0}/o/oauth2/v2/auth\"\ntoken_url = \"{0}/token\"\ndevice_url = \"{0}/device/code\"\n"
      "[oauth2.grants.a]\nwork = [\"calendar\"]\n\n"
      "[services.probe-a]\nexec = \"{1}/tests/integration/oauth2/weft-test-oauth2-probe\"\naddress = \"tool/probe/a\"\n",
      u, bench::build_root());
  int rc = 0;
  {
    bench::stack s(config);
    s.start();
    zmq::context_t ctx(1);
    auto b = bench::join_bus(ctx, s.runtime());
    auto started = b->call("oauth2", ov::start_login{"google", "work", {"calendar"}, "device"}, ipc::call_options{.timeout = 10s});
    auto login = started ? started->as<ov::login_started>() : result<ov::login_started>(started.take_error());
    if (!login) {
      fmt::print(stderr, "error: {}\n", login.err().message);
      rc = 1;
    } else {
      bool in = false;
      for (int i = 0; i < 20 && !in; ++i)
        in = static_cast<bool>(b->call("oauth2", ov::wait_login{login->login_id, 5000}, ipc::call_options{.timeout = 10s}));
      auto call = [&](const char* name) {
        auto t0 = bench::clk::now();
        auto r = b->call(std::string("tool/probe/a/") + name,
                         tool::call{name, R"({"account":"work","scopes":["calendar"]})", "", 0}, ipc::call_options{.timeout = 10s});
        auto us = std::chrono::duration<double, std::micro>(bench::clk::now() - t0).count();
        if (!r || r->as<tool::result>()->content.empty()) throw std::runtime_error(std::string("call failed: ") + name);
        return us;
      };
      for (int i = 0; i < 200; ++i) call("token"), call("noop");  // warm up
      std::vector<double> with, without;
      for (int i = 0; i < calls; ++i) {
        with.push_back(call("token"));
        without.push_back(call("noop"));
      }
      auto p = [](std::vector<double>& v, double q) {
        std::sort(v.begin(), v.end());
        return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
      };
      fmt::print("a tool call of agent a's process, {} each, interleaved (µs)\n", calls);
      double w50 = p(with, 0.5), w99 = p(with, 0.99), n50 = p(without, 0.5), n99 = p(without, 0.99);
      fmt::print("  with a cached token from oauth2    p50 {:8.1f}   p99 {:8.1f}\n", w50, w99);
      fmt::print("  the same call without the broker   p50 {:8.1f}   p99 {:8.1f}\n", n50, n99);
      fmt::print("  token fetch overhead               p50 {:8.1f}   p99 {:8.1f}\n", w50 - n50, w99 - n99);
    }
  }
  ::kill(idp, SIGTERM);
  ::waitpid(idp, nullptr, 0);
  bench::fs::remove_all(dir);
  return rc;
}
