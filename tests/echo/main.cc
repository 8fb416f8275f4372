// weft-echo — test-only bus service (not installed).
//
// Purpose: a real service for integration tests and benchmarks. It answers
// io.weft.test.Echo.v1 requests: Echo (returns the text and the sender the bus stamped),
// Append/Missing (records sequence numbers, to prove acknowledged messages survive
// restarts), Sleep (to test draining and hung-child detection).
//
// Started by weftd with $WEFT_BUS, $WEFT_ADDRESS, $WEFT_TOKEN_FD and $WEFT_NOTIFY_FD.
// Options:
//   --actors   handle requests in CAF actors through ipc::actor_bridge (the CAF path)
//   --help
//
// Example config:
//   [services.echo-1]
//   exec = "/path/to/build/tests/echo/weft-echo"
//   address = "echo/1"
#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>
#include <functional>
#include <mutex>

#include <cstring>
#include <set>
#include <string>
#include <thread>

#include <weft/base/log.hh>
#include <weft/ipc/actor_bridge.hh>
#include <weft/service/exit.hh>
#include <weft/service/service_loop.hh>
#include <weft/service/startup.hh>

#include "tests/echo/echo_v1.hh"

namespace echo = weft::proto::echo_v1;
using namespace weft;

namespace bus = weft::proto::bus_v1;

namespace {

/// Actor mode: the bus is served by ipc::actor_bridge on its own thread and each request
/// is handled by a CAF actor; the main thread only sends heartbeats and waits for TERM.
int run_with_actors(int sfd, std::unique_ptr<ipc::bus_client> client, service::notifier& notify,
                    std::function<result<service::reply>(const ipc::message&)> handle) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  ipc::actor_bridge bridge(std::move(client));
  using drain_atom = caf::atom_constant<caf::atom("drain")>;
  auto handler = sys.spawn([&bridge, handle](caf::event_based_actor* self) -> caf::behavior {
    return {[&bridge, handle](ipc::bus_request_atom, const ipc::bus_message& m) {
              if (m->env.kind != bus::kind::request) return;
              auto r = handle(*m);
              if (r) bridge.reply(*m, r->type, std::move(r->payload));
              else bridge.reply_error(*m, r.err());
            },
            // Queued behind every request already delivered: quitting here drains.
            [self](drain_atom) { self->quit(); }};
  });
  bridge.start(handler);
  (void)notify.ready();
  for (;;) {
    pollfd p{sfd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(notify.beat_if_due().count())) > 0) break;  // TERM/INT
  }
  (void)notify.stopping();
  bridge.refuse_new();
  caf::anon_send(handler, drain_atom::value);
  sys.await_all_actors_done();  // requests already delivered are answered
  bridge.stop();                // then the replies are sent
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool actors = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0) {
      fmt::print("usage: weft-echo [--actors]\nA test-only echo service started by weftd.\n"
                 "  --actors   handle requests in CAF actors through ipc::actor_bridge\n");
      return 0;
    }
    if (std::strcmp(argv[i], "--actors") == 0) {
      actors = true;
      continue;
    }
    return service::usage_error("weft-echo", fmt::format("unknown option '{}'", argv[i]));
  }
  int signal_fd = service::block_stop_signals();  // before any thread exists
  log::configure_from_env();
  auto& lg = log::get("echo");
  auto opts = ipc::bus_client::options_from_env();
  if (!opts) return service::exit_with(lg, opts.err());
  auto notify = service::notifier::from_env();
  zmq::context_t ctx(1);
  auto bus = service::join_bus(ctx, *opts);
  if (!bus) return service::exit_with(lg, bus.err());
  auto pid = static_cast<std::uint32_t>(::getpid());
  std::set<std::uint64_t> seen;
  std::mutex seen_mu;  // actor mode may run handlers on several scheduler threads
  auto self = (*bus)->address();
  ipc::bus_client* relay = actors ? nullptr : bus->get();  // loop mode: calls from a handler are fine

  // One handler for both modes: decode by type, answer, or a typed error.
  auto handle = [&](const ipc::message& m) -> result<service::reply> {
    if (m.is(echo::echo::type_name)) {
      auto r = m.as<echo::echo>();
      if (!r) return r.take_error();
      if (r->fail) return echo::make(echo::error_code::refused, "asked to fail");
      return service::reply::of(echo::echo_reply{r->text, r->blob, m.env.from, self, pid});
    }
    if (m.is(echo::append::type_name)) {
      auto r = m.as<echo::append>();
      if (!r) return r.take_error();
      std::lock_guard lock(seen_mu);
      seen.insert(r->seq);
      return service::reply::of(echo::appended{seen.size()});
    }
    if (m.is(echo::missing::type_name)) {
      auto r = m.as<echo::missing>();
      if (!r) return r.take_error();
      echo::missing_reply out;
      std::lock_guard lock(seen_mu);
      for (auto s : r->seqs)
        if (!seen.count(s)) out.missing.push_back(s);
      return service::reply::of(out);
    }
    if (m.is(echo::sleep::type_name)) {
      auto r = m.as<echo::sleep>();
      if (!r) return r.take_error();
      auto ms = std::min<std::uint32_t>(r->ms, 60000);
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      return service::reply::of(echo::slept{ms});
    }
    if (m.is(echo::relay::type_name)) {
      auto r = m.as<echo::relay>();
      if (!r) return r.take_error();
      if (!relay) return bus::make(bus::error_code::unknown_type, "Relay needs the default (non-actor) mode");
      ipc::call_options once;
      once.retry = false;
      auto answer = relay->call(r->to, echo::echo{r->text, std::nullopt, false}, once);
      if (!answer) return answer.take_error();  // e.g. Denied by the bus: passed on as is
      auto e = answer->as<echo::echo_reply>();
      if (!e) return e.take_error();
      return service::reply::of(*e);
    }
    return bus::make(bus::error_code::unknown_type, "'{}' does not handle '{}'", self, m.env.type);
  };

  if (actors) return run_with_actors(signal_fd, std::move(*bus), notify, handle);
  ::close(signal_fd);  // the loop reads the same signals from its own signalfd
  service::service_loop loop(**bus, notify);
  for (auto t : echo::message_types()) loop.on(t, handle);
  return loop.run();
}
