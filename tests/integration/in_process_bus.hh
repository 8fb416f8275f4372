#pragma once
/// The real broker (services/bus server) and service::runtimes joined to it, all in one
/// process on real ZeroMQ sockets: the bus and each runtime have their own event loop, and
/// pump() turns each once. For tests of what stands on the runtime (the runtime itself, the
/// tool server) that need no process and must be deterministic.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <weft/service/runtime.hh>

#include "services/bus/server.hh"
#include "tests/temp_dir.hh"

namespace weft::test {

struct in_process_bus {
  temp_dir dir{"weft-inproc"};
  zmq::context_t ctx{1};
  ipc::secret key = ipc::make_secret();
  std::unique_ptr<event_loop> bus_loop;
  std::unique_ptr<bus::server> bus;
  std::vector<std::unique_ptr<service::runtime>> rts;

  std::string bus_ep() const { return "ipc://" + (dir.path / "bus").string(); }
  std::string events_ep() const { return "ipc://" + (dir.path / "events").string(); }

  in_process_bus() { start_bus(); }
  ~in_process_bus() {
    rts.clear();
    bus.reset();
  }

  /// Starts the bus, or a new instance of it on the same endpoints.
  void start_bus() {
    bus.reset();
    bus_loop = std::move(*event_loop::create());
    auto s = bus::server::bind(ctx, *bus_loop, service::bus_settings{}, key, bus_ep(), events_ep());
    REQUIRE(s);
    bus = std::move(*s);
  }

  /// A runtime joined as `address`, with the bus's events (PeerChanged) subscribed.
  service::runtime& join(const std::string& address, service::runtime_options ro = {.drain_timeout =
                                                                                        std::chrono::seconds(3)}) {
    ipc::client_options o;
    o.endpoint = bus_ep();
    o.address = address;
    o.token = ipc::make_token(key, address);
    // Hello is answered by the bus loop, which must turn while connect() waits.
    std::unique_ptr<ipc::bus_client> c;
    std::thread t([&] {
      auto r = ipc::bus_client::connect(ctx, o);
      REQUIRE(r);
      c = std::move(*r);
    });
    while (!c) bus_loop->run_once(std::chrono::milliseconds(1));
    t.join();
    ro.events_endpoint = events_ep();
    auto rt = service::runtime::create(ctx, std::move(c), service::notifier{}, ro);
    REQUIRE(rt);
    rts.push_back(std::move(*rt));
    return *rts.back();
  }

  /// One turn of every loop.
  void pump() {
    bus_loop->run_once(std::chrono::milliseconds(0));
    for (auto& r : rts) r->loop().run_once(std::chrono::milliseconds(0));
  }
  /// Turns the loops until `done` or 5 s; false when it timed out (the test fails instead
  /// of hanging).
  template <class F>
  bool until(F done) {
    auto end = mono_clock::now() + std::chrono::seconds(5);
    while (!done()) {
      if (mono_clock::now() > end) return false;
      pump();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return true;
  }
};

}  // namespace weft::test
