// service::runtime against the real broker on real ZeroMQ sockets, all in this process and
// on one thread: the bus server and each runtime have their own event loop, and pump()
// turns each once. Deterministic, and no process to start.
#include <doctest/doctest.h>

#include <thread>

#include "tests/echo/echo_v1.hh"
#include "tests/integration/in_process_bus.hh"

using namespace weft;
using namespace std::chrono_literals;
namespace echo = weft::proto::echo_v1;
namespace bp = weft::proto::bus_v1;

namespace {

using world = test::in_process_bus;

echo::echo_reply reply_of(const result<ipc::message>& r) {
  REQUIRE(r);
  auto e = r->as<echo::echo_reply>();
  REQUIRE(e);
  return *e;
}

}  // namespace

TEST_CASE("typed handlers: an answer now, an answer later, UnknownType and BadRequest") {
  world w;
  auto& server = w.join("srv");
  auto& client = w.join("cli");
  std::optional<service::responder> later;
  server.on<echo::echo>([&](const echo::echo& e, const ipc::message& m) -> result<echo::echo_reply> {
    if (e.fail) return echo::make(echo::error_code::refused, "asked to fail");
    return echo::echo_reply{e.text, std::nullopt, m.env.from, "srv", 1};
  });
  server.on<echo::sleep>([&](echo::sleep s, service::responder r) {
    CHECK(s.ms == 5);
    later = std::move(r);
  });

  std::vector<result<ipc::message>> got;
  auto keep = [&](result<ipc::message> r) { got.push_back(std::move(r)); };
  client.call("srv", echo::echo{"hi", std::nullopt, false}, {}, keep);
  client.call("srv", echo::echo{"no", std::nullopt, true}, {}, keep);
  client.call("srv", echo::sleep{5}, {}, keep);
  client.call("srv", echo::append{1}, {}, keep);                        // nobody handles Append
  client.call("srv", echo::echo::type_name, std::string("\x01", 1), {}, keep);  // not a map
  REQUIRE(w.until([&] { return got.size() == 4 && later; }));
  CHECK(reply_of(got[0]).text == "hi");
  CHECK(reply_of(got[0]).sender == "cli");  // stamped by the bus
  CHECK(got[1].err().code == "Refused");
  CHECK(got[2].err().code == "UnknownType");
  CHECK(got[3].err().code == "BadRequest");
  CHECK(server.owed() == 1);
  later->reply(echo::slept{5});
  REQUIRE(w.until([&] { return got.size() == 5; }));
  CHECK(got[4]->as<echo::slept>()->ms == 5);
  CHECK(server.owed() == 0);
}

TEST_CASE("a responder dropped unanswered replies Internal; Ping is answered by the runtime") {
  world w;
  auto& server = w.join("srv");
  auto& client = w.join("cli");
  server.on<echo::sleep>([&](echo::sleep, service::responder) {});  // drops it
  std::vector<result<ipc::message>> got;
  client.call("srv", echo::sleep{1}, {}, [&](result<ipc::message> r) { got.push_back(std::move(r)); });
  client.call("srv", bp::ping{}, {}, [&](result<ipc::message> r) { got.push_back(std::move(r)); });
  REQUIRE(w.until([&] { return got.size() == 2; }));
  CHECK(got[0].err().code == "Internal");
  CHECK(got[1]->as<bp::pong>()->address == "srv");
}

TEST_CASE("a call times out at its deadline; one to an absent address is retried until it appears") {
  world w;
  auto& client = w.join("cli");
  std::vector<result<ipc::message>> got;
  client.call("nobody", echo::echo{"x"}, {.timeout = 50ms}, [&](result<ipc::message> r) { got.push_back(r); });
  REQUIRE(w.until([&] { return got.size() == 1; }));
  CHECK((got[0].err().code == "Timeout" || got[0].err().code == "NoSuchAddress"));
  CHECK(client.calls() == 0);

  client.call("late", echo::echo{"y"}, {.timeout = 5s}, [&](result<ipc::message> r) { got.push_back(r); });
  for (int i = 0; i < 20; ++i) w.pump();  // NoSuchAddress, retried with backoff
  CHECK(got.size() == 1);
  auto& late = w.join("late");
  late.on<echo::echo>([](const echo::echo& e, const ipc::message&) -> result<echo::echo_reply> {
    return echo::echo_reply{e.text, std::nullopt, "", "late", 2};
  });
  REQUIRE(w.until([&] { return got.size() == 2; }));
  CHECK(reply_of(got[1]).text == "y");
}

TEST_CASE("a callee that dies holding a request: the call is sent again to its new instance") {
  world w;
  auto& client = w.join("cli");
  auto* first = &w.join("tool/x");
  std::vector<service::responder> held;
  first->on<echo::echo>([&](echo::echo, service::responder r) { held.push_back(std::move(r)); });
  std::vector<result<ipc::message>> got;
  client.call("tool/x/run", echo::echo{"again"}, {.timeout = 60s}, [&](result<ipc::message> r) { got.push_back(r); });
  REQUIRE(w.until([&] { return !held.empty(); }));
  // The first process dies without answering: its responders are never destroyed (as in a
  // SIGKILL, no reply leaves), and its runtime goes away.
  new std::vector<service::responder>(std::move(held));  // NOLINT: deliberately leaked
  held.clear();
  w.rts.erase(std::find_if(w.rts.begin(), w.rts.end(), [&](auto& p) { return p.get() == first; }));
  // A new process at the same address answers at once.
  auto& second = w.join("tool/x");
  second.on<echo::echo>([](const echo::echo& e, const ipc::message&) -> result<echo::echo_reply> {
    return echo::echo_reply{e.text, std::nullopt, "", "tool/x", 2};
  });
  REQUIRE(w.until([&] { return got.size() == 1; }));
  CHECK(reply_of(got[0]).text == "again");
  CHECK(reply_of(got[0]).pid == 2);
}

TEST_CASE("the bus restarts: the runtime says Hello again and a call made meanwhile is answered") {
  world w;
  auto& server = w.join("srv");
  auto& client = w.join("cli");
  server.on<echo::echo>([](const echo::echo& e, const ipc::message&) -> result<echo::echo_reply> {
    return echo::echo_reply{e.text, std::nullopt, "", "srv", 1};
  });
  w.start_bus();  // a new instance on the same endpoint
  std::vector<result<ipc::message>> got;
  client.call("srv", echo::echo{"after"}, {.timeout = 10s}, [&](result<ipc::message> r) { got.push_back(r); });
  REQUIRE(w.until([&] { return got.size() == 1; }));
  CHECK(reply_of(got[0]).text == "after");
}

TEST_CASE("stop drains: new requests get ShuttingDown, the one in hand is answered, then run() returns") {
  world w;
  auto& server = w.join("srv");
  auto& client = w.join("cli");
  std::optional<service::responder> held;
  bool stop_hook = false;
  server.on_stop([&] { stop_hook = true; });
  server.on<echo::sleep>([&](echo::sleep, service::responder r) { held = std::move(r); });
  server.on<echo::echo>([](const echo::echo& e, const ipc::message&) -> result<echo::echo_reply> {
    return echo::echo_reply{e.text, std::nullopt, "", "srv", 1};
  });
  std::vector<result<ipc::message>> got;
  client.call("srv", echo::sleep{1}, {}, [&](result<ipc::message> r) { got.push_back(r); });
  REQUIRE(w.until([&] { return held.has_value(); }));
  server.stop();
  CHECK(stop_hook);
  client.call("srv", echo::echo{"late"}, {.retry = false}, [&](result<ipc::message> r) { got.push_back(r); });
  REQUIRE(w.until([&] { return got.size() == 1; }));
  CHECK(got[0].err().code == "ShuttingDown");
  CHECK_FALSE(server.loop().quitting());  // still owes the Sleep
  held->reply(echo::slept{1});
  REQUIRE(w.until([&] { return got.size() == 2; }));
  CHECK(got[1]->as<echo::slept>()->ms == 1);
  CHECK(w.until([&] { return server.loop().quitting(); }));
}
