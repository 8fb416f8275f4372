// weft-echo — test-only bus service (not installed).
//
// Purpose: a real service for integration tests and benchmarks. It answers
// io.weft.test.Echo.v1 requests: Echo (returns the text and the sender the bus stamped),
// Append/Missing (records sequence numbers, to prove acknowledged messages survive
// restarts), Sleep (to test draining and hung-child detection).
//
// Started by weftd with $WEFT_BUS, $WEFT_ADDRESS, $WEFT_TOKEN_FD and $WEFT_NOTIFY_FD.
// Options:
//   --hang-after N   stop sending heartbeats after N requests (tests hung detection)
//   --help
//
// Example config:
//   [services.echo-1]
//   exec = "/path/to/build/tests/echo/weft-echo"
//   address = "echo/1"
#include <unistd.h>

#include <cstring>
#include <set>
#include <string>
#include <thread>

#include <weft/base/log.hh>
#include <weft/service/exit.hh>
#include <weft/service/service_loop.hh>

#include "tests/echo/echo_v1.hh"

namespace echo = weft::proto::echo_v1;
using namespace weft;

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0) {
      fmt::print("usage: weft-echo\nA test-only echo service started by weftd.\n");
      return 0;
    }
    return service::usage_error("weft-echo", fmt::format("unknown option '{}'", argv[i]));
  }
  log::configure_from_env();
  auto& lg = log::get("echo");
  auto opts = ipc::bus_client::options_from_env();
  if (!opts) {
    lg.error("{}", opts.err().message);
    return service::to_int(service::exit_code::usage);
  }
  auto notify = service::notifier::from_env();
  zmq::context_t ctx(1);
  auto bus = ipc::bus_client::connect(ctx, *opts);
  if (!bus) {
    lg.error("Failed to join the bus as '{}': {}", opts->address, bus.err().to_string());
    return service::to_int(service::exit_code::failure);
  }
  auto pid = static_cast<std::uint32_t>(::getpid());
  std::set<std::uint64_t> seen;

  service::service_loop loop(**bus, notify);
  loop.on<echo::echo>([&](const echo::echo& r, const ipc::message& m) -> result<echo::echo_reply> {
    if (r.fail) return echo::make(echo::error_code::refused, "asked to fail");
    return echo::echo_reply{r.text, r.blob, m.env.from, (*bus)->address(), pid};
  });
  loop.on<echo::append>([&](const echo::append& r, const ipc::message&) -> result<echo::appended> {
    seen.insert(r.seq);
    return echo::appended{seen.size()};
  });
  loop.on<echo::missing>([&](const echo::missing& r, const ipc::message&) -> result<echo::missing_reply> {
    echo::missing_reply out;
    for (auto s : r.seqs)
      if (!seen.count(s)) out.missing.push_back(s);
    return out;
  });
  loop.on<echo::sleep>([&](const echo::sleep& r, const ipc::message&) -> result<echo::slept> {
    auto ms = std::min<std::uint32_t>(r.ms, 60000);
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return echo::slept{ms};
  });
  return loop.run();
}
