// The tool server (libs/toolserver) on a real service::runtime and the real broker, all in
// this process (tests/integration/in_process_bus.hh); tools run on the server's worker
// threads. What a tool process promises its
// callers: a call in hand is finished when TERM comes while new ones are refused
// ShuttingDown, what still runs at the drain deadline is cancelled (and answered), a full
// queue is refused with a typed error, results are cut at the content limit.
#include <doctest/doctest.h>

#include <poll.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include <weft/toolserver/tool_server.hh>

#include "tests/integration/in_process_bus.hh"

using namespace weft;
using namespace std::chrono_literals;
namespace tool = weft::proto::tool_v1;
namespace bp = weft::proto::bus_v1;

namespace {

using world = test::in_process_bus;

/// Where a tool waits until the test lets it go; counts who arrived.
struct gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int arrived = 0;
  void pass() {
    std::unique_lock l(mu);
    ++arrived;
    cv.wait(l, [&] { return open; });
  }
  void release() {
    std::lock_guard l(mu);
    open = true;
    cv.notify_all();
  }
  int waiting() {
    std::lock_guard l(mu);
    return arrived;
  }
};

tools::tool_def gated_tool(gate& g) {
  return {{"wait", "Waits at the test's gate.", R"({"type":"object"})"},
          [&g](const tools::json& args, const tools::call_context& ctx) -> result<tool::result> {
            g.pass();
            return tool::result{fmt::format("{} passed, cancelled={}", args.value("n", 0), ctx.cancelled()), false,
                                false};
          }};
}

/// A tool that runs until the server cancels it, as tool-shell's exec does: blocked in
/// poll() on the cancel descriptor.
tools::tool_def until_cancelled_tool(gate& started) {
  return {{"block", "Runs until cancelled.", R"({"type":"object"})"},
          [&started](const tools::json&, const tools::call_context& ctx) -> result<tool::result> {
            {
              std::lock_guard l(started.mu);
              ++started.arrived;
            }
            pollfd p{ctx.cancel_fd, POLLIN, 0};
            int n = ::poll(&p, 1, /*timeout_ms=*/-1);
            return tool::result{fmt::format("poll={} cancelled={}", n, ctx.cancelled()), true, false};
          }};
}

struct client {
  service::runtime& rt;
  std::map<int, result<ipc::message>> got;
  /// Calls <to>/<name> without retries (ShuttingDown must come back, not be retried).
  void call(int key, const std::string& to, const std::string& name, const tools::json& args = tools::json::object(),
            const std::string& call_id = "") {
    rt.call(to + "/" + name, tool::call{name, args.dump(), call_id, 0}, {.timeout = 10s, .retry = false},
            [this, key](result<ipc::message> r) { got.emplace(key, std::move(r)); });
  }
  std::string content(int key) {
    auto& r = got.at(key);
    REQUIRE_MESSAGE(bool(r), (r ? "" : r.err().to_string()));
    auto res = r->as<tool::result>();
    REQUIRE(res);
    return res->content;
  }
};

}  // namespace

TEST_CASE("TERM: a call arriving during the drain is refused ShuttingDown, the one in hand is finished") {
  world w;
  auto& srv_rt = w.join("tool/test");
  client c{w.join("cli")};
  gate g;
  auto srv = tools::tool_server::create(srv_rt, {.family = "test", .workers = 2});
  REQUIRE(srv);
  (*srv)->add(gated_tool(g));

  c.call(1, "tool/test", "wait", {{"n", 1}});
  REQUIRE(w.until([&] { return g.waiting() == 1; }));
  srv_rt.stop();  // as TERM does
  c.call(2, "tool/test", "wait", {{"n", 2}});
  c.rt.call("tool/test", tool::list_tools{}, {.timeout = 10s, .retry = false},
            [&](result<ipc::message> r) { c.got.emplace(3, std::move(r)); });
  REQUIRE(w.until([&] { return c.got.size() == 2; }));
  for (int k : {2, 3}) {
    CAPTURE(k);
    REQUIRE_FALSE(c.got.at(k));
    CHECK(bp::is(c.got.at(k).err(), bp::error_code::shutting_down));
  }
  CHECK(g.waiting() == 1);  // the refused call never reached a worker
  CHECK((*srv)->in_flight() == 1);
  CHECK_FALSE(srv_rt.loop().quitting());  // still owes the call in hand

  g.release();
  REQUIRE(w.until([&] { return c.got.count(1) == 1; }));
  CHECK(c.content(1) == "1 passed, cancelled=false");
  CHECK(w.until([&] { return srv_rt.loop().quitting(); }));  // drained: run() would return now
  CHECK((*srv)->in_flight() == 0);
}

TEST_CASE("TERM: what still runs at the drain deadline is cancelled and its answer still sent") {
  world w;
  // The server's deadline is short, the runtime's long: the cancelled call is answered
  // before the runtime would give up on it.
  auto& srv_rt = w.join("tool/test", {.drain_timeout = 30s});
  client c{w.join("cli")};
  gate started, g;
  auto srv = tools::tool_server::create(srv_rt, {.family = "test", .workers = 2, .drain_timeout = 50ms});
  REQUIRE(srv);
  (*srv)->add(until_cancelled_tool(started));
  (*srv)->add(gated_tool(g));

  c.call(1, "tool/test", "block");
  REQUIRE(w.until([&] { return started.waiting() == 1; }));
  srv_rt.stop();
  REQUIRE(w.until([&] { return c.got.count(1) == 1; }));
  CHECK(c.content(1) == "poll=1 cancelled=true");
  CHECK(w.until([&] { return srv_rt.loop().quitting(); }));
}

TEST_CASE("Cancel: the caller stops one of its calls; another sender's Cancel and other calls are untouched") {
  world w;
  auto& srv_rt = w.join("tool/test");
  client c{w.join("cli")};
  auto& other = w.join("intruder");
  gate started;
  auto srv = tools::tool_server::create(srv_rt, {.family = "test", .workers = 2});
  REQUIRE(srv);
  (*srv)->add(until_cancelled_tool(started));
  c.call(1, "tool/test", "block", tools::json::object(), "call_a");
  c.call(2, "tool/test", "block", tools::json::object(), "call_b");
  REQUIRE(w.until([&] { return started.waiting() == 2; }));
  // Somebody else naming the caller's call id stops nothing.
  REQUIRE(other.bus().notify("tool/test", tool::cancel{"call_a"}));
  REQUIRE(c.rt.bus().notify("tool/test", tool::cancel{"no_such_call"}));
  // Both were taken (a request after them is answered, in order), and 100 ms later both
  // calls still run.
  bool listed = false;
  other.call("tool/test", tool::list_tools{}, {.timeout = 10s, .retry = false}, [&](result<ipc::message>) { listed = true; });
  REQUIRE(w.until([&] { return listed; }));
  auto soon = mono_clock::now() + 100ms;
  w.until([&] { return c.got.size() > 0 || mono_clock::now() > soon; });
  CHECK(c.got.empty());
  CHECK((*srv)->in_flight() == 2);
  REQUIRE(c.rt.bus().notify("tool/test", tool::cancel{"call_a"}));
  REQUIRE(w.until([&] { return c.got.count(1) == 1; }));
  CHECK(c.content(1) == "poll=1 cancelled=true");
  CHECK(c.got.count(2) == 0);  // call_b still runs
  CHECK((*srv)->in_flight() == 1);
  REQUIRE(c.rt.bus().notify("tool/test", tool::cancel{"call_b"}));
  REQUIRE(w.until([&] { return c.got.count(2) == 1; }));
  CHECK(c.content(2) == "poll=1 cancelled=true");
}

TEST_CASE("a full queue is refused with a typed error; what was taken is answered") {
  world w;
  auto& srv_rt = w.join("tool/test");
  client c{w.join("cli")};
  gate g;
  auto srv = tools::tool_server::create(srv_rt, {.family = "test", .workers = 1, .max_queued = 1});
  REQUIRE(srv);
  (*srv)->add(gated_tool(g));

  c.call(1, "tool/test", "wait", {{"n", 1}});
  REQUIRE(w.until([&] { return g.waiting() == 1; }));  // running: the only worker is busy
  c.call(2, "tool/test", "wait", {{"n", 2}});
  REQUIRE(w.until([&] { return (*srv)->in_flight() == 2; }));  // waiting for the worker
  c.call(3, "tool/test", "wait", {{"n", 3}});
  REQUIRE(w.until([&] { return c.got.count(3) == 1; }));
  REQUIRE_FALSE(c.got.at(3));
  CHECK(tool::is(c.got.at(3).err(), tool::error_code::failed));
  CHECK(c.got.at(3).err().message == "Failed to call 'wait': 1 calls are already waiting; try again later");
  CHECK(c.got.size() == 1);

  g.release();
  REQUIRE(w.until([&] { return c.got.size() == 3; }));
  CHECK(c.content(1) == "1 passed, cancelled=false");
  CHECK(c.content(2) == "2 passed, cancelled=false");
  CHECK((*srv)->in_flight() == 0);
}

TEST_CASE("results are cut at max_content; a throwing tool is answered Failed") {
  world w;
  auto& srv_rt = w.join("tool/test");
  client c{w.join("cli")};
  auto srv = tools::tool_server::create(srv_rt, {.family = "test", .max_content = 100});
  REQUIRE(srv);
  (*srv)->add({{"big", "Returns 1000 bytes.", R"({"type":"object"})"},
               [](const tools::json&, const tools::call_context&) -> result<tool::result> {
                 return tool::result{std::string(1000, 'y'), false, false};
               }});
  (*srv)->add({{"throws", "Has a bug.", R"({"type":"object"})"},
               [](const tools::json&, const tools::call_context&) -> result<tool::result> {
                 throw std::runtime_error("boom");
               }});
  c.call(1, "tool/test", "big");
  c.call(2, "tool/test", "throws");
  REQUIRE(w.until([&] { return c.got.size() == 2; }));
  auto big = c.got.at(1)->as<tool::result>();
  REQUIRE(big);
  CHECK(big->truncated);
  CHECK(big->content == std::string(100, 'y') + "\n[… result cut at 100 bytes]");
  REQUIRE_FALSE(c.got.at(2));
  CHECK(tool::is(c.got.at(2).err(), tool::error_code::failed));
  CHECK(c.got.at(2).err().message == "Failed to run 'throws': internal error");
}

TEST_CASE("a server destroyed with a call unanswered (the runtime gave up draining) answers it Failed") {
  world w;
  auto& srv_rt = w.join("tool/test", {.drain_timeout = 50ms});
  client c{w.join("cli")};
  gate g;
  auto srv = tools::tool_server::create(srv_rt, {.family = "test", .drain_timeout = 10s});
  REQUIRE(srv);
  (*srv)->add(gated_tool(g));  // ignores the cancel signal
  c.call(1, "tool/test", "wait", {{"n", 1}});
  REQUIRE(w.until([&] { return g.waiting() == 1; }));
  srv_rt.stop();
  REQUIRE(w.until([&] { return srv_rt.loop().quitting(); }));  // the runtime's drain ended
  CHECK((*srv)->in_flight() == 1);
  // The tool ends only when let go; the destructor waits for it, then answers.
  std::thread releaser([&] { g.release(); });
  srv->reset();
  releaser.join();
  REQUIRE(w.until([&] { return c.got.count(1) == 1; }));
  REQUIRE_FALSE(c.got.at(1));
  CHECK(tool::is(c.got.at(1).err(), tool::error_code::failed));
  CHECK(c.got.at(1).err().message == "Failed to run 'tool/test/wait': 'tool/test' stopped before it finished");
}

TEST_CASE("a tool's steps reach the caller as Progress with its progress_id, in order, before the result") {
  world w;
  auto& srv_rt = w.join("tool/test");
  auto& cli_rt = w.join("cli");
  auto srv = tools::tool_server::create(srv_rt, {.family = "test"});
  REQUIRE(srv);
  (*srv)->add({{"steps", "Reports three steps.", R"({"type":"object"})"},
               [](const tools::json&, const tools::call_context& ctx) -> result<tool::result> {
                 for (int i = 1; i <= 3; ++i) ctx.progress(fmt::format("step {}", i));
                 ctx.progress(std::string(5000, 'x'));  // cut at 4 KiB
                 return tool::result{"done", false, false};
               }});
  std::vector<std::string> seen;  // progress texts and "result", in arrival order
  cli_rt.on_event<tool::progress>([&](const tool::progress& p, const ipc::message& m) {
    CHECK(m.env.from == "tool/test");
    seen.push_back(p.progress_id + " " + p.text.substr(0, 10) + (p.text.size() > 10 ? fmt::format("…{}", p.text.size()) : ""));
  });
  auto call = [&](std::string progress_id) {
    tool::call c{"steps", "{}", "call_1", 0};
    c.progress_id = std::move(progress_id);
    cli_rt.call("tool/test/steps", c, {.timeout = 10s, .retry = false}, [&](result<ipc::message> r) {
      REQUIRE(r);
      seen.push_back("result " + r->as<tool::result>()->content);
    });
  };
  call("web:1#0#0");
  REQUIRE(w.until([&] { return seen.size() == 5; }));
  CHECK(seen == std::vector<std::string>{"web:1#0#0 step 1", "web:1#0#0 step 2", "web:1#0#0 step 3",
                                         "web:1#0#0 xxxxxxxxxx…4096", "result done"});
  // Without a progress_id the caller gets the result only.
  seen.clear();
  call("");
  REQUIRE(w.until([&] { return !seen.empty(); }));
  CHECK(seen == std::vector<std::string>{"result done"});
}
