// weft-bench — measures the foundation's budgets on real processes and prints figures.
//
//   weft-bench bus [--samples N]      raw zeromq baseline, bus ping, round trip client → bus → echo → bus → client
//                                     (p50/p99) and pipelined throughput
//   weft-bench coldstart [--runs N]   weftd to READY=1 with bus + 3 echo services (median)
//   weft-bench pss                    sum of PSS of weftd + bus + 3 echo services
//   weft-bench all
//
// Not a test: it prints numbers and asserts nothing. Budgets (docs/benchmarks.md):
// round trip p50 ≤ 50 µs, ≥ 300,000 msg/s, cold start ≤ 30 ms, PSS ≤ 20 MB.
#include <algorithm>
#include <csignal>
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

#include <weft/ipc/bus_client.hh>
#include <weft/service/control_client.hh>

#include "tests/echo/echo_v1.hh"
#include "tools/bench/bench_stack.hh"

using namespace weft;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace sv = weft::proto::supervisor_v1;
namespace echo = weft::proto::echo_v1;
using clk = std::chrono::steady_clock;

using namespace weft::bench;

namespace {


double pct(std::vector<double>& v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

std::unique_ptr<weft::ipc::bus_client> join(zmq::context_t& ctx, const std::string& runtime) {
  return weft::bench::join_bus(ctx, runtime);
}

/// The platform's floor: a raw ZeroMQ DEALER<->ROUTER ping-pong between two processes over
/// ipc, no weft code. The bus figures are only meaningful next to this one.
void bench_baseline(int samples) {
  char tmpl[] = "/tmp/weft-bench-raw-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  auto ep = "ipc://" + dir + "/raw";
  pid_t pid = ::fork();
  if (pid == 0) {
    zmq::context_t c(1);
    zmq::socket_t r(c, zmq::socket_type::router);
    r.bind(ep);
    zmq::message_t id, m;
    for (;;) {
      if (!r.recv(id) || !r.recv(m)) continue;
      r.send(id, zmq::send_flags::sndmore);
      r.send(m, zmq::send_flags::none);
    }
  }
  {
    zmq::context_t c(1);
    zmq::socket_t d(c, zmq::socket_type::dealer);
    d.set(zmq::sockopt::linger, 0);
    d.connect(ep);
    std::string msg(114, 'x');
    zmq::message_t m;
    std::vector<double> us;
    for (int i = 0; i < samples + 2000; ++i) {
      auto t0 = clk::now();
      d.send(zmq::buffer(msg), zmq::send_flags::none);
      (void)d.recv(m);
      if (i >= 2000) us.push_back(std::chrono::duration<double, std::micro>(clk::now() - t0).count());
    }
    fmt::print("raw zeromq round trip (2 processes, ipc, no broker, {} samples): p50 {:.1f} us   p99 {:.1f} us\n",
               samples, pct(us, 0.5), pct(us, 0.99));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  fs::remove_all(dir);
}

void bench_bus(int samples) {
  stack s(echo_config(1));
  s.start();
  zmq::context_t ctx(1);
  auto b = join(ctx, s.runtime());
  auto payload = wire::encode(echo::echo{std::string(100, 'x'), std::nullopt, false});
  ipc::call_options o;
  o.retry = false;
  for (int i = 0; i < 2000; ++i) (void)b->call("echo/1", echo::echo::type_name, payload, o);  // warm-up
  std::vector<double> us;
  us.reserve(static_cast<size_t>(samples));
  for (int i = 0; i < samples; ++i) {
    auto t0 = clk::now();
    auto r = b->call("echo/1", echo::echo::type_name, payload, o);
    auto t1 = clk::now();
    if (!r) throw std::runtime_error(r.err().to_string());
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::vector<double> ping;
  auto ping_payload = wire::encode(weft::proto::bus_v1::ping{});
  for (int i = 0; i < samples; ++i) {
    auto t0 = clk::now();
    auto r = b->call("bus", weft::proto::bus_v1::ping::type_name, ping_payload, o);
    if (!r) throw std::runtime_error(r.err().to_string());
    ping.push_back(std::chrono::duration<double, std::micro>(clk::now() - t0).count());
  }
  fmt::print("bus ping (client -> bus -> client): p50 {:.1f} us   p99 {:.1f} us\n", pct(ping, 0.5), pct(ping, 0.99));
  auto p50 = pct(us, 0.50), p99 = pct(us, 0.99);
  fmt::print("bus round trip (client -> bus -> echo -> bus -> client, {}-byte payload, {} samples):\n",
             payload.size(), samples);
  fmt::print("  p50 {:.1f} us   p90 {:.1f} us   p99 {:.1f} us   max {:.1f} us\n", p50, pct(us, 0.90), p99, us.back());

  // Pipelined throughput: keep a window of requests in flight through the broker.
  // The window stays well under the bus's per-peer queue_depth (1000): past it the bus
  // would drop replies to a requester that does not keep up (and publish LimitExceeded).
  const int total = 200000, window = 256;
  auto app = wire::encode(echo::append{1});
  int sent = 0, done = 0;
  auto t0 = clk::now();
  auto progress = clk::now();
  while (done < total) {
    if (clk::now() - progress > 5s) throw std::runtime_error(fmt::format("no reply for 5 s after {} of {}", done, total));
    while (sent < total && sent - done < window) {
      if (!b->send_request("echo/1", echo::append::type_name, app)) throw std::runtime_error("send");
      ++sent;
    }
    while (auto m = b->next(done + window <= sent ? 100ms : 0ms)) {
      if (m->is_error()) throw std::runtime_error(m->to_error().to_string());
      ++done;
      progress = clk::now();
    }
  }
  double secs = std::chrono::duration<double>(clk::now() - t0).count();
  fmt::print("bus throughput (window {}, {} request/reply pairs): {:.0f} pairs/s = {:.0f} msg/s through the broker\n",
             window, total, total / secs, 2 * total / secs);
}

void bench_coldstart(int runs) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    stack s(echo_config(3));
    ms.push_back(std::chrono::duration<double, std::milli>(s.start()).count());
  }
  auto sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  fmt::print("cold start to READY=1 (weftd + bus + 3 echo services, {} runs):\n", runs);
  fmt::print("  median {:.1f} ms   min {:.1f} ms   max {:.1f} ms\n", sorted[sorted.size() / 2], sorted.front(),
             sorted.back());
}

void bench_pss() {
  stack s(echo_config(3));
  s.start();
  // Let the services settle (first heartbeats, lazy page faults) before reading memory.
  zmq::context_t ctx(1);
  auto b = join(ctx, s.runtime());
  for (int i = 1; i <= 3; ++i) (void)b->call(fmt::format("echo/{}", i), echo::echo{"x", std::nullopt, false});
  long total = pss_kb(s.pid());
  fmt::print("memory (sum of PSS from /proc/<pid>/smaps_rollup):\n  {:<10} {:>6} kB\n", "weftd", pss_kb(s.pid()));
  for (auto c : children_of(s.pid())) {
    auto k = pss_kb(c);
    total += k;
    fmt::print("  {:<10} {:>6} kB\n", comm(c), k);
  }
  fmt::print("  total      {:>6} kB = {:.1f} MB (weftd + bus + 3 echo)\n", total, total / 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // figures appear as they are measured
  std::string what = argc > 1 ? argv[1] : "all";
  int samples = 50000, runs = 10;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--samples") == 0) samples = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::atoi(argv[i + 1]);
  }
  try {
    if (what == "bus" || what == "all") {
      bench_baseline(samples);
      bench_bus(samples);
    }
    if (what == "coldstart" || what == "all") bench_coldstart(runs);
    if (what == "pss" || what == "all") bench_pss();
    if (what != "all" && what != "bus" && what != "coldstart" && what != "pss") {
      fmt::print(stderr, "error: unknown benchmark '{}'\nTry: weft-bench bus|coldstart|pss|all\n", what);
      return 2;
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "Failed to run benchmark '{}': {}\n", what, e.what());
    return 1;
  }
  return 0;
}
